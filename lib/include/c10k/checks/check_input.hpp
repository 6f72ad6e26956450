// SPDX-License-Identifier: GPL-2.0-or-later
// What every rule receives: the snapshot, the earlier sample for rates, and the
// target the thresholds are sized for. Rules are pure functions of this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/finding.hpp"
#include "c10k/snapshot.hpp"

namespace c10k {

// C10K itself: the baseline when the user names no connection count.
inline constexpr uint64_t kDefaultTargetConnections = 10000;

struct Target {
    uint64_t connections = kDefaultTargetConnections;
    bool from_flag = false;  // --connections given: a shortfall is CRIT, not WARN

    std::string describe() const;
};

struct KernelVersion {
    int major = 0;
    int minor = 0;
    bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
};
KernelVersion parse_kernel_version(std::string_view release);

class CheckInput {
  public:
    CheckInput(const Snapshot& now, const Sample* before, Target target)
        : now_(now), before_(before), target_(target) {}

    const Snapshot& now() const { return now_; }
    const Target& target() const { return target_; }
    const SysctlValues& sysctl() const { return now_.sysctls; }
    KernelVersion kernel() const { return parse_kernel_version(now_.kernel_release); }

    bool has_rates() const;
    double interval_s() const;
    // Current value of a counter ("TcpExt.ListenOverflows").
    std::optional<int64_t> counter(std::string_view key) const;
    // Per-second rate of a counter over the interval; nullopt without an interval.
    std::optional<double> rate(std::string_view key) const;
    std::optional<double> context_switch_rate() const;
    std::optional<double> cpu_busy_ratio() const;
    // Per-second switch rates and run-queue wait of the target process's threads.
    struct ThreadRates {
        double voluntary_per_s = 0;
        double involuntary_per_s = 0;
        double runqueue_wait_ratio = 0;  // seconds waited per second, summed over threads
        double on_cpu_ratio = 0;         // CPUs' worth of time on CPU
    };
    std::optional<ThreadRates> thread_rates() const;

    // How a shortfall against the target is judged.
    Severity shortfall() const { return target_.from_flag ? Severity::crit : Severity::warn; }

  private:
    const Snapshot& now_;
    const Sample* before_;
    Target target_;
};

// Small helpers so rules read as rules.
Finding make_finding(CheckId id, Severity sev, std::string title);
// Evidence under its key (checks/check_keys.hpp); `label` when the check can
// say more than the key's.
void add_evidence(Finding& f, const EvidenceKey& k, double value, std::string label = {});
// ... under a key that takes a qualifier (a kernel counter's name).
void add_evidence_at(Finding& f, const EvidenceKey& k, std::string_view qualifier, double value,
                     std::string label = {});
Severity worse(Severity a, Severity b);
// "sysctl -w key=value" plus the line that keeps it across reboots.
std::string sysctl_fix(std::string_view key, std::string_view value);
// `v` times `k`, held at INT64_MAX: a fix that scales a host's value must not
// overflow where the value is already the type's maximum (fs.file-max is
// LONG_MAX on 64-bit kernels since 5.x; tcp_mem takes any long).
constexpr int64_t scaled(int64_t v, int64_t k) {
    return v > INT64_MAX / k ? INT64_MAX : v * k;
}
// "c10k-doctor profile apply c100k ..." for the shipped profile sized for the target.
std::string profile_fix(const Target& target, std::string_view profile = "");

}  // namespace c10k
