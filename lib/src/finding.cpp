// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/finding.hpp"

namespace c10k {

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::ok:
            return "OK";
        case Severity::warn:
            return "WARN";
        case Severity::crit:
            return "CRIT";
        case Severity::unknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
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
