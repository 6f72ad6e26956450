// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "c10k/profile/profile_store.hpp"
#include "c10k/profile/transaction.hpp"
#include "c10k/report/output.hpp"
#include "c10k/report/profile_render.hpp"
#include "commands.hpp"

namespace c10k::cli {

namespace {

struct ProfileOptions {
    std::string name;
    std::string backup_id;
    bool json = false;
    bool dry_run = false;
    bool exact = false;
    bool persist = false;
    bool strict = false;
    int pid = 0;
    std::string netns;
    std::string unit;
    std::string profile_dir;
    std::string state_dir = "/var/lib/c10k-doctor";
    std::string root;
    Seams seams;
};

int fail(const std::string& sub, const std::string& message) {
    fmt::print(stderr, "c10k-doctor profile {}: {}\n", sub, message);
    return kExitFailed;
}

void emit(const nlohmann::json& j) {
    std::fputs(json_text(j).c_str(), stdout);
}

SysRoot root_of(const ProfileOptions& o) {
    return o.root.empty() ? SysRoot{} : SysRoot{o.root};
}

ProfileStore store_of(const ProfileOptions& o) {
    std::vector<std::filesystem::path> dirs;
    if (!o.profile_dir.empty()) dirs.push_back(o.profile_dir);
    dirs.push_back(root_of(o).path("etc/c10k-doctor/profiles"));
    dirs.push_back(shipped_profile_dir());
    return ProfileStore(dirs);
}

ApplyOptions apply_options(const ProfileOptions& o) {
    ApplyOptions a;
    a.root = root_of(o);
    a.exact = o.exact;
    a.strict = o.strict;
    a.persist = o.persist;
    if (o.pid) a.pid = o.pid;
    a.netns = o.netns;
    a.unit = o.unit;
    a.after_write = o.seams.after_sysctl_write;
    return a;
}

int run_list(const ProfileOptions& o) {
    auto list = store_of(o).list();
    if (o.json)
        emit(render_list_json(list));
    else
        std::fputs(render_list_text(list).c_str(), stdout);
    return kExitOk;
}

int run_show(const ProfileOptions& o) {
    auto p = store_of(o).resolve(o.name);
    if (!p) return fail("show", p.error().message());
    if (o.json)
        emit(render_show_json(*p));
    else
        std::fputs(render_show_text(*p).c_str(), stdout);
    return kExitOk;
}

// diff and apply share everything up to the plan.
Result<ApplyPlan> plan_for(const ProfileOptions& o, const ApplyOptions& a) {
    auto p = store_of(o).resolve(o.name);
    if (!p) return p.error();
    auto ns = enter_target_namespace(a);
    if (!ns) return ns.error();
    return make_plan(*p, *ns, a);
}

int run_diff(const ProfileOptions& o) {
    auto a = apply_options(o);
    auto plan = plan_for(o, a);
    if (!plan) return fail("diff", plan.error().message());
    if (o.json)
        emit(render_plan_json(*plan));
    else
        std::fputs(render_plan_text(*plan, colour_for(STDOUT_FILENO)).c_str(), stdout);
    return kExitOk;
}

// Configuration management's question: is this host at profile NAME? Exit 0
// when it is, 1 on drift (listed), 3 when it cannot tell (unknown profile, no
// such process) - never 1 for an error, so "drift" always means drift.
int run_verify(const ProfileOptions& o) {
    auto a = apply_options(o);
    auto plan = plan_for(o, a);
    if (!plan) {
        fmt::print(stderr, "c10k-doctor profile verify: {}\n", plan.error().message());
        return kExitUnknown;
    }
    if (o.json)
        emit(render_verify_json(*plan));
    else
        std::fputs(render_verify_text(*plan, o.exact).c_str(), stdout);
    for (const auto& n : plan->notes)
        if (!o.json) fmt::print(stderr, "note: {}\n", n);
    return plan->drift().empty() ? kExitOk : kExitWarn;
}

int run_apply(const ProfileOptions& o) {
    auto a = apply_options(o);
    auto plan = plan_for(o, a);
    if (!plan) return fail("apply", plan.error().message());
    if (o.dry_run) {
        if (o.json)
            emit(render_dry_run_json(*plan));
        else
            std::fputs(render_dry_run_text(*plan, colour_for(STDOUT_FILENO)).c_str(), stdout);
        return kExitOk;
    }
    bool changed = plan->changes();
    auto state = StateDir::open(o.state_dir);
    if (!state) return fail("apply", state.error().message());
    auto done = apply_plan(*plan, a, *state);
    if (!done) return fail("apply", done.error().message());
    if (o.json)
        emit(render_apply_json(*plan, changed, *done));
    else
        std::fputs(
            render_apply_text(*plan, *done, {colour_for(STDOUT_FILENO), o.persist, o.state_dir})
                .c_str(),
            stdout);
    return kExitOk;
}

int run_rollback(const ProfileOptions& o) {
    auto state = StateDir::open(o.state_dir);
    if (!state) return fail("rollback", state.error().message());
    std::optional<std::string> id;
    if (!o.backup_id.empty()) id = o.backup_id;
    auto done = rollback(*state, id);
    if (!done) return fail("rollback", done.error().message());
    if (o.json)
        emit(render_rollback_json(*done));
    else
        std::fputs(render_rollback_text(*done).c_str(), stdout);
    if (!done->problems.empty())
        return fail("rollback", fmt::format("{} change(s) not restored; the backup stays pending",
                                            done->problems.size()));
    return kExitOk;
}

int run_backups(const ProfileOptions& o) {
    auto state = StateDir::open(o.state_dir);
    if (!state) return fail("backups", state.error().message());
    auto all = state->list();
    if (o.json)
        emit(render_backups_json(all));
    else
        std::fputs(render_backups_text(all).c_str(), stdout);
    return kExitOk;
}

void add_common(CLI::App* sub, ProfileOptions& o) {
    sub->add_flag("--json", o.json, "Machine-readable output");
    sub->add_option("--profile-dir", o.profile_dir,
                    "Look for profiles in DIR first (before /etc/c10k-doctor/profiles)")
        ->type_name("DIR");
    sub->add_option("--root", o.root, "Treat DIR as / for sysctls and files (for tests)")
        ->group("");
}

void add_target(CLI::App* sub, ProfileOptions& o) {
    auto* pid = sub->add_option("-p,--pid", o.pid,
                                "Target this process: its network namespace for net.* keys, "
                                "its RLIMIT_NOFILE for the profile's nofile")
                    ->check(CLI::Range(1, 1 << 30))
                    ->type_name("PID");
    sub->add_option("-n,--netns", o.netns,
                    "Target this network namespace: a name under /run/netns or a path")
        ->type_name("NAME|PATH")
        ->excludes(pid);
}

void add_state(CLI::App* sub, ProfileOptions& o) {
    sub->add_option("--state-dir", o.state_dir, "Where backup journals live")
        ->type_name("DIR")
        ->capture_default_str();
}

}  // namespace

Runner setup_profile(CLI::App& app, const Seams& seams) {
    auto o = std::make_shared<ProfileOptions>();
    o->seams = seams;
    auto* profile = app.add_subcommand(
        "profile", "List, inspect, apply and roll back sysctl and fd-limit profiles.");
    profile->require_subcommand(1);
    profile->footer(
        "Exit status: 0 success, 1 failure (one line on stderr), 3 bad command line.\n"
        "verify: 0 at the profile, 1 drift, 3 cannot tell (unknown profile, no such process).");

    auto* list = profile->add_subcommand("list", "Profiles and what each is for");
    add_common(list, *o);

    auto* show = profile->add_subcommand("show", "A profile with its includes expanded");
    show->add_option("name", o->name, "Profile name")->required()->type_name("NAME");
    add_common(show, *o);

    auto* diff = profile->add_subcommand(
        "diff", "Per key: current value, profile value, action, and what sets it at boot");
    diff->add_option("name", o->name, "Profile name")->required()->type_name("NAME");
    diff->add_flag("--exact", o->exact, "Compare as apply --exact would");
    add_target(diff, *o);
    add_common(diff, *o);

    auto* verify = profile->add_subcommand(
        "verify", "Exit 0 when this host is at the profile, 1 on drift (listing the keys)");
    verify->add_option("name", o->name, "Profile name")->required()->type_name("NAME");
    verify->add_flag("--exact", o->exact, "Drift is any value other than the profile's");
    add_target(verify, *o);
    add_common(verify, *o);

    auto* apply = profile->add_subcommand(
        "apply", "Apply a profile as one transaction: backed up, verified, all or nothing");
    apply->add_option("name", o->name, "Profile name")->required()->type_name("NAME");
    apply->add_flag("--dry-run", o->dry_run, "Show what would change; change nothing");
    apply->add_flag("--exact", o->exact,
                    "Set every key to the profile's value, even lowering a higher limit");
    apply->add_flag("--persist", o->persist,
                    "Also write /etc/sysctl.d/90-c10k-doctor.conf (and with --unit a systemd "
                    "LimitNOFILE= drop-in), so a reboot keeps the values");
    apply->add_option("--unit", o->unit, "systemd unit to give the profile's nofile (--persist)")
        ->type_name("UNIT");
    apply->add_flag("--strict", o->strict,
                    "Fail when a key is missing or read-only here instead of skipping it");
    add_target(apply, *o);
    add_state(apply, *o);
    add_common(apply, *o);

    auto* rb = profile->add_subcommand(
        "rollback", "Restore the newest backup (or ID): sysctls, files, raised rlimits");
    rb->add_option("id", o->backup_id, "Backup id from `profile backups`")->type_name("ID");
    add_state(rb, *o);
    add_common(rb, *o);

    auto* backups = profile->add_subcommand("backups", "Backup journals, oldest first");
    add_state(backups, *o);
    add_common(backups, *o);

    return [=]() {
        if (list->parsed()) return run_list(*o);
        if (show->parsed()) return run_show(*o);
        if (diff->parsed()) return run_diff(*o);
        if (verify->parsed()) return run_verify(*o);
        if (apply->parsed()) return run_apply(*o);
        if (rb->parsed()) return run_rollback(*o);
        if (backups->parsed()) return run_backups(*o);
        return kExitUnknown;
    };
}

}  // namespace c10k::cli
