// SPDX-License-Identifier: GPL-2.0-or-later
// The one currency of the program: check, profile and probe all produce Findings,
// and every renderer consumes them.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/finding_id.hpp"
#include "c10k/severity.hpp"

namespace c10k {

// What an evidence value measures: the one thing every renderer (text, JSON,
// Prometheus, Nagios perfdata) decides its writing on.
enum class Dim {
    plain,               // a number with no unit
    count,               // things, named by the unit's noun ("fds", "connections")
    bytes,               // written as MiB from 1 MiB up
    percent,             // 0..100; Prometheus gets a 0..1 ratio
    ratio,               // a dimensionless ratio, two decimals
    per_second,          // a rate over the window; Prometheus leaves rates to rate()
    since_boot,          // a kernel counter's total: a Prometheus counter, Nagios "c"
    seconds_per_second,  // time spent per second of window (waiting threads)
    milliseconds,
    microseconds,
    cores,  // CPU time per second of window
};

struct Measure {
    Dim dim = Dim::plain;
    std::string_view noun;  // for Dim::count: what is counted
    // As JSON and help texts show it: the noun, or "%", "/s", "bytes", "ms", ...
    std::string_view name() const;
    // As a Nagios plugin's perfdata writes it: s, ms, us, %, B or c (a
    // counter, so graphers derive rates); empty for a plain number.
    std::string_view perfdata() const;
    bool operator==(const Measure&) const = default;
};

namespace units {
inline constexpr Measure none{};
inline constexpr Measure bytes{Dim::bytes, {}};
inline constexpr Measure percent{Dim::percent, {}};
inline constexpr Measure ratio{Dim::ratio, {}};
inline constexpr Measure per_second{Dim::per_second, {}};
inline constexpr Measure since_boot{Dim::since_boot, {}};
inline constexpr Measure seconds_per_second{Dim::seconds_per_second, {}};
inline constexpr Measure ms{Dim::milliseconds, {}};
inline constexpr Measure us{Dim::microseconds, {}};
inline constexpr Measure cores{Dim::cores, {}};
constexpr Measure count(std::string_view noun) {
    return {Dim::count, noun};
}
inline constexpr Measure fds = count("fds");
inline constexpr Measure connections = count("connections");
inline constexpr Measure threads = count("threads");
inline constexpr Measure ports = count("ports");
inline constexpr Measure sockets = count("sockets");
inline constexpr Measure requests = count("requests");
inline constexpr Measure replies = count("replies");
inline constexpr Measure segments = count("segments");
inline constexpr Measure packets = count("packets");
inline constexpr Measure samples = count("samples");
inline constexpr Measure looks = count("looks");
inline constexpr Measure calls = count("calls");
inline constexpr Measure events = count("events");
inline constexpr Measure entries = count("entries");
inline constexpr Measure files = count("files");
inline constexpr Measure tasks = count("tasks");
inline constexpr Measure processes = count("processes");
inline constexpr Measure cpus = count("CPUs");
}  // namespace units

// A kind of evidence, declared once in its subcommand's catalogue
// (checks/check_keys.hpp, diagnose/probe_keys.hpp) with its name, its label
// and its unit: code names evidence by its key's constant, never by a string.
// `name` is stable snake_case carrying its unit where one applies
// (`listen_overflows_per_second`): the output's name for the value (JSON,
// Prometheus, perfdata). What a value is (a rate, a counter, a share) is its
// Measure. "{}" in a name or label takes a qualifier: a syscall, a rank.
struct EvidenceKey {
    std::string_view name;
    std::string_view label;
    Measure unit;
};

// Declares a table of keys, X(id, name, label, unit) a row: each row a
// constant named `id`, and `all`, every key in the table's order, for tests to
// walk (checks/check_keys.hpp, diagnose/probe_keys.hpp).
#define C10K_EVIDENCE_KEY(id, name, label, unit) inline constexpr EvidenceKey id{name, label, unit};
#define C10K_EVIDENCE_KEY_ADDRESS(id, name, label, unit) &id,
#define C10K_DECLARE_EVIDENCE_KEYS(TABLE) \
    TABLE(C10K_EVIDENCE_KEY)              \
    inline constexpr std::array all = {TABLE(C10K_EVIDENCE_KEY_ADDRESS)};

// A measured value under its key. `label` replaces the key's where the
// finding says more precisely what was measured.
struct Evidence {
    Evidence(const EvidenceKey& kind, double value, std::string_view qualifier = {},
             std::string label = {});
    std::string key;    // the key's name, qualified
    std::string label;  // for people
    double value = 0;
    Measure unit;
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
    // Probe: how many observations the confidence rests on (looks at the
    // process, traced events, CPU samples); 0 when not counted.
    double basis = 0;
    Measure basis_unit;
    // Probe: the other findings this one's mechanism explains (their ids); each
    // of those says it is a consequence of this one.
    std::vector<std::string> accounts_for;
    // Probe: what the window showed that this finding's mechanism produces
    // (the vocabulary's symptoms, by name).
    std::vector<std::string> explains;
};

// Worst of OK/WARN/CRIT among the findings; UNKNOWN only if nothing else was judged.
Severity overall_severity(const std::vector<Finding>& findings);

// A finding that says the area could not be inspected, and why.
Finding unknown_finding(FindingId id, std::string title, std::string reason);

}  // namespace c10k
