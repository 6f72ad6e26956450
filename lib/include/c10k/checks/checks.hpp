// SPDX-License-Identifier: GPL-2.0-or-later
// One function per area; each is pure over a CheckInput.
#pragma once

#include <vector>

#include "c10k/checks/check_input.hpp"
#include "c10k/finding.hpp"

namespace c10k {

std::vector<Finding> check_fd_limits(const CheckInput& in);
std::vector<Finding> check_backlogs(const CheckInput& in);
std::vector<Finding> check_ephemeral_ports(const CheckInput& in);
std::vector<Finding> check_time_wait(const CheckInput& in);
std::vector<Finding> check_socket_buffers(const CheckInput& in);
std::vector<Finding> check_scheduling(const CheckInput& in);
std::vector<Finding> check_conntrack(const CheckInput& in);

// All areas, in the order they are reported; a finding at OK carries no fix.
std::vector<Finding> run_all_checks(const CheckInput& in);

}  // namespace c10k
