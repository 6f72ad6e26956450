// SPDX-License-Identifier: GPL-2.0-or-later
// One probe run: BPF (or sampling) over a bounded window, then evidence.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "c10k/probe/evidence.hpp"
#include "c10k/result.hpp"

namespace c10k {

struct ProbeOptions {
    pid_t pid = 0;
    double duration_s = 10;
    double interval_s = 1;
    std::string mode = "auto";  // auto | bpf | sample
    // Share of each interval with syscall (and tcp_probe) tracing attached; < 0: auto,
    // traced until the host's syscalls since attaching say tracing has cost
    // kSyscallBudget of one CPU for this interval.
    double syscall_duty = -1;
    std::string syscall_attach = "auto";  // auto | raw_tp | tracepoint
    bool verbose = false;
    // Probe, in the same window, the local process serving the destination the
    // target waits on most (once one is seen).
    bool follow = false;
    // When the command started, so the report can say how long attaching took from there.
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Tracing puts every syscall on the host on the slow path: measured on the
// project's machines at about 400 ns per syscall with our programs attached
// (bench/probe_overhead.py: 25% throughput lost at ~1.3M syscalls/s on 2 CPUs).
inline constexpr double kSyscallTraceCostNs = 400;
// The budget is a share of one CPU, not of the host's: what a probe costs should
// not grow with the machine it runs on. The whole probe at defaults aims at 1%
// of a core (bench/probe_overhead.py's `probe CPU`); what does not scale with
// the host's syscall rate took 7-8 ms/s of it on the saturated echo server
// (starting, ~40 ms of a 10 s window; 5 looks a second; the snapshots; the
// sched and TCP programs), so syscall tracing, the part that does, gets a
// quarter. Half was measured at 14.5 ms/s for the whole probe.
inline constexpr double kSyscallBudget = 0.0025;  // of one CPU's time
// The floor, so there is always some evidence: a cycle traces at least
// kMinDuty of its span, however busy the host - unless it has already seen
// kEnoughTargetSyscalls of the target's own calls. What the rules read from
// tracing are shares of the target's syscall time (blocking 1/2, futex 2/5):
// at 1,000 calls such a share has a standard error under 0.02, and a window
// has at least two cycles. A busy target on a busy host gives that in a few
// ms (the saturated echo server: 1,000 in ~3 ms), so there the budget decides
// alone; a quiet one (a loop blocked in write(), a pool parked in futex) makes
// few calls, and gets the time floor as before.
inline constexpr double kMinDuty = 0.02;
inline constexpr uint64_t kEnoughTargetSyscalls = 1000;

// Fast samples (threads' states and CPU, the target's sockets with TCP_INFO) cost
// the prober CPU in proportion to the target's threads and connections, so their
// period follows their measured cost: at most this share of one CPU. Sampling
// mode has nothing else to see with and gets more; with BPF the sched probes
// already see every switch, so the samples matter less and the overhead budget
// of the whole probe on a saturated server is tight.
inline constexpr double kFastSampleBudget = 0.03;
inline constexpr double kFastSampleBudgetBpf = 0.01;
// A look at a target of more than kFewThreads threads observes each of them:
// the window's evidence is counted in thread-looks, which such a target gives
// plenty of at fewer looks a second. Sampling it gets half the budget, which
// keeps the whole sampling probe of a 1,000-thread target near 3% of a core.
inline constexpr double kFastSampleBudgetManyThreads = 0.015;
// Floors: 50 samples a second catch a state that lasts 20 ms (a delayed ACK is
// 40 ms). With BPF the sched program times every thread's every switch, so the
// looks are for what it cannot see - the sockets' queues and states, which
// thread waits in which syscall - and those are levels held for the window,
// estimated as shares of looks: 5 a second give 50 in the default window, 15 in
// a 3 s one (3x kMinSamples), and a share near a rule's threshold (1/2 or more)
// within +-0.07 (one standard error at 50). 10 a second were ~4 ms/s of the
// probe's CPU on the saturated echo server, against a goal of 10 for all of it.
inline constexpr double kFastSampleMinPeriod = 0.02;
inline constexpr double kFastSampleMinPeriodBpf = 0.2;

// Up to this many threads a fast sample is a few file reads: never fewer than 5
// samples a second for such a target.
inline constexpr uint32_t kFewThreads = 64;

// ... unless holding that floor costs more than this many times the budget.
// What makes a look at a quiet target dear is not the target: every sock_diag
// dump walks every bucket of the kernel's established-connection hash, which
// the kernel sizes by the machine's memory. A look took 0.24 ms at 1,024
// buckets, 1.25 ms at 262,144, 2.2 ms at 524,288 (the most the kernel sizes it
// to by itself, from 64 GiB) and 15 ms at 4,194,304 (thash_entries= on the
// kernel command line); beside two CPU hogs 0.26 and 1.34 ms (bench
// --ehash). Twice the budget keeps the floor for every table the kernel sizes
// itself (5 x 2.2 ms = 11 ms/s, under 2 x 1% of a core with BPF) and stops it
// multiplying an enlarged one (75 ms/s at 4,194,304 buckets).
inline constexpr double kLookFloorOverspend = 2.0;

// Pure: the wait before the next fast sample, given the last one's cost:
// the cost spread over the budget, no shorter than min_period, no longer than
// max_period (the floor) unless the floor would spend more than
// kLookFloorOverspend times the budget.
double fast_sample_period(double cost_s, double budget, double min_period, double max_period);

// Attaching and detaching the syscall tracepoints patches kernel text on every
// CPU (static keys and static calls: text_poke, with IPIs) - on the project's
// VMs ~1.5 ms of the prober's CPU each way for the three tracepoints, as much
// as the tracing itself was allowed in a second. So the budget pays for it:
// a cycle's attach cost comes out of its budget, and cycles span as many
// intervals as keep attaching to this share of the budget (bare metal, where a
// patch is cheap, still traces every interval).
inline constexpr double kAttachShareOfBudget = 1.0 / 3;
// ... but a cycle is never longer than this, so a default 10 s window traces at
// least twice (with a short --interval, a cycle spans more of them).
inline constexpr double kMaxCycleSeconds = 5.0;

// Pure: whether tracing should stop now. `since_attach` the syscalls counted
// since attaching, `traced_s` of the cycle's `cycle_s` so far, `attach_cost_s`
// what attaching and detaching cost the prober for this cycle.
bool syscall_budget_spent(SyscallCounts since_attach, double traced_s, double cycle_s,
                          double attach_cost_s = 0);

// Pure: how many intervals the next tracing cycle spans, given what the last
// cycle's attach and detach cost (0: not measured yet, every interval).
uint32_t syscall_cycle_intervals(double attach_cost_s, double interval_s);

// Rates over the last interval, for the live line.
struct IntervalRates {
    double elapsed_s = 0;
    double accepts_per_s = 0;
    double syscalls_per_s = 0;
    double errors_per_s = 0;
    // The interval traced no syscall (its cycle's tracing was in an earlier
    // interval): the three rates above are the last traced interval's.
    bool syscall_rates_carried = false;
    std::optional<double> switches_per_s;  // unknown in an interval that did not sum them
    double runq_p99_us = 0;
    double cpu_cores = 0;
    bool bpf = false;
    // What began during the interval, for a line of its own (e.g. a --follow
    // probe of the dependency); empty for most intervals.
    std::string began;
};

// Fails only when there is nothing to probe (no such process, not accessible)
// or --mode bpf cannot load. `stop` ends the window early (Ctrl-C); a target
// that exits mid-window ends it too, with what was seen so far.
Result<ProbeEvidence> run_probe(const ProbeOptions& o,
                                const std::function<void(const IntervalRates&)>& on_interval,
                                const std::atomic<bool>& stop);

}  // namespace c10k
