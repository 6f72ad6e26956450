// SPDX-License-Identifier: GPL-2.0-or-later
#include "target_options.hpp"

#include <fmt/format.h>
#include <signal.h>

#include "commands.hpp"

namespace c10k::cli {

void add_target_options(CLI::App* sub, TargetOptions& o, const std::string& what) {
    auto* pid = sub->add_option("-p,--pid", o.pid, "The server process " + what)
                    ->check(CLI::Range(1, 1 << 30))
                    ->type_name("PID");
    auto* port = sub->add_option("--port", o.port,
                                 "The server listening on this TCP port " + what +
                                     " (of a master and its workers: the busiest worker)")
                     ->check(CLI::Range(1, 65535))
                     ->type_name("PORT");
    auto* unit = sub->add_option("--unit", o.unit,
                                 "The server in this systemd unit's cgroup " + what +
                                     " (its process that listens; the main one when none does)")
                     ->type_name("NAME");
    pid->excludes(port)->excludes(unit);
    port->excludes(unit);
}

bool has_target(const TargetOptions& o) {
    return o.pid != 0 || o.port != 0 || !o.unit.empty();
}

int target_usage_error(const std::string& command, const TargetOptions& o,
                       const std::string& netns) {
    if (!netns.empty() && o.port == 0) {
        fmt::print(stderr, "c10k-doctor {}: --netns goes with --port\n", command);
        return kExitUnknown;
    }
    if (!has_target(o)) {
        fmt::print(stderr, "c10k-doctor {}: give the server: --pid, --port or --unit\n", command);
        return kExitUnknown;
    }
    return 0;
}

namespace {
std::atomic<bool> g_stop{false};
void on_stop_signal(int) {
    g_stop.store(true);
}
}  // namespace

const std::atomic<bool>& stop_on_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return g_stop;
}

TargetOrExit resolve_for(const std::string& command, const TargetOptions& o,
                         const std::string& netns, int not_found) {
    TargetSpec spec;
    spec.pid = o.pid;
    spec.port = static_cast<uint16_t>(o.port);
    spec.unit = o.unit;
    spec.netns = netns;
    auto t = resolve_target(spec);
    if (!t) {
        // Not found and ambiguous are answers, said in the context's words;
        // a failed system call (entering a namespace) gets its errno text.
        int code = t.error().code;
        bool answer = code == ENOENT || code == ESRCH || code == kAmbiguousTarget;
        fmt::print(stderr, "c10k-doctor {}: {}\n", command,
                   answer ? t.error().context : t.error().message());
        return {std::nullopt, t.error().code == kAmbiguousTarget ? kExitUnknown : not_found};
    }
    if (!t->why.empty()) fmt::print(stderr, "c10k-doctor {}: target {}\n", command, t->why);
    return {std::move(*t), 0};
}

}  // namespace c10k::cli
