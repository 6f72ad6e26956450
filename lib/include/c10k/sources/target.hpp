// SPDX-License-Identifier: GPL-2.0-or-later
// Which process to look at, found the way users know their server: by its
// PID, by the port it listens on, or by its systemd unit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct TargetSpec {
    pid_t pid = 0;
    uint16_t port = 0;
    std::string unit;   // "nginx" or "nginx.service"
    std::string netns;  // --port: a name under /run/netns or a path; empty = ours
};

// A process that could be the server: one that holds a listening socket (on
// the port asked for, or any, for a unit).
struct ServerCandidate {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::string comm;
    uint32_t connections = 0;  // accepted sockets it holds on the listening ports
    uint64_t cpu_ticks = 0;    // user + sys since it started
    bool listens = false;
};

struct ChosenServer {
    pid_t pid = 0;
    std::string comm;
    std::string why;  // one line: "PID 812 (nginx), the busiest of 4 workers of PID 811 (nginx)"
};

// Error code for a choice that cannot be made: the message lists the candidates.
inline constexpr int kAmbiguousTarget = ENOTUNIQ;

// The process that accepts and serves. One listener holder is the answer. A
// master and its workers all hold the listeners (they are inherited over
// fork), but only the workers accept: the master is skipped, and of the
// workers the one holding the most accepted connections (then the most CPU
// time) is the one whose bottleneck users feel. Holders that are not one
// family (two unrelated servers sharing a port with SO_REUSEPORT) are
// ambiguous. `what` names the search ("port 8080", "unit nginx.service").
Result<ChosenServer> choose_server(const std::vector<ServerCandidate>& candidates,
                                   const std::string& what);

// "0::/system.slice/nginx.service" (a /proc/PID/cgroup text) -> "nginx.service";
// empty when the process is not in a service's cgroup.
std::string systemd_unit_of_cgroup(std::string_view proc_cgroup_text);
std::string systemd_unit_of(const SysRoot& root, pid_t pid);

// The PIDs in a unit's cgroup and every cgroup below it (the cgroup v2 tree
// under root/sys/fs/cgroup). ENOENT when no cgroup has that name.
Result<std::vector<pid_t>> unit_processes(const SysRoot& root, std::string unit);

struct ResolvedTarget {
    pid_t pid = 0;
    std::string comm;
    std::string unit;           // the systemd unit it runs in, when it runs in one
    std::string why;            // how it was chosen, for --port and --unit (one line)
    double started_unix_s = 0;  // 0 when it could not be read
};

// When the process started, in seconds since the epoch (its stat's starttime
// after the boot time of /proc/stat); 0 when either cannot be read.
double process_start_unix_s(const SysRoot& root, pid_t pid);

// --pid, --port or --unit (exactly one is set) to a process. Not found: the
// error's code is ENOENT or ESRCH; ambiguous: kAmbiguousTarget.
Result<ResolvedTarget> resolve_target(const TargetSpec& spec);

}  // namespace c10k
