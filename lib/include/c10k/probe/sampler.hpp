// What user space samples about the target during the window: the only source
// in sampling mode, and the queue and counter evidence BPF cannot see (no
// tracepoint fires on an accept-queue overflow).
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "c10k/probe/evidence.hpp"
#include "c10k/result.hpp"
#include "c10k/snapshot.hpp"

namespace c10k {

class Sampler {
  public:
    explicit Sampler(pid_t pid) : pid_(pid) {}

    // One sample. Ok(false) when the process has exited (the evidence so far stays).
    Result<bool> sample();
    SampledEvidence evidence() const;
    // The target's listening ports and the remote ports of its busiest destinations.
    std::vector<uint16_t> ports() const;
    const std::optional<Snapshot>& last() const { return last_; }
    std::string comm() const { return comm_; }

  private:
    struct ProcTimes {
        Clock::time_point at;
        double cpu_s = 0;
    };
    void sample_threads();

    pid_t pid_;
    std::string comm_;
    std::optional<Snapshot> first_, last_;
    std::optional<ProcTimes> first_times_, last_times_;
    SampledEvidence acc_;
};

// "S"/"D"/"R" and the syscall a thread sleeps in, from /proc/PID/task/TID/{stat,syscall}.
char parse_task_state(std::string_view stat_text);
std::optional<int> parse_task_syscall(std::string_view syscall_text);

}  // namespace c10k
