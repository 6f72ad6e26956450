// SPDX-License-Identifier: GPL-2.0-or-later
// check's metrics for node_exporter's textfile collector (the writing and the
// naming rules are exposition.hpp's; rates are left to Prometheus's rate()).
// - labels identify a series across restarts: id, area and subject, and for a
//   finding about a process its comm instead of "pid N (comm)", whose PID would
//   start a new series at every restart. Those metrics are named
//   c10k_doctor_process_*, so a key means one thing per name (the host's
//   threads and a process's threads are two metrics, each with one HELP).
#include <fmt/format.h>

#include <optional>

#include "c10k/report/report.hpp"
#include "exposition.hpp"

namespace c10k {

namespace {

// "pid 812 (postgres)" -> "postgres"; nothing for other subjects.
std::optional<std::string> process_comm(std::string_view subject) {
    if (!subject.starts_with("pid ")) return std::nullopt;
    auto open = subject.find(" (");
    if (open == std::string_view::npos || !subject.ends_with(")")) return std::nullopt;
    return std::string(subject.substr(open + 2, subject.size() - open - 3));
}

std::string finding_labels(const Finding& f) {
    auto id = fmt::format("{}", f.id);
    auto area = to_string(f.id.area());
    if (auto comm = process_comm(f.subject))
        return exposition::labels({{"id", id}, {"area", area}, {"comm", *comm}});
    return exposition::labels({{"id", id}, {"area", area}, {"subject", f.subject}});
}

}  // namespace

std::string render_prometheus(const CheckReport& r) {
    exposition::Writer w;
    w.family("c10k_doctor_status", "Overall result of the check: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.");
    w.add("c10k_doctor_status", exposition::labels({{"netns", r.netns}}),
          static_cast<int>(overall_severity(r.findings)));
    w.family("c10k_doctor_target_connections", "Connection count the thresholds were sized for.");
    w.add("c10k_doctor_target_connections",
          exposition::labels({{"source", r.target.from_flag ? "flag" : "default"}}),
          static_cast<double>(r.target.connections));
    w.family("c10k_doctor_finding_severity",
             "Severity of each finding: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.");
    for (const auto& f : r.findings)
        w.add("c10k_doctor_finding_severity", finding_labels(f), static_cast<int>(f.severity));

    // A process's numbers get names of their own (c10k_doctor_process_*): the
    // host's threads and a process's threads are two metrics, each one HELP.
    for (const auto& f : r.findings) {
        std::string prefix = process_comm(f.subject) ? "c10k_doctor_process_" : "c10k_doctor_";
        for (const auto& e : f.evidence) {
            auto s = exposition::sample_of(e, false);
            if (!s) continue;
            auto name = prefix + s->key;
            w.family(name, s->help, s->counter);
            w.add(name, finding_labels(f), s->value);
        }
    }
    return w.text();
}

}  // namespace c10k
