// SPDX-License-Identifier: GPL-2.0-or-later
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "c10k/report/report.hpp"
#include "commands.hpp"

namespace c10k::cli {

int run(int argc, char** argv, const Seams& seams) {
    CLI::App app{"c10k-doctor: find what caps a Linux server's concurrency, prove it, fix it.",
                 "c10k-doctor"};
    app.set_version_flag("--version", std::string("c10k-doctor ") + c10k::kVersion);
    app.require_subcommand(1);
    app.footer("Run 'c10k-doctor SUBCOMMAND --help' for a subcommand's options; man c10k-doctor.");

    int exit_code = kExitOk;
    Runner check = setup_check(app);
    Runner profile = setup_profile(app, seams);
    Runner probe = setup_probe(app);
    Runner tune = setup_tune(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitUnknown;
    }
    for (auto* sub : app.get_subcommands()) {
        if (sub->get_name() == "check") exit_code = check();
        if (sub->get_name() == "profile") exit_code = profile();
        if (sub->get_name() == "probe") exit_code = probe();
        if (sub->get_name() == "tune") exit_code = tune();
    }
    std::fflush(stdout);
    return exit_code;
}

}  // namespace c10k::cli
