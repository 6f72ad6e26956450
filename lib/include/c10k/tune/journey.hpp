// SPDX-License-Identifier: GPL-2.0-or-later
// The tune loop: probe, fix, probe again, keep or roll back; and the journey
// it leaves, one row per round.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/tune/tune.hpp"

namespace c10k::tune {

struct TuneOptions {
    pid_t pid = 0;
    std::string unit;  // for the persist commands, when the target runs in one
    double duration_s = 10;
    double interval_s = 1;
    std::string mode = "auto";
    int rounds = 3;
    bool dry_run = false;
    std::filesystem::path state_dir = "/var/lib/c10k-doctor";
};

enum class RoundOutcome {
    kept,           // the symptom fell by half, throughput held
    rolled_back,    // it did not: the change was undone
    shown,          // --dry-run: the change was shown, not made
    declined,       // the user said no
    refused,        // the kernel refused a value (nothing stays changed)
    interrupted,    // Ctrl-C during the round: its change was undone
    target_exited,  // the target exited during the round: its change was undone
    app_fix,        // the verdict's fix is the application's: printed, nothing changed
    healthy,        // nothing to fix
};
std::string_view to_string(RoundOutcome o);

struct TuneRound {
    int number = 0;
    Bottleneck verdict = Bottleneck::healthy;
    std::string title;
    std::vector<Change> changes;
    std::optional<Symptom> before, after;
    std::optional<Throughput> work_before, work_after;
    RoundOutcome outcome = RoundOutcome::healthy;
    std::string reason;
    bool live = true;
    std::string to_make_it_act;
    bool undo_failed = false;  // its change could not all be put back (journal left pending)
};

struct TuneJourney {
    pid_t pid = 0;
    std::string comm;
    double window_s = 0;
    std::vector<TuneRound> rounds;
    Bottleneck final_verdict = Bottleneck::healthy;
    std::vector<std::string> app_fix;  // the final verdict's fix, when it is the application's
    std::string journal_id;            // every kept change; `profile rollback ID` undoes the tune
    std::vector<std::string> persist;  // commands that make the kept changes survive a reboot
    std::vector<std::string> notes;
};

struct TuneHooks {
    std::function<void(const std::string&)> progress;  // one line per step
    // Asked before a change is made (not with --dry-run); false: declined.
    std::function<bool(const FixPlan&)> confirm;
};

// Fails only before anything changed (no such process, the namespace cannot
// be entered, the state directory is unusable, the first probe fails). Once a
// change is made, every way out - a refusal, Ctrl-C (`stop`), the target
// exiting - undoes the round's change and is told in the journey.
Result<TuneJourney> run_tune(const TuneOptions& o, const TuneHooks& hooks,
                             const std::atomic<bool>& stop);

}  // namespace c10k::tune
