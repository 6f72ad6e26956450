// SPDX-License-Identifier: GPL-2.0-or-later
// A forking server's workers, looked at beside its threads. The master
// (PostgreSQL's postmaster, PHP-FPM's, Apache's or nginx's) waits for signals
// while its children hold the connections and do the work, so the master's own
// threads say nothing about where requests wait: its workers' main threads do.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "c10k/probe/evidence.hpp"
#include "c10k/probe/task_files.hpp"
#include "c10k/probe/task_syscall.hpp"

namespace c10k {

class WorkerLooks {
  public:
    // Brings the set of workers up to date: the children of `master` (from
    // its main thread's /proc/PID/task/PID/children, where a forking master's
    // children are) that `serves` says hold sockets of its ports. A child that
    // serves is asked once; the others again at the next call, at most
    // kMaxChecks a call (each question reads an fd table).
    void refresh(pid_t master, const std::function<bool(pid_t)>& serves);
    // One look at each worker's main thread through `files`; the PIDs of
    // those still there join `alive` (whose files `files` keeps open).
    void look(TaskFiles& files, std::unordered_set<uint32_t>& alive);
    WorkerStates states() const;

    static constexpr size_t kMaxChecks = 32;
    // Enough for a pool the size of a database's max_connections default (100)
    // twice over; a look costs a schedstat read per worker.
    static constexpr size_t kMaxWorkers = 256;

  private:
    struct Track {
        bool serves = false;
        bool seen = false;  // its state read at least once
        uint64_t runs = 0, on_cpu_ns = 0;
        std::optional<SleepKind> asleep;  // nothing: running
        std::string call;                 // the blocking call, named once per read
        WorkerAccount account;
    };
    void read_state(pid_t pid, Track& t, TaskFiles& files, char state);
    static void count(const Track& t, WorkerAccount& into);

    std::unordered_map<pid_t, Track> tracks_;
    uint32_t workers_max_ = 0;
    WorkerAccount all_;
    // The worker blocked most, of those the last refresh dropped (exited).
    uint32_t gone_blocked_pid_ = 0;
    WorkerAccount gone_blocked_;
};

}  // namespace c10k
