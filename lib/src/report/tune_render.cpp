// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/report/tune_render.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "c10k/report/output.hpp"

namespace c10k {

namespace {

using nlohmann::json;

std::string symptom_text(const std::optional<tune::Symptom>& s) {
    if (!s) return "-";
    return measured_text(s->value, s->unit);
}

std::string changes_text(const std::vector<tune::Change>& cs) {
    std::string out;
    for (const auto& c : cs) {
        if (!out.empty()) out += "; ";
        out += fmt::format("{} {} -> {}", c.what, c.from, c.to);
    }
    return out.empty() ? "-" : out;
}

json symptom_json(const std::optional<tune::Symptom>& s) {
    if (!s) return nullptr;
    return {{"what", s->what}, {"value", s->value}, {"unit", std::string(s->unit.name())}};
}

json throughput_json(const std::optional<tune::Throughput>& t) {
    if (!t) return nullptr;
    return {{"what", t->what}, {"per_second", t->per_s}, {"standard_error", t->standard_error}};
}

}  // namespace

std::string render_fix_plan_text(const tune::FixPlan& p) {
    std::string out;
    for (const auto& c : p.changes)
        out += fmt::format("  {}: {} -> {}\n", c.what, c.from, c.to);
    if (!p.why.empty()) out += wrap_prefixed(p.why, "  why: ", 78);
    if (!p.live) out += wrap_prefixed(p.to_make_it_act, "  note: ", 78);
    return out;
}

std::string render_tune_text(const tune::TuneJourney& j, const std::string& state_dir) {
    std::string out =
        fmt::format("tune of PID {} ({}), windows of {:g} s\n\n", j.pid, j.comm, j.window_s);
    std::vector<std::vector<std::string>> rows = {{"round", "verdict", "change",
                                                   "symptom before -> after",
                                                   "throughput before -> after", "result"}};
    for (const auto& r : j.rounds) {
        std::string symptom =
            r.before ? symptom_text(r.before) + " -> " + symptom_text(r.after) : std::string("-");
        std::string work = "-";
        if (r.work_before)
            work = fmt::format("{} {:.0f} -> {}", r.work_before->what, r.work_before->per_s,
                               r.work_after ? fmt::format("{:.0f}", r.work_after->per_s) : "-");
        rows.push_back({std::to_string(r.number), std::string(to_string(r.verdict)),
                        changes_text(r.changes), symptom, work, std::string(to_string(r.outcome))});
    }
    out += table(rows) + "\n";
    for (const auto& r : j.rounds)
        out += wrap(fmt::format("round {}: {}", r.number, r.reason), 9, 78) + "\n";
    out += fmt::format("\nfinal verdict: {}\n", to_string(j.final_verdict));
    if (!j.app_fix.empty()) {
        out += "the fix is the application's:\n";
        for (const auto& f : j.app_fix)
            out += "  " + f + "\n";
    }
    if (!j.journal_id.empty()) {
        out += fmt::format(
            "\nkept changes are in journal {}: `c10k-doctor profile rollback {}{}` undoes the "
            "whole tune\n",
            j.journal_id, j.journal_id,
            state_dir == "/var/lib/c10k-doctor" ? "" : " --state-dir " + state_dir);
        out += "to keep them after a reboot (or a restart of the server):\n";
        for (const auto& p : j.persist)
            out += "  " + p + "\n";
    }
    for (const auto& n : j.notes)
        out += wrap_prefixed(n, "note: ", 78);
    return out;
}

std::string render_tune_json(const tune::TuneJourney& j) {
    json doc = json_header("tune", 1);
    doc["target"] = {{"pid", j.pid}, {"comm", j.comm}};
    doc["window_s"] = j.window_s;
    doc["rounds"] = json::array();
    for (const auto& r : j.rounds) {
        json changes = json::array();
        for (const auto& c : r.changes)
            changes.push_back({{"what", c.what}, {"from", c.from}, {"to", c.to}});
        doc["rounds"].push_back({{"round", r.number},
                                 {"verdict", std::string(to_string(r.verdict))},
                                 {"title", r.title},
                                 {"changes", changes},
                                 {"live", r.live},
                                 {"before", symptom_json(r.before)},
                                 {"after", symptom_json(r.after)},
                                 {"throughput_before", throughput_json(r.work_before)},
                                 {"throughput_after", throughput_json(r.work_after)},
                                 {"kept", r.outcome == tune::RoundOutcome::kept},
                                 {"outcome", std::string(to_string(r.outcome))},
                                 {"reason", r.reason}});
    }
    doc["final"] = {{"verdict", std::string(to_string(j.final_verdict))}, {"app_fix", j.app_fix}};
    doc["journal"] = j.journal_id.empty() ? json(nullptr) : json(j.journal_id);
    doc["persist"] = j.persist;
    doc["notes"] = j.notes;
    return json_text(doc);
}

}  // namespace c10k
