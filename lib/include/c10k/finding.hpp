// SPDX-License-Identifier: GPL-2.0-or-later
// The one currency of the program: check, profile and probe all produce Findings,
// and every renderer consumes them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "c10k/finding_id.hpp"

namespace c10k {

// Ordered so that max() gives the worst of OK, WARN and CRIT.
// UNKNOWN sits apart: it says "could not look", not "looked and it is bad".
enum class Severity { ok = 0, warn = 1, crit = 2, unknown = 3 };

std::string_view to_string(Severity s);

// A named number. `key` is stable snake_case and carries its unit where one
// applies (e.g. `listen_overflows_per_second`); `label` is for people.
struct Evidence {
    std::string key;
    std::string label;
    double value = 0;
    std::string unit;  // "fds", "connections", "bytes", "/s", "%", "ports", ...
};

struct Finding {
    explicit Finding(FindingId id) : id(id) {}
    FindingId id;  // check's CheckId or probe's Bottleneck; its area follows from it
    Severity severity = Severity::unknown;
    std::string title;    // one line
    std::string subject;  // what it is about when there are several: "127.0.0.1:8080", "pid 42"
    std::vector<Evidence> evidence;
    std::string why;               // one or two sentences a newcomer understands
    std::vector<std::string> fix;  // exact commands or changes, in order of preference
    double confidence = 0;         // probe verdicts: how sure, 0..1; unused by check
};

// Worst of OK/WARN/CRIT among the findings; UNKNOWN only if nothing else was judged.
Severity overall_severity(const std::vector<Finding>& findings);

// A finding that says the area could not be inspected, and why.
Finding unknown_finding(FindingId id, std::string title, std::string reason);

}  // namespace c10k
