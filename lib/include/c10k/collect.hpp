// SPDX-License-Identifier: GPL-2.0-or-later
// Reads the system into snapshots. The only place in `check` that does I/O.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "c10k/result.hpp"
#include "c10k/snapshot.hpp"

namespace c10k {

struct CollectOptions {
    SysRoot root;
    std::optional<pid_t> pid;
    std::optional<std::string> netns;  // NAME or PATH
    double interval_s = 1.0;           // 0: a single snapshot, no rates
    bool read_sockets = true;          // false for fixture roots: netlink has no fixture
    bool interactive = true;           // a person at a terminal (see Snapshot::interactive)
    // The process's per-thread sums (switches, run-queue wait): one status and
    // one schedstat read per thread, what a snapshot of a big process costs most.
    bool thread_stats = true;
    // The sysctls an earlier snapshot of the same window read: used as they are.
    // Nothing in a probe's window changes them, and reading them again (about
    // 40 files, the host-wide net.* keys from a thread that enters the host's
    // namespace) was a fifth of what each of its snapshots cost.
    std::optional<SysctlValues> sysctls;
    // An earlier snapshot's socket summary, used as it is: the caller knows no
    // connection was opened in the namespace since it was read. A summary
    // walks every bucket of the kernel's established-connection hash (1.3 ms
    // at 262,144 buckets), most of what a probe's snapshot cost.
    std::optional<SocketSummary> sockets;
};

struct Collected {
    std::optional<Sample> before;  // absent when interval_s == 0
    Snapshot now;
    double interval_s = 0;
};

// Fails (with one line for the user) only when the request cannot be met at all:
// no such process, no such namespace, or no permission to enter it.
// May enter another network namespace: call it from a thread that can stay there.
Result<Collected> collect(const CollectOptions& opts);

}  // namespace c10k
