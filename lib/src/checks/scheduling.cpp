// SPDX-License-Identifier: GPL-2.0-or-later
// Context switches, run queue and threads. Thread-per-connection servers hit
// these long before fds or ports: thousands of threads switching tens of
// thousands of times a second, waiting on the run queue for a CPU.
#include <fmt/format.h>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"

namespace c10k {

namespace key = check_keys;

namespace {

constexpr double kSwitchesPerCpuWarn = 30000;
constexpr double kSwitchesPerCpuCrit = 100000;
constexpr double kPressureWarn = 20;  // % of time some task waited for a CPU (PSI avg10)
constexpr double kPressureCrit = 50;
constexpr double kThreadsWarn = 0.80;
constexpr double kThreadsCrit = 0.95;
constexpr uint32_t kManyThreads = 1000;
constexpr double kInvoluntaryShare = 0.25;

Finding host_switches(const CheckInput& in) {
    auto rate = in.context_switch_rate();
    if (!in.now().sample.cpu) {
        return unknown_finding(CheckId::sched_context_switches, "/proc/stat unreadable",
                               in.now().sample.cpu.error().message());
    }
    uint32_t cpus = std::max<uint32_t>(1, in.now().sample.cpu->cpus);
    if (!rate) {
        auto f = make_finding(CheckId::sched_context_switches, Severity::unknown,
                              "no rate measured (--interval 0)");
        add_evidence(f, key::context_switches_total,
                     static_cast<double>(in.now().sample.cpu->context_switches));
        return f;
    }
    double per_cpu = *rate / cpus;
    Severity sev = per_cpu >= kSwitchesPerCpuCrit   ? Severity::crit
                   : per_cpu >= kSwitchesPerCpuWarn ? Severity::warn
                                                    : Severity::ok;
    auto f =
        make_finding(CheckId::sched_context_switches, sev,
                     fmt::format("{:.0f} context switches/s ({:.0f} per CPU)", *rate, per_cpu));
    add_evidence(f, key::context_switches_per_second, *rate);
    add_evidence(f, key::context_switches_per_cpu_per_second, per_cpu);
    add_evidence(f, key::cpus, cpus);
    if (auto busy = in.cpu_busy_ratio()) add_evidence(f, key::cpu_busy_ratio, *busy);
    f.why =
        "Each switch costs microseconds of CPU and cold caches; tens of thousands per CPU per "
        "second usually mean many threads handing work back and forth.";
    f.fix = {"find the process: pidstat -w 1, then c10k-doctor probe --pid PID to see why",
             "serve connections from an event loop (epoll) with one thread per core instead of "
             "a thread per connection"};
    return f;
}

Finding run_queue(const CheckInput& in) {
    const auto& psi = in.now().pressure;
    if (!psi) {
        return unknown_finding(CheckId::sched_run_queue, "CPU pressure (PSI) unavailable",
                               psi.error().message());
    }
    Severity sev = psi->some_avg10 >= kPressureCrit   ? Severity::crit
                   : psi->some_avg10 >= kPressureWarn ? Severity::warn
                                                      : Severity::ok;
    auto f = make_finding(
        CheckId::sched_run_queue, sev,
        fmt::format("runnable tasks waited for a CPU {:.1f}% of the last 10 s", psi->some_avg10));
    add_evidence(f, key::cpu_pressure_some_avg10_percent, psi->some_avg10);
    add_evidence(f, key::cpu_pressure_some_avg60_percent, psi->some_avg60);
    if (in.now().sample.cpu) {
        add_evidence(f, key::procs_running, in.now().sample.cpu->procs_running);
        add_evidence(f, key::cpus, in.now().sample.cpu->cpus);
    }
    f.why =
        "Time spent runnable but not running is latency added to every request the waiting "
        "threads serve.";
    f.fix = {"fewer runnable threads (event loop, bounded worker pool) or more CPUs"};
    return f;
}

Finding host_threads(const CheckInput& in) {
    auto tmax = in.sysctl().integer("kernel.threads-max");
    auto pid_max = in.sysctl().integer("kernel.pid_max");
    if (!tmax || !pid_max || !in.now().load) {
        return unknown_finding(CheckId::sched_threads, "thread limits unreadable",
                               !in.now().load ? in.now().load.error().message()
                                              : in.sysctl().error("kernel.threads-max"));
    }
    double threads = in.now().load->threads_total;
    double cap = static_cast<double>(std::min(*tmax, *pid_max));
    double used = threads / cap;
    Severity sev = used >= kThreadsCrit   ? Severity::crit
                   : used >= kThreadsWarn ? Severity::warn
                                          : Severity::ok;
    std::string title = fmt::format("{} threads of {} allowed", static_cast<int64_t>(threads),
                                    static_cast<int64_t>(cap));
    double need = threads + static_cast<double>(in.target().connections);
    if (in.target().from_flag && need > cap) {
        sev = worse(sev, Severity::warn);
        title += fmt::format("; a thread per connection would need {}", static_cast<int64_t>(need));
    }
    auto f = make_finding(CheckId::sched_threads, sev, title);
    add_evidence(f, key::threads, threads, "threads on the host");
    add_evidence(f, key::threads_max, static_cast<double>(*tmax));
    add_evidence(f, key::pid_max, static_cast<double>(*pid_max));
    f.why =
        "Every thread takes a pid; at kernel.pid_max or kernel.threads-max, fork() and "
        "pthread_create() fail with EAGAIN.";
    f.fix = {sysctl_fix("kernel.pid_max", "4194304"),
             "better: an event loop, so threads do not grow with connections"};
    return f;
}

Finding process_sched(const CheckInput& in, const ProcessSnapshot& p) {
    auto subject = fmt::format("pid {} ({})", p.pid, p.comm);
    if (!p.threads) {
        auto f = unknown_finding(CheckId::sched_process, "threads of the process unreadable",
                                 p.threads.error().message());
        f.subject = subject;
        return f;
    }
    uint32_t threads = p.threads->threads;
    std::optional<uint32_t> conns;
    if (in.now().sockets) conns = in.now().sockets->owned_connections;
    auto rates = in.thread_rates();
    Severity sev = Severity::ok;
    std::string title = fmt::format("{} threads", threads);
    if (conns) title += fmt::format(" for {} connections", *conns);
    bool thread_per_conn = threads >= kManyThreads && conns && threads * 2 >= *conns;
    if (rates) {
        double total = rates->voluntary_per_s + rates->involuntary_per_s;
        double invol = total > 0 ? rates->involuntary_per_s / total : 0;
        title += fmt::format(
            ", {:.0f} switches/s ({:.0f}% involuntary), {:.2f} threads waiting for a CPU on "
            "average",
            total, invol * 100, rates->runqueue_wait_ratio);
        bool storm =
            total / std::max<double>(1, in.now().sample.cpu ? in.now().sample.cpu->cpus : 1) >=
            kSwitchesPerCpuWarn;
        bool starved = rates->runqueue_wait_ratio >= 1.0 && invol >= kInvoluntaryShare;
        if (thread_per_conn && (storm || starved))
            sev = Severity::crit;
        else if (thread_per_conn || storm || starved)
            sev = Severity::warn;
    } else if (thread_per_conn) {
        sev = Severity::warn;
    }
    if (thread_per_conn) title = "thread per connection: " + title;
    auto f = make_finding(CheckId::sched_process, sev, title);
    f.subject = subject;
    add_evidence(f, key::threads, threads);
    if (conns) add_evidence(f, key::connections, *conns);
    if (rates) {
        add_evidence(f, key::voluntary_switches_per_second, rates->voluntary_per_s);
        add_evidence(f, key::involuntary_switches_per_second, rates->involuntary_per_s);
        add_evidence(f, key::runqueue_wait_ratio, rates->runqueue_wait_ratio);
        add_evidence(f, key::on_cpu_ratio, rates->on_cpu_ratio);
    }
    f.why =
        "Involuntary switches and run-queue wait mean threads are ready but have no CPU; with "
        "a thread per connection, every added client adds to that queue.";
    f.fix = {"serve connections from an event loop or a bounded worker pool sized to the CPUs",
             "measure what the threads wait for and how long they queue: c10k-doctor probe "
             "--pid " +
                 std::to_string(p.pid)};
    return f;
}

}  // namespace

std::vector<Finding> check_scheduling(const CheckInput& in) {
    std::vector<Finding> out{host_switches(in), run_queue(in), host_threads(in)};
    if (in.now().process) out.push_back(process_sched(in, *in.now().process));
    return out;
}

}  // namespace c10k
