// SPDX-License-Identifier: GPL-2.0-or-later
// Prometheus text exposition format (0.0.4), for node_exporter's textfile
// collector: one gauge per finding's severity, and every evidence number as a
// gauge named after its key, labelled by the finding it belongs to.
#include <fmt/format.h>

#include <cmath>
#include <map>
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

std::string metric_name(std::string_view key) {
    std::string out = "c10k_doctor_";
    for (char c : key)
        out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return out;
}

std::string value_text(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 9e15)
        return fmt::format("{}", static_cast<int64_t>(v));
    return fmt::format("{:.6g}", v);
}

struct Family {
    std::string help;
    std::vector<std::string> samples;
};

}  // namespace

std::string render_prometheus(const CheckReport& r) {
    std::string out;
    auto labels = [](const Finding& f) {
        return fmt::format("id=\"{}\",area=\"{}\",subject=\"{}\"", escape_label(f.id),
                           escape_label(f.area), escape_label(f.subject));
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
    for (const auto& f : r.findings)
        out += fmt::format("c10k_doctor_finding_severity{{{}}} {}\n", labels(f),
                           static_cast<int>(f.severity));

    // Evidence grouped into one family per key, in first-seen order; a key seen
    // twice for the same finding and subject is emitted once.
    std::vector<std::string> order;
    std::map<std::string, Family> families;
    std::map<std::string, bool> seen;
    for (const auto& f : r.findings) {
        for (const auto& e : f.evidence) {
            auto name = metric_name(e.key);
            auto sample = fmt::format("{}{{{}}}", name, labels(f));
            if (seen[sample]) continue;
            seen[sample] = true;
            auto [it, fresh] = families.try_emplace(name);
            if (fresh) {
                order.push_back(name);
                it->second.help = e.label + (e.unit.empty() ? "" : " (" + e.unit + ")");
            }
            it->second.samples.push_back(sample + " " + value_text(e.value));
        }
    }
    for (const auto& name : order) {
        const auto& fam = families[name];
        out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, escape_help(fam.help), name);
        for (const auto& s : fam.samples)
            out += s + "\n";
    }
    return out;
}

}  // namespace c10k
