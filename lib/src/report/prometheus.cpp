// SPDX-License-Identifier: GPL-2.0-or-later
// Prometheus text exposition format (0.0.4), for node_exporter's textfile
// collector, by Prometheus's naming rules (what `promtool check metrics` checks):
// - since-boot counters (Dim::since_boot, keys named *_total) are typed counter;
// - rates (Dim::per_second, seconds_per_second) are left out: the server
//   computes them from the counters;
// - percentages become 0..1 ratios (_percent -> _ratio);
// - labels identify a series across restarts: id, area and subject, and for a
//   finding about a process its comm instead of "pid N (comm)", whose PID would
//   start a new series at every restart. Those metrics are named
//   c10k_doctor_process_*, so a key means one thing per name (the host's
//   threads and a process's threads are two metrics, each with one HELP).
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "c10k/report/report.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

// Label values and HELP text must be UTF-8 with \\, \" (labels) and \n
// escaped; whatever came from outside (a process name, a path) is made
// printable first, so no byte of it can break the exposition.
std::string escape_label(std::string_view v) {
    std::string out;
    for (char c : printable(v)) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

std::string escape_help(std::string_view v) {
    std::string out;
    for (char c : printable(v)) {
        if (c == '\\')
            out += "\\\\";
        else
            out += c;
    }
    return out;
}

std::string metric_name(std::string_view prefix, std::string_view key) {
    std::string out = "c10k_doctor_";
    out += prefix;
    for (char c : key)
        out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return out;
}

std::string value_text(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    return machine_number(v);
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "pid 812 (postgres)" -> "postgres"; nothing for other subjects.
std::optional<std::string> process_comm(std::string_view subject) {
    if (!subject.starts_with("pid ")) return std::nullopt;
    auto open = subject.find(" (");
    if (open == std::string_view::npos || !ends_with(subject, ")")) return std::nullopt;
    return std::string(subject.substr(open + 2, subject.size() - open - 3));
}

struct Family {
    std::string help;
    bool counter = false;
    std::vector<std::string> samples;
};

}  // namespace

std::string render_prometheus(const CheckReport& r) {
    std::string out;
    auto labels = [](const Finding& f) {
        if (auto comm = process_comm(f.subject))
            return fmt::format("id=\"{}\",area=\"{}\",comm=\"{}\"", f.id, to_string(f.id.area()),
                               escape_label(*comm));
        return fmt::format("id=\"{}\",area=\"{}\",subject=\"{}\"", f.id, to_string(f.id.area()),
                           escape_label(f.subject));
    };
    out +=
        "# HELP c10k_doctor_status Overall result of the check: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.\n";
    out += "# TYPE c10k_doctor_status gauge\n";
    out += fmt::format("c10k_doctor_status{{netns=\"{}\"}} {}\n", escape_label(r.netns),
                       static_cast<int>(overall_severity(r.findings)));
    out +=
        "# HELP c10k_doctor_target_connections Connection count the thresholds were sized for.\n";
    out += "# TYPE c10k_doctor_target_connections gauge\n";
    out += fmt::format("c10k_doctor_target_connections{{source=\"{}\"}} {}\n",
                       r.target.from_flag ? "flag" : "default", r.target.connections);
    out +=
        "# HELP c10k_doctor_finding_severity Severity of each finding: 0 OK, 1 WARN, 2 CRIT, 3 "
        "UNKNOWN.\n";
    out += "# TYPE c10k_doctor_finding_severity gauge\n";
    std::set<std::string> severity_seen;
    for (const auto& f : r.findings) {
        auto sample = fmt::format("c10k_doctor_finding_severity{{{}}}", labels(f));
        if (severity_seen.insert(sample).second)
            out += fmt::format("{} {}\n", sample, static_cast<int>(f.severity));
    }

    // Evidence grouped into one family per name, in first-seen order; a series
    // seen twice (the same key of the same finding and subject) is emitted once.
    std::vector<std::string> order;
    std::map<std::string, Family> families;
    std::set<std::string> seen;
    for (const auto& f : r.findings) {
        bool of_process = process_comm(f.subject).has_value();
        for (const auto& e : f.evidence) {
            // Rates are Prometheus's to compute (rate()), from the counters.
            if (e.unit.dim == Dim::per_second || e.unit.dim == Dim::seconds_per_second) continue;
            std::string key = e.key;
            double value = e.value;
            std::string unit(e.unit.name());
            if (e.unit.dim == Dim::percent) {
                if (ends_with(key, "_percent")) key.resize(key.size() - 8);
                key += "_ratio";
                value /= 100;
                unit = "0..1";
            }
            auto name = metric_name(of_process ? "process_" : "", key);
            auto sample = fmt::format("{}{{{}}}", name, labels(f));
            if (!seen.insert(sample).second) continue;
            auto [it, fresh] = families.try_emplace(name);
            if (fresh) {
                order.push_back(name);
                it->second.help = e.label + (unit.empty() ? "" : " (" + unit + ")");
                it->second.counter = e.unit.dim == Dim::since_boot;
            }
            it->second.samples.push_back(sample + " " + value_text(value));
        }
    }
    for (const auto& name : order) {
        const auto& fam = families[name];
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(fam.help), name,
                           fam.counter ? "counter" : "gauge");
        for (const auto& s : fam.samples)
            out += s + "\n";
    }
    return out;
}

}  // namespace c10k
