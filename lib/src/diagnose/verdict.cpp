// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/diagnose/verdict.hpp"

#include <algorithm>

#include "verdict_rules.hpp"

namespace c10k {

namespace verdict {

Judge::Judge(const ProbeEvidence& evidence)
    : e(evidence), s(evidence.sampled), b(evidence.bpf ? &*evidence.bpf : nullptr) {
    sys_s = b ? std::max(b->syscall_seconds, 1e-3) : 0;
    threads = std::max<uint32_t>(1, s.threads_max);
    usable_cores = std::min<double>(s.cpus, threads);
    // A cgroup CPU limit (a container's --cpus, a unit's CPUQuota=) caps what
    // the process can use below its cores.
    if (s.cpu_limit_cores > 0) usable_cores = std::min(usable_cores, s.cpu_limit_cores);
    syscall_ns = b ? b->total_syscall_ns() : 0;
    // EMFILE is the proof; an fd count pinned at the soft limit the hint.
    emfile = b ? b->errno_count(EMFILE) + b->errno_count(ENFILE) : 0;
    bool pinned = s.nofile_soft > 0 &&
                  static_cast<double>(s.fds_max) >= kFdPinned * static_cast<double>(s.nofile_soft);
    fd_limited = emfile > 0 || (pinned && !accepts_at_its_limit());
    double secs = std::max(s.seconds, 1e-3);
    switches = b && s.seconds > 0
                   ? static_cast<double>(b->sched.voluntary + b->sched.involuntary) / secs
                   : s.switches_per_s;
    involuntary =
        b && s.seconds > 0 ? static_cast<double>(b->sched.involuntary) / secs : s.involuntary_per_s;
    runq_p99 = b ? b->sched.runq.percentile_ns(0.99) : 0;
    storm = s.threads_max >= kStormThreads && switches >= kStormSwitchesPerS;
    // Demand, not just use: time on the CPU plus time runnable and waiting for
    // one. A process that would use more than it gets is as saturated as one
    // that gets it all.
    // ... as a share of the CPU time that was ours: a hypervisor's steal is
    // neither (the evidence's busy shares are scaled the same way).
    ours = std::max(0.25, 1.0 - s.steal_share);
    demand = (s.cpu_cores + s.runq_wait_share) / ours;
    // (Using at least half a core, or half of a smaller limit: a process that
    // barely runs is not saturated by others' load on the run queue.)
    cpu_busy = demand >= kCpuBusy * usable_cores && s.cpu_cores > 0.5 * std::min(1.0, usable_cores);
    // A thread that always had work (on the CPU or runnable) and did run most of
    // the time: a starved thread of a storm is not pegged by its own work.
    // And it does most of the process's work (the others idle, as an event loop's
    // helpers do): loops that share the work each wait for their turn on a
    // crowded host without any one of them holding the others up.
    if (!s.busiest_threads.empty()) {
        const auto& t = s.busiest_threads.front();
        if (t.busy >= kPeggedThread && t.cores / ours >= 0.5 * std::min(1.0, usable_cores) &&
            t.cores >= kPeggedShareOfProcess * s.cpu_cores)
            pegged = &t;
    }
    // Throttled in most of the periods it had work: the group ran out of quota
    // with threads still runnable, and they sat out the rest of each period.
    throttled = s.cpu_limit_cores > 0 && s.throttled_share >= kMostOfTheTime;
    quota_bound =
        s.cpu_limit_cores > 0 &&
        (throttled || (cpu_busy && s.cpu_limit_cores < std::min<double>(s.cpus, threads)));
    guest_busy = s.steal_share < 1
                     ? std::clamp((s.host_busy - s.steal_share) / (1.0 - s.steal_share), 0.0, 1.0)
                     : 0;
    forks_per_connection = s.inbound_at_snapshots > 0 &&
                           static_cast<double>(s.inbound_own_at_snapshots) <
                               kForkedOwnShare * static_cast<double>(s.inbound_at_snapshots);
    workers_looked_at = forks_per_connection && s.worker_states.all.looks >= kMinSamples;
    // Half the host's busy time: then no other user can hold more of it.
    churn_holds_cpu = s.reaped_children_cores >= 0.5 * guest_busy * s.cpus;
    // A master that hands its connections to worker processes sleeps while
    // they work, so its own CPU says nothing of the service's: PostgreSQL's
    // postmaster used 0 cores while 8 backends on slow queries filled both.
    // When its live workers' demand fills the cores (their CPU plus their
    // run-queue wait, kCpuBusy of the CPU time that was ours, as for one
    // process), the service is limited by the CPU its workers run on, whether
    // they got it all or others kept them waiting for it. One busy worker
    // beside an idle core does not: a request waits for the CPU only when the
    // workers' demand exceeds the cores. (Using at least half a core, as for
    // one process: workers that barely run are not saturated by others' load.)
    double host_cores = s.cpu_limit_cores > 0 ? std::min<double>(s.cpus, s.cpu_limit_cores)
                                              : static_cast<double>(s.cpus);
    workers_fill_cores = forks_per_connection && guest_busy >= kCpuBusy &&
                         (s.workers_cores + s.workers_runq_wait) / ours >= kCpuBusy * host_cores &&
                         s.workers_cores / ours >= 0.5 * std::min(1.0, host_cores);
    // ... or one of them is pegged: a single-threaded worker (nginx's with
    // worker_processes 1, a PostgreSQL backend) that always has work (on the
    // CPU or runnable kPeggedThread of the time) and runs most of it (half a
    // core, as a pegged thread) serves its connections no faster, however idle
    // the other cores.
    pegged_worker = forks_per_connection && s.busiest_worker_threads == 1 &&
                    (s.busiest_worker_cores + s.busiest_worker_runq_wait) / ours >= kPeggedThread &&
                    s.busiest_worker_cores / ours >= 0.5;
    workers_hold_cpu = workers_fill_cores || pegged_worker;
    // A master's workers do its work while it sleeps: their run and wait are
    // the service's, and a worker kept off the cores is the service starved.
    double own_wait = s.runq_wait_share / ours, own_run = s.cpu_cores / ours;
    double workers_wait = s.workers_runq_wait / ours, workers_run = s.workers_cores / ours;
    // Starved: not the process's own demand but the host's CPUs full (with the
    // guest's work: steal is another guest's) and its threads runnable, waiting
    // their turn at least as long as they run.
    auto starves = [&](double wait, double run) {
        return guest_busy >= kCpuBusy && wait >= run &&
               wait >= kStarvedWait * std::min(1.0, usable_cores);
    };
    runq_wait = own_wait;
    starved_run = own_run;
    // (Their own demand first, as a process's: workers that fill the cores or a
    // pegged one are the service's CPU, not others'.)
    workers_starved = forks_per_connection && !workers_hold_cpu && !starves(own_wait, own_run) &&
                      starves(own_wait + workers_wait, own_run + workers_run);
    if (workers_starved) {
        runq_wait = own_wait + workers_wait;
        starved_run = own_run + workers_run;
    }
    starved = !cpu_busy && !pegged && !throttled && starves(runq_wait, starved_run);
    cpu_limited = cpu_busy || pegged || throttled || starved || workers_hold_cpu;
    futex_waiters = s.samples > 0 ? static_cast<double>(s.futex_active) / s.samples : 0;
    contended_waiters = s.samples > 0 ? static_cast<double>(s.futex_contended) / s.samples : 0;
    if (s.on_cpu.sampled && s.on_cpu.samples >= kMinCpuSamples) profile = &s.on_cpu;
    find_pool();
    find_poll_scan();
    find_stalled_loop();
    find_starving_dependency();
}

// A process can sit at its fd limit by design: memcached sets its limit to -c,
// Redis sizes maxclients to fit its limit, and both refuse past their cap
// themselves, accepting each connection first. The limit bites only when
// accept() fails. BPF sees the failures: accepts that went through with not
// one EMFILE say the count is the process's own cap (refusing_cap), not the
// kernel's. Without BPF: a process that cannot accept leaves new connections
// in its accept queue, so queues empty in most looks while connections keep
// arriving (every listener in the namespace the target's) say it accepts.
uint64_t Judge::accepts_ok() const {
    return b ? b->calls_of(syscalls::kAccepts) - b->errors_of(syscalls::kAccepts) : 0;
}

// What each kind of support counts: kernel-measured findings the events BPF
// traced (or, without BPF, the CPU's own samples); everything else the looks
// at the process.
std::pair<double, Measure> Judge::basis(Support support) const {
    if (support == Support::caught || support == Support::measured) {
        if (b && b->total_syscalls() > 0)
            return {static_cast<double>(b->total_syscalls()), units::events};
        if (profile) return {static_cast<double>(profile->samples), units::samples};
    }
    return {static_cast<double>(s.samples), units::looks};
}

namespace {

Finding weighed(Bottleneck id, Support support, std::string title, double n, Measure unit) {
    Finding f(id);
    f.severity = info(id).severity;
    f.basis = n;
    f.basis_unit = unit;
    f.confidence = confidence_of(support) * weight_of(n);
    f.title = std::move(title);
    return f;
}

}  // namespace

Finding Judge::make(Bottleneck id, Support support, std::string title) const {
    auto [n, unit] = basis(support);
    return weighed(id, support, std::move(title), n, unit);
}

Finding Judge::make_from_looks(Bottleneck id, Support support, std::string title,
                               uint64_t looks) const {
    return weighed(id, support, std::move(title), static_cast<double>(looks), units::looks);
}

bool Judge::named(Bottleneck id) const {
    return std::any_of(out.begin(), out.end(), [id](const Finding& f) { return f.id == id; });
}

bool Judge::accepts_at_its_limit() const {
    if (b && sys_s > 0) return emfile == 0 && accepts_ok() >= kMinAccepts;
    if (s.foreign_listeners || s.listeners.empty()) return false;
    if (rate(s, "Tcp.PassiveOpens") * s.seconds < kMinConnections) return false;
    for (const auto& l : s.listeners)
        if (l.samples < kMinSamples || static_cast<double>(l.waiting_samples) >=
                                           kQueueFullSteady * static_cast<double>(l.samples))
            return false;
    return true;
}

// A process waiting for its dependency while that dependency burns the host's
// cores looks starved of CPU itself (its threads wait in the run queue); the
// wait is the dependency's doing when the target waits on it most of the time
// and the dependency's processes hold most of the busy CPU.
void Judge::find_starving_dependency() {
    if (!starved) return;
    const auto* d = s.conns.top_destination();
    if (!d || !d->server_pid || s.conns.samples < kMinSamples) return;
    double waiting = static_cast<double>(d->samples_waiting) / static_cast<double>(s.conns.samples);
    double busy_cores = guest_busy * s.cpus;
    if (waiting >= kMostOfTheTime && d->server_cores >= kDependencyCpuShare * busy_cores)
        starving_dependency = d;
}

// One mechanism for "a symptom a stronger cause explains": the vocabulary
// says what each cause brings along; when a cause stands at CRIT, each CRIT
// finding it brings becomes a WARN that names it, and the cause lists them.
// (Rules that know more - the resets a TIME_WAIT overflow accounts for, a
// dependency holding the host's CPU - already demote in place.)
void Judge::explain_symptoms() {
    for (auto& cause : out) {
        auto id = cause.id.bottleneck();
        if (!id || cause.severity != Severity::crit) continue;
        for (auto& symptom : out) {
            auto sid = symptom.id.bottleneck();
            if (&symptom == &cause || !sid || symptom.severity != Severity::crit) continue;
            const auto& brings = info(*id).accounts_for;
            if (std::find(brings.begin(), brings.end(), *sid) == brings.end()) continue;
            account_for(cause, symptom);
        }
    }
}

// Each symptom read with the same measure the rules use for it.
bool Judge::observed(Symptom symptom) const {
    const auto& c = s.conns;
    double window = std::max(s.seconds, 1e-3);
    switch (symptom) {
        case Symptom::emfile:
            return fd_limited;
        case Symptom::accept_queue_full:
            return rate(s, "TcpExt.ListenOverflows") > 0 ||
                   std::any_of(s.listeners.begin(), s.listeners.end(),
                               [](const ListenerSample& l) { return l.full_samples > 0; });
        case Symptom::connection_plateau:
            return holds_plateau(c);
        case Symptom::requests_waiting:
            return c.mean_inbound_pending() >= 1;
        case Symptom::run_queue_wait:
            return runq_wait >= kStarvedWait;
        case Symptom::cpu_busy:
            return cpu_limited;
        case Symptom::futex_waits:
            return futex_waiters >= 1;
        case Symptom::resets_sent:
            return (b ? static_cast<double>(b->tcp.resets_sent) / window
                      : rate(s, "Tcp.OutRsts")) >= 1;
        case Symptom::time_wait_overflow:
            return rate(s, "TcpExt.TCPTimeWaitOverflow") > 0;
        case Symptom::retransmits: {
            double out_segs = rate(s, "Tcp.OutSegs");
            return out_segs > 0 && data_retransmits(s) >= kLossShare * out_segs;
        }
        case Symptom::requests_unread:
            return c.mean_inbound_unread() >= kUnreadWaiting;
        case Symptom::conntrack_full:
            return rate(s, "Conntrack.drop") >= 1 || rate(s, "Conntrack.early_drop") >= 1;
        case Symptom::syn_queue_full:
            return syn_queue_drops(s) >= 1 || rate(s, "TcpExt.TCPReqQFullDoCookies") >= 1;
    }
    return false;
}

// Each finding names the symptoms of its mechanism that the window showed:
// what it explains, beside the findings it accounts for.
void Judge::name_what_each_explains() {
    for (auto& f : out) {
        auto id = f.id.bottleneck();
        if (!id) continue;
        for (auto symptom : info(*id).explains)
            if (observed(symptom)) f.explains.emplace_back(to_string(symptom));
    }
}

Verdict Judge::run() {
    for (auto rule :
         {&Judge::fd_limit, &Judge::accept_queue, &Judge::refusing_cap, &Judge::evicting_cap,
          &Judge::syn_backlog, &Judge::thread_storm, &Judge::cpu_saturated, &Judge::ephemeral_ports,
          &Judge::socket_buffers, &Judge::blocking_and_locks, &Judge::blocked_workers,
          &Judge::tcp_counters, &Judge::conntrack_table, &Judge::downstream,
          &Judge::connection_pool, &Judge::nagle, &Judge::poll_scaling, &Judge::serialised,
          &Judge::unread_requests})
        (this->*rule)();

    explain_symptoms();
    name_what_each_explains();
    // Worse severity first (a symptom a cause explains is demoted to WARN), then
    // the vocabulary's rank: causes above the symptoms they bring. (Ranking by
    // how many observed symptoms each explains was tried: a busy CPU explains
    // the requests waiting behind any cause, so cpu-saturated outnumbered a
    // contended lock and a small receive buffer on their own test servers.)
    auto rank = [](const Finding& f) {
        auto id = f.id.bottleneck();
        return id ? info(*id).rank : 0;
    };
    std::stable_sort(out.begin(), out.end(), [&](const Finding& a, const Finding& c) {
        if (a.severity != c.severity) return a.severity > c.severity;
        return rank(a) > rank(c);
    });
    Verdict v;
    v.findings = std::move(out);

    if (v.findings.empty()) {
        // A prefork master (Apache, uWSGI, gunicorn) or a server that forks
        // per connection: the connections on its ports are in other
        // processes' fd tables, and so is the work. Its own quiet threads say
        // nothing about theirs: the workers' own looks do, where the workers
        // lived long enough to be looked at (children forked per connection
        // and gone within a second may not be).
        bool work_elsewhere = forks_per_connection;
        const auto& wl = s.worker_states.all;
        bool idle = !work_elsewhere && s.cpu_cores < 0.01 && (!b || b->total_syscalls() == 0) &&
                    s.switches_per_s < 1;
        auto f =
            make(Bottleneck::healthy,
                 idle ? Support::idle
                      : (work_elsewhere && !workers_looked_at ? Support::weak : Support::counted),
                 idle ? "nothing stands out - but the target was idle during the window"
                 : workers_looked_at
                     ? fmt::format("nothing stands out: its {} workers waited for work in {:.0f}% "
                                   "of their looks, ran in {:.0f}%, were blocked in {:.0f}%",
                                   s.worker_states.workers, percent(wl.idle + wl.peer, wl.looks),
                                   percent(wl.running, wl.looks), percent(wl.blocked, wl.looks))
                 : work_elsewhere ? "nothing stands out in its queues - but its connections are "
                                    "served by other processes (its workers), not looked at"
                                  : "nothing stands out: no errors, short queues, headroom");
        ev(f, key::cpu_cores, s.cpu_cores);
        ev(f, key::switches_per_second, switches);
        ev(f, key::threads, s.threads_max);
        ev(f, key::fds_open_max, static_cast<double>(s.fds_max));
        if (b) {
            ev(f, key::syscalls_per_second, static_cast<double>(b->total_syscalls()) / sys_s);
            ev(f, key::runq_p99_us, static_cast<double>(runq_p99) / 1e3);
        }
        if (work_elsewhere)
            ev(f, key::own_connections_percent,
               100.0 * static_cast<double>(s.inbound_own_at_snapshots) /
                   static_cast<double>(s.inbound_at_snapshots),
               "connections on its ports held in its own fd table");
        f.why = idle ? "Put the server under its usual load during the window to judge it."
                : workers_looked_at
                    ? "Its listeners' queues, its connection counts and the namespace's TCP "
                      "counters show no limit, and its workers - the processes holding the "
                      "connections on its ports, each looked at beside it - wait for work or "
                      "run more than they block. (Only each worker's main thread is looked at: "
                      "for a threaded worker, probe it with --pid WORKER.)"
                : work_elsewhere
                    ? "Its listeners' queues, its connection counts and the namespace's TCP "
                      "counters show no limit, but the connections on its ports are held by "
                      "other processes: a prefork master's workers, or children forked per "
                      "connection. Their threads, where the requests are served, were not "
                      "looked at: probe with --port PORT (which picks the busiest worker) or "
                      "--pid WORKER."
                    : "The limits this tool knows were all far away during the window.";
        v.findings.push_back(std::move(f));
    }

    if (!b) {
        v.unobserved = {
            "syscall errors (EMFILE, EADDRNOTAVAIL) and latencies: fd-limit is judged from the fd "
            "count alone, ephemeral-port-exhaustion from socket counts alone",
            "run-queue latency histograms (schedstat gives a total only)",
            "which side ends each connection: a connection cap kept by evicting connections "
            "(nginx at worker_connections) is judged from the namespace's accept and abort "
            "counters, which other processes in it add to",
        };
        if (!s.on_cpu.sampled)
            v.unobserved.push_back(
                "what a thread does while on the CPU (" + s.on_cpu.unavailable +
                "): poll-scaling is judged only from threads caught asleep inside poll()/select()");
        else if (!s.on_cpu.symbols_error.empty())
            v.unobserved.push_back("which syscall a running thread is in (" +
                                   s.on_cpu.symbols_error +
                                   "): poll-scaling is judged from the kernel's share of its CPU");
    } else if (b->syscall_duty < 0.99) {
        v.unobserved.push_back(fmt::format(
            "syscalls were traced for {:.0f}% of the window ({:.1f} s) to keep overhead low; "
            "counts are per traced second",
            b->syscall_duty * 100, b->syscall_seconds));
    }
    if (b)
        for (const auto& a : b->attach)
            if (a.status != AttachStatus::attached)
                v.unobserved.push_back(fmt::format(
                    "what {} shows: {} did not attach ({}), so what it feeds is judged from the "
                    "samples alone",
                    probe_group_name(a.group),
                    a.status == AttachStatus::failed ? "it" : "part of it", a.error));
    if (e.target_exited) v.unobserved.push_back("the target exited before the window ended");
    if (workers_looked_at)
        v.unobserved.push_back(
            "its workers beyond where the looks found their main threads: their syscalls' "
            "times and errors, their threads' locks and CPU profile, their other threads "
            "(tracing and the profile follow the target's own threads)");
    else if (forks_per_connection)
        v.unobserved.push_back(
            "the threads of the processes holding the connections on its ports (its workers "
            "or per-connection children): what they wait in, lock on or burn the CPU with");
    return v;
}

}  // namespace verdict

Verdict judge(const ProbeEvidence& e) {
    Verdict v = verdict::Judge(e).run();
    if (!e.followed) return v;
    const auto& f = *e.followed;
    std::string who = fmt::format("{} (PID {})", f.comm, f.pid);
    if (!f.evidence) {
        v.unobserved.push_back(fmt::format("--follow: could not probe {} serving {}: {}", who,
                                           f.destination.to_string(), f.error));
        return v;
    }
    auto dep = std::make_shared<Verdict>(judge(*f.evidence));
    const auto& top = v.findings.front();
    const auto& dep_top = dep->findings.front();
    auto dest = f.destination.to_string();
    std::string tail = fmt::format("{} is {}: {}", who, dep_top.id, dep_top.title);
    if (f.evidence->target_exited) tail += " (it exited during the window)";
    // The chain holds when the target's answer is the wait on that destination.
    bool waits_there =
        (top.id == Bottleneck::downstream_bound || top.id == Bottleneck::app_connection_limit) &&
        top.subject.find(dest) != std::string::npos;
    // The share the finding measured, from the same evidence it was made of:
    // a pool's connections busy, or the window's samples waiting there.
    double share = 0;
    const auto& c = e.sampled.conns;
    for (const auto& d : c.destinations)
        if (d.remote == f.destination)
            share = 100 * (top.id == Bottleneck::app_connection_limit
                               ? verdict::Judge::pool_busy(d)
                               : (c.samples ? static_cast<double>(d.samples_waiting) /
                                                  static_cast<double>(c.samples)
                                            : 0));
    v.chain = waits_there ? fmt::format("target {} on {} ({:.0f}% of the time) -> {}", top.id, dest,
                                        share, tail)
                          : fmt::format("followed {} serving {}: {}", who, dest, tail);
    v.followed = std::move(dep);
    return v;
}

}  // namespace c10k
