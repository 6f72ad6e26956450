// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "c10k/enum_names.hpp"
#include "c10k/report/output.hpp"
#include "c10k/report/report.hpp"

namespace c10k {

namespace {

// Green, yellow, bold red, magenta: what ls and git users read at a glance.
constexpr std::array<const char*, 4> kColours = {"\033[32m", "\033[33m", "\033[1;31m", "\033[35m"};
static_assert(names_every(kColours, Severity::unknown));

std::string_view colour_of(Severity s) {
    return enum_name(kColours, s);
}

constexpr size_t kWidth = 100;

}  // namespace

std::string render_text(const CheckReport& r, const TextStyle& style) {
    auto paint = [&](Severity s, std::string_view text) {
        if (!style.colour) return std::string(text);
        return fmt::format("{}{}\033[0m", colour_of(s), text);
    };
    std::string out;
    out += fmt::format("c10k-doctor check: {} · Linux {} · {}\n",
                       r.hostname.empty() ? "?" : r.hostname, r.kernel.empty() ? "?" : r.kernel,
                       r.netns);
    out += fmt::format("target: {}", r.target.describe());
    if (r.pid) out += fmt::format(" · process {} ({})", *r.pid, r.process_name);
    out += r.interval_s > 0 ? fmt::format(" · rates over {:g} s\n", r.interval_s)
                            : std::string(" · no rates (--interval 0)\n");
    for (const auto& n : r.notes)
        out += "note: " + n + "\n";

    std::map<Severity, int> counts;
    std::optional<Area> current_area;
    for (const auto& f : r.findings) {
        ++counts[f.severity];
        if (style.quiet && f.severity == Severity::ok) continue;
        if (f.id.area() != current_area) {
            current_area = f.id.area();
            out += fmt::format("\n{}\n", area_title(*current_area));
        }
        auto sev = fmt::format("{:<7}", to_string(f.severity));
        out += fmt::format("  {} {}{}  [{}]\n", paint(f.severity, sev),
                           f.subject.empty() ? "" : f.subject + ": ", f.title, f.id);
        if (f.severity == Severity::ok) continue;
        if (!f.evidence.empty()) {
            std::string ev;
            for (const auto& e : f.evidence) {
                if (!ev.empty()) ev += " · ";
                ev += e.label + " " + evidence_text(e);
            }
            out += fmt::format("          evidence: {}\n", wrap(ev, 20, kWidth));
        }
        if (!f.why.empty()) out += fmt::format("          why: {}\n", wrap(f.why, 15, kWidth));
        for (size_t i = 0; i < f.fix.size(); ++i)
            out += fmt::format("          {} {}\n", i == 0 ? "fix:" : "    ", f.fix[i]);
    }
    Severity overall = overall_severity(r.findings);
    out += fmt::format("\nsummary: {} CRIT, {} WARN, {} OK, {} UNKNOWN -> {}\n",
                       counts[Severity::crit], counts[Severity::warn], counts[Severity::ok],
                       counts[Severity::unknown], paint(overall, to_string(overall)));
    return out;
}

}  // namespace c10k
