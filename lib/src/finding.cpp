// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/finding.hpp"

#include "c10k/enum_names.hpp"

namespace c10k {

namespace {

constexpr std::array<const char*, 4> kSeverityNames = {"OK", "WARN", "CRIT", "UNKNOWN"};
static_assert(names_every(kSeverityNames, Severity::unknown));

// A key's pattern with its "{}" filled.
std::string qualified(std::string_view pattern, std::string_view qualifier) {
    std::string out(pattern);
    if (auto at = out.find("{}"); at != std::string::npos) out.replace(at, 2, qualifier);
    return out;
}

}  // namespace

Evidence::Evidence(const EvidenceKey& kind, double value, std::string_view qualifier,
                   std::string label)
    : key(qualified(kind.name, qualifier)),
      label(label.empty() ? qualified(kind.label, qualifier) : std::move(label)),
      value(value),
      unit(kind.unit) {}

std::string_view Measure::name() const {
    switch (dim) {
        case Dim::plain:
            return "";
        case Dim::count:
            return noun;
        case Dim::bytes:
            return "bytes";
        case Dim::percent:
            return "%";
        case Dim::ratio:
            return "ratio";
        case Dim::per_second:
            return "/s";
        case Dim::since_boot:
            return "";
        case Dim::seconds_per_second:
            return "s/s";
        case Dim::milliseconds:
            return "ms";
        case Dim::microseconds:
            return "us";
        case Dim::cores:
            return "cores";
    }
    return "";
}

std::string_view to_string(Severity s) {
    return enum_name(kSeverityNames, s);
}

Severity overall_severity(const std::vector<Finding>& findings) {
    bool judged = false;
    Severity worst = Severity::ok;
    for (const auto& f : findings) {
        if (f.severity == Severity::unknown) continue;
        judged = true;
        if (static_cast<int>(f.severity) > static_cast<int>(worst)) worst = f.severity;
    }
    if (!judged && !findings.empty()) return Severity::unknown;
    return worst;
}

Finding unknown_finding(FindingId id, std::string title, std::string reason) {
    Finding f(id);
    f.severity = Severity::unknown;
    f.title = std::move(title);
    f.why = std::move(reason);
    return f;
}

}  // namespace c10k
