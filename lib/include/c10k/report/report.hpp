// SPDX-License-Identifier: GPL-2.0-or-later
// What a `check` run hands to the renderers: findings plus the context needed
// to read them (which host, namespace, target and window).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "c10k/checks/check_input.hpp"
#include "c10k/finding.hpp"
#include "c10k/report/output.hpp"

namespace c10k {

inline constexpr int kCheckSchemaVersion = 1;

struct CheckReport {
    std::string hostname;
    std::string kernel;
    std::string netns;
    Target target;
    double interval_s = 0;
    std::optional<int> pid;
    std::string process_name;
    std::vector<std::string> notes;
    std::vector<Finding> findings;
};

CheckReport make_check_report(const Snapshot& now, double interval_s, Target target,
                              std::vector<Finding> findings);

struct TextStyle {
    bool colour = false;
    bool quiet = false;  // only findings that are not OK
};

std::string render_text(const CheckReport& r, const TextStyle& style);
std::string render_json(const CheckReport& r);
// One finding as the JSON outputs (check and probe) spell it.
nlohmann::json finding_json(const Finding& f);
std::string render_prometheus(const CheckReport& r);
// The monitoring-plugin format: "C10K CRITICAL - ... | perfdata", then one line
// per finding that is not OK. `status` is what the exit code says.
std::string render_nagios(const CheckReport& r, Severity status);

}  // namespace c10k
