// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/checks/check_input.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "c10k/checks/checks.hpp"

namespace c10k {

std::string Target::describe() const {
    return fmt::format("{} connections{}", connections,
                       from_flag ? "" : " (the C10K baseline; set --connections N)");
}

KernelVersion parse_kernel_version(std::string_view release) {
    KernelVersion v;
    auto p = release.data(), end = release.data() + release.size();
    auto r = std::from_chars(p, end, v.major);
    if (r.ec == std::errc() && r.ptr < end && *r.ptr == '.')
        std::from_chars(r.ptr + 1, end, v.minor);
    return v;
}

bool CheckInput::has_rates() const {
    return before_ != nullptr && interval_s() > 0;
}

double CheckInput::interval_s() const {
    if (!before_) return 0;
    return std::chrono::duration<double>(now_.sample.taken - before_->taken).count();
}

std::optional<int64_t> CheckInput::counter(std::string_view key) const {
    if (!now_.sample.net) return std::nullopt;
    return now_.sample.net->get(key);
}

std::optional<double> CheckInput::rate(std::string_view key) const {
    if (!has_rates() || !before_->net || !now_.sample.net) return std::nullopt;
    auto a = before_->net->get(key), b = now_.sample.net->get(key);
    if (!a || !b) return std::nullopt;
    return static_cast<double>(*b - *a) / interval_s();
}

std::optional<double> CheckInput::context_switch_rate() const {
    if (!has_rates() || !before_->cpu || !now_.sample.cpu) return std::nullopt;
    return static_cast<double>(now_.sample.cpu->context_switches - before_->cpu->context_switches) /
           interval_s();
}

std::optional<double> CheckInput::cpu_busy_ratio() const {
    if (!has_rates() || !before_->cpu || !now_.sample.cpu) return std::nullopt;
    auto total = now_.sample.cpu->total_ticks - before_->cpu->total_ticks;
    if (total == 0) return std::nullopt;
    return static_cast<double>(now_.sample.cpu->busy_ticks - before_->cpu->busy_ticks) / total;
}

std::optional<CheckInput::ThreadRates> CheckInput::thread_rates() const {
    if (!has_rates() || !before_->threads || !now_.sample.threads) return std::nullopt;
    const auto& a = *before_->threads;
    const auto& b = *now_.sample.threads;
    if (!a || !b) return std::nullopt;
    // Threads that exited during the window take their counts with them; clamp at 0.
    auto delta = [](uint64_t x, uint64_t y) { return y > x ? static_cast<double>(y - x) : 0.0; };
    double dt = interval_s();
    ThreadRates r;
    r.voluntary_per_s = delta(a->voluntary_switches, b->voluntary_switches) / dt;
    r.involuntary_per_s = delta(a->involuntary_switches, b->involuntary_switches) / dt;
    r.runqueue_wait_ratio = delta(a->runqueue_wait_ns, b->runqueue_wait_ns) / 1e9 / dt;
    r.on_cpu_ratio = delta(a->on_cpu_ns, b->on_cpu_ns) / 1e9 / dt;
    return r;
}

Finding make_finding(CheckId id, Severity sev, std::string title) {
    Finding f(id);
    f.severity = sev;
    f.title = std::move(title);
    return f;
}

void add_evidence(Finding& f, const EvidenceKey& k, double value, std::string label) {
    f.evidence.emplace_back(k, value, std::string_view{}, std::move(label));
}

void add_evidence_at(Finding& f, const EvidenceKey& k, std::string_view qualifier, double value,
                     std::string label) {
    f.evidence.emplace_back(k, value, qualifier, std::move(label));
}

Severity worse(Severity a, Severity b) {
    if (a == Severity::unknown) return b;
    if (b == Severity::unknown) return a;
    return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

std::string sysctl_fix(std::string_view key, std::string_view value) {
    bool spaced = value.find(' ') != std::string_view::npos;
    auto quoted = spaced ? fmt::format("\"{}\"", value) : std::string(value);
    return fmt::format("sysctl -w {}={}   # persist: echo '{} = {}' >> /etc/sysctl.d/80-c10k.conf",
                       key, quoted, key, value);
}

std::string profile_fix(const Target& target, std::string_view profile) {
    std::string name(profile);
    if (name.empty())
        name = target.connections <= 20000    ? "c10k"
               : target.connections <= 200000 ? "c100k"
                                              : "c1m";
    return fmt::format(
        "or everything this finding's area needs at once, backed up and reversible: "
        "c10k-doctor profile diff {0} && c10k-doctor profile apply {0}",
        name);
}

std::vector<Finding> run_all_checks(const CheckInput& in) {
    std::vector<Finding> all;
    for (auto* area : {&check_fd_limits, &check_backlogs, &check_ephemeral_ports, &check_time_wait,
                       &check_socket_buffers, &check_scheduling, &check_conntrack}) {
        auto found = area(in);
        all.insert(all.end(), std::make_move_iterator(found.begin()),
                   std::make_move_iterator(found.end()));
    }
    // Each check says how it would fix its limit; a limit with room needs no fix, and the
    // rule is kept here once rather than in every check.
    for (auto& f : all)
        if (f.severity == Severity::ok) f.fix.clear();
    // A value read from the host's namespace says so wherever it is shown.
    for (const auto& key : in.sysctl().host_wide) {
        auto name = key.substr(key.rfind('.') + 1);  // labels say "tcp_mem hard limit"
        for (auto& f : all)
            for (auto& e : f.evidence)
                if (e.label.find(name) != std::string::npos &&
                    e.label.find("(host-wide)") == std::string::npos)
                    e.label += " (host-wide)";
    }
    return all;
}

}  // namespace c10k
