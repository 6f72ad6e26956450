// SPDX-License-Identifier: GPL-2.0-or-later
// Who uses the host's CPUs: every process's CPU ticks from /proc/PID/stat,
// read twice and compared, summed by command name. A process starved of CPU
// is told who holds it; a server with a process per connection (PostgreSQL's
// backends, a prefork Apache) shows as one line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace c10k {

struct ProcessTicks {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::string comm;
    uint64_t ticks = 0;  // utime + stime, clock ticks since the process started
};

struct CpuUser {
    std::string comm;
    uint32_t processes = 0;  // that used any CPU between the two reads
    double cores = 0;        // their CPU time / wall time
};

// Every process under `proc` (its /PID/stat), sorted by PID. Processes that
// vanish while read are skipped. O(processes): a few ms per thousand.
std::vector<ProcessTicks> read_process_ticks(const std::string& proc = "/proc");

// The biggest CPU users between two reads `seconds` apart, by comm, at most
// `n`, biggest first. A PID in both reads whose ticks went down is a new
// process behind a recycled PID: counted from zero.
std::vector<CpuUser> top_cpu_users(const std::vector<ProcessTicks>& before,
                                   const std::vector<ProcessTicks>& after, double seconds,
                                   double ticks_per_second, size_t n);

// The CPU (cores) between two reads of the processes `counts` picks (by PID
// and parent PID): a dependency's own process and the backends forked from it.
template <typename Pick>
double cores_of(const std::vector<ProcessTicks>& before, const std::vector<ProcessTicks>& after,
                double seconds, double ticks_per_second, Pick counts) {
    if (seconds <= 0 || ticks_per_second <= 0) return 0;
    double cores = 0;
    auto b = before.begin();
    for (const auto& p : after) {
        while (b != before.end() && b->pid < p.pid)
            ++b;
        if (!counts(p)) continue;
        uint64_t start = b != before.end() && b->pid == p.pid && b->ticks <= p.ticks ? b->ticks : 0;
        cores += static_cast<double>(p.ticks - start) / ticks_per_second / seconds;
    }
    return cores;
}

}  // namespace c10k
