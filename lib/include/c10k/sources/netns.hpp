// SPDX-License-Identifier: GPL-2.0-or-later
// Entering another network namespace, so that /proc/net, /proc/sys/net and
// netlink all answer for it (a container's view rather than the host's).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

// NAME (as `ip netns add NAME` makes, under /run/netns) or a path such as /proc/PID/ns/net.
std::string netns_path(const std::string& name_or_path);

Result<UniqueFd> open_netns(const std::string& name_or_path);

// setns(2) for the calling thread. Needs CAP_SYS_ADMIN.
Status enter_netns(int fd, const std::string& what);

std::optional<uint64_t> netns_inode_of(const std::string& ns_path);

// Host-wide net.* sysctls (netdev_max_backlog, tcp_mem, udp_mem, ...) exist only
// in the initial network namespace: read from inside a container's namespace
// they are missing, though they hold for it too. Reads `keys` from /proc/sys as
// the initial namespace sees them (kthreadd's, else PID 1's), on a short-lived
// thread that enters it (the caller's thread stays where it is). Keys it cannot
// read are left out; none when that namespace cannot be entered (no
// CAP_SYS_ADMIN, or inside a container's PID namespace), and `error` says why.
struct HostSysctls {
    std::map<std::string, std::string> values;
    std::string error;  // why the host's namespace could not be read; empty when it was
};
HostSysctls read_host_sysctls(const std::vector<std::string>& keys);

}  // namespace c10k
