// Internal to the verdict: the rules as methods of one Judge over one
// ProbeEvidence, split by what they look at. The Judge computes the facts more
// than one rule depends on (fd-limited, thread storm, CPU busy) once, so a
// symptom can defer to its cause.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "c10k/probe/verdict.hpp"

namespace c10k::verdict {

// Thresholds. Named so they can be argued with; each one is explained where used.
constexpr double kFdPinned = 0.95;           // fds / soft limit that counts as "at the limit"
constexpr uint32_t kStormThreads = 256;      // thread-per-connection starts to hurt
constexpr double kStormSwitchesPerS = 5000;  // all threads together
constexpr double kCpuBusy = 0.85;            // share of the cores the process can use
constexpr double kBlockingShare = 0.5;       // of syscall time, in sleep/fsync/disk
constexpr double kFutexShare = 0.4;          // of syscall time, in futex
constexpr double kFutexPerS = 500;
constexpr double kPortsUsed = 0.8;         // sockets to one destination / port range
constexpr double kSmallWindowShare = 0.3;  // segments arriving while our window is tiny
constexpr double kSmallRead = 4096;        // bytes per read below which reads are "tiny"

struct Ranked {
    double score;
    Finding f;
};

inline void ev(Finding& f, std::string key, std::string label, double value, std::string unit) {
    f.evidence.push_back({std::move(key), std::move(label), value, std::move(unit)});
}

inline Finding make(std::string id, Severity sev, double confidence, std::string title) {
    Finding f;
    f.id = std::move(id);
    f.area = "probe";
    f.severity = sev;
    f.confidence = confidence;
    f.title = std::move(title);
    return f;
}

inline double rate(const SampledEvidence& s, const char* key) {
    auto it = s.counter_rates.find(key);
    return it == s.counter_rates.end() ? 0 : it->second;
}

inline double share_of(const std::map<std::string, uint64_t>& m,
                       std::initializer_list<const char*> keys, uint64_t total) {
    if (total == 0) return 0;
    uint64_t n = 0;
    for (const char* k : keys)
        if (auto it = m.find(k); it != m.end()) n += it->second;
    return static_cast<double>(n) / static_cast<double>(total);
}

class Judge {
  public:
    explicit Judge(const ProbeEvidence& evidence);
    Verdict run();

  private:
    // rules_queues.cpp: fds and the kernel's queues in front of the process.
    void fd_limit();
    void accept_queue();
    void syn_backlog();
    // rules_threads.cpp: how the process's threads spend their time.
    void thread_storm();
    void cpu_saturated();
    void blocking_and_locks();
    // rules_network.cpp: ports, buffers and the namespace's TCP counters.
    void ephemeral_ports();
    void socket_buffers();
    void tcp_counters();

    const ProbeEvidence& e;
    const SampledEvidence& s;
    const BpfEvidence* b;
    double sys_s;         // seconds syscalls were traced
    uint32_t threads;     // at least 1
    double usable_cores;  // min(CPUs, threads)
    uint64_t syscall_ns;  // all of the target's syscall time
    uint64_t emfile;      // EMFILE + ENFILE
    bool fd_limited;
    double switches;     // per second
    double involuntary;  // per second
    uint64_t runq_p99;   // ns
    bool storm;
    bool cpu_busy;
    std::vector<Ranked> out;
};

}  // namespace c10k::verdict
