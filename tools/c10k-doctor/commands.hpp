// SPDX-License-Identifier: GPL-2.0-or-later
// One file per subcommand: setup_x() declares its options on the CLI11 app,
// and the returned callback runs it and yields the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace c10k::cli {

// Exit codes shared by every subcommand (monitoring-plugin convention for check).
inline constexpr int kExitOk = 0;
inline constexpr int kExitWarn = 1;
inline constexpr int kExitCrit = 2;
inline constexpr int kExitUnknown = 3;  // also: usage errors, failures to inspect
// profile and probe: the operation failed (after a one-line reason on stderr).
inline constexpr int kExitFailed = 1;

using Runner = std::function<int()>;

// Where a test build reaches inside the CLI: empty in the shipped binary
// (tools/c10k-doctor/main.cpp); tests/helpers/crashable_cli.cpp fills it.
struct Seams {
    std::function<void(size_t written, const std::string& journal_id)> after_sysctl_write;
};

// The whole command line: parse, run one subcommand, return its exit code.
int run(int argc, char** argv, const Seams& seams);

Runner setup_check(CLI::App& app);
Runner setup_profile(CLI::App& app, const Seams& seams);
Runner setup_probe(CLI::App& app);
Runner setup_tune(CLI::App& app);

}  // namespace c10k::cli
