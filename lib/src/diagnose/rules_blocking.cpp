// SPDX-License-Identifier: GPL-2.0-or-later
// Where the threads wait instead of working: calls that block an event loop
// (sleeps, fsync, disk, a slow pipe), file locks, and futex locks another
// thread holds - told apart from a pool's workers parked for work.
#include "verdict_rules.hpp"

namespace c10k::verdict {

// An event loop does all of a process's request work on one thread, and only
// that thread reads its connections: whatever it waits in, its requests wait
// too. A futex wait there (Node's Atomics.wait, a synchronous lock, a call
// into a worker it blocks on) blocks it as surely as a disk read, where a
// pool's worker parked in futex blocks nothing: its siblings or its
// dispatcher read the connections meanwhile. So: the thread doing most of the
// process's CPU (kPeggedShareOfProcess: one thread serving every connection),
// asleep in one kind of call in most of its looks, while requests sit unread
// in most looks. A pool's workers share the CPU among them; a healthy loop
// leaves nothing unread; Go's threads take turns parking in futex with none
// doing most of the work, and read requests as they come.
// A loop blocked in a sleep or a disk wait nearly all the time may never be
// caught in its epoll_wait, so nothing else marks it as the loop: Redis's main
// thread in DEBUG SLEEP beside its four parked helpers (bio threads, jemalloc)
// was asleep in clock_nanosleep in 244 of 247 looks, in epoll_wait in none.
// Its requests are told waiting either way: unread from one look to the next,
// or queued in the kernel in one look. The first needs looks closer together
// than a request's wait: a loop parked 10 ms per request before 20 clients
// keeps each ~200 ms while BPF mode's connection looks come ~190 ms apart
// (further on a loaded host), and before 3 clients each waits 20 ms. The
// loop's own looks (parked, not running, doing most of the CPU) say why they
// sit: a loop reading on readiness would have been woken by them, and a pool
// whose workers wait on a dependency has read its requests.
void Judge::find_stalled_loop() {
    if (s.cpu_cores <= 0 || !(requests_wait_unread() || requests_sit_queued())) return;
    const ThreadCpu* top = nullptr;
    for (const auto& t : s.busiest_threads)
        if (!top || t.cores > top->cores) top = &t;
    // Its share of the threads' CPU, measured as it is (see threads_cores):
    // a loop this idle uses a tick or two of /proc/PID/stat's CPU time.
    double process_cores = s.threads_cores > 0 ? s.threads_cores : s.cpu_cores;
    if (!top || top->looks < kMinSamples || top->cores < kPeggedShareOfProcess * process_cores)
        return;
    auto most = kMostOfTheTime * static_cast<double>(top->looks);
    if (static_cast<double>(top->futex_looks) >= most)
        stalled_loop = StalledLoop{top, std::string(syscalls::kFutex), top->futex_looks, true};
    else if (static_cast<double>(top->blocked_looks) >= most && !top->blocked_in.empty())
        stalled_loop = StalledLoop{top, top->blocked_in, top->blocked_looks, false};
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
                off_total > 0 ? static_cast<double>(b->sched.off_cpu_ns[off_disk]) / off_total : 0;
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
            // A timer thread's sleeps hold up no request when none waits, or
            // when the event loops that serve the requests are free most of
            // the time (memcached's maintainers beside its idle workers).
            bool timers_aside =
                s.conns.mean_inbound_pending() < 1 ||
                (s.loop_looks > 0 && static_cast<double>(s.loop_idle) >=
                                         kMostOfTheTime * static_cast<double>(s.loop_looks));
            if (timers_aside) idle += s.timer_sleeps;
            uint64_t working = s.thread_samples - std::min(idle, s.thread_samples);
            uint64_t blocked = s.disk + count_of(s.blocked_in, syscalls::kBlocking);
            if (timers_aside) blocked -= std::min(blocked, s.timer_sleeps);
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
        // A loop stalled in one call with its requests unread is accounted by
        // its own looks (find_stalled_loop): that call is its blocking.
        struct {
            uint64_t looks, blocked, idle, running;
        } loop = {s.loop_looks, s.loop_blocked, s.loop_idle, s.loop_running};
        std::vector<std::pair<uint64_t, std::string>> loop_where;
        if (stalled_loop) {
            const auto& t = *stalled_loop->thread;
            loop = {t.looks, stalled_loop->looks, t.readiness_looks, t.running_looks};
            loop_where.emplace_back(stalled_loop->looks, stalled_loop->call);
        } else {
            loop_where = by_count(s.loop_blocked_in);
        }
        bool parked_in_futex = stalled_loop && stalled_loop->futex;
        bool loop_blocked =
            stalled_loop.has_value() || (loop.blocked >= kMinSamples && loop.blocked >= loop.idle &&
                                         loop.blocked >= loop.running);
        double loop_share =
            loop.looks ? static_cast<double>(loop.blocked) / static_cast<double>(loop.looks) : 0;
        // Waits for a file lock (flock, fcntl F_SETLKW) are lock waits whatever
        // the runtime: the kernel only sleeps a thread there while another
        // thread or process holds the lock. Workers serialised on one lock file
        // wait there most of the time; a pool being full is its consequence,
        // and so is the holder's blocking: with most threads waiting for the
        // lock, the one blocking in a call is the one holding it.
        double file_lock_share = s.thread_samples ? static_cast<double>(s.file_lock_waits) /
                                                        static_cast<double>(s.thread_samples)
                                                  : 0;
        bool file_locked =
            s.file_lock_waits >= kMinSamples && file_lock_share >= kFileLockShare && !fd_limited;
        if ((blocking >= kBlockingShare || loop_blocked) && !cpu_limited && !fd_limited) {
            bool by_loop = loop_blocked && (blocking < kBlockingShare || !b);
            auto f =
                make(Bottleneck::off_cpu_blocking,
                     b ? Support::measured : (by_loop ? Support::sampled : Support::sampled_proxy),
                     by_loop ? fmt::format("the event loop is blocked in {}() {:.0f}% of the "
                                           "time, waiting for work {:.0f}%",
                                           loop_where.front().second, loop_share * 100,
                                           static_cast<double>(loop.idle) * 100 /
                                               static_cast<double>(loop.looks))
                             : fmt::format("{:.0f}% of {} in sleeps, fsync or disk waits",
                                           blocking * 100, source));
            // Waits for a file lock are a lock's queue, judged as one below.
            lower_to_warn(f, file_locked);
            if (by_loop) f.subject = "event loop";
            ev(f, key::blocking_percent, blocking * 100);
            if (loop.looks > 0) {
                auto looks = static_cast<double>(loop.looks);
                ev(f, key::loop_blocked_percent, static_cast<double>(loop.blocked) * 100 / looks);
                ev(f, key::loop_idle_percent, static_cast<double>(loop.idle) * 100 / looks);
                ev(f, key::loop_running_percent, static_cast<double>(loop.running) * 100 / looks);
                for (size_t i = 0; i < std::min<size_t>(3, loop_where.size()); ++i)
                    ev_at(f, key::loop_in, loop_where[i].second,
                          static_cast<double>(loop_where[i].first));
            }
            ev(f, key::cpu_cores, s.cpu_cores);
            if (!b) {
                ev(f, key::disk_samples, static_cast<double>(s.disk));
                // Where the blocked threads sat: the syscalls behind the D state.
                std::vector<std::pair<uint64_t, std::string>> where;
                for (const auto& [name, n] : s.blocked_in)
                    if (!syscalls::is_one_of(name, syscalls::kReadinessWaits) &&
                        !syscalls::is_one_of(name, syscalls::kWorkWaits) &&
                        name != syscalls::kFutex)
                        where.emplace_back(n, name);
                std::sort(where.rbegin(), where.rend());
                for (size_t i = 0; i < std::min<size_t>(3, where.size()); ++i)
                    ev_at(f, key::asleep_in, where[i].second, static_cast<double>(where[i].first));
            }
            if (b) {
                for (auto name : syscalls::kBlocking)
                    if (auto* sc = b->syscall(name))
                        ev_at(f, key::calls_per_second, name,
                              static_cast<double>(sc->count) / sys_s);
                ev(f, key::off_cpu_disk_ms,
                   static_cast<double>(b->sched.off_cpu_ns[off_disk]) / 1e6);
            }
            f.why =
                file_locked
                    ? "A consequence of the file lock above: its threads wait for the lock more "
                      "than they do anything else, so the thread blocking in these calls is the "
                      "one holding it - shorten what is done under the lock."
                : parked_in_futex
                    ? "The thread that does the process's work waits in futex most of the time "
                      "while requests sit unread in its connections: an event loop blocked on "
                      "another thread (Atomics.wait, a synchronous lock, a call it waits on "
                      "instead of awaiting). Only that thread reads its connections, so every "
                      "one of them waits behind the wait while the CPU is idle."
                : by_loop ? "The event loop's thread waits inside calls that block it (a write to "
                            "a pipe or file that drains slowly, a disk read, a lock on a file, a "
                            "sleep) more than it waits for work or runs: every connection it "
                            "serves waits behind that call while the CPU is idle."
                          : "The process waits in calls that block the thread (sleeps, fsync, disk "
                            "reads) while the CPU is idle: requests queue behind the waits, not "
                            "behind work.";
            if (parked_in_futex)
                f.fix = {
                    "never wait on the loop for another thread: no Atomics.wait or "
                    "synchronous lock there; hand the work over and resume on its message "
                    "or promise (a worker's postMessage, a future's callback)"};
            else
                f.fix = {
                    "move blocking work off the event loop (a thread pool for disk and fsync; "
                    "logs through a non-blocking buffer, or to a file instead of a slow pipe)",
                    "batch fsyncs (group commit) or use O_DSYNC/io_uring where durability allows",
                    "remove sleeps from request handling"};
            out.push_back(std::move(f));
        }
        if (file_locked) {
            auto f = make(Bottleneck::lock_contention, Support::sampled,
                          fmt::format("threads wait for a file lock in {:.0f}% of the looks at "
                                      "them (flock or fcntl F_SETLKW)",
                                      file_lock_share * 100));
            f.subject = "file lock";
            ev(f, key::file_lock_percent, file_lock_share * 100);
            ev(f, key::file_lock_waiters,
               s.samples ? static_cast<double>(s.file_lock_waits) / s.samples : 0);
            ev(f, key::threads, s.threads_max);
            ev(f, key::cpu_cores, s.cpu_cores);
            f.why =
                "The process's threads take turns on one file lock (flock, or fcntl record "
                "locks): while one holds it - across a slow call - the others sleep in the "
                "kernel, so the work goes one at a time however many workers there are.";
            f.fix = {
                "hold the lock only around what must be serialised, never across I/O or a "
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
        if (futex_share >= kFutexShare && futex_per_s / ours >= kFutexPerS &&
            s.threads_max >= kLockMinThreads && contended_waiters >= kContendedWaiters && !storm &&
            !pool) {
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
            double lock_stalled =
                b && sys_s > 0 ? static_cast<double>(b->ns_of({syscalls::kFutex})) / 1e9 / sys_s
                               : futex_waiters;
            // (accept_queue() runs before this rule: see the order in run().)
            bool overflowing = std::any_of(out.begin(), out.end(), [](const Finding& o) {
                return o.id == Bottleneck::accept_queue_overflow && o.severity == Severity::crit;
            });
            double syn_stalled =
                overflowing ? rate(s, "TcpExt.ListenOverflows") * kSynRetransmitS : 0;
            bool outweighed = syn_stalled > lock_stalled;
            if (outweighed) can_cap = false;
            auto f = make(Bottleneck::lock_contention, b ? Support::measured : Support::weak,
                          fmt::format("{:.0f}% of {} in futex waits, {:.0f} futex calls per second",
                                      futex_share * 100, source, futex_per_s));
            lower_to_warn(f, !can_cap);
            ev(f, key::lock_stalled, lock_stalled);
            ev(f, key::contended_waiters, contended_waiters);
            if (overflowing) ev(f, key::syn_stalled, syn_stalled);
            ev(f, key::futex_percent, futex_share * 100);
            // Without syscall counts the proxy is the switch rate, named as such.
            ev(f, b ? key::futex_per_second : key::switches_per_second, futex_per_s);
            ev(f, key::threads, s.threads_max);
            ev(f, key::cpu_cores, s.cpu_cores);
            ev(f, key::lock_busy_bound_cores, demand);
            if (b) {
                if (auto* fx = b->syscall(syscalls::kFutex))
                    ev(f, key::futex_p99_us,
                       static_cast<double>(fx->latency.percentile_ns(0.99)) / 1e3);
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

namespace {

// A worker's looks where blocking took more of its time than waiting for
// work, waiting on a peer or running: requests queue behind its calls.
bool blocked_most(const WorkerAccount& a) {
    return a.blocked >= kMinSamples && a.blocked >= a.idle && a.blocked >= a.peer &&
           a.blocked >= a.running;
}

// "pread64()"; a worker blocked in a readiness call waited with a timeout on
// a set with no socket in it (see WorkerLooks): a sleep.
std::string as_call(const std::string& name) {
    return syscalls::is_one_of(name, syscalls::kReadinessWaits)
               ? name + "() with a timeout, on no socket"
               : name + "()";
}

}  // namespace

// A forking server's workers (PostgreSQL's backends, PHP-FPM's or Apache's
// children) each serve their connections on one thread, as an event loop
// does: while a worker sleeps in a call other than a wait for work or for a
// peer (a disk read or fsync, a sleep, a pipe write; S or D), the connections
// it holds wait too, and its master's own threads show nothing of it. The same
// account as a loop's (blocked_most), over all the workers' looks: requests
// queue behind the blocked calls - workers idle more often have room for
// more, workers running more are CPU-bound (judged by their CPU), workers in
// socket calls wait on a client or a dependency (judged by the connections).
// Workers may share the connections unevenly (a listener shared without
// SO_REUSEPORT wakes whichever worker the kernel picks): one worker blocked
// most of its looks is where requests wait, however idle the rest, when they
// do wait - unread in most looks (a worker idle in epoll_wait would have read
// its own), or more of them in progress than the blocked workers serve (each
// serves one at a time; an idle worker answers its own at once). A worker
// blocked on one client's long query, the others idle, has one request in
// progress: that client waits, the server does not.
// Waits for a file lock are a lock's queue: the lock is the cause, and the one
// worker blocking in a call is its holder. So are waits that only another
// process can end - an epoll wait on no socket and with no timeout, how
// PostgreSQL's backends wait on their latch for a row lock - when the workers
// spend more of their looks there than anywhere else: they go one holder at a
// time, and the holder's own wait (a slow statement, pg_sleep) is blocking
// under the lock.
void Judge::blocked_workers() {
    const auto& w = s.worker_states;
    const auto& al = w.all;
    // A CPU limit does not hide this: a look finds a worker waiting for a CPU
    // in R, counted as running, so workers blocked more than they run have
    // lost more to their calls than to the CPU. (prefork-sleepy beside four
    // spinning shells: blocked in 84% of looks, runnable 16%, 0.66 s/s of
    // run-queue wait over 4 workers - starved, and blocked far more.)
    if (al.looks == 0 || fd_limited) return;
    double lock_percent = percent(al.file_lock, al.looks);
    bool file_locked = al.file_lock >= kMinSamples && lock_percent >= kFileLockShare * 100;
    bool woken = al.wakeup >= kMinSamples &&
                 al.wakeup >= std::max({al.idle, al.peer, al.running, al.blocked, al.file_lock});
    bool locked = file_locked || woken;
    bool all_blocked = blocked_most(al);
    bool queued = requests_wait_unread() ||
                  s.conns.mean_inbound_pending() > std::max<uint32_t>(1, w.blocked_most);
    bool one_blocked =
        !all_blocked && w.most_blocked_pid != 0 && blocked_most(w.most_blocked) && queued;
    auto has = [&](Bottleneck id) {
        return std::any_of(out.begin(), out.end(), [&](const Finding& f) { return f.id == id; });
    };
    const WorkerAccount& a = all_blocked ? al : w.most_blocked;
    auto where = by_count(a.blocked_in);
    auto add_shares = [&](Finding& f, const WorkerAccount& acc) {
        ev(f, key::workers_blocked_percent, percent(acc.blocked, acc.looks));
        ev(f, key::workers_idle_percent, percent(acc.idle, acc.looks));
        ev(f, key::workers_peer_percent, percent(acc.peer, acc.looks));
        ev(f, key::workers_running_percent, percent(acc.running, acc.looks));
        ev(f, key::workers_running, w.workers);
    };
    if ((all_blocked || one_blocked) && !where.empty() && !has(Bottleneck::off_cpu_blocking)) {
        auto f = make(
            Bottleneck::off_cpu_blocking, Support::sampled,
            all_blocked
                ? fmt::format("its workers are blocked in {} {:.0f}% of the time, "
                              "waiting for work {:.0f}%, running {:.0f}%",
                              as_call(where.front().second), percent(a.blocked, a.looks),
                              percent(a.idle, a.looks), percent(a.running, a.looks))
                : fmt::format("{} of its {} workers blocked most of the time while "
                              "requests wait for them: worker PID {} in {} {:.0f}% "
                              "of its looks",
                              std::max<uint32_t>(1, w.blocked_most), w.workers, w.most_blocked_pid,
                              as_call(where.front().second), percent(a.blocked, a.looks)));
        f.subject = all_blocked ? "its workers" : fmt::format("worker PID {}", w.most_blocked_pid);
        lower_to_warn(f, locked);
        add_shares(f, a);
        for (size_t i = 0; i < std::min<size_t>(3, where.size()); ++i)
            ev_at(f, key::workers_in, where[i].second, static_cast<double>(where[i].first));
        ev(f, key::workers_cores, s.workers_cores);
        f.why = locked ? "A consequence of the lock below: the workers wait for the lock more "
                         "than they do anything else, so the worker blocking in these calls is "
                         "the one holding it - shorten what is done under the lock."
                : all_blocked
                    ? "Each worker process serves its connections on one thread, and the "
                      "workers sleep inside calls that block them (a disk read or fsync, a "
                      "sleep, a write to a slow pipe) more than they run or wait for work: "
                      "every connection a worker holds waits behind its call while the CPU is "
                      "idle. More workers only queue more of them on the same disk or sleep."
                    : "Each worker process serves its connections on one thread, and this "
                      "worker holds connections whose requests wait while it sleeps inside "
                      "calls that block it (a disk read or fsync, a sleep, a write to a slow "
                      "pipe): its connections wait behind its calls however idle the other "
                      "workers are.";
        f.fix = {
            "find what the workers wait for: the calls above (strace -p WORKER_PID -T); "
            "for a database, the queries reading from disk (a bigger cache, an index, "
            "faster storage)",
            "make writes durable in batches (group commit, a log writer) rather than "
            "with an fsync per request",
            "remove sleeps from request handling; send logs to a file or a non-blocking "
            "buffer, not a slow pipe"};
        if (one_blocked)
            f.fix.push_back(
                "spread the connections over the workers (SO_REUSEPORT: nginx's "
                "listen ... reuseport)");
        out.push_back(std::move(f));
    }
    if (woken && !has(Bottleneck::lock_contention)) {
        auto f = make(Bottleneck::lock_contention, Support::sampled,
                      fmt::format("its workers wait to be woken by another process in {:.0f}% "
                                  "of their looks: in epoll on no socket, with no timeout",
                                  percent(al.wakeup, al.looks)));
        f.subject = "its workers";
        add_shares(f, al);
        ev(f, key::workers_wakeup_percent, percent(al.wakeup, al.looks));
        ev(f, key::workers_cores, s.workers_cores);
        f.why =
            "The workers wait in epoll on a set with no socket in it and no timeout: no "
            "client and no dependency can end that wait, only another process waking "
            "them - PostgreSQL's backends wait so on their latch for a row or table lock "
            "another backend holds. They spend more of their time there than running, "
            "blocked or serving, so the work goes one holder at a time however many "
            "workers there are.";
        f.fix = {
            "find the holder and what it does while holding: PostgreSQL's pg_locks "
            "joined with pg_stat_activity (wait_event_type 'Lock'), or "
            "pg_blocking_pids()",
            "keep transactions that update a hot row short, and take the row lock as "
            "late as the transaction allows",
            "spread the updates (a counter per shard, summed on read) instead of one row "
            "everyone updates"};
        out.push_back(std::move(f));
    }
    if (file_locked && !has(Bottleneck::lock_contention)) {
        auto f = make(Bottleneck::lock_contention, Support::sampled,
                      fmt::format("its workers wait for a file lock in {:.0f}% of the looks at "
                                  "them (flock or fcntl F_SETLKW)",
                                  lock_percent));
        f.subject = "file lock";
        add_shares(f, al);
        ev(f, key::file_lock_percent, lock_percent);
        ev(f, key::workers_cores, s.workers_cores);
        f.why =
            "The worker processes take turns on one file lock (flock, or fcntl record "
            "locks; PHP's file sessions hold one per session for the whole request): "
            "while one holds it the others sleep in the kernel, so the work goes one at a "
            "time however many workers there are.";
        f.fix = {
            "hold the lock only around what must be serialised, never across I/O or a "
            "remote call (PHP: session_write_close() once the session is read)",
            "shard the locked resource or use a store that serialises itself",
            "find the holder: lslocks, or cat /proc/locks"};
        out.push_back(std::move(f));
    }
}

}  // namespace c10k::verdict
