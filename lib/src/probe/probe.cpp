// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/probe.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "c10k/probe/bpf_session.hpp"
#include "c10k/probe/sampler.hpp"
#include "c10k/probe/thread_clock.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

using Clock = std::chrono::steady_clock;

// Sleeps until `until`, waking early when asked to stop. A stop signal ends
// the sleep at once on the thread it is delivered to (nanosleep returns EINTR,
// where std::this_thread::sleep_for would sleep on), which for a process's
// SIGINT or SIGTERM is the main thread; a --follow probe's thread sees its
// stop flag within a nap. Naps were 50 ms: 15 wake-ups a second more than the
// looks need, ~0.3 ms/s of the prober's CPU.
void sleep_until(Clock::time_point until, const std::atomic<bool>& stop) {
    constexpr Clock::duration kLongestNap = std::chrono::milliseconds(250);
    while (!stop.load()) {
        auto left = until - Clock::now();
        if (left <= Clock::duration::zero()) return;
        auto nap =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::min(kLongestNap, left));
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(nap.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(nap.count() % 1'000'000'000);
        ::nanosleep(&ts, nullptr);  // EINTR: a signal; `stop` says whether to go on
    }
}

IntervalRates rates_between(const BpfEvidence* a, const BpfEvidence& b, double dt) {
    IntervalRates r;
    r.bpf = true;
    auto accepts = [](const BpfEvidence* e) { return e ? e->calls_of({"accept", "accept4"}) : 0; };
    auto total = [](const BpfEvidence* e) { return e ? e->total_syscalls() : 0; };
    auto errors = [](const BpfEvidence* e) { return e ? e->total_syscall_errors() : 0; };
    double sys_dt = b.syscall_seconds - (a ? a->syscall_seconds : 0);
    if (sys_dt > 0) {
        r.accepts_per_s = static_cast<double>(accepts(&b) - accepts(a)) / sys_dt;
        r.syscalls_per_s = static_cast<double>(total(&b) - total(a)) / sys_dt;
        r.errors_per_s = static_cast<double>(errors(&b) - errors(a)) / sys_dt;
    }
    uint64_t sw_a = a ? a->sched.voluntary + a->sched.involuntary : 0;
    r.switches_per_s =
        dt > 0 ? static_cast<double>(b.sched.voluntary + b.sched.involuntary - sw_a) / dt : 0;
    Log2Hist runq = b.sched.runq;
    if (a)
        for (size_t i = 0; i < runq.slots.size(); ++i)
            runq.slots[i] -= a->sched.runq.slots[i];
    r.runq_p99_us = static_cast<double>(runq.percentile_ns(0.99)) / 1e3;
    return r;
}

}  // namespace

bool syscall_budget_spent(SyscallCounts since_attach, double traced_s, double cycle_s,
                          double attach_cost_s) {
    if (traced_s < kMinDuty * cycle_s && since_attach.target < kEnoughTargetSyscalls) return false;
    double cost_s = static_cast<double>(since_attach.host) * kSyscallTraceCostNs * 1e-9;
    return cost_s + attach_cost_s >= kSyscallBudget * cycle_s;
}

uint32_t syscall_cycle_intervals(double attach_cost_s, double interval_s) {
    double per_interval = kAttachShareOfBudget * kSyscallBudget * interval_s;
    if (attach_cost_s <= 0 || per_interval <= 0) return 1;
    double most = std::max(1.0, std::floor(kMaxCycleSeconds / interval_s));
    return static_cast<uint32_t>(std::clamp(std::ceil(attach_cost_s / per_interval), 1.0, most));
}

double fast_sample_period(double cost_s, double budget, double min_period, double max_period) {
    double floor_cost = kLookFloorOverspend * budget;
    double longest = std::max(max_period, cost_s / floor_cost);
    return std::clamp(cost_s / budget, min_period, longest);
}

namespace {
// This thread's user + sys time: what probing one target costs here (a
// --follow probe runs on a thread of its own and is counted there).
double thread_cpu_seconds() {
    rusage ru{};
    if (::getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

Result<ProbeEvidence> run_probe_on(const ProbeOptions& o, ProbeEvidence e,
                                   const std::function<void(const IntervalRates&)>& on_interval,
                                   const std::atomic<bool>& stop);
}  // namespace

Result<ProbeEvidence> run_probe(const ProbeOptions& o,
                                const std::function<void(const IntervalRates&)>& on_interval,
                                const std::atomic<bool>& stop) {
    if (::kill(o.pid, 0) != 0) {
        if (errno == ESRCH) return make_error("no process with PID " + std::to_string(o.pid));
        if (errno == EPERM)
            return make_error("PID " + std::to_string(o.pid) +
                              " belongs to another user: run as root or as its owner");
    }
    ProbeEvidence e;
    ProbeOptions opts = o;
    // A thread id names its whole process: everything here is per thread group.
    if (auto status = read_text("/proc/" + std::to_string(o.pid) + "/status")) {
        for (auto line : split_lines(*status))
            if (starts_with(line, "Tgid:"))
                if (auto tgid = parse_int(trim(line.substr(5))); tgid && *tgid != o.pid) {
                    e.notes.push_back("PID " + std::to_string(o.pid) + " is a thread of process " +
                                      std::to_string(*tgid) + ": probing the whole process");
                    opts.pid = static_cast<pid_t>(*tgid);
                }
    }
    return run_probe_on(opts, std::move(e), on_interval, stop);
}

namespace {

Result<ProbeEvidence> run_probe_on(const ProbeOptions& o, ProbeEvidence e,
                                   const std::function<void(const IntervalRates&)>& on_interval,
                                   const std::atomic<bool>& stop) {
    e.pid = o.pid;
    e.window_s = o.duration_s;
    e.interval_s = o.interval_s;
    double cpu_at_start = thread_cpu_seconds();

    std::unique_ptr<BpfSession> bpf;
    double attached_after_ms = 0;
    if (o.mode != "sample") {
        auto started = BpfSession::start(o.pid, o.verbose, o.syscall_attach);
        if (started) {
            bpf = std::move(*started);
            attached_after_ms =
                std::chrono::duration<double, std::milli>(Clock::now() - o.started).count();
        } else if (o.mode == "bpf") {
            return started.error();
        } else {
            e.notes.push_back("BPF unavailable (" + started.error().message() +
                              "): sampling /proc and netlink instead");
        }
    }
    e.mode = bpf ? "bpf" : "sample";
    bool auto_duty = o.syscall_duty < 0;
    double duty = auto_duty ? 1.0 : std::clamp(o.syscall_duty, 0.0, 1.0);

    Sampler sampler(o.pid);
    if (!bpf) sampler.profile_cpu();
    auto first = sampler.sample();
    if (!first) return first.error();
    if (!*first)
        return make_error("PID " + std::to_string(o.pid) + " exited before the probe began");
    if (bpf) bpf->set_ports(sampler.ports());

    auto start = Clock::now();
    if (on_interval) {
        IntervalRates r;
        r.bpf = bpf != nullptr;
        r.began =
            fmt::format("probing PID {} ({}) for {:g} s with {} (Ctrl-C ends early)", o.pid,
                        sampler.comm(), o.duration_s, bpf ? "eBPF" : "/proc and sock_diag samples");
        on_interval(r);
    }
    auto end = start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(o.duration_s));
    auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval_s));
    std::optional<BpfEvidence> prev_bpf;
    auto tick = start;

    // Fast samples (threads, the target's sockets) run while we wait, as often as
    // their measured cost allows: a budget of the sampler's own CPU, a floor that
    // keeps the rate useful (several samples per second for a target with a few
    // threads) and a ceiling of one per interval for huge targets.
    const bool few_threads = sampler.threads_seen() <= kFewThreads;
    const double budget = bpf           ? kFastSampleBudgetBpf
                          : few_threads ? kFastSampleBudget
                                        : kFastSampleBudgetManyThreads;
    const double min_period = bpf ? kFastSampleMinPeriodBpf : kFastSampleMinPeriod;
    // A target with a few threads is cheap to look at: at least 5 looks a
    // second whatever the measured cost (which a busy VM inflates).
    const double max_period =
        std::max(min_period, few_threads ? std::min(0.2, o.interval_s) : o.interval_s);
    auto next_fast = Clock::now();
    // Looks the floor would have made but their cost did not allow, and the
    // dearest look: said in the notes, since the evidence is thinner for it.
    uint32_t looks_slowed = 0;
    double dearest_look = 0;
    // The next fast sample waits as long as the last one's cost says, the one
    // inside each snapshot included: all of them together keep to the budget.
    auto schedule_fast = [&](double cost) {
        double period = fast_sample_period(cost, budget, min_period, max_period);
        if (few_threads && period > max_period) {  // a huge target's floor is the snapshots
            ++looks_slowed;
            dearest_look = std::max(dearest_look, cost);
        }
        next_fast = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(period));
    };
    auto idle_until = [&](Clock::time_point until) {
        while (!stop.load() && Clock::now() < until) {
            if (Clock::now() >= next_fast) schedule_fast(sampler.sample_fast());
            sleep_until(std::min(until, next_fast), stop);
        }
    };

    // --follow: the dependency's own probe, started once the target is seen
    // waiting on a destination that a local process serves.
    std::atomic<bool> follow_stop{false};
    std::thread follow_thread;
    std::shared_ptr<Result<ProbeEvidence>> follow_result;
    auto try_follow = [&] {
        auto conns = sampler.evidence().conns;
        sampler.name_servers(conns);
        const DestinationWait* pick = nullptr;
        for (const auto& d : conns.destinations)
            if (d.server_pid && d.server_pid != o.pid && d.waiting_sum > 0 &&
                (!pick || d.waiting_sum > pick->waiting_sum))
                pick = &d;
        if (!pick) return;
        e.followed = FollowedProbe{pick->remote, pick->server_pid, pick->server_comm, nullptr, ""};
        ProbeOptions fo = o;
        fo.pid = pick->server_pid;
        fo.follow = false;
        fo.duration_s = std::max(0.2, std::chrono::duration<double>(end - Clock::now()).count());
        fo.started = Clock::now();
        follow_result = std::make_shared<Result<ProbeEvidence>>(make_error("not run"));
        follow_thread = std::thread(
            [fo, &follow_stop, r = follow_result] { *r = run_probe(fo, nullptr, follow_stop); });
    };

    // Auto duty: a tracing cycle attaches at the start of an interval, traces
    // until its budget is spent (into later intervals of the cycle if the host
    // is quiet) and then waits out the cycle's other intervals.
    struct {
        Clock::time_point began, ends;
        SyscallCounts at_attach;
        double attach_s = 0;     // this cycle's attach, measured
        double last_cost_s = 0;  // the last cycle's attach + detach, measured
    } cycle;
    auto end_cycle = [&] {
        double t0 = thread_cpu_now();
        bpf->detach_syscalls();
        cycle.last_cost_s = cycle.attach_s + (thread_cpu_now() - t0);
        if (o.verbose)
            fmt::print(stderr,
                       "c10k-doctor probe: syscalls traced {:.3f} s of a {:.3g} s cycle; "
                       "attaching and detaching cost {:.2f} ms\n",
                       std::chrono::duration<double>(Clock::now() - cycle.began).count(),
                       std::chrono::duration<double>(cycle.ends - cycle.began).count(),
                       cycle.last_cost_s * 1e3);
    };
    std::optional<IntervalRates> last_traced;

    while (!stop.load() && Clock::now() < end) {
        auto next = std::min(tick + interval, end);
        if (bpf && duty > 0 && auto_duty) {
            if (!bpf->syscalls_attached() && Clock::now() >= cycle.ends) {
                uint32_t k = syscall_cycle_intervals(cycle.last_cost_s, o.interval_s);
                double t0 = thread_cpu_now();
                if (auto st = bpf->attach_syscalls(); !st) {
                    e.notes.push_back(st.error().message());
                    duty = 0;
                } else {
                    cycle.began = tick;
                    cycle.ends = tick + interval * k;
                    cycle.at_attach = bpf->syscall_counts();
                    cycle.attach_s = thread_cpu_now() - t0;
                }
            }
            if (bpf->syscalls_attached()) {
                // Trace in 10 ms steps until the host's syscall count says the
                // cycle's budget is spent (or the cycle ends). Detaching costs
                // what attaching did: the same text patches undone.
                double span = std::chrono::duration<double>(cycle.ends - cycle.began).count();
                auto until = std::min(next, cycle.ends);
                while (!stop.load() && Clock::now() < until) {
                    idle_until(std::min(until, Clock::now() + std::chrono::milliseconds(10)));
                    double traced =
                        std::chrono::duration<double>(Clock::now() - cycle.began).count();
                    SyscallCounts now = bpf->syscall_counts();
                    SyscallCounts since{now.host - cycle.at_attach.host,
                                        now.target - cycle.at_attach.target};
                    if (syscall_budget_spent(since, traced, span, 2 * cycle.attach_s)) {
                        end_cycle();
                        break;
                    }
                }
                if (bpf->syscalls_attached() && Clock::now() >= cycle.ends) end_cycle();
            }
        } else if (bpf && duty > 0) {
            if (auto st = bpf->attach_syscalls(); !st) {
                e.notes.push_back(st.error().message());
                duty = 0;
            } else {
                idle_until(tick +
                           std::chrono::duration_cast<Clock::duration>((next - tick) * duty));
                bpf->detach_syscalls();
            }
        }
        idle_until(next);
        double dt = std::chrono::duration<double>(Clock::now() - tick).count();
        tick = Clock::now();
        // Where taskstats cannot answer, a big target's per-thread totals cost a
        // status and a schedstat read per thread (~45 ms a second at 1,000
        // threads): they are summed at the first sample and at the end, which
        // is all the rates use.
        auto alive = sampler.sample(sampler.threads_seen() <= kFewThreads);
        schedule_fast(sampler.last_fast_cost());
        if (!alive) {
            e.notes.push_back("sampling failed: " + alive.error().message());
        } else if (!*alive) {
            e.target_exited = true;
            e.notes.push_back("the target exited after " +
                              std::to_string(static_cast<int>(
                                  std::chrono::duration<double>(tick - start).count())) +
                              " s: the verdict covers what was seen until then");
            break;
        }
        if (bpf) bpf->set_ports(sampler.ports());
        std::string began;
        if (o.follow && !e.followed && !e.target_exited) {
            try_follow();
            if (e.followed)
                began = fmt::format("following PID {} ({}), which serves {}", e.followed->pid,
                                    e.followed->comm, e.followed->destination.to_string());
        }
        IntervalRates r;
        if (bpf) {
            auto now = bpf->read();
            r = rates_between(prev_bpf ? &*prev_bpf : nullptr, now, dt);
            bool traced = !prev_bpf || now.syscall_seconds > prev_bpf->syscall_seconds;
            if (traced) {
                last_traced = r;
            } else if (last_traced) {
                r.accepts_per_s = last_traced->accepts_per_s;
                r.syscalls_per_s = last_traced->syscalls_per_s;
                r.errors_per_s = last_traced->errors_per_s;
                r.syscall_rates_carried = true;
            }

            prev_bpf = std::move(now);
        }
        r.began = std::move(began);
        auto cur = sampler.evidence();
        r.elapsed_s = std::chrono::duration<double>(tick - start).count();
        r.cpu_cores = cur.cpu_cores;
        if (!bpf && sampler.thread_totals_current()) r.switches_per_s = cur.switches_per_s;
        if (on_interval) on_interval(r);
    }
    if (stop.load()) e.interrupted = true;
    if (looks_slowed > 0)
        e.notes.push_back(fmt::format(
            "the looks at its threads and sockets were fewer than {:g} a second: one took up to "
            "{:.1f} ms, most of it the kernel walking its whole established-connection hash "
            "(sized by memory, or by thash_entries= on the kernel command line), and the looks "
            "between snapshots are held to {:g}% of a core",
            1 / max_period, dearest_look * 1e3, kLookFloorOverspend * budget * 100));
    if (follow_thread.joinable()) {
        follow_stop.store(true);
        follow_thread.join();
        if (*follow_result)
            e.followed->evidence =
                std::make_shared<const ProbeEvidence>(std::move(**follow_result));
        else
            e.followed->error = follow_result->error().message();
    } else if (o.follow) {
        e.notes.push_back(
            "--follow: no destination the target waited on is served by a local process in its "
            "network namespace (remote, or idle during the window): nothing to follow");
    }
    if (bpf) {
        bpf->detach_syscalls();
        e.bpf = bpf->read();
        bpf->read_threads(e.bpf->sched);
        double observed = std::chrono::duration<double>(Clock::now() - start).count();
        e.bpf->syscall_duty = observed > 0 ? std::min(1.0, e.bpf->syscall_seconds / observed) : 0;
        // tcp_probe shares the syscall probes' duty cycle (see attach_syscalls).
        for (auto& a : e.bpf->attach)
            if (a.group == ProbeGroup::syscalls || a.group == ProbeGroup::tcp_probe)
                a.duty_cycled = a.status != AttachStatus::failed && e.bpf->syscall_duty < 0.99;
        e.bpf->attached_after_ms = attached_after_ms;
    }
    sampler.finish();
    e.sampled = sampler.evidence();
    e.cost.window_s = std::chrono::duration<double>(Clock::now() - start).count();
    if (e.bpf) {
        e.cost.bpf_run_s = static_cast<double>(e.bpf->prog_run_ns) * 1e-9;
        e.cost.bpf_runs = e.bpf->prog_runs;
    }
    sampler.name_servers(e.sampled.conns);
    sampler.count_closed(e.sampled.conns);
    sampler.count_host_cpu(e.sampled);
    e.comm = sampler.comm();
    if (e.sampled.samples > 0)
        e.sampled.sample_period_s =
            std::chrono::duration<double>(Clock::now() - start).count() / e.sampled.samples;
    if (e.sampled.samples < 2)
        e.notes.push_back("fewer than two samples: rates could not be measured");
    if (e.bpf && !e.bpf->prog_stats_unavailable.empty())
        e.notes.push_back("the BPF programs' run time was not counted (BPF_ENABLE_STATS: " +
                          e.bpf->prog_stats_unavailable + "): the cost shown is the prober's own");
    e.cost.own_cpu_s = thread_cpu_seconds() - cpu_at_start;
    return e;
}

}  // namespace

}  // namespace c10k
