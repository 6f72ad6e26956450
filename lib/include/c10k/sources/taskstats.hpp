// SPDX-License-Identifier: GPL-2.0-or-later
// A whole process's context switches in one netlink round trip (the kernel's
// taskstats, summed over its live threads), instead of reading every thread's
// /proc status: for a target of a thousand threads that walk is two thousand
// files opened, read and closed at each end of a window.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

#include "c10k/result.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

struct GroupSwitches {
    uint64_t voluntary = 0;    // nvcsw: gave the CPU up (blocked, slept, yielded)
    uint64_t involuntary = 0;  // nivcsw: preempted
};

// The answer to TASKSTATS_CMD_GET for a TGID: its genetlink payload (after the
// genlmsghdr). Pure, so that it can be tested on built buffers and fuzzed.
Result<GroupSwitches> parse_taskstats_tgid(std::span<const uint8_t> payload);

class TaskstatsReader {
  public:
    // Needs CAP_NET_ADMIN (the kernel's rule for TASKSTATS_CMD_GET) and a kernel
    // with CONFIG_TASKSTATS; the error says which was missing.
    static Result<TaskstatsReader> open();
    // The live threads' switches of thread group `tgid`, as this process's pid
    // namespace numbers it.
    Result<GroupSwitches> read(pid_t tgid);

  private:
    TaskstatsReader(UniqueFd fd, uint16_t family) : fd_(std::move(fd)), family_(family) {}
    UniqueFd fd_;
    uint16_t family_ = 0;
    uint32_t seq_ = 0;
};

}  // namespace c10k
