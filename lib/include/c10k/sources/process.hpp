// SPDX-License-Identifier: GPL-2.0-or-later
// One process as /proc shows it: limits, fds, threads and their scheduling.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

struct NofileLimit {
    uint64_t soft = 0;
    uint64_t hard = 0;
};

struct FdTable {
    uint64_t open = 0;
    std::unordered_set<uint64_t> socket_inodes;
};

// Summed over every thread of the process.
struct ThreadStats {
    uint32_t threads = 0;
    uint64_t voluntary_switches = 0;
    uint64_t involuntary_switches = 0;
    uint64_t on_cpu_ns = 0;
    uint64_t runqueue_wait_ns = 0;
};

struct ProcessSnapshot {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::string comm;
    Result<NofileLimit> nofile = Error{"not read"};
    std::string nofile_origin;  // where the limit came from, when it can be told
    Result<FdTable> fds = Error{"not read"};
    Result<ThreadStats> threads = Error{"not read"};
    std::optional<uint64_t> netns_inode;
};

// "Max open files  1024  4096  files" from /proc/PID/limits.
Result<NofileLimit> parse_nofile_limit(std::string_view limits_text);
// /proc/PID/stat split after "(comm)", which may itself hold spaces and ')':
// result[0] is field 3 (state), result[N] is field N + 3. Empty when malformed.
std::vector<std::string_view> stat_fields(std::string_view stat_text);
// "Name:\tnginx" style lines of /proc/PID/status: the number, or the raw text.
std::optional<uint64_t> status_field(std::string_view status, std::string_view name);
std::string status_text_field(std::string_view status, std::string_view name);
// Fields 14 and 15 of /proc/PID/stat (or of one task's): utime and stime, in ticks.
std::optional<std::pair<uint64_t, uint64_t>> user_sys_ticks(std::string_view stat_text);
// cutime + cstime: the CPU of the process's children that exited and were
// waited for (a forking server's finished workers), in clock ticks.
std::optional<uint64_t> reaped_children_ticks(std::string_view stat_text);
// The command name between the first '(' and the last ')', made printable.
std::string stat_comm(std::string_view stat_text);
// /proc/PID/task/TID/schedstat: "on-CPU ns, run-queue wait ns, times scheduled in".
struct TaskSchedStat {
    uint64_t on_cpu_ns = 0;
    uint64_t wait_ns = 0;
    uint64_t runs = 0;
};
std::optional<TaskSchedStat> parse_schedstat(std::string_view text);
// "LimitNOFILE=65536" or "LimitNOFILE=1024:524288" in a unit file, last one wins.
std::optional<std::string> find_limit_nofile(std::string_view unit_text);

// Fails only when the process does not exist; partial readability (another
// user's process without privileges) shows up as errors inside the snapshot.
// `with_threads` false leaves `threads` unread, for callers that sample them
// themselves (walking every thread of a thread-per-connection server is the
// costly part).
Result<ProcessSnapshot> read_process(const SysRoot& root, pid_t pid, bool with_threads = true);
// Only the fd table: how many fds are open and which are sockets.
Result<FdTable> read_fd_table(const SysRoot& root, pid_t pid);

// Just the per-thread switch and schedstat sums, for the second snapshot of a rate.
Result<ThreadStats> read_thread_stats(const SysRoot& root, pid_t pid);

}  // namespace c10k
