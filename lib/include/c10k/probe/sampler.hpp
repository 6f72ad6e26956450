// SPDX-License-Identifier: GPL-2.0-or-later
// What user space samples about the target during the window: the only source
// in sampling mode, and the queue, connection and thread evidence BPF cannot
// see (no tracepoint fires on an accept-queue overflow, none says which peer a
// thread waits for).
//
// Two kinds of sample: a snapshot (collect(): /proc, sysctls, counters, every
// socket of the namespace) once per interval, and fast samples (the target's
// threads and its own sockets with TCP_INFO) many times a second, as often as
// their measured cost allows.
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "c10k/probe/conn_evidence.hpp"
#include "c10k/probe/cpu_profile.hpp"
#include "c10k/probe/evidence.hpp"
#include "c10k/probe/task_files.hpp"
#include "c10k/probe/task_syscall.hpp"
#include "c10k/probe/worker_looks.hpp"
#include "c10k/result.hpp"
#include "c10k/snapshot.hpp"
#include "c10k/sources/cgroup_cpu.hpp"
#include "c10k/sources/cpu_users.hpp"
#include "c10k/sources/taskstats.hpp"

namespace c10k {

class Sampler {
  public:
    // Half the spare fds at most: a --follow probe samples beside this one.
    explicit Sampler(pid_t pid) : pid_(pid), files_(spare_fds(256) / 2) {}

    // A snapshot plus a fast sample. Ok(false) when the process has exited (the
    // evidence so far stays). Enters the target's network namespace on the
    // calling thread, so call every method from one thread. The process's
    // context switches come from taskstats at every sample where the kernel
    // and our capabilities allow; otherwise `thread_totals` says whether to
    // sum every thread's switches and run-queue wait from /proc (always at the
    // first sample): the rates need only the first and the last such sum.
    Result<bool> sample(bool thread_totals = true);
    // The last sum of the threads' totals, unless the last sample took it: call
    // once, when the window ends.
    void finish();
    // Whether the last sample summed the threads' totals (rates are current).
    bool thread_totals_current() const { return thread_totals_current_; }
    // The most threads seen at once so far.
    uint32_t threads_seen() const { return acc_.threads_max; }
    // Threads and the target's sockets only; returns the CPU seconds it cost.
    double sample_fast();
    // What the last fast sample cost, the one inside sample() included.
    double last_fast_cost() const { return last_fast_cost_; }
    // Samples what the target's threads run from now on (sampling mode: BPF
    // sees the syscalls itself). Why it could not, in the evidence.
    void profile_cpu();
    SampledEvidence evidence() const;
    // Names the local process serving each of the busiest destinations in `c`:
    // one listening on its address and port in the target's namespace. Scans
    // /proc and asks sock_diag for the far end of the busiest connection: call
    // it once per question (the follow, the end), not per sample.
    void name_servers(ConnEvidence& c);
    // The per-request destinations' connections that ended in the window, from
    // the TIME_WAIT sockets (one dump of them, at the end), and their reply
    // times again with them.
    void count_closed(ConnEvidence& c);
    // Who used the host's CPU since the first sample, from one read of every
    // /proc/PID/stat, so call it once, at the end: the biggest users by
    // command (host_cpu_users), each named destination's serving processes
    // (server_cores) and the target's workers (workers_cores and the rest).
    void count_host_cpu(SampledEvidence& e) const;
    // The target's listening ports and the remote ports of its own outbound connections.
    TargetPorts ports() const;
    const std::optional<Snapshot>& last() const { return last_; }
    std::string comm() const { return comm_; }

  private:
    struct ProcTimes {
        Clock::time_point at;
        double cpu_s = 0;
        double sys_s = 0;
        double children_s = 0;  // reaped children's CPU (cutime + cstime)
    };
    struct ThreadTrack {
        std::string comm;
        uint64_t first_ticks = 0, last_ticks = 0;
        // From schedstat when the kernel has it: on-CPU ns and times scheduled in,
        // finer than ticks (a thread that runs 50 us a request shows in them).
        uint64_t first_ns = 0, last_ns = 0, first_runs = 0, last_runs = 0;
        uint64_t first_wait_ns = 0, last_wait_ns = 0;
        // What its run-queue wait in the window is counted from: first_wait_ns,
        // or 0 for a thread born after the first look (each look reads every
        // thread), whose every wait - its first run's too - was in the window.
        uint64_t window_wait_base_ns = 0;
        bool schedstat = false;
        uint64_t futex_samples = 0;
        uint64_t futex_contended_samples = 0;  // of those, waiting on a contended lock
        // Where this thread's looks found it, to tell an event loop's time:
        // waiting for work in a readiness call, running, or blocked elsewhere.
        uint64_t looks = 0, in_readiness = 0, running = 0, blocked = 0;
        uint64_t file_lock = 0;  // asleep waiting for a file lock (flock, fcntl F_SETLKW)
        std::map<int, uint64_t> blocked_by_nr;  // the blocked looks by syscall
        Clock::time_point first_at, last_at;
        // The last look at a sleeping thread: a thread not scheduled in since
        // (schedstat's run count unchanged) and in the same state sleeps in the
        // same call with the same arguments, so its syscall is not read again.
        char seen_state = 0;
        char last_state = 0;  // its state at the last look that read its stat
        uint64_t seen_runs = 0;
        std::optional<TaskSyscall> seen_call;
        std::vector<uint64_t> seen_read_blocked;  // the sockets it waited to read
    };
    void sample_threads(Clock::time_point at);
    bool threads_looked_ = false;  // a look has read every thread once
    void look_at_thread(uint32_t tid, ThreadTrack* track, char state,
                        std::vector<FutexWait>& futex_waits,
                        std::vector<ThreadTrack*>& futex_waiters, bool& any_running);
    // What a sleeping thread's call says: where it waits, a futex, sockets it reads.
    void note_sleeping_call(ThreadTrack* track, const TaskSyscall& sc, char state,
                            std::vector<FutexWait>& futex_waits,
                            std::vector<ThreadTrack*>& futex_waiters, bool fresh_read);
    void sample_conns(Clock::time_point at);
    // The process's switches from taskstats; nullopt (and never asked again)
    // where taskstats cannot answer.
    std::optional<ThreadStats> group_switches();
    // Run-queue wait per second of the window, from the looks' schedstat reads.
    double runq_wait_share_of_looks() const;
    void note_listener(const Endpoint& local, uint32_t backlog, uint32_t queued);
    static void note_wait(ThreadTrack& t, const TaskSyscall& sc, std::string_view name, char state);

    pid_t pid_;
    std::string comm_;
    std::optional<Snapshot> first_, last_;
    std::optional<std::pair<Clock::time_point, ThreadStats>> first_totals_, last_totals_;
    bool thread_totals_current_ = false;
    std::optional<TaskstatsReader> taskstats_;
    bool taskstats_tried_ = false;
    bool totals_from_taskstats_ = false;
    double last_fast_cost_ = 0;
    std::optional<ProcTimes> first_times_, last_times_;
    std::vector<ProcessTicks> host_ticks_before_;
    // The target's children's run-queue wait (ns) at the first sample, by PID.
    std::unordered_map<pid_t, uint64_t> worker_waits_before_;
    std::optional<CgroupCpuLimit> cpu_limit_;  // read once, at the first sample
    std::optional<std::pair<Clock::time_point, CpuThrottling>> first_throttle_, last_throttle_;
    SampledEvidence acc_;
    std::unordered_map<uint32_t, ThreadTrack> thread_cpu_;
    TaskFiles files_;
    WorkerLooks workers_;  // a forking master's children, looked at with its threads
    std::unique_ptr<CpuProfiler> profiler_;
    std::optional<TcpConnReader> reader_;
    std::vector<CpuUser> host_cpu_users(ConnEvidence& c, const std::vector<ProcessTicks>& now,
                                        double wall, size_t n = 3) const;
    // The CPU of the target's live children that serve its ports.
    void count_workers(SampledEvidence& e, const std::vector<ProcessTicks>& now, double wall) const;
    // A child of the target holding a socket on its listening ports.
    bool serves_ports(pid_t child) const;

    std::unordered_set<uint64_t> owned_inodes_;
    // The sockets on the target's listening ports at the last full sample -
    // its listeners and the connections accepted on them - whoever holds them:
    // a child holding one serves those ports (a worker), where a child holding
    // none is some helper (PostgreSQL's autovacuum, a log compressor).
    std::unordered_set<uint64_t> port_inodes_;
    bool fds_fresh_ = false;  // owned_inodes_ read by this full sample
    std::unordered_set<uint16_t> listening_;
    std::unordered_set<uint64_t> read_blocked_;  // this sample's, see ConnTracker::add
    ConnTracker conns_;
    std::vector<TcpConn> scratch_;
    // Other processes' connections to our destinations in this look, by inode.
    std::vector<std::pair<Endpoint, uint64_t>> others_;
    // The sockets the last look found that the next may look up one by one,
    // the namespace's connections opened before it began, and what the two
    // ways of looking cost (a lookup ~2 us a socket; a walk of the established
    // table ~1 ms per 262,144 buckets), measured as they are made.
    std::vector<TcpConn> known_;
    std::optional<uint64_t> opened_before_;
    // What the last walk's filter knew: a socket it could not take then (to a
    // destination, on a port or by an inode learned since) is not in known_.
    struct {
        size_t destination_ports = 0, listening_ports = 0;
    } walk_knew_;
    bool new_inodes_since_walk_ = false;
    // The same for the snapshots' socket summaries: the namespace's opens when
    // the last one was read, and whether a socket came into the fd table since.
    std::optional<uint64_t> opened_at_summary_;
    bool new_inodes_since_summary_ = false;
    // Takes a freshly read fd table as the target's, noting whether it holds
    // a socket the one before did not.
    void own_sockets(std::unordered_set<uint64_t> inodes);
    double lookup_cost_s_ = 2.5e-6;
    double walk_cost_s_ = 0;
    // Families the target's sockets were found in; both are asked again at every
    // snapshot, only these in between.
    bool want_v4_ = true, want_v6_ = true;
};

}  // namespace c10k
