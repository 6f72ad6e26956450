// SPDX-License-Identifier: GPL-2.0-or-later
// --pid, --port and --unit: one way to name the server, shared by every
// subcommand that looks at one.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <optional>
#include <string>

#include "c10k/sources/target.hpp"

namespace c10k::cli {

struct TargetOptions {
    int pid = 0;
    int port = 0;
    std::string unit;
};

// Adds the three options, mutually exclusive. `what` ends the help lines
// ("to probe", "to inspect too").
void add_target_options(CLI::App* sub, TargetOptions& o, const std::string& what);
bool has_target(const TargetOptions& o);
// 0 when the target options make sense together, else the exit code after a
// one-line reason (no target; --netns without --port).
int target_usage_error(const std::string& command, const TargetOptions& o,
                       const std::string& netns);

// SIGINT and SIGTERM set the returned flag instead of killing the process:
// a window ends early and its verdict (and any undo) still happens.
const std::atomic<bool>& stop_on_signals();

// The process, or the exit code after a one-line reason on stderr: 3 for an
// ambiguity (the candidates listed), `not_found` otherwise. The choice of a
// --port or --unit is said on stderr in one line.
struct TargetOrExit {
    std::optional<ResolvedTarget> target;
    int exit_code = 0;
};
TargetOrExit resolve_for(const std::string& command, const TargetOptions& o,
                         const std::string& netns, int not_found);

}  // namespace c10k::cli
