// SPDX-License-Identifier: GPL-2.0-or-later
// Plain, time-stamped data read from the system. Rules see nothing else.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/sources/host_stat.hpp"
#include "c10k/sources/proc_net.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/service_limits.hpp"
#include "c10k/sources/sockets.hpp"
#include "c10k/sources/sysctl.hpp"

namespace c10k {

using Clock = std::chrono::steady_clock;

// What changes fast enough to need a rate: taken at both ends of the interval.
struct Sample {
    Clock::time_point taken{};
    Result<Counters> net = Error{"not read"};
    Result<CpuStat> cpu = Error{"not read"};
    std::optional<Result<ThreadStats>> threads;  // only with a target process
};

struct Snapshot {
    Sample sample;  // the later one
    SysctlValues sysctls;
    Result<LoadAvg> load = Error{"not read"};
    Result<CpuPressure> pressure = Error{"not read"};
    Result<MemInfo> mem = Error{"not read"};
    // Our own limit, inherited from the shell: what a server started from it gets.
    Result<NofileLimit> own_nofile = Error{"not read"};
    // Whether a person runs us (a terminal on stdin): only then is our own
    // RLIMIT_NOFILE the one the servers they start will get.
    bool interactive = true;
    std::optional<ServiceNofile> service_nofile;  // what systemd gives services
    Result<SocketSummary> sockets = Error{"not read"};
    std::optional<ProcessSnapshot> process;
    uint64_t page_size = 4096;  // tcp_mem and sockstat count pages
    std::string kernel_release;
    std::string hostname;
    std::string netns_label;         // "host", "netns NAME", "network namespace of pid N"
    std::vector<std::string> notes;  // caveats about what was (not) seen
};

// Every sysctl the rules read; collected once per snapshot.
const std::vector<std::string>& checked_sysctl_keys();

}  // namespace c10k
