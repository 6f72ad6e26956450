// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/report/profile_render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "c10k/report/output.hpp"

namespace c10k {

using nlohmann::json;

namespace {

// Every profile document: the common header, and which of the documents it is.
json header(const char* kind) {
    json h = json_header("profile", kProfileSchemaVersion);
    h["kind"] = kind;
    return h;
}

std::string boot_text(const std::vector<BootSetting>& boot) {
    if (boot.empty()) return "-";
    const auto& last = boot.back();
    std::string s = fmt::format("{}:{} = {}", last.file, last.line, last.value);
    if (boot.size() > 1) s += fmt::format(" (+{} earlier)", boot.size() - 1);
    return s;
}

std::string time_text(int64_t unix_s) {
    std::time_t t = unix_s;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

std::string limit_text(uint64_t v) {
    return v == kUnlimited ? "unlimited" : std::to_string(v);
}

}  // namespace

std::string render_list_text(const std::vector<ProfileListing>& list) {
    std::vector<std::vector<std::string>> rows = {{"NAME", "DESCRIPTION"}};
    for (const auto& l : list) {
        std::string desc = l.error.empty() ? l.description : "BROKEN: " + l.error;
        if (l.overrides_shipped) desc += fmt::format(" [{} overrides the shipped one]", l.path);
        rows.push_back({l.name, desc});
    }
    return table(rows);
}

json render_list_json(const std::vector<ProfileListing>& list) {
    json out = header("list");
    out["profiles"] = json::array();
    for (const auto& l : list) {
        json p = {{"name", l.name},
                  {"path", l.path},
                  {"description", l.description},
                  {"overrides_shipped", l.overrides_shipped}};
        if (!l.error.empty()) p["error"] = l.error;
        out["profiles"].push_back(p);
    }
    return out;
}

std::string render_show_text(const Profile& p) {
    std::string out = fmt::format("# profile: {}\n# description: {}\n# file: {}\n", p.name,
                                  p.description, p.path);
    if (p.chain.size() > 1) {
        std::string chain;
        for (const auto& c : p.chain)
            chain += (chain.empty() ? "" : " -> ") + c;
        out += "# resolved from: " + chain + " (later ones win)\n";
    }
    if (p.nofile) out += fmt::format("# nofile: {}  (from {})\n", *p.nofile, p.nofile_origin);
    for (const auto& e : p.entries) {
        out += "\n";
        out += wrap_prefixed(e.why, "# ", 78);
        out += fmt::format("# from {}; {}", e.origin.str(), key_kind_name(key_kind(e.key)));
        if (!e.overrides.empty()) out += "; overrides " + e.overrides;
        out += fmt::format("\n{}{} = {}\n", e.optional ? "-" : "", e.key, e.value);
    }
    return out;
}

json render_show_json(const Profile& p) {
    json out = header("show");
    out.update({{"name", p.name},
                {"description", p.description},
                {"path", p.path},
                {"chain", p.chain},
                {"nofile", p.nofile ? json(*p.nofile) : json(nullptr)},
                {"keys", json::array()}});
    for (const auto& e : p.entries)
        out["keys"].push_back({{"key", e.key},
                               {"value", e.value},
                               {"origin", e.origin.str()},
                               {"kind", key_kind_name(key_kind(e.key))},
                               {"why", e.why},
                               {"optional", e.optional},
                               {"overrides", e.overrides}});
    return out;
}

std::string render_plan_text(const ApplyPlan& plan, bool colour) {
    std::string out = fmt::format("profile {}: {}\n", plan.profile.name, plan.profile.description);
    if (!plan.ns.path.empty())
        out += fmt::format("network namespace: {} (inode {})\n", plan.ns.path, plan.ns.inode);
    out += "\n";
    std::vector<std::vector<std::string>> rows = {
        {"KEY", "CURRENT", "PROFILE", "ACTION", "SET AT BOOT BY"}};
    for (const auto& r : plan.rows) {
        std::string action = action_name(r.decision.action);
        if (r.decision.action == Action::raise && r.decision.target != r.entry.value)
            action += " to " + r.decision.target;
        if (colour && is_write(r.decision.action)) action = fmt::format("\033[1m{}\033[0m", action);
        rows.push_back(
            {r.entry.key, r.current.value_or("-"), r.entry.value, action, boot_text(r.boot)});
    }
    if (plan.nofile) {
        const auto& n = *plan.nofile;
        rows.push_back({fmt::format("nofile (PID {} {})", n.pid, n.comm),
                        limit_text(n.current.soft) + ":" + limit_text(n.current.hard),
                        std::to_string(n.wanted), action_name(n.action), "-"});
    }
    out += table(rows);
    for (const auto& r : plan.rows)
        if (!r.note.empty() && r.decision.action != Action::keep)
            out += fmt::format("  {}: {}\n", r.entry.key, r.note);
    for (const auto& f : plan.files)
        out += fmt::format("  --persist: {} {}\n", f.existed ? "replaces" : "creates", f.path);
    for (const auto& n : plan.notes)
        out += "note: " + n + "\n";
    return out;
}

json render_plan_json(const ApplyPlan& plan) {
    json out = header("plan");
    out.update({{"profile", plan.profile.name},
                {"namespace", {{"path", plan.ns.path}, {"inode", plan.ns.inode}}},
                {"keys", json::array()},
                {"nofile", nullptr},
                {"files", json::array()},
                {"notes", plan.notes}});
    for (const auto& r : plan.rows) {
        json boot = json::array();
        for (const auto& b : r.boot)
            boot.push_back({{"file", b.file}, {"line", b.line}, {"value", b.value}});
        out["keys"].push_back({{"key", r.entry.key},
                               {"current", r.current ? json(*r.current) : json(nullptr)},
                               {"profile", r.entry.value},
                               {"target", r.decision.target},
                               {"action", action_name(r.decision.action)},
                               {"kind", key_kind_name(key_kind(r.entry.key))},
                               {"origin", r.entry.origin.str()},
                               {"note", r.note},
                               {"boot", boot}});
    }
    if (plan.nofile) {
        const auto& n = *plan.nofile;
        out["nofile"] = {{"pid", n.pid},           {"comm", n.comm},
                         {"soft", n.current.soft}, {"hard", n.current.hard},
                         {"profile", n.wanted},    {"action", action_name(n.action)}};
    }
    for (const auto& f : plan.files)
        out["files"].push_back({{"path", f.path}, {"existed", f.existed}});
    return out;
}

json journal_summary_json(const Journal& j) {
    return {{"id", j.id},
            {"created", time_text(j.created_unix)},
            {"profile", j.profile},
            {"state", journal_state_name(j.state)},
            {"keys", j.sysctls.size()},
            {"files", j.files.size()},
            {"rlimits", j.rlimits.size()},
            {"netns", j.netns_path},
            {"message", j.message}};
}

std::string render_backups_text(const std::vector<Result<Journal>>& all) {
    if (all.empty()) return "no backups\n";
    std::vector<std::vector<std::string>> rows = {
        {"ID", "CREATED", "PROFILE", "STATE", "KEYS", "FILES", "RLIMITS", "NAMESPACE"}};
    std::string errors;
    for (const auto& j : all) {
        if (!j) {
            errors += "unreadable: " + j.error().message() + "\n";
            continue;
        }
        rows.push_back({j->id, time_text(j->created_unix), j->profile, journal_state_name(j->state),
                        std::to_string(j->sysctls.size()), std::to_string(j->files.size()),
                        std::to_string(j->rlimits.size()),
                        j->netns_path.empty() ? "-" : j->netns_path});
    }
    return table(rows) + errors;
}

json render_backups_json(const std::vector<Result<Journal>>& all) {
    json out = header("backups");
    out["backups"] = json::array();
    out["errors"] = json::array();
    for (const auto& j : all) {
        if (j)
            out["backups"].push_back(journal_summary_json(*j));
        else
            out["errors"].push_back(j.error().message());
    }
    return out;
}

std::string render_verify_text(const ApplyPlan& plan, bool exact) {
    auto drift = plan.drift();
    if (drift.empty())
        return fmt::format("at profile {}: {} key(s){} checked\n", plan.profile.name,
                           plan.rows.size(), plan.nofile ? " and the fd limit" : "");
    std::string out =
        fmt::format("drift from profile {}: {} of {} key(s){}\n", plan.profile.name, drift.size(),
                    plan.rows.size() + (plan.nofile ? 1 : 0), exact ? " (compared exactly)" : "");
    for (const auto& d : drift)
        out += fmt::format("  {}\n", d);
    out += fmt::format("fix: c10k-doctor profile apply {}{}\n", plan.profile.name,
                       exact ? " --exact" : "");
    return out;
}

json render_verify_json(const ApplyPlan& plan) {
    auto drift = plan.drift();
    json j = render_plan_json(plan);
    j["at_profile"] = drift.empty();
    j["drift"] = drift;
    return j;
}

std::string render_dry_run_text(const ApplyPlan& plan, bool colour) {
    return render_plan_text(plan, colour) + "\n--dry-run: nothing was changed.\n";
}

json render_dry_run_json(const ApplyPlan& plan) {
    json j = render_plan_json(plan);
    j["dry_run"] = true;
    j["changed"] = plan.changes();  // what a real apply would change
    return j;
}

std::string render_apply_text(const ApplyPlan& plan, const ApplyOutcome& done,
                              const ApplyView& view) {
    std::string out = render_plan_text(plan, view.colour) + "\n";
    for (const auto& n : done.notes)
        out += n + "\n";
    if (done.journal_id.empty()) return out;
    out += fmt::format("applied: {} key(s) written and read back", done.written);
    if (!plan.files.empty()) out += fmt::format(", {} file(s) written", plan.files.size());
    out += fmt::format(".\nbackup {} in {}; undo with: c10k-doctor profile rollback {}\n",
                       done.journal_id, view.state_dir, done.journal_id);
    if (view.persist && plan.ns.path.empty())
        out +=
            "at boot: sysctl.d now sets these values (see SET AT BOOT BY for files that "
            "sort after 90-c10k-doctor.conf and would win)\n";
    else if (!view.persist)
        out += "runtime only: a reboot returns to the boot configuration (--persist keeps them)\n";
    return out;
}

json render_apply_json(const ApplyPlan& plan, bool changed, const ApplyOutcome& done) {
    json j = render_plan_json(plan);
    j["dry_run"] = false;
    j["changed"] = changed;
    j["journal"] = done.journal_id;
    j["written"] = done.written;
    j["result_notes"] = done.notes;
    return j;
}

std::string render_rollback_text(const RollbackOutcome& r) {
    std::string out = fmt::format("rolled back {} (profile {}){}:\n", r.journal.id,
                                  r.journal.profile, r.problems.empty() ? "" : ", in part");
    for (const auto& x : r.restored)
        out += fmt::format("  {}\n", x);
    for (const auto& n : r.notes)
        out += fmt::format("  note: {}\n", n);
    for (const auto& p : r.problems)
        out += fmt::format("  NOT RESTORED: {}\n", p);
    if (!r.problems.empty())
        out += fmt::format("the backup stays pending: `c10k-doctor profile rollback {}` retries\n",
                           r.journal.id);
    return out;
}

json render_rollback_json(const RollbackOutcome& r) {
    json out = header("rollback");
    out["journal"] = journal_summary_json(r.journal);
    out["restored"] = r.restored;
    out["problems"] = r.problems;
    out["notes"] = r.notes;
    return out;
}

}  // namespace c10k
