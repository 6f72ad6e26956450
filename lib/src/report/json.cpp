// SPDX-License-Identifier: GPL-2.0-or-later
// JSON output, schema "c10k-doctor/check" version 1 (lib/schema/check-v1.schema.json).
// Additive changes keep the version; renames or removals bump it.
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "c10k/report/report.hpp"

namespace c10k {

namespace {
nlohmann::json number_or_null(double v) {
    if (!std::isfinite(v)) return nullptr;  // e.g. an unlimited rlimit
    if (auto n = whole_number(v)) return *n;
    return v;
}
}  // namespace

nlohmann::json finding_json(const Finding& f) {
    using nlohmann::json;
    json ev = json::array();
    for (const auto& e : f.evidence)
        ev.push_back({{"key", e.key},
                      {"label", e.label},
                      {"value", number_or_null(e.value)},
                      {"unit", e.unit.name()}});
    return {{"id", f.id.name()},
            {"area", to_string(f.id.area())},
            {"severity", to_string(f.severity)},
            {"title", f.title},
            {"subject", f.subject},
            {"evidence", ev},
            {"why", f.why},
            {"fix", f.fix}};
}

std::string render_json(const CheckReport& r) {
    using nlohmann::json;
    json findings = json::array();
    std::map<std::string, int> counts{{"OK", 0}, {"WARN", 0}, {"CRIT", 0}, {"UNKNOWN", 0}};
    for (const auto& f : r.findings) {
        ++counts[std::string(to_string(f.severity))];
        findings.push_back(finding_json(f));
    }
    json doc = json_header("check", kCheckSchemaVersion);
    doc.update({
        {"host", {{"hostname", r.hostname}, {"kernel", r.kernel}, {"netns", r.netns}}},
        {"target",
         {{"connections", r.target.connections},
          {"source", r.target.from_flag ? "flag" : "default"}}},
        {"interval_seconds", r.interval_s},
        {"process", r.pid ? json{{"pid", *r.pid}, {"comm", r.process_name}} : json(nullptr)},
        {"status", to_string(overall_severity(r.findings))},
        {"summary",
         {{"ok", counts["OK"]},
          {"warn", counts["WARN"]},
          {"crit", counts["CRIT"]},
          {"unknown", counts["UNKNOWN"]}}},
        {"notes", r.notes},
        {"findings", findings},
    });
    return json_text(doc);
}

}  // namespace c10k
