// SPDX-License-Identifier: GPL-2.0-or-later
// The monitoring-plugin format (Nagios, Icinga, Sensu, Checkmk, Zabbix's
// plugin runner): one status line with perfdata, then the long output.
//   C10K CRITICAL - somaxconn 4096 clamps ... [backlog.somaxconn] | 'x'=1;;;;
// The status word follows the exit code, so --fail-on crit turns a WARN into
// "OK" with exit 0 (the long output still lists the warnings).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "c10k/enum_names.hpp"
#include "c10k/report/report.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

// The plugin's own words for the four states.
constexpr std::array<const char*, 4> kStatusWords = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
static_assert(names_every(kStatusWords, Severity::unknown));

const char* status_word(Severity s) {
    return enum_name(kStatusWords, s);
}

// The status line and the long output are single lines each: anything from
// outside is made printable, and '|' (which starts perfdata) is replaced.
std::string plugin_text(std::string_view s) {
    std::string out = printable(s);
    std::replace(out.begin(), out.end(), '|', '/');
    return out;
}

// Labels may hold anything but '=' and a quote (which is doubled inside the
// quotes the label is given).
std::string perf_label(const Finding& f, const Evidence& e) {
    std::string label(f.id.name());
    if (!f.subject.empty()) label += "[" + f.subject + "]";
    label += "." + e.key;
    std::string out;
    for (char c : printable(label)) {
        if (c == '=') c = ':';
        if (c == '\'') out += '\'';
        out += c;
    }
    return out;
}

std::string perf_value(double v) {
    if (!std::isfinite(v)) return "U";  // the format's "could not be determined"
    return machine_number(v);
}

}  // namespace

std::string render_nagios(const CheckReport& r, Severity status) {
    Severity worst = overall_severity(r.findings);
    std::vector<const Finding*> shown;
    for (const auto& f : r.findings)
        if (f.severity == worst && worst != Severity::ok) shown.push_back(&f);

    std::string summary;
    size_t listed = std::min<size_t>(shown.size(), 3);
    for (size_t i = 0; i < listed; ++i)
        summary += (i ? "; " : "") + plugin_text(shown[i]->title) + " [" +
                   std::string(shown[i]->id.name()) + "]";
    if (shown.size() > listed) summary += fmt::format(" (+{} more)", shown.size() - listed);
    if (summary.empty()) {
        summary = fmt::format("{} checks OK", r.findings.size());
        if (r.target.from_flag) summary += fmt::format(" for {} connections", r.target.connections);
    }

    std::string perf;
    std::set<std::string> seen;
    for (const auto& f : r.findings)
        for (const auto& e : f.evidence) {
            auto label = perf_label(f, e);
            if (!seen.insert(label).second) continue;
            perf += fmt::format("{}'{}'={}{};;;;", perf.empty() ? "" : " ", label,
                                perf_value(e.value), e.unit.perfdata());
        }

    std::string out = fmt::format("C10K {} - {}", status_word(status), summary);
    if (!perf.empty()) out += " | " + perf;
    out += "\n";
    for (const auto& f : r.findings) {
        if (f.severity == Severity::ok) continue;
        out += fmt::format("{} {}: {}", to_string(f.severity), f.id, plugin_text(f.title));
        if (!f.fix.empty()) out += " -- fix: " + plugin_text(f.fix.front());
        out += "\n";
    }
    return out;
}

}  // namespace c10k
