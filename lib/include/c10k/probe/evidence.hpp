// SPDX-License-Identifier: GPL-2.0-or-later
// What `probe` measured about one process over its window: the BPF aggregates
// (when BPF was available) and what user space sampled. Verdict rules are pure
// functions of this.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "c10k/probe/conn_evidence.hpp"
#include "c10k/probe/cpu_profile.hpp"
#include "c10k/probe/log2_hist.hpp"
#include "c10k/probe/syscalls.hpp"
#include "c10k/sources/cpu_users.hpp"
#include "c10k/sources/sockets.hpp"

namespace c10k {

struct SyscallStat {
    int nr = 0;
    std::string name;
    uint64_t count = 0;
    uint64_t errors = 0;
    uint64_t total_ns = 0;
    uint64_t bytes = 0;
    Log2Hist latency;
    std::map<int, uint64_t> errnos;
};

struct ThreadTime {
    uint32_t tid = 0;
    uint64_t on_cpu_ns = 0;
    uint64_t off_cpu_ns = 0;
};

// Where a thread was while off the CPU: the index into SchedStat::off_cpu_ns,
// in the order of bpf/probe_shared.h's enum c10k_off_state (static_asserted
// where the two meet, in bpf_session.cpp).
enum OffCpu : size_t { off_preempted, off_sleeping, off_disk, off_other, off_states };

// A receive window under this is small (bpf/probe_shared.h: C10K_SMALL_WINDOW_BYTES).
inline constexpr uint32_t kSmallWindowBytes = 8192;

struct SchedStat {
    uint64_t on_cpu_ns = 0;
    std::array<uint64_t, off_states> off_cpu_ns{};  // by OffCpu
    uint64_t voluntary = 0;
    uint64_t involuntary = 0;
    uint64_t runq_count = 0;  // runs whose wait before them was measured
    uint64_t runq_total_ns = 0;
    Log2Hist runq;
    uint32_t threads_seen = 0;  // alive at the end plus exited during the window
    uint64_t threads_exited = 0;
    std::vector<ThreadTime> busiest_threads;  // most on-CPU time first, at most 5
};

struct TcpStat {
    uint64_t state_changes = 0, established = 0, closed_first_local = 0, closed_first_peer = 0;
    uint64_t time_wait_entered = 0;
    uint64_t retransmits = 0, resets_sent = 0, resets_received = 0;
    uint64_t rcvqueue_full = 0, exceed_buf_limit = 0;
    uint64_t segments_in = 0, segments_closing_window = 0;
    // ESTABLISHED -> CLOSE: a reset sent (close() with data unread, SO_LINGER 0)
    // or received; resets_sent does not see the first kind.
    uint64_t aborted_established = 0;
    // Ended by the target itself: a FIN first, or a reset it sent.
    uint64_t ended_by_target() const {
        return closed_first_local +
               (aborted_established > resets_received ? aborted_established - resets_received : 0);
    }
};

// The probe groups, each attached (or not) as one: what the `attached:` line,
// the JSON `attach` list and the verdict's `unobserved` list are all made from.
enum class ProbeGroup { sched, tcp, tcp_probe, syscalls };
enum class AttachHow { raw_tp, tracepoint };
enum class AttachStatus {
    attached,  // every program of the group
    partial,   // some programs did not attach (`error` names them)
    failed,    // none did
};
const char* probe_group_name(ProbeGroup g);
const char* attach_how_name(AttachHow h);
const char* attach_status_name(AttachStatus s);

struct GroupAttach {
    ProbeGroup group = ProbeGroup::sched;
    AttachHow how = AttachHow::raw_tp;
    AttachStatus status = AttachStatus::attached;
    // The group's first failure: the programs that failed and why
    // ("tcp_probe (EINVAL: ...)"). A later duty cycle does not replace it.
    std::string error;
    // Each attach type tried before the one used, and why it failed
    // ("raw_tp (EPERM: Operation not permitted)").
    std::vector<std::string> fallbacks;
    bool duty_cycled = false;  // attached only for part of each interval
};
// "tcp_probe: raw_tp, duty-cycled", "syscalls (EPERM: ...)": a group that
// attached, or (failed) one that did not; the caller lists the two apart.
std::string describe(const GroupAttach& a);
// A group attached again (each duty cycle re-attaches the syscall probes):
// keeps the first failure and every fallback, and a status that differed
// between attempts is partial.
void merge_attach(GroupAttach& into, const GroupAttach& again);

// Syscalls counted while syscall tracing was attached.
struct SyscallCounts {
    uint64_t host = 0;    // every process's: what tracing cost the host is proportional to them
    uint64_t target = 0;  // the target's own: the evidence tracing gathered
};

struct BpfEvidence {
    std::vector<GroupAttach> attach;
    double syscall_seconds = 0;  // how long syscall probes were attached
    double syscall_duty = 1;     // the fraction of the window traced
    std::vector<SyscallStat> syscalls;
    SchedStat sched;
    TcpStat tcp;
    uint64_t host_syscalls = 0;  // every process's, while syscall tracing was attached
    uint64_t poll_calls = 0;     // poll/ppoll/select/pselect6 calls by the target
    uint64_t poll_nfds_sum = 0;  // the fds they were given, summed
    uint64_t lost_events = 0;
    uint64_t map_bytes = 0;
    // The BPF programs' own run time and runs over the session (the kernel's
    // run_time_ns and run_cnt, counted while BPF_ENABLE_STATS is held); when the
    // kernel would not count them, why.
    uint64_t prog_run_ns = 0, prog_runs = 0;
    std::string prog_stats_unavailable;
    double attach_ms = 0;          // loading and attaching the programs
    double attached_after_ms = 0;  // from the command's start until attached

    const SyscallStat* syscall(std::string_view name) const;
    uint64_t errno_count(int err) const;  // over every syscall
    uint64_t total_syscall_ns() const;
    uint64_t total_syscalls() const;
    uint64_t total_syscall_errors() const;
    // Sums over the named syscalls (absent ones count 0): a list from
    // syscalls.hpp, or names written in place.
    using Names = std::span<const std::string_view>;
    uint64_t calls_of(Names names) const;
    uint64_t ns_of(Names names) const;
    uint64_t bytes_of(Names names) const;
    uint64_t errors_of(Names names) const;
    uint64_t calls_of(std::initializer_list<std::string_view> n) const {
        return calls_of(Names(n.begin(), n.size()));
    }
    uint64_t ns_of(std::initializer_list<std::string_view> n) const {
        return ns_of(Names(n.begin(), n.size()));
    }
    uint64_t bytes_of(std::initializer_list<std::string_view> n) const {
        return bytes_of(Names(n.begin(), n.size()));
    }
    uint64_t errors_of(std::initializer_list<std::string_view> n) const {
        return errors_of(Names(n.begin(), n.size()));
    }
};

struct ListenerSample {
    Endpoint local;
    uint32_t backlog = 0;
    uint32_t queued_max = 0;
    uint64_t samples = 0;
    uint64_t full_samples = 0;     // samples with the accept queue at its backlog
    uint64_t waiting_samples = 0;  // samples with connections waiting to be accepted
    uint64_t queued_sum = 0;       // connections waiting, summed over samples
};

// One thread's CPU over the part of the window it was seen in.
struct ThreadCpu {
    uint32_t tid = 0;
    std::string comm;
    double cores = 0;  // on-CPU seconds per second: 1.0 is a whole core
    // On the CPU or waiting in the run queue for it, per second: the share of the
    // time the thread had work. A thread at 1.0 never sleeps, whatever it gets.
    double busy = 0;
    // Where the looks found it: running, waiting for readiness (epoll, poll,
    // select), asleep in a futex wait.
    uint64_t looks = 0;
    uint64_t running_looks = 0;
    uint64_t readiness_looks = 0;
    uint64_t futex_looks = 0;
    // ... or asleep in any other call, where a thread that should be waiting
    // for work is blocked (a sleep, a pipe or disk write, a pread in D state):
    // those looks, and the call it was found in most.
    uint64_t blocked_looks = 0;
    std::string blocked_in;
};

// One interval's rates of the namespace's connections accepted (Tcp.PassiveOpens)
// and segments sent (Tcp.OutSegs): what `tune` compares as throughput, and
// whose spread from interval to interval is the noise it compares within.
struct IntervalThroughput {
    double seconds = 0;
    double accepts_per_s = 0;
    double segments_out_per_s = 0;
};

// Where looks at a forking server's workers found their main threads.
struct WorkerAccount {
    uint64_t looks = 0;
    uint64_t running = 0;
    uint64_t idle = 0;  // waiting for work: a readiness wait, accept, a signal
    uint64_t peer = 0;  // in a socket read or write: its client's bytes, a dependency's reply
    uint64_t futex = 0;
    uint64_t file_lock = 0;  // flock, fcntl F_SETLKW
    uint64_t blocked = 0;    // in any other call, S or D: a disk or pipe write, a pread, a sleep
    // In an epoll wait on no socket and with no timeout: no client and no
    // dependency can end it, only another process (PostgreSQL's backends
    // wait so on their latch for a lock another backend holds).
    uint64_t wakeup = 0;
    std::map<std::string, uint64_t, std::less<>> blocked_in;
};

// A forking server's workers (the target's children that hold its ports'
// sockets), each looked at beside the target's threads. A worker serves its
// connections on its main thread, so whatever it waits in, its connections
// wait too - unless it waits for work or for its client. All of them, and the
// one blocked in the most looks: a master's workers may share the connections
// unevenly (one holding most), and a connection waits on its own worker alone.
struct WorkerStates {
    uint32_t workers = 0;  // the most looked at in one look
    WorkerAccount all;
    uint32_t most_blocked_pid = 0;
    WorkerAccount most_blocked;
    // Workers (alive at the end) blocked in more of their looks than idle, on
    // a peer or running.
    uint32_t blocked_most = 0;
};

struct SampledEvidence {
    int samples = 0;             // fast samples: threads and the target's own sockets
    int full_samples = 0;        // snapshots of /proc, sysctls and every socket, one per interval
    double sample_period_s = 0;  // of the fast samples, adapted to what they cost
    double sampler_cpu_s = 0;    // CPU time the fast samples cost this process
    // Fast samples that looked the target's known sockets up one by one
    // instead of walking the kernel's whole established table: no connection
    // had been opened in the namespace since the look before.
    int samples_by_lookup = 0;
    // Snapshots that used the one before's socket summary (nothing connected since).
    int summaries_reused = 0;
    // Looks at a sleeping thread answered from its last look: it had not been
    // scheduled in since, so its call was not read again.
    uint64_t reused_looks = 0;
    // Of all looks at threads, those at a thread that had not run since the
    // last one: its stat was not read either.
    uint64_t unchanged_looks = 0;
    double seconds = 0;  // wall time between the first and the last snapshot
    uint32_t cpus = 1;
    uint64_t nofile_soft = 0;
    uint64_t fds_max = 0;
    uint32_t threads_max = 0;
    uint32_t connections_max = 0;
    double cpu_cores = 0;  // the process's on-CPU time / wall time
    double sys_cores = 0;  // the part of cpu_cores spent in the kernel
    // The same, summed over the threads the looks saw, by the measure of
    // busiest_threads' cores (schedstat's nanoseconds where the kernel has
    // them). cpu_cores comes from /proc/PID/stat, whose times are whole clock
    // ticks (10 ms): over a 3 s window a process using a hundredth of a core
    // reads as one tick or three, so a thread's share of the process's CPU is
    // taken against this sum, measured like the thread. 0 when not measured.
    double threads_cores = 0;
    // CPU of the process's children that exited and were reaped in the window
    // (a forking server's short-lived workers): no /proc entry is left to
    // count it by at the end, so host_cpu_users misses it.
    double reaped_children_cores = 0;
    // CPU of the process's live children over the window: a master's workers
    // (PostgreSQL's backends, nginx's, Apache's or PHP-FPM's workers), which
    // hold its connections and do its work while it sleeps. Those that ran,
    // and the busiest of them (0: none).
    // Their run-queue wait too (s per second, from each one's main thread's
    // schedstat at both ends): workers that others keep off the cores want
    // more CPU than their use shows.
    double workers_cores = 0;
    double workers_runq_wait = 0;
    uint32_t workers_running = 0;
    uint32_t busiest_worker_pid = 0;
    double busiest_worker_cores = 0;
    double busiest_worker_runq_wait = 0;
    uint32_t busiest_worker_threads = 0;     // at the end of the window (0: unread)
    std::vector<ThreadCpu> busiest_threads;  // busiest first, at most 5
    double host_busy = 0;                    // all CPUs, 0..1
    std::vector<CpuUser> host_cpu_users;     // biggest first, by command, over the window
    // Share of the CPUs' time a hypervisor gave to other guests: neither run time
    // nor run-queue wait of ours, so busy shares are scaled by 1 / (1 - steal).
    double steal_share = 0;
    // The CPU limit of the target's cgroup (CFS quota / period; 0: none) and, over
    // the window, the share of its periods that ran out of quota and the time
    // its threads were held back, per second.
    double cpu_limit_cores = 0;
    std::string cpu_limit_cgroup;
    double throttled_share = 0;
    double throttled_s_per_s = 0;
    double switches_per_s = 0;  // voluntary + involuntary, all threads
    double involuntary_per_s = 0;
    double runq_wait_share = 0;  // run-queue wait / wall, summed over threads (schedstat)
    // Thread-samples by state, and by the syscall a sleeping thread sat in.
    uint64_t thread_samples = 0, running = 0, sleeping = 0, disk = 0;
    std::map<std::string, uint64_t, std::less<>> blocked_in;
    // Futex thread-samples of threads that also ran during the window: threads
    // that wait for each other. An idle pool thread parked on a condvar never runs.
    uint64_t futex_active = 0;
    // Of those, the thread-samples waiting on a lock another thread holds (see
    // contended_waits): contention, where futex_active is any wait at all.
    uint64_t futex_contended = 0;
    // Event-loop threads (seen waiting in epoll/poll/select at least once): their
    // looks, and where they were - waiting for work, running, or blocked in any
    // other call (a pipe or disk write, a pread, flock, a sleep), in S or D state.
    // Waits on a lock (futex) and on a peer (a socket read) are judged elsewhere.
    uint64_t loop_looks = 0, loop_idle = 0, loop_running = 0, loop_blocked = 0;
    // Thread-samples asleep waiting for a file lock (flock, fcntl F_SETLKW):
    // always a lock that another thread or process holds.
    uint64_t file_lock_waits = 0;
    // Thread-samples of timer threads asleep in a sleep: threads that, when not
    // running, sleep in nanosleep/clock_nanosleep in 90% of their looks and
    // never wait for input or a lock (memcached's LRU maintainer, Redis's
    // cron). Their sleeps pace their own work; they hold up a request only
    // when requests wait.
    uint64_t timer_sleeps = 0;
    std::map<std::string, uint64_t, std::less<>> loop_blocked_in;
    WorkerStates worker_states;
    // Thread-samples inside poll/ppoll/select/pselect6, and the fd counts they passed.
    uint64_t poll_samples = 0, poll_nfds_sum = 0;
    uint32_t poll_nfds_max = 0;
    // Sampling mode's view of the CPU: what the target's threads do while running.
    OnCpuProfile on_cpu;
    ConnEvidence conns;
    std::vector<ListenerSample> listeners;
    int64_t somaxconn = 0;
    // Per-second rates of the namespace's counters over the window.
    std::map<std::string, double> counter_rates;
    // A listening socket of the namespace that is not the target's was seen:
    // then the namespace's passive opens are not all the target's accepts.
    bool foreign_listeners = false;
    // At the snapshots: connections on the target's listening ports, and those
    // of them in its own fd table. A server that forks per connection (the
    // PostgreSQL postmaster, inetd, Apache prefork's parent) holds none of them.
    uint64_t inbound_at_snapshots = 0, inbound_own_at_snapshots = 0;
    uint32_t port_range = 0;
    // The namespace's conntrack table at the last look, and its size
    // (nf_conntrack_max, one for the host): absent while nf_conntrack is not
    // loaded.
    std::optional<uint64_t> conntrack_entries, conntrack_max;
    std::optional<DestinationUse> busiest_destination;
    std::vector<IntervalThroughput> throughput;  // one per interval
};

// SYNs the SYN queue dropped, per second. Every drop of a listener counts in
// ListenDrops; those of a full accept queue count in ListenOverflows as well
// (a SYN refused, or a final ACK that found no room), so the rest are the SYN
// queue's: full at the listen backlog with syncookies off (TCPReqQFullDrop),
// or, with syncookies off, past three quarters of tcp_max_syn_backlog for
// peers not seen before, which no other counter shows. The judge and tune's
// before/after measure read it alike.
double syn_queue_drops(const SampledEvidence& s);

// The ports that mark a socket as the target's: a local port it listens on, a
// remote port it connects to.
struct TargetPorts {
    std::vector<uint16_t> listening;
    std::vector<uint16_t> remote;
};

struct ProbeEvidence;

// The local process behind a destination the target waits on, probed in the
// same window (--follow).
struct FollowedProbe {
    Endpoint destination;
    pid_t pid = 0;
    std::string comm;
    std::shared_ptr<const ProbeEvidence> evidence;  // null when it could not be probed
    std::string error;                              // why not, in one line
};

// What the probe itself cost, measured: the CPU time of the thread that
// probed (user + sys: sampling, reading maps, judging) and, in BPF mode, its
// programs' run time in the kernel, over the window.
struct ProbeCost {
    double own_cpu_s = 0;
    double bpf_run_s = 0;
    uint64_t bpf_runs = 0;
    double window_s = 0;
    double ms_per_s() const { return window_s > 0 ? (own_cpu_s + bpf_run_s) * 1e3 / window_s : 0; }
};

struct ProbeEvidence {
    pid_t pid = 0;
    std::string comm;
    std::string unit;           // the systemd unit it runs in, when it runs in one
    double started_unix_s = 0;  // when the target started: a deploy restarts it
    std::string mode;           // "bpf" or "sample"
    double window_s = 0;
    double interval_s = 0;
    bool target_exited = false;
    bool interrupted = false;
    SampledEvidence sampled;
    std::optional<BpfEvidence> bpf;
    std::vector<std::string> notes;
    std::optional<FollowedProbe> followed;
    ProbeCost cost;
};

}  // namespace c10k
