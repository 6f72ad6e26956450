// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>

#include "c10k/diagnose/verdict.hpp"
#include "c10k/probe/probe.hpp"
#include "c10k/profile/journal.hpp"
#include "c10k/report/output.hpp"
#include "c10k/report/probe_render.hpp"
#include "c10k/text.hpp"
#include "commands.hpp"
#include "target_options.hpp"

namespace c10k::cli {

namespace {

struct ProbeCliOptions {
    TargetOptions target;
    std::string netns;
    std::string duration = "10s";
    std::string interval = "1s";
    std::string mode = "auto";
    std::string syscall_duty = "auto";
    std::string syscall_attach = "auto";
    bool json = false;
    std::string format = "text";
    std::string output;
    bool verbose = false;
    bool follow = false;
};

int run(const ProbeCliOptions& o, std::chrono::steady_clock::time_point started) {
    auto duration = parse_seconds(o.duration);
    auto interval = parse_seconds(o.interval);
    if (!duration || *duration > 3600) {
        fmt::print(stderr,
                   "c10k-doctor probe: --duration '{}': give e.g. 10s, 500ms, 2m (at most 1h)\n",
                   o.duration);
        return kExitUnknown;
    }
    if (!interval || *interval < 0.1) {
        fmt::print(stderr, "c10k-doctor probe: --interval '{}': give e.g. 1s (at least 100ms)\n",
                   o.interval);
        return kExitUnknown;
    }
    auto target = resolve_for("probe", o.target, o.netns, kExitFailed);
    if (!target.target) return target.exit_code;
    ProbeOptions po;
    po.pid = target.target->pid;
    po.duration_s = *duration;
    po.interval_s = std::min(*interval, *duration);
    po.mode = o.mode;
    if (o.syscall_duty != "auto") {
        auto pct = parse_double(o.syscall_duty);
        if (!pct || *pct < 0 || *pct > 100) {
            fmt::print(stderr, "c10k-doctor probe: --syscall-duty '{}': give auto or 0-100\n",
                       o.syscall_duty);
            return kExitUnknown;
        }
        po.syscall_duty = *pct / 100;
    }
    po.syscall_attach = o.syscall_attach;
    po.verbose = o.verbose;
    po.follow = o.follow;
    po.started = started;

    const auto& stop = stop_on_signals();

    std::string format = o.json ? "json" : o.format;
    bool live = ::isatty(STDERR_FILENO) && format == "text" && o.output.empty();
    auto on_interval = [&](const IntervalRates& r) {
        // What began (the window, once attached; a --follow probe) is said
        // whether or not stderr is a terminal: a script can wait for it.
        if (!r.began.empty()) {
            fmt::print(stderr, "c10k-doctor probe: {}\n", r.began);
            if (r.elapsed_s <= 0) return;
        }
        if (!live) return;
        std::string ctxsw = r.switches_per_s ? fmt::format("{:.0f}", *r.switches_per_s) : "-";
        if (r.bpf)
            fmt::print(stderr,
                       "{:5.1f}s  accepts/s {:8.0f}  syscalls/s {:9.0f}  errors/s {:7.0f}  "
                       "ctxsw/s {:>8}  runq p99 {:7.0f} us  cpu {:4.2f}{}\n",
                       r.elapsed_s, r.accepts_per_s, r.syscalls_per_s, r.errors_per_s, ctxsw,
                       r.runq_p99_us, r.cpu_cores,
                       r.syscall_rates_carried ? "  (syscalls: last traced interval's)" : "");
        else
            fmt::print(stderr, "{:5.1f}s  ctxsw/s {:>8}  cpu {:4.2f}\n", r.elapsed_s, ctxsw,
                       r.cpu_cores);
    };
    auto evidence = run_probe(po, on_interval, stop);
    if (!evidence) {
        fmt::print(stderr, "c10k-doctor probe: {}\n", evidence.error().message());
        return kExitFailed;
    }
    evidence->unit = target.target->unit;
    evidence->started_unix_s = target.target->started_unix_s;
    auto verdict = judge(*evidence);
    std::string out;
    if (format == "json")
        out = render_probe_json(*evidence, verdict);
    else if (format == "prometheus")
        out = render_probe_prometheus(*evidence, verdict);
    else
        out = render_probe_text(*evidence, verdict, o.output.empty() && colour_for(STDOUT_FILENO));
    if (o.output.empty()) {
        std::fputs(out.c_str(), stdout);
    } else if (auto st = write_file_atomic(o.output, out, 0644); !st) {
        fmt::print(stderr, "c10k-doctor probe: --output {}: {}\n", o.output, st.error().message());
        return kExitFailed;
    }
    return kExitOk;
}

}  // namespace

Runner setup_probe(CLI::App& app) {
    auto o = std::make_shared<ProbeCliOptions>();
    auto* sub = app.add_subcommand(
        "probe", "Attach eBPF probes to a live server for a bounded window; name its bottleneck.");
    add_target_options(sub, o->target, "to probe");
    sub->add_option("-n,--netns", o->netns,
                    "With --port: the network namespace the port is looked up in (a name under "
                    "/run/netns or a path); the process is probed in its own")
        ->type_name("NAME|PATH");
    sub->add_option("-d,--duration", o->duration, "Length of the window (10s, 500ms, 2m)")
        ->capture_default_str()
        ->type_name("TIME");
    sub->add_option("-i,--interval", o->interval, "Sampling interval and live-line period")
        ->capture_default_str()
        ->type_name("TIME");
    sub->add_option(
           "-m,--mode", o->mode,
           "bpf: BPF or fail; sample: no BPF (/proc, netlink, a perf cpu-clock); auto: BPF "
           "when possible")
        ->check(CLI::IsMember({"auto", "bpf", "sample"}))
        ->capture_default_str()
        ->type_name("auto|bpf|sample");
    sub->add_option("--syscall-duty", o->syscall_duty,
                    "Percent of each interval with syscall tracing attached (it slows every "
                    "syscall on the host); auto traces in cycles that cost, attaching "
                    "included, about 0.25% of one CPU")
        ->capture_default_str()
        ->type_name("auto|PERCENT");
    sub->add_option("--syscall-attach", o->syscall_attach,
                    "How syscall probes attach: auto tries raw_tp, then classic tracepoints "
                    "(mounting tracefs if needed)")
        ->check(CLI::IsMember({"auto", "raw_tp", "tracepoint"}))
        ->capture_default_str()
        ->type_name("auto|raw_tp|tracepoint");
    sub->add_flag("--follow", o->follow,
                  "Also probe, in the same window, the local process serving the destination "
                  "the target waits on, and chain the two verdicts");
    auto* json =
        sub->add_flag("--json", o->json, "Same as --format json (schema c10k-doctor/probe v2)");
    sub->add_option("-f,--format", o->format,
                    "Output format; prometheus is for node_exporter's textfile collector")
        ->check(CLI::IsMember({"text", "json", "prometheus"}))
        ->type_name("text|json|prometheus")
        ->excludes(json);
    sub->add_option("-o,--output", o->output,
                    "Write to FILE atomically (a temp file beside it, fsync, rename; mode 0644)")
        ->type_name("FILE");
    sub->add_flag("-v,--verbose", o->verbose,
                  "Show libbpf's log (verifier output on failure) and each syscall tracing cycle");
    sub->footer(
        "Exit status: 0 a verdict was printed (whatever it says), 1 the probe could not run, "
        "3 bad command line.");
    auto started = std::chrono::steady_clock::now();  // setup runs first thing in main()
    return [o, started]() {
        if (int bad = target_usage_error("probe", o->target, o->netns)) return bad;
        return run(*o, started);
    };
}

}  // namespace c10k::cli
