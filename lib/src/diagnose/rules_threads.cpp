// SPDX-License-Identifier: GPL-2.0-or-later
// The process's threads and its CPU: a thread per connection, and a process, a
// thread or a cgroup with no CPU left - or starved of it by others.
#include "verdict_rules.hpp"

namespace c10k::verdict {

// Thread per connection: thousands of threads switching all the time.
void Judge::thread_storm() {
    if (storm) {
        auto f = make(
            Bottleneck::context_switch_storm,
            runq_p99 >= kStormRunqP99Ns ? Support::corroborated : Support::counted,
            fmt::format("{} threads, {:.0f} context switches per second", s.threads_max, switches));
        ev(f, key::threads, s.threads_max, "threads (max seen)");
        ev(f, key::connections, s.connections_max);
        ev(f, key::switches_per_second, switches);
        ev(f, key::involuntary_per_second, involuntary);
        if (b)
            ev(f, key::runq_p99_us, static_cast<double>(runq_p99) / 1e3);
        else
            ev(f, key::runq_wait_share, s.runq_wait_share);
        ev(f, key::cpu_cores, s.cpu_cores);
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
// What the on-CPU samples say the CPU is spent on: user space, and the
// syscalls that hold it most (a pegged loop in poll(), in write(), in futex).
void Judge::note_where_cpu_goes(Finding& f) const {
    ev(f, key::on_cpu_user_percent, profile->share(profile->user) * 100);
    std::vector<std::pair<uint64_t, std::string_view>> calls;
    for (const auto& [name, n] : profile->in_syscall)
        calls.emplace_back(n, name);
    std::sort(calls.begin(), calls.end(), std::greater<>());
    for (size_t i = 0; i < std::min<size_t>(2, calls.size()); ++i)
        ev_at(f, key::on_cpu_syscall_percent, std::to_string(i + 1),
              profile->share(calls[i].first) * 100,
              fmt::format("on-CPU samples inside {}()", calls[i].second));
}

void Judge::cpu_saturated() {
    if (!cpu_limited) return;
    bool symptom = storm || poll_scan || starving_dependency || refusal_churn || drain_churn;
    // A single-threaded process on a host of several cores is "all the cores it
    // can use" by its own count, but its fix is the thread's (work off the loop,
    // a loop per core): on one core only, it is simply the machine's.
    bool one_thread = !quota_bound && pegged && (!cpu_busy || threads > 1 || s.cpus > 1);
    // Only its workers' CPU: the master itself neither runs nor waits.
    bool by_workers = workers_hold_cpu && !(cpu_busy || pegged || throttled || starved);
    auto f = make(
        Bottleneck::cpu_saturated, Support::counted,
        quota_bound ? fmt::format("the cgroup's CPU limit of {:.2f} cores is used up: throttled in "
                                  "{:.0f}% of its periods, {:.2f} s of waiting per second",
                                  s.cpu_limit_cores, s.throttled_share * 100, s.throttled_s_per_s)
        // busy is capped at a whole thread while cores is measured as it is, so
        // a pegged thread can read a hair over 100% on: never a negative wait.
        : one_thread
            ? fmt::format("thread {} ({}) always has work: on the CPU {:.0f}% and "
                          "waiting for it {:.0f}% of the time, while the "
                          "process uses {:.2f} of {} cores",
                          pegged->tid, pegged->comm, pegged->cores * 100,
                          std::max(0.0, pegged->busy - pegged->cores) * 100, s.cpu_cores, s.cpus)
        : by_workers && workers_fill_cores
            ? fmt::format("its {} worker processes use {:.2f} of the host's {} cores ({:.0f}% "
                          "busy) and wait {:.2f} s per second for one, while it holds none of "
                          "its connections itself",
                          s.workers_running, s.workers_cores, s.cpus, s.host_busy * 100,
                          s.workers_runq_wait)
        : by_workers ? fmt::format("its worker PID {} ({}, one thread) always has work: on the "
                                   "CPU {:.0f}% and waiting for it {:.0f}% of the time, while "
                                   "it holds none of its connections itself",
                                   s.busiest_worker_pid, e.comm, s.busiest_worker_cores * 100,
                                   s.busiest_worker_runq_wait * 100)
        : starved    ? fmt::format("the host's {} cores are {:.0f}% busy: {} wait "
                                      "{:.2f} s per second for a CPU and run {:.2f} s",
                                   s.cpus, guest_busy * 100,
                                workers_starved ? "the process's workers" : "the process's threads",
                                   runq_wait, starved_run)
                  : fmt::format("process uses {:.2f} of the {:.0f} cores it can use", s.cpu_cores,
                                usable_cores));
    lower_to_warn(f, symptom);
    if (quota_bound) {
        f.subject = fmt::format("cgroup {} (CPU limit {:.2f} cores)", s.cpu_limit_cgroup,
                                s.cpu_limit_cores);
        ev(f, key::cpu_limit_cores, s.cpu_limit_cores);
        ev(f, key::throttled_percent, s.throttled_share * 100);
        ev(f, key::throttled_seconds_per_second, s.throttled_s_per_s);
    }
    if (one_thread) {
        f.subject = fmt::format("thread {} ({})", pegged->tid, pegged->comm);
        ev(f, key::thread_cpu_percent, pegged->cores * 100);
        ev(f, key::thread_busy_percent, pegged->busy * 100);
        if (s.busiest_threads.size() > 1)
            ev(f, key::next_thread_cpu_percent, s.busiest_threads[1].cores * 100);
    }
    if (by_workers) {
        f.subject = workers_fill_cores
                        ? fmt::format("its workers ({} x{})", e.comm, s.workers_running)
                        : fmt::format("worker PID {} ({})", s.busiest_worker_pid, e.comm);
        ev(f, key::workers_cores, s.workers_cores);
        ev(f, key::workers_runq_wait, s.workers_runq_wait);
        ev(f, key::workers_running, s.workers_running);
        if (!workers_fill_cores) {
            ev(f, key::busiest_worker_cores, s.busiest_worker_cores);
            ev(f, key::busiest_worker_runq_wait, s.busiest_worker_runq_wait);
        }
    }
    if (starved || by_workers) {
        if (starved) {
            f.subject = fmt::format("host CPU ({} cores)", s.cpus);
            ev(f, key::runq_wait_seconds_per_second, runq_wait);
        }
        int rank = 0;
        for (const auto& u : s.host_cpu_users)
            ev_at(f, key::host_cpu_user_cores, std::to_string(++rank), u.cores,
                  fmt::format("CPU of {} ({} process{})", u.comm, u.processes,
                              u.processes == 1 ? "" : "es"));
        if (s.reaped_children_cores >= 0.01)
            ev(f, key::reaped_children_cores, s.reaped_children_cores,
               "CPU of its own children that exited in the window");
    }
    ev(f, key::cpu_cores, s.cpu_cores);
    ev(f, key::usable_cores, usable_cores, "cores usable (min of CPUs, threads, cgroup CPU limit)");
    ev(f, key::host_busy_percent, s.host_busy * 100);
    if (b) {
        double on = static_cast<double>(b->sched.on_cpu_ns);
        double total = on;
        for (auto x : b->sched.off_cpu_ns)
            total += static_cast<double>(x);
        if (total > 0) ev(f, key::on_cpu_percent, on / total * 100);
    }
    if (profile) note_where_cpu_goes(f);
    if (symptom) {
        f.why =
            storm         ? "A symptom of the context-switch storm above."
            : poll_scan   ? "A symptom of the fd scans above: the CPU goes into poll()/select()."
            : drain_churn ? "A consequence of the connection cap above: each request now costs a "
                            "new connection (accept, handshake, close)."
            : refusal_churn
                ? fmt::format(
                      "A consequence of the connection cap above: the CPU goes into "
                      "the processes it starts for connections it then refuses "
                      "({:.2f} cores).",
                      s.reaped_children_cores)
                : fmt::format(
                      "A consequence of downstream-bound above: the cores "
                      "are held by {} ({}), the dependency this process "
                      "waits on.",
                      starving_dependency->server_comm, starving_dependency->remote.to_string());
        f.fix = {storm       ? "fix the thread-per-connection design first"
                 : poll_scan ? "fix the fd scans first"
                 : refusal_churn || drain_churn
                     ? "fix the connection cap first"
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
    } else if (by_workers && !workers_fill_cores) {
        f.why = fmt::format(
            "The process hands its connections to worker processes and sleeps while they work; "
            "one of them, a single thread, is on the CPU nearly all the time: the connections "
            "it serves queue behind its computation while {} of the {} cores stay free. More "
            "cores do not help it; more workers, or cheaper requests, do.",
            std::max(0.0, s.cpus - s.workers_cores) >= 0.5 ? "most" : "some", s.cpus);
        f.fix = {
            fmt::format("see where its CPU goes: c10k-doctor probe --pid {0}, perf top -p {0}",
                        s.busiest_worker_pid),
            "run a worker per core (nginx: worker_processes auto; more PHP-FPM, uWSGI or Apache "
            "workers), or make each request cheaper"};
    } else if (by_workers) {
        f.why = fmt::format(
            "The process hands its connections to worker processes (a backend or worker for "
            "each, as PostgreSQL, Apache prefork, PHP-FPM or uWSGI do) and sleeps while they "
            "work: together they hold the host's {} cores, so each request's computation waits "
            "its turn behind the others'. The limit is the CPU the workers run on, not this "
            "process or its connection settings.",
            s.cpus);
        f.fix = {fmt::format("see where the workers' CPU goes: c10k-doctor probe --pid {0} (the "
                             "busiest of them), perf top -p {0}",
                             s.busiest_worker_pid),
                 "make each request cheaper (for a database: its slowest queries, their plans and "
                 "indexes)",
                 "run fewer at once so they queue instead of sharing the cores (a pool in front: "
                 "pgbouncer for PostgreSQL; pm.max_children, MaxRequestWorkers, --processes), or "
                 "give the host more cores"};
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
            "Every core is taken: the process's {} runnable but wait their turn, so "
            "each request's computation takes {:.1f}x its CPU time. The limit is the host's "
            "CPU{}{}.",
            workers_starved ? "workers are" : "threads are",
            starved_run > 0 ? (starved_run + runq_wait) / starved_run : 0.0,
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

// Handlers serialised on one lock held across CPU work. A runtime that parks
// its waiters in user space (Go's sync.Mutex, a coroutine mutex, an actor's
// mailbox) leaves the kernel nothing to see of the wait: each waiting thread,
// if any, sleeps on a futex of its own, like an idle worker. What the lock
// cannot hide is its effect on the CPU (Amdahl): with a share f of each
// request's work under the lock, the process can never use more than 1/f
// cores, however many requests wait and however many cores are free. So: more
// requests in progress at once than the cores the process uses could serve,
// several threads doing the work, the process below the cores it could use
// and the host with CPU to spare - and nothing else (a wait on a peer, a
// blocking call, a full pool) already explaining why the work waits.
void Judge::serialised() {
    if (cpu_limited || fd_limited || storm || poll_scan) return;
    for (const auto& f : out)
        if (f.severity == Severity::crit) return;
    const auto& c = s.conns;
    if (c.samples < kMinSamples || threads < 2 || usable_cores < 2) return;
    double in_progress = c.mean_inbound_pending();
    double idle_cores = s.cpus * (1 - guest_busy);
    uint32_t working = 0;
    for (const auto& t : s.busiest_threads)
        if (t.busy >= kWorkingThread) ++working;
    double cores = s.cpu_cores / ours;
    if (cores < kSerialMinCores || idle_cores < kSerialIdleCores || working < 2) return;
    if (in_progress < std::ceil(cores) + 1) return;
    auto f = make(Bottleneck::lock_contention, Support::indirect,
                  fmt::format("{:.1f} requests in progress at once, yet the process uses {:.2f} "
                              "of {:.0f} cores with {:.1f} of the host's idle: its handlers run "
                              "one at a time",
                              in_progress, cores, usable_cores, idle_cores));
    f.subject = "serialised handlers";
    ev(f, key::requests_in_progress, in_progress);
    ev(f, key::cpu_cores, s.cpu_cores);
    ev(f, key::usable_cores, usable_cores);
    ev(f, key::host_idle_cores, idle_cores);
    ev(f, key::working_threads, working);
    ev(f, key::serial_share_percent, std::min(1.0, 1 / cores) * 100);
    f.why = fmt::format(
        "Requests wait while cores idle: whatever each request does, about {:.0f}% of it runs "
        "under something only one thread can hold at a time, so {:.2f} cores is all the process "
        "can ever use. A lock whose waiters park in user space (Go's sync.Mutex, a coroutine "
        "mutex, a single actor) shows no futex contention; this plateau is its trace.",
        std::min(1.0, 1 / cores) * 100, cores);
    f.fix = {
        "find what every request holds while it computes: Go: runtime.SetMutexProfileFraction "
        "and go tool pprof -mutex; Java: async-profiler -e lock; native: perf lock, or an "
        "off-CPU profile",
        "hold it for less: compute outside it, shard it (a lock per key), or copy on write",
        "or run several processes, each with its own"};
    out.push_back(std::move(f));
}

}  // namespace c10k::verdict
