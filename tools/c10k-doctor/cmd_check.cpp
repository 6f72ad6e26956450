// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "c10k/checks/checks.hpp"
#include "c10k/collect.hpp"
#include "c10k/profile/journal.hpp"
#include "c10k/report/report.hpp"
#include "commands.hpp"
#include "target_options.hpp"

namespace c10k::cli {

namespace {

struct CheckOptions {
    uint64_t connections = 0;
    TargetOptions target;
    std::string netns;
    double interval = 1.0;
    bool json = false;
    std::string format = "text";
    bool quiet = false;
    std::string fail_on = "warn";
    std::string root;
    std::string output;
};

int exit_code_for(Severity overall, const std::string& fail_on) {
    switch (overall) {
        case Severity::ok:
            return kExitOk;
        case Severity::warn:
            return fail_on == "crit" ? kExitOk : kExitWarn;
        case Severity::crit:
            return kExitCrit;
        case Severity::unknown:
            return kExitUnknown;
    }
    return kExitUnknown;
}

int run_check(const CheckOptions& o) {
    CollectOptions co;
    if (!o.root.empty()) {
        co.root.root = o.root;
        co.read_sockets = false;
    }
    if (has_target(o.target)) {
        // --port looks in --netns when given; the process then brings its own.
        auto t = resolve_for("check", o.target, o.netns, kExitUnknown);
        if (!t.target) return t.exit_code;
        co.pid = t.target->pid;
    } else if (!o.netns.empty()) {
        co.netns = o.netns;
    }
    co.interval_s = o.interval;
    // A terminal on stdin means a person, whose shell's fd limit is the one the
    // servers they start inherit; a timer, cron or an agent has none.
    co.interactive = ::isatty(STDIN_FILENO);

    bool progress = o.interval > 0 && ::isatty(STDERR_FILENO);
    if (progress)
        fmt::print(stderr, "sampling rates over {:g} s...", o.interval), std::fflush(stderr);
    auto collected = collect(co);
    if (progress) fmt::print(stderr, "\r\033[K"), std::fflush(stderr);
    if (!collected) {
        fmt::print(stderr, "c10k-doctor check: {}\n", collected.error().message());
        return kExitUnknown;
    }

    Target target;
    if (o.connections > 0) target = {o.connections, true};
    const Sample* before = collected->before ? &*collected->before : nullptr;
    CheckInput input(collected->now, before, target);
    auto report =
        make_check_report(collected->now, collected->interval_s, target, run_all_checks(input));

    std::string format = o.json ? "json" : o.format;
    int code = exit_code_for(overall_severity(report.findings), o.fail_on);
    std::string out;
    if (format == "json") {
        out = render_json(report);
    } else if (format == "prometheus") {
        out = render_prometheus(report);
    } else if (format == "nagios") {
        static constexpr Severity kByCode[] = {Severity::ok, Severity::warn, Severity::crit,
                                               Severity::unknown};
        out = render_nagios(report, kByCode[code]);
    } else {
        TextStyle style;
        style.colour = o.output.empty() && colour_for(STDOUT_FILENO);
        style.quiet = o.quiet;
        out = render_text(report, style);
    }
    if (o.output.empty()) {
        std::fputs(out.c_str(), stdout);
    } else if (auto st = write_file_atomic(o.output, out, 0644); !st) {
        // Readers (node_exporter's textfile collector) see the old file or the
        // new one, never half of one; a failed write leaves no temp file behind.
        fmt::print(stderr, "c10k-doctor check: --output {}: {}\n", o.output, st.error().message());
        return kExitUnknown;
    }
    return code;
}

}  // namespace

Runner setup_check(CLI::App& app) {
    auto o = std::make_shared<CheckOptions>();
    auto* sub = app.add_subcommand(
        "check", "Inspect this host (and a process) against every limit that caps concurrency.");
    sub->add_option(
           "-c,--connections", o->connections,
           "Size every threshold for N concurrent connections (default: 10000, judged leniently)")
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
        ->type_name("N");
    add_target_options(sub, o->target,
                       "to inspect too: fds, threads, listeners, its network namespace");
    sub->add_option("-n,--netns", o->netns,
                    "Inspect this network namespace (a name under /run/netns or a path); with "
                    "--port, the namespace the port is looked up in")
        ->type_name("NAME|PATH");
    sub->add_option("-i,--interval", o->interval,
                    "Seconds between the two samples that rates come from; 0 = no rates")
        ->default_val(1.0)
        ->check(CLI::Range(0.0, 3600.0))
        ->type_name("SECONDS");
    auto* json = sub->add_flag("--json", o->json, "Same as --format json");
    sub->add_option("-f,--format", o->format, "Output format")
        ->check(CLI::IsMember({"text", "json", "prometheus", "nagios"}))
        ->type_name("text|json|prometheus|nagios")
        ->excludes(json);
    sub->add_option("-o,--output", o->output,
                    "Write to FILE atomically (a temp file beside it, fsync, rename; mode 0644)")
        ->type_name("FILE");
    sub->add_flag("-q,--quiet", o->quiet, "Text output: show only findings that are not OK");
    sub->add_option("--fail-on", o->fail_on, "Lowest severity that makes the exit code non-zero")
        ->check(CLI::IsMember({"warn", "crit"}))
        ->type_name("warn|crit");
    sub->add_option("--root", o->root,
                    "Read /proc and /sys below DIR (for tests; sockets are not read)")
        ->group("");  // hidden
    sub->footer(
        "Exit status: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN or error (monitoring-plugin convention).\n"
        "Read-only: check never changes the host.");
    return [o, sub]() {
        if (!o->netns.empty() && (o->target.pid != 0 || !o->target.unit.empty())) {
            fmt::print(stderr,
                       "c10k-doctor check: --netns and --pid/--unit both choose a network "
                       "namespace; give one\n");
            return kExitUnknown;
        }
        (void)sub;
        return run_check(*o);
    };
}

}  // namespace c10k::cli
