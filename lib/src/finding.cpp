// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/finding.hpp"

#include "c10k/enum_names.hpp"

namespace c10k {

namespace {

constexpr std::array<const char*, 4> kSeverityNames = {"OK", "WARN", "CRIT", "UNKNOWN"};
static_assert(names_every(kSeverityNames, Severity::unknown));

// Each Dim's unit, in enum order: as people read it, and as perfdata writes it.
struct DimNames {
    const char* name;
    const char* perfdata;
};
constexpr std::array<DimNames, 11> kDims = {{
    {"", ""},        // plain
    {"", ""},        // count: named by its noun
    {"bytes", "B"},  // bytes
    {"%", "%"},      // percent
    {"ratio", ""},   // ratio
    {"/s", ""},      // per_second
    {"", "c"},       // since_boot
    {"s/s", ""},     // seconds_per_second
    {"ms", "ms"},    // milliseconds
    {"us", "us"},    // microseconds
    {"cores", ""},   // cores
}};
static_assert(kDims.size() == static_cast<size_t>(Dim::cores) + 1);

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
    return dim == Dim::count ? noun : kDims[static_cast<size_t>(dim)].name;
}

std::string_view Measure::perfdata() const {
    return kDims[static_cast<size_t>(dim)].perfdata;
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
