// SPDX-License-Identifier: GPL-2.0-or-later
#include "verdict_rules.hpp"

namespace c10k::verdict {

// Thread per connection: thousands of threads switching all the time.
void Judge::thread_storm() {
    if (storm) {
        auto f = make(
            Bottleneck::context_switch_storm, Severity::crit,
            runq_p99 >= kStormRunqP99Ns ? Support::corroborated : Support::counted,
            fmt::format("{} threads, {:.0f} context switches per second", s.threads_max, switches));
        ev(f, "threads", "threads (max seen)", s.threads_max, units::threads);
        ev(f, "connections", "connections held (max seen)", s.connections_max, units::connections);
        ev(f, "switches_per_second", "context switches per second", switches, units::per_second);
        ev(f, "involuntary_per_second", "involuntary switches per second", involuntary, units::per_second);
        if (b)
            ev(f, "runq_p99_us", "run-queue latency p99", static_cast<double>(runq_p99) / 1e3,
               units::us);
        else
            ev(f, "runq_wait_share", "threads' run-queue wait per second", s.runq_wait_share,
               units::seconds_per_second);
        ev(f, "cpu_cores", "process CPU", s.cpu_cores, units::cores);
        f.why = fmt::format(
            "One thread per connection: {} threads share {} CPUs, so the scheduler, not the "
            "work, takes the time; each switch costs microseconds and caches. CPU may read "
            "100% busy, but the cause is the design, not a lack of cores.",
            s.threads_max, s.cpus);
        f.fix = {
            "use an event loop (epoll) with one thread per core instead of a thread per "
            "connection",
            "or cap the thread pool near the core count and queue the work"};
        out.push_back(std::move(f));
    }
}

// CPU saturated: the process on all the cores it can use, or one thread of it
// (an event loop, a single worker) on a whole core while the rest idle - then
// every connection that thread serves waits behind it, whatever the process
// total says. A symptom when a thread storm or fd scans burn the CPU.
void Judge::cpu_saturated() {
    if (!cpu_limited) return;
    bool symptom = storm || poll_scan || starving_dependency;
    // A single-threaded process on a host of several cores is "all the cores it
    // can use" by its own count, but its fix is the thread's (work off the loop,
    // a loop per core): on one core only, it is simply the machine's.
    bool one_thread = !quota_bound && pegged && (!cpu_busy || threads > 1 || s.cpus > 1);
    auto f = make(
        Bottleneck::cpu_saturated, symptom ? Severity::warn : Severity::crit, Support::counted,
        quota_bound ? fmt::format("the cgroup's CPU limit of {:.2f} cores is used up: throttled in "
                                  "{:.0f}% of its periods, {:.2f} s of waiting per second",
                                  s.cpu_limit_cores, s.throttled_share * 100, s.throttled_s_per_s)
        : one_thread ? fmt::format("thread {} ({}) always has work: on the CPU {:.0f}% and "
                                   "waiting for it {:.0f}% of the time, while the "
                                   "process uses {:.2f} of {} cores",
                                   pegged->tid, pegged->comm, pegged->cores * 100,
                                   (pegged->busy - pegged->cores) * 100, s.cpu_cores, s.cpus)
        : starved ? fmt::format("the host's {} cores are {:.0f}% busy: the process's threads wait "
                                "{:.2f} s per second for a CPU and run {:.2f} s",
                                s.cpus, guest_busy * 100, runq_wait, s.cpu_cores / ours)
                  : fmt::format("process uses {:.2f} of the {:.0f} cores it can use", s.cpu_cores,
                                usable_cores));
    if (quota_bound) {
        f.subject = fmt::format("cgroup {} (CPU limit {:.2f} cores)", s.cpu_limit_cgroup,
                                s.cpu_limit_cores);
        ev(f, "cpu_limit_cores", "cgroup CPU limit (quota / period)", s.cpu_limit_cores, units::cores);
        ev(f, "throttled_percent", "periods that ran out of quota", s.throttled_share * 100, units::percent);
        ev(f, "throttled_seconds_per_second", "threads held back by the quota", s.throttled_s_per_s,
           units::seconds_per_second);
    }
    if (one_thread) {
        f.subject = fmt::format("thread {} ({})", pegged->tid, pegged->comm);
        ev(f, "thread_cpu_percent", "busiest thread on CPU", pegged->cores * 100, units::percent);
        ev(f, "thread_busy_percent", "busiest thread on CPU or runnable", pegged->busy * 100, units::percent);
        if (s.busiest_threads.size() > 1)
            ev(f, "next_thread_cpu_percent", "next busiest thread on CPU",
               s.busiest_threads[1].cores * 100, units::percent);
    }
    if (starved) {
        f.subject = fmt::format("host CPU ({} cores)", s.cpus);
        ev(f, "runq_wait_seconds_per_second", "threads waiting for a CPU", runq_wait, units::seconds_per_second);
        int rank = 0;
        for (const auto& u : s.host_cpu_users)
            ev(f, fmt::format("host_cpu_user_{}_cores", ++rank),
               fmt::format("CPU of {} ({} process{})", u.comm, u.processes,
                           u.processes == 1 ? "" : "es"),
               u.cores, units::cores);
    }
    ev(f, "cpu_cores", "process CPU", s.cpu_cores, units::cores);
    ev(f, "usable_cores", "cores usable (min of CPUs, threads, cgroup CPU limit)", usable_cores,
       units::cores);
    ev(f, "host_busy_percent", "host CPU busy", s.host_busy * 100, units::percent);
    if (b) {
        double on = static_cast<double>(b->sched.on_cpu_ns);
        double total = on;
        for (auto x : b->sched.off_cpu_ns)
            total += static_cast<double>(x);
        if (total > 0) ev(f, "on_cpu_percent", "threads' time on CPU", on / total * 100, units::percent);
    }
    if (symptom) {
        f.why = storm     ? "A symptom of the context-switch storm above."
                : poll_scan ? "A symptom of the fd scans above: the CPU goes into poll()/select()."
                            : fmt::format("A consequence of downstream-bound above: the cores "
                                          "are held by {} ({}), the dependency this process "
                                          "waits on.",
                                          starving_dependency->server_comm,
                                          starving_dependency->remote.to_string());
        f.fix = {storm       ? "fix the thread-per-connection design first"
                 : poll_scan ? "fix the fd scans first"
                             : "fix the dependency first: c10k-doctor probe --pid " +
                                   std::to_string(starving_dependency->server_pid)};
    } else if (quota_bound) {
        f.why = fmt::format(
            "CFS bandwidth control gives the group {:.2f} cores' worth of CPU time per period; "
            "once it is spent, every thread of the group waits for the next period, however "
            "idle the host ({:.0f}% busy). Requests queue behind the limit, not behind the "
            "machine: tail latency grows by up to a period.",
            s.cpu_limit_cores, s.host_busy * 100);
        f.fix = {
            "raise or remove the CPU limit (docker run --cpus, Kubernetes "
            "resources.limits.cpu, systemd CPUQuota=)",
            "or cut the CPU each request costs: perf top -p " + std::to_string(e.pid),
            "threads beyond the limit's cores only spend the quota faster: size pools "
            "and GOMAXPROCS-like settings to the limit, not to the host's cores"};
    } else if (starved) {
        std::string users;
        bool own = false;
        for (const auto& u : s.host_cpu_users) {
            users += fmt::format("{}{} x{} {:.2f} cores", users.empty() ? "" : ", ", u.comm,
                                 u.processes, u.cores);
            own = own || u.comm == e.comm;
        }
        bool own_first = !s.host_cpu_users.empty() && s.host_cpu_users.front().comm == e.comm;
        f.why = fmt::format(
            "Every core is taken: the process's threads are runnable but wait their turn, so "
            "each request's computation takes {:.1f}x its CPU time. The limit is the host's "
            "CPU{}{}.",
            s.cpu_cores > 0 ? (s.cpu_cores / ours + runq_wait) / (s.cpu_cores / ours) : 0.0,
            users.empty() ? "" : ", held by ", users);
        if (own_first)
            f.fix = {
                fmt::format("{0}'s own processes fill the cores: run fewer of them at once "
                            "(a smaller pool in front of it, fewer workers or "
                            "connections), make each cheaper, or give the host more cores",
                            e.comm)};
        else
            f.fix = {
                "reduce or move the other load on this host (another host, a lower "
                "priority: nice, systemd CPUWeight=)"};
        f.fix.push_back(
            "give this service a larger CPU share (CPUWeight=, cpu.weight) or "
            "cores of its own (a cpuset, more cores)");
        if (!own) f.fix.push_back("see who runs: top -o %CPU; pidstat 1");
    } else if (one_thread) {
        f.why = fmt::format(
            "One thread does the work of every connection it serves and it has no time left: "
            "new requests wait behind the one being computed, so latency grows while {} of the "
            "{} cores stay idle. More cores or threads elsewhere in the process do not help.",
            std::max(0.0, s.cpus - s.cpu_cores) >= 0.5 ? "most" : "some", s.cpus);
        f.fix = {"move CPU-heavy work off the loop (worker threads, a job queue)",
                 "or run one loop per core (cluster mode, SO_REUSEPORT listeners, more workers)",
                 "profile the hot path: perf top -t " + std::to_string(pegged->tid)};
    } else {
        f.why =
            "The process's threads are on the CPU nearly all the time: requests queue behind "
            "computation.";
        f.fix = {"profile the hot path (perf top -p " + std::to_string(e.pid) + ")",
                 "spread the work over more cores (more worker processes/threads) or more hosts"};
    }
    out.push_back(std::move(f));
}

// Blocking syscalls in what should be an event loop, and threads fighting over a lock.
void Judge::blocking_and_locks() {
    {
        double blocking = 0, futex_share = 0, futex_per_s = 0;
        std::string source;
        if (b && syscall_ns > 0) {
            uint64_t block_ns = b->ns_of(syscalls::kBlocking);
            blocking = static_cast<double>(block_ns) / static_cast<double>(syscall_ns);
            double off_total = 0;
            for (auto x : b->sched.off_cpu_ns)
                off_total += static_cast<double>(x);
            double disk =
                off_total > 0 ? static_cast<double>(b->sched.off_cpu_ns[off_disk]) / off_total
                              : 0;
            blocking = std::max(blocking, disk);
            futex_share =
                static_cast<double>(b->ns_of({syscalls::kFutex})) / static_cast<double>(syscall_ns);
            futex_per_s = static_cast<double>(b->calls_of({syscalls::kFutex})) / sys_s;
            source = "syscall time";
        } else if (s.thread_samples > 0) {
            // Of the thread-samples where a thread had work (not parked waiting for
            // it in epoll/poll/accept, nor idle on a condvar), the share spent in
            // D state (disk) or in sleeps and fsyncs.
            uint64_t idle = count_of(s.blocked_in, syscalls::kReadinessWaits) +
                            count_of(s.blocked_in, syscalls::kWorkWaits);
            if (auto it = s.blocked_in.find(syscalls::kFutex); it != s.blocked_in.end())
                idle += it->second - std::min(it->second, s.futex_active);
            uint64_t working = s.thread_samples - std::min(idle, s.thread_samples);
            uint64_t blocked = s.disk + count_of(s.blocked_in, syscalls::kBlocking);
            blocking = working >= kMinSamples && blocked >= kMinSamples
                           ? static_cast<double>(blocked) / static_cast<double>(working)
                           : 0;
            futex_share = s.thread_samples ? static_cast<double>(s.futex_contended) /
                                                 static_cast<double>(s.thread_samples)
                                           : 0;
            futex_per_s = s.switches_per_s;  // best proxy without syscall counts
            source = "thread samples";
        }
        // An event loop's own account, the same in both modes: each look finds
        // a loop thread waiting for work (epoll/poll/select), running, or
        // blocked in some other call - a pipe or disk write, a pread in D state,
        // flock, a sleep; S as much as D. When blocking takes more of its time
        // than either of the others, requests queue behind the blocked calls:
        // the loop is idle less than it is blocked, and it is not running, so
        // more CPU would not help.
        bool loop_blocked = s.loop_blocked >= kMinSamples && s.loop_blocked >= s.loop_idle &&
                            s.loop_blocked >= s.loop_running;
        double loop_share = s.loop_looks ? static_cast<double>(s.loop_blocked) /
                                               static_cast<double>(s.loop_looks)
                                         : 0;
        std::vector<std::pair<uint64_t, std::string>> loop_where;
        for (const auto& [name, n] : s.loop_blocked_in)
            loop_where.emplace_back(n, name);
        std::sort(loop_where.rbegin(), loop_where.rend());
        if ((blocking >= kBlockingShare || loop_blocked) && !cpu_limited && !fd_limited) {
            bool by_loop = loop_blocked && (blocking < kBlockingShare || !b);
            auto f = make(Bottleneck::off_cpu_blocking, Severity::crit,
                          b ? Support::measured
                            : (by_loop ? Support::sampled : Support::sampled_proxy),
                          by_loop ? fmt::format("the event loop is blocked in {}() {:.0f}% of the "
                                                "time, waiting for work {:.0f}%",
                                                loop_where.front().second, loop_share * 100,
                                                static_cast<double>(s.loop_idle) * 100 /
                                                    static_cast<double>(s.loop_looks))
                                  : fmt::format("{:.0f}% of {} in sleeps, fsync or disk waits",
                                                blocking * 100, source));
            if (by_loop) f.subject = "event loop";
            ev(f, "blocking_percent", "time blocked in sleep/fsync/disk", blocking * 100, units::percent);
            if (s.loop_looks > 0) {
                auto looks = static_cast<double>(s.loop_looks);
                ev(f, "loop_blocked_percent", "event-loop threads' looks blocked in a call",
                   static_cast<double>(s.loop_blocked) * 100 / looks, units::percent);
                ev(f, "loop_idle_percent", "event-loop threads' looks waiting for work",
                   static_cast<double>(s.loop_idle) * 100 / looks, units::percent);
                ev(f, "loop_running_percent", "event-loop threads' looks running",
                   static_cast<double>(s.loop_running) * 100 / looks, units::percent);
                for (size_t i = 0; i < std::min<size_t>(3, loop_where.size()); ++i)
                    ev(f, "loop_in_" + loop_where[i].second,
                       "event-loop looks blocked in " + loop_where[i].second + "()",
                       static_cast<double>(loop_where[i].first), units::looks);
            }
            ev(f, "cpu_cores", "process CPU", s.cpu_cores, units::cores);
            if (!b) {
                ev(f, "disk_samples", "thread samples in D state (disk)",
                   static_cast<double>(s.disk), units::samples);
                // Where the blocked threads sat: the syscalls behind the D state.
                std::vector<std::pair<uint64_t, std::string>> where;
                for (const auto& [name, n] : s.blocked_in)
                    if (!syscalls::is_one_of(name, syscalls::kReadinessWaits) &&
                        !syscalls::is_one_of(name, syscalls::kWorkWaits) && name != syscalls::kFutex)
                        where.emplace_back(n, name);
                std::sort(where.rbegin(), where.rend());
                for (size_t i = 0; i < std::min<size_t>(3, where.size()); ++i)
                    ev(f, "in_" + where[i].second,
                       "thread samples asleep in " + where[i].second + "()",
                       static_cast<double>(where[i].first), units::samples);
            }
            if (b) {
                for (auto name : syscalls::kBlocking)
                    if (auto* sc = b->syscall(name))
                        ev(f, fmt::format("{}_per_second", name), fmt::format("{} per second", name),
                           static_cast<double>(sc->count) / sys_s, units::per_second);
                ev(f, "off_cpu_disk_ms", "off-CPU in D state",
                   static_cast<double>(b->sched.off_cpu_ns[off_disk]) / 1e6, units::ms);
            }
            f.why =
                by_loop ? "The event loop's thread waits inside calls that block it (a write to "
                          "a pipe or file that drains slowly, a disk read, a lock on a file, a "
                          "sleep) more than it waits for work or runs: every connection it "
                          "serves waits behind that call while the CPU is idle."
                        : "The process waits in calls that block the thread (sleeps, fsync, disk "
                          "reads) while the CPU is idle: requests queue behind the waits, not "
                          "behind work.";
            f.fix = {"move blocking work off the event loop (a thread pool for disk and fsync; "
                     "logs through a non-blocking buffer, or to a file instead of a slow pipe)",
                     "batch fsyncs (group commit) or use O_DSYNC/io_uring where durability allows",
                     "remove sleeps from request handling"};
            out.push_back(std::move(f));
        }
        // Waits for a file lock (flock, fcntl F_SETLKW) are lock waits whatever
        // the runtime: the kernel only sleeps a thread there while another
        // thread or process holds the lock. Workers serialised on one lock file
        // wait there most of the time; a pool being full is its consequence.
        double file_lock_share = s.thread_samples ? static_cast<double>(s.file_lock_waits) /
                                                        static_cast<double>(s.thread_samples)
                                                  : 0;
        if (s.file_lock_waits >= kMinSamples && file_lock_share >= kFileLockShare && !fd_limited) {
            auto f = make(Bottleneck::lock_contention, Severity::crit, Support::sampled,
                          fmt::format("threads wait for a file lock in {:.0f}% of the looks at "
                                      "them (flock or fcntl F_SETLKW)",
                                      file_lock_share * 100));
            f.subject = "file lock";
            ev(f, "file_lock_percent", "thread looks asleep waiting for a file lock",
               file_lock_share * 100, units::percent);
            ev(f, "file_lock_waiters", "threads waiting for a file lock at once (mean)",
               s.samples ? static_cast<double>(s.file_lock_waits) / s.samples : 0, units::threads);
            ev(f, "threads", "threads", s.threads_max, units::threads);
            ev(f, "cpu_cores", "process CPU", s.cpu_cores, units::cores);
            f.why =
                "The process's threads take turns on one file lock (flock, or fcntl record "
                "locks): while one holds it - across a slow call - the others sleep in the "
                "kernel, so the work goes one at a time however many workers there are.";
            f.fix = {"hold the lock only around what must be serialised, never across I/O or a "
                     "remote call",
                     "shard the locked resource (a lock file per key) or use a store that "
                     "serialises itself",
                     "find the holder: lslocks, or cat /proc/locks"};
            out.push_back(std::move(f));
        }
        // Hand-offs of a contended lock happen at the pace its holders run, and a
        // hypervisor's steal slows that pace for every thread alike: the rate is
        // judged on the CPU time the VM left us (at 70% steal a lock that would
        // change hands 1,300 times a second does so 400 times).
        // Time in futex says how long threads wait, not for what: a parked pool
        // spends all of its syscall time there. Contention needs threads seen
        // waiting on a lock another thread holds (contended_waits), in both modes.
        if (futex_share >= kFutexShare && futex_per_s / ours >= kFutexPerS && s.threads_max >= kLockMinThreads &&
            contended_waiters >= kContendedWaiters && !storm && !pool) {
            // Whether the lock can be what caps the process: one that guards
            // computation is held only while its holder runs or waits for a CPU,
            // so it is busy at most the process's CPU demand. Below half a core
            // it is free most of the time: a waiter waits about one hold (a queue
            // at half load), which adds latency but caps nothing - Python's GIL
            // behind a thread-per-connection server at 0.48 cores, whose limit
            // was a listen backlog of 5. A lock held across a blocking call is
            // busy while its holder sleeps, which the blocking share shows.
            bool can_cap = demand >= kLockCanCap || blocking >= kHolderBlocks;
            // And whether it stalls more than the target's overflowing accept
            // queue does (Little's law, both in connections held up at once):
            // each overflow leaves a client waiting for its SYN retransmit, a
            // second at least, while each thread in futex holds up one request
            // at most. A slow acceptor behind the lock would still overflow a
            // deep queue far less: the small backlog is the cheaper, surer fix.
            double lock_stalled = b && sys_s > 0
                                      ? static_cast<double>(b->ns_of({syscalls::kFutex})) / 1e9 / sys_s
                                      : futex_waiters;
            // (accept_queue() runs before this rule: see the order in run().)
            bool overflowing = std::any_of(out.begin(), out.end(), [](const Finding& o) {
                return o.id == Bottleneck::accept_queue_overflow &&
                       o.severity == Severity::crit;
            });
            double syn_stalled =
                overflowing ? rate(s, "TcpExt.ListenOverflows") * kSynRetransmitS : 0;
            bool outweighed = syn_stalled > lock_stalled;
            if (outweighed) can_cap = false;
            auto f = make(Bottleneck::lock_contention, can_cap ? Severity::crit : Severity::warn,
                          b ? Support::measured : Support::weak,
                          fmt::format("{:.0f}% of {} in futex waits, {:.0f} futex calls per second",
                                      futex_share * 100, source, futex_per_s));
            ev(f, "lock_stalled", "threads waiting in futex at once (mean)", lock_stalled,
               units::threads);
            ev(f, "contended_waiters", "threads seen waiting on a held lock at once (mean)",
               contended_waiters, units::threads);
            if (overflowing)
                ev(f, "syn_stalled",
                   "clients waiting on a SYN retransmit at once (overflows x 1 s)", syn_stalled,
                   units::connections);
            ev(f, "futex_percent", "share in futex", futex_share * 100, units::percent);
            ev(f, "futex_per_second", b ? "futex calls per second" : "context switches per second",
               futex_per_s, units::per_second);
            ev(f, "threads", "threads", s.threads_max, units::threads);
            ev(f, "cpu_cores", "process CPU", s.cpu_cores, units::cores);
            ev(f, "lock_busy_bound_cores", "CPU demand (on a CPU or waiting for one)", demand,
               units::cores);
            if (b) {
                if (auto* fx = b->syscall(syscalls::kFutex))
                    ev(f, "futex_p99_us", "futex latency p99",
                       static_cast<double>(fx->latency.percentile_ns(0.99)) / 1e3, units::us);
            }
            f.why = outweighed
                        ? "Threads wait for each other on a lock (futex), but the overflowing "
                          "accept queue above holds up more connections than the lock does: "
                          "each overflow costs a client a SYN retransmit of a second or more."
                    : can_cap ? "Threads spend their time waiting for each other on a lock (futex) "
                                "instead of working; adding threads makes it worse."
                              : "Threads wait for each other on a lock (futex), but the process "
                                "uses under half a core and blocks little: a lock held only while "
                                "computing is free most of the time, so the waits add latency "
                                "without capping throughput. Look at what stands above this.";
            f.fix = {"shorten or split the critical section; shard the shared state",
                     "use per-thread data or lock-free structures on the hot path"};
            out.push_back(std::move(f));
        }
    }
}

}  // namespace c10k::verdict
