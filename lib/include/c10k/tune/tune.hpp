// SPDX-License-Identifier: GPL-2.0-or-later
// `tune`: find the bottleneck, change what the kernel can change on the live
// process, probe again, and keep the change only when it helped. The pieces
// that decide are pure functions over evidence (here); journey.hpp runs them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "c10k/diagnose/bottleneck.hpp"
#include "c10k/finding.hpp"
#include "c10k/probe/evidence.hpp"
#include "c10k/profile/profile.hpp"
#include "c10k/sources/process.hpp"

namespace c10k::tune {

// What the kernel holds now, where the target lives: the inputs a fix is sized from.
struct CurrentLimits {
    std::map<std::string, std::string, std::less<>> sysctls;  // key -> value, as read
    std::optional<NofileLimit> nofile;                        // of the target
};

// The sysctls a fix may change (read before planning).
const std::vector<std::string>& tunable_keys();

// One change as people read it: "net.ipv4.tcp_max_tw_buckets 4096 -> 262144".
struct Change {
    std::string what;  // a sysctl key, or "RLIMIT_NOFILE (soft) of PID N"
    std::string from;
    std::string to;
};

struct FixPlan {
    Bottleneck bottleneck = Bottleneck::healthy;
    // The kernel-side fix, as a profile of its own (sysctl entries and/or a
    // nofile limit for the target); none when the fix is the application's.
    std::optional<Profile> profile;
    std::vector<Change> changes;
    // Whether the running process feels the change without doing anything;
    // when not, how to make it act (re-listen, new connections).
    bool live = true;
    std::string to_make_it_act;
    std::string why;                   // how the values were sized, or why there is no kernel fix
    std::vector<std::string> app_fix;  // the finding's own fix lines, for the application
};

FixPlan plan_fix(const Finding& top, const ProbeEvidence& e, const CurrentLimits& now);

// The verdict's own symptom, measured the same way in every window whatever
// the verdict then says, so before and after compare.
struct Symptom {
    std::string what;  // "accept() failing with EMFILE"
    double value = 0;
    Measure unit;
};
std::optional<Symptom> symptom_of(Bottleneck b, const ProbeEvidence& e);

// Work done per second over the window, and how much it moved from interval
// to interval (the standard error of its mean: the noise of one window).
struct Throughput {
    std::string what;  // "accepts/s" or "segments out/s"
    double per_s = 0;
    double standard_error = 0;
};
// accepts/s where the server accepts at least kMinAcceptRate (a connection
// per request), otherwise segments sent per second; `like` picks the same
// measure as an earlier window.
Throughput throughput_of(const ProbeEvidence& e, const std::string& like = "");

// Keep a change when the symptom fell by at least half and the work done did
// not fall by more than the noise between two windows.
struct RoundDecision {
    bool keep = false;
    std::string reason;
};
RoundDecision decide(const std::optional<Symptom>& before, const std::optional<Symptom>& after,
                     const Throughput& work_before, const Throughput& work_after);

// Below this, a server is not accepting a connection per request and its
// throughput is better seen as segments sent.
inline constexpr double kMinAcceptRate = 10;
// The least throughput fall treated as real between two windows of the same
// load: back-to-back 10 s windows of the saturated echo server on these 2-core
// VMs differ by a few percent (steal, the load's own phase) even when their
// intervals are steady, which the standard error alone does not show.
inline constexpr double kWindowNoiseFloor = 0.05;

}  // namespace c10k::tune
