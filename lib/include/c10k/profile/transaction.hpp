// SPDX-License-Identifier: GPL-2.0-or-later
// Applying a profile as one transaction: plan (read-only), journal, write and
// verify each key, restore everything on the first failure; and rollback.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "c10k/profile/boot_settings.hpp"
#include "c10k/profile/journal.hpp"
#include "c10k/profile/key_rules.hpp"
#include "c10k/profile/profile.hpp"
#include "c10k/result.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct ApplyOptions {
    SysRoot root;
    bool exact = false;
    bool strict = false;  // a key missing or read-only here is an error, not a skip
    bool persist = false;
    std::optional<pid_t> pid;
    std::string netns;  // name under /run/netns or a path
    std::string unit;   // systemd unit for a LimitNOFILE= drop-in (with persist)
    // Called after each sysctl is written and read back, with how many are
    // and the journal's id. The CLI leaves it empty; the crash tests link a
    // build of the CLI that stops the process here (tests/helpers/crashable_cli.cpp).
    std::function<void(size_t written, const std::string& journal_id)> after_write;
};

// The network namespace the net.* keys are read and written in.
struct NamespaceTarget {
    std::string path;  // empty: our own
    uint64_t inode = 0;
    bool is_other = false;  // a namespace other than the one we started in
};

// Enters the namespace of --pid/--netns (setns) and says which it is. With a
// fixture root nothing is entered.
Result<NamespaceTarget> enter_target_namespace(const ApplyOptions& o);

struct PlanRow {
    ProfileEntry entry;
    std::optional<std::string> current;  // normalized; empty when missing
    KeyDecision decision;
    std::vector<BootSetting> boot;  // sysctl.d lines setting this key, in applied order
    std::string note;
};

struct NofilePlan {
    pid_t pid = 0;
    std::string comm;
    uint64_t start_time = 0;
    NofileLimit current;
    uint64_t wanted = 0;
    Action action = Action::keep;
};

struct ApplyPlan {
    Profile profile;
    NamespaceTarget ns;
    std::vector<PlanRow> rows;
    std::optional<NofilePlan> nofile;
    std::vector<JournalFile> files;  // what --persist will write
    std::vector<std::string> notes;
    size_t writes() const;
    // Whether applying would change anything: a key, the rlimit, or a file's
    // bytes (what configuration management reports as "changed").
    bool changes() const;
    // Keys and the rlimit not at the profile (what `profile verify` lists).
    std::vector<std::string> drift() const;
};

// Reads every current value; writes nothing. Errors only when --strict finds a
// key it cannot write, or the target process is gone.
Result<ApplyPlan> make_plan(const Profile& profile, const NamespaceTarget& ns,
                            const ApplyOptions& o);

struct ApplyOutcome {
    std::string journal_id;
    size_t written = 0;
    std::vector<std::string> notes;
};

// Journal first, then each write verified by reading it back; on the first
// failure everything already changed is restored and the error names the key
// and the kernel's errno.
Result<ApplyOutcome> apply_plan(const ApplyPlan& plan, const ApplyOptions& o, StateDir& state);

struct RollbackOutcome {
    Journal journal;
    std::vector<std::string> restored;
    std::vector<std::string> problems;  // what could not be put back, and why: retryable
    std::vector<std::string> notes;     // put back, but worth saying (changed since the apply)
};

// The named journal, or the newest one not rolled back yet.
Result<RollbackOutcome> rollback(StateDir& state, const std::optional<std::string>& id);

// /proc/PID/stat field 22, to tell a process from a later one with its PID.
std::optional<uint64_t> process_start_time(const SysRoot& root, pid_t pid);

}  // namespace c10k
