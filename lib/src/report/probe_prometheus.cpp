// SPDX-License-Identifier: GPL-2.0-or-later
// probe's verdict for node_exporter's textfile collector, one file per
// watched unit (the c10k-doctor-probe@.timer writes it). Every series is
// labelled by the target's command name and unit, never its PID: a restart
// must not start new series. A probe's rates are its measurement over the
// window (no counter stands behind them), so they are gauges here.
#include <fmt/format.h>

#include <cctype>

#include "c10k/report/probe_render.hpp"
#include "exposition.hpp"

namespace c10k {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string render_probe_prometheus(const ProbeEvidence& e, const Verdict& v) {
    using exposition::labels;
    exposition::Writer w;
    const auto target = labels({{"comm", e.comm}, {"unit", e.unit}});
    auto with = [&](std::string_view k, std::string_view val) {
        return target + "," + labels({{k, val}});
    };

    w.family("c10k_doctor_probe_status",
             "Worst severity of the probe's findings: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.");
    w.add("c10k_doctor_probe_status", target, static_cast<int>(overall_severity(v.findings)));
    if (!v.findings.empty()) {
        w.family("c10k_doctor_probe_verdict",
                 "The probe's answer: 1 for the bottleneck it names (healthy when none).");
        w.add("c10k_doctor_probe_verdict", with("id", fmt::format("{}", v.findings.front().id)), 1);
    }
    // --follow: what the dependency's own probe found, by the destination the
    // target waits on and the dependency's command (never its PID).
    if (e.followed && v.followed && !v.followed->findings.empty()) {
        w.family("c10k_doctor_probe_dependency_verdict",
                 "--follow: the verdict on the local process serving the destination the target "
                 "waits on most: 1 for the bottleneck it names.");
        w.add("c10k_doctor_probe_dependency_verdict",
              target + "," +
                  labels({{"destination", e.followed->destination.to_string()},
                          {"dependency_comm", e.followed->comm},
                          {"id", fmt::format("{}", v.followed->findings.front().id)}}),
              1);
    }
    w.family("c10k_doctor_probe_finding",
             "Each finding by id, severity and subject; the value is its rank, 1 the verdict.");
    w.family("c10k_doctor_probe_finding_confidence",
             "How sure the probe is of each finding, 0..1.");
    int rank = 0;
    for (const auto& f : v.findings) {
        ++rank;
        auto id = fmt::format("{}", f.id);
        w.add("c10k_doctor_probe_finding",
              target + "," +
                  labels({{"id", id},
                          {"severity", lower(to_string(f.severity))},
                          {"subject", f.subject}}),
              rank);
        w.add("c10k_doctor_probe_finding_confidence",
              target + "," + labels({{"id", id}, {"subject", f.subject}}), f.confidence);
    }
    for (const auto& f : v.findings) {
        auto id = fmt::format("{}", f.id);
        for (const auto& ev : f.evidence) {
            auto s = exposition::sample_of(ev, true);
            if (!s) continue;
            auto name = "c10k_doctor_probe_" + s->key;
            w.family(name, s->help, s->counter);
            w.add(name, target + "," + labels({{"id", id}, {"subject", f.subject}}), s->value);
        }
    }

    // What the window was, and what it could not see.
    w.family("c10k_doctor_probe_window_seconds", "Length of the probe's window (s).");
    w.add("c10k_doctor_probe_window_seconds", target, e.window_s);
    w.family("c10k_doctor_probe_mode", "How the probe looked: bpf or sample (/proc and netlink).");
    w.add("c10k_doctor_probe_mode", with("mode", e.mode), 1);
    if (e.bpf) {
        w.family("c10k_doctor_probe_attach_status",
                 "Each BPF probe group: 0 attached, 1 partly, 2 not attached.");
        for (const auto& a : e.bpf->attach)
            w.add("c10k_doctor_probe_attach_status", with("group", probe_group_name(a.group)),
                  static_cast<int>(a.status));
        w.family("c10k_doctor_probe_syscall_traced_ratio",
                 "Share of the window with syscall tracing attached (duty cycle, 0..1).");
        w.add("c10k_doctor_probe_syscall_traced_ratio", target, e.bpf->syscall_duty);
    }
    w.family("c10k_doctor_probe_target_exited", "1 when the target exited during the window.");
    w.add("c10k_doctor_probe_target_exited", target, e.target_exited ? 1 : 0);
    if (e.started_unix_s > 0) {
        w.family("c10k_doctor_probe_target_start_time_seconds",
                 "When the target process started (s since the epoch): a deploy changes it.");
        w.add("c10k_doctor_probe_target_start_time_seconds", target, e.started_unix_s);
    }
    w.family("c10k_doctor_probe_cpu_seconds_per_second",
             "What the probe cost, measured: its own CPU time plus its BPF programs' run time, "
             "per second of window (s/s).");
    w.add("c10k_doctor_probe_cpu_seconds_per_second", target, e.cost.ms_per_s() / 1e3);
    return w.text();
}

}  // namespace c10k
