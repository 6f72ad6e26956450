// One probe run: BPF (or sampling) over a bounded window, then evidence.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>

#include "c10k/probe/evidence.hpp"
#include "c10k/result.hpp"

namespace c10k {

struct ProbeOptions {
    pid_t pid = 0;
    double duration_s = 10;
    double interval_s = 1;
    std::string mode = "auto";   // auto | bpf | sample
    double syscall_duty = 0.25;  // share of each interval with syscall tracing on
    bool verbose = false;
};

// Rates over the last interval, for the live line.
struct IntervalRates {
    double elapsed_s = 0;
    double accepts_per_s = 0;
    double syscalls_per_s = 0;
    double errors_per_s = 0;
    double switches_per_s = 0;
    double runq_p99_us = 0;
    double cpu_cores = 0;
    bool bpf = false;
};

// Fails only when there is nothing to probe (no such process, not accessible)
// or --mode bpf cannot load. `stop` ends the window early (Ctrl-C); a target
// that exits mid-window ends it too, with what was seen so far.
Result<ProbeEvidence> run_probe(const ProbeOptions& o,
                                const std::function<void(const IntervalRates&)>& on_interval,
                                const std::atomic<bool>& stop);

}  // namespace c10k
