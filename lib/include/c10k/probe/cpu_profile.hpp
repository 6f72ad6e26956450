// SPDX-License-Identifier: GPL-2.0-or-later
// What the target's threads do while on the CPU, which /proc cannot tell (a
// running thread's /proc/PID/task/TID/syscall reads "running"): the kernel's
// cpu-clock sampled on every CPU, as `perf top` does, keeping the target's
// samples. Needs perf_event_open with system-wide scope (root or CAP_PERFMON),
// not BPF: sampling mode's eyes on the CPU.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "c10k/probe/kernel_symbols.hpp"
#include "c10k/result.hpp"

namespace c10k {

// On-CPU samples needed before their shares decide: a share p of n samples has
// a standard error of sqrt(p(1-p)/n), at most 0.09 at n = 30, so a share read
// against 0.5 is off by less than two of them once it is past 0.68 or 0.32.
// Below it a profile's kernel samples are counted but not named by syscall:
// naming them needs kallsyms (tens of milliseconds of kernel time to read), and
// nothing reads the names of so few.
inline constexpr uint64_t kMinCpuSamples = 30;

struct OnCpuProfile {
    bool sampled = false;       // the cpu-clock ran during the window
    std::string unavailable;    // why not, when not
    std::string symbols_error;  // kernel samples could not be named: why
    double hz = 0;              // samples per second per CPU
    uint64_t samples = 0;       // the target's, all threads
    uint64_t user = 0;          // of those, in user space
    uint64_t kernel = 0;        // in the kernel: inside a syscall, or not (faults, interrupts)
    uint64_t lost = 0;          // samples the ring buffers dropped (any process's)
    // Kernel samples by the syscall they ran inside (named once the profile
    // holds kMinCpuSamples), and those inside a
    // syscall whose name the chain does not give (entering or leaving one:
    // the cost of making many small calls).
    std::map<std::string, uint64_t, std::less<>> in_syscall;
    uint64_t in_unnamed_syscall = 0;
    // Samples inside poll/ppoll/select/pselect6 and the fd counts those calls
    // were given (their arguments, from the registers saved at syscall entry).
    uint64_t fd_scan_samples = 0, fd_scan_nfds_sum = 0;
    uint32_t fd_scan_nfds_max = 0;

    double share(uint64_t n) const {
        return samples ? static_cast<double>(n) / static_cast<double>(samples) : 0;
    }
    uint64_t in(std::string_view syscall) const {
        auto it = in_syscall.find(syscall);
        return it == in_syscall.end() ? 0 : it->second;
    }
};

// One PERF_RECORD_SAMPLE as this profiler asks for it (IP, TID, kernel call
// chain, two user registers), decoded from the ring buffer's bytes.
struct CpuSample {
    bool user = false;
    uint32_t pid = 0, tid = 0;
    std::span<const uint64_t> chain;     // kernel frames, leaf first; context markers removed
    std::optional<uint64_t> arg0, arg1;  // rdi, rsi at syscall entry; none for kernel threads
};
std::optional<CpuSample> decode_cpu_sample(std::span<const uint8_t> body, uint16_t misc,
                                           std::vector<uint64_t>& chain_scratch);
// "0-3,5" -> {0, 1, 2, 3, 5} (/sys/devices/system/cpu/online); empty when malformed.
std::vector<int> parse_cpu_list(std::string_view text);
// Adds one of the target's samples to `p`, naming its syscall through `k`.
void add_cpu_sample(OnCpuProfile& p, const CpuSample& s, const KernelSymbols& k);

class CpuProfiler {
  public:
    // Opens a sampling cpu-clock on every online CPU, counting only `tgid`'s threads.
    static Result<std::unique_ptr<CpuProfiler>> start(pid_t tgid, double hz = kDefaultHz);
    ~CpuProfiler();
    CpuProfiler(const CpuProfiler&) = delete;
    CpuProfiler& operator=(const CpuProfiler&) = delete;

    // Reads what the ring buffers hold. Call it often enough that they do not
    // fill: each holds seconds of samples at the default rate.
    void drain();
    OnCpuProfile profile() const;

    // 99 Hz per CPU, perf's own choice for long runs: off the 100 Hz of timers
    // that would otherwise sample in lockstep with periodic work, and under a
    // thousand samples per CPU in a 10 s window.
    static constexpr double kDefaultHz = 99;

  private:
    struct Ring {
        int fd = -1;
        uint8_t* base = nullptr;
        size_t mapped = 0;
    };
    CpuProfiler() = default;
    void read_ring(Ring& r);
    void add(const CpuSample& s);

    pid_t tgid_ = 0;
    std::vector<Ring> rings_;
    OnCpuProfile profile_;
    // Loaded at the first kernel sample of a profile that has reached
    // kMinCpuSamples: reading kallsyms costs tens of milliseconds of kernel
    // time, spent only when the names will be read. Until then the samples
    // wait in `unnamed_`, their call chains copied.
    std::optional<KernelSymbols> symbols_;
    bool symbols_tried_ = false;
    struct Unnamed {
        CpuSample sample;
        std::vector<uint64_t> chain;
    };
    std::vector<Unnamed> unnamed_;
    std::vector<uint64_t> scratch_;
    std::vector<uint8_t> wrap_;
};

}  // namespace c10k
