// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>

#include "c10k/report/output.hpp"
#include "c10k/report/tune_render.hpp"
#include "c10k/text.hpp"
#include "c10k/tune/journey.hpp"
#include "commands.hpp"
#include "target_options.hpp"

namespace c10k::cli {

namespace {

struct TuneCliOptions {
    TargetOptions target;
    std::string netns;
    std::string duration = "10s";
    std::string interval = "1s";
    std::string mode = "auto";
    int rounds = 3;
    bool yes = false;
    bool dry_run = false;
    bool json = false;
    std::string state_dir = "/var/lib/c10k-doctor";
};

// Asks on the terminal; anything but y/yes is no.
bool ask(const tune::FixPlan& plan) {
    fmt::print(stderr, "c10k-doctor tune: {} - change:\n{}apply? [y/N] ",
               to_string(plan.bottleneck), render_fix_plan_text(plan));
    std::fflush(stderr);
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    answer = std::string(trim(answer));
    return answer == "y" || answer == "Y" || answer == "yes";
}

int run(const TuneCliOptions& o) {
    auto duration = parse_seconds(o.duration);
    auto interval = parse_seconds(o.interval);
    if (!duration || *duration > 600) {
        fmt::print(stderr, "c10k-doctor tune: --duration '{}': give e.g. 10s, 30s (at most 10m)\n",
                   o.duration);
        return kExitUnknown;
    }
    if (!interval || *interval < 0.1) {
        fmt::print(stderr, "c10k-doctor tune: --interval '{}': give e.g. 1s (at least 100ms)\n",
                   o.interval);
        return kExitUnknown;
    }
    // Asking needs a person; a script says --yes or --dry-run, before any window is spent.
    if (!o.yes && !o.dry_run && !::isatty(STDIN_FILENO)) {
        fmt::print(stderr,
                   "c10k-doctor tune: stdin is not a terminal to ask on: give --yes to apply "
                   "the changes, or --dry-run to only show them\n");
        return kExitUnknown;
    }
    auto target = resolve_for("tune", o.target, o.netns, kExitFailed);
    if (!target.target) return target.exit_code;

    tune::TuneOptions to;
    to.pid = target.target->pid;
    to.unit = target.target->unit;
    to.duration_s = *duration;
    to.interval_s = std::min(*interval, *duration);
    to.mode = o.mode;
    to.rounds = o.rounds;
    to.dry_run = o.dry_run;
    to.state_dir = o.state_dir;

    const auto& stop = stop_on_signals();

    tune::TuneHooks hooks;
    hooks.progress = [](const std::string& line) {
        fmt::print(stderr, "c10k-doctor tune: {}\n", line);
    };
    if (!o.yes) hooks.confirm = ask;
    auto journey = tune::run_tune(to, hooks, stop);
    if (!journey) {
        fmt::print(stderr, "c10k-doctor tune: {}\n", journey.error().message());
        return kExitFailed;
    }
    if (o.json)
        std::fputs(render_tune_json(*journey).c_str(), stdout);
    else
        std::fputs(render_tune_text(*journey, o.state_dir).c_str(), stdout);
    // A change that could not be undone leaves the host changed: not a success.
    for (const auto& r : journey->rounds)
        if (r.undo_failed) return kExitFailed;
    return kExitOk;
}

}  // namespace

Runner setup_tune(CLI::App& app) {
    auto o = std::make_shared<TuneCliOptions>();
    auto* sub = app.add_subcommand(
        "tune",
        "Probe a server, apply the kernel fix for its bottleneck, probe again; keep the change "
        "only if it helped.");
    add_target_options(sub, o->target, "to tune");
    sub->add_option("-n,--netns", o->netns,
                    "With --port: the network namespace the port is looked up in")
        ->type_name("NAME|PATH");
    sub->add_option("-d,--duration", o->duration,
                    "Each window (before and after every change): 10s, 30s, 2m")
        ->capture_default_str()
        ->type_name("TIME");
    sub->add_option("-i,--interval", o->interval, "Sampling interval within a window")
        ->capture_default_str()
        ->type_name("TIME");
    sub->add_option("-m,--mode", o->mode, "How to probe: auto, bpf or sample (see probe)")
        ->check(CLI::IsMember({"auto", "bpf", "sample"}))
        ->capture_default_str()
        ->type_name("auto|bpf|sample");
    sub->add_option("-r,--rounds", o->rounds, "At most this many changes tried")
        ->check(CLI::Range(1, 10))
        ->capture_default_str()
        ->type_name("N");
    auto* yes = sub->add_flag("-y,--yes", o->yes, "Apply each change without asking");
    sub->add_flag("--dry-run", o->dry_run, "Probe and show the change; change nothing")
        ->excludes(yes);
    sub->add_flag("--json", o->json, "The journey as JSON (schema c10k-doctor/tune v1)");
    sub->add_option("--state-dir", o->state_dir,
                    "Where the journal of the changes goes (what profile rollback reads)")
        ->capture_default_str()
        ->type_name("DIR");
    sub->footer(
        "Exit status: 0 the journey ran (whatever it found), 1 it could not start or a change "
        "could not be undone, 3 bad command line or an ambiguous --port/--unit.\n"
        "Every kept change is in one journal: `c10k-doctor profile rollback` undoes the tune.");
    return [o]() {
        if (int bad = target_usage_error("tune", o->target, o->netns)) return bad;
        return run(*o);
    };
}

}  // namespace c10k::cli
