// SPDX-License-Identifier: GPL-2.0-or-later
// The command line as users and monitoring systems see it: exit codes, one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "../common/run_command.hpp"
#include "fixture_root.hpp"

using namespace c10k::test;

TEST(Cli, HealthyFixtureExitsZero) {
    auto root = fixture_root("healthy");
    auto r = run_doctor({"check", "--root", root.dir().string(), "--interval", "0"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("summary:"), std::string::npos);
}

TEST(Cli, ExitCodesFollowMonitoringPluginConvention) {
    auto warn = fixture_root("fd-limit-1024");
    EXPECT_EQ(run_doctor({"check", "--root", warn.dir().string(), "-i", "0"}).exit_code, 1);
    EXPECT_EQ(run_doctor({"check", "--root", warn.dir().string(), "-i", "0", "--fail-on", "crit"})
                  .exit_code,
              0);
    auto crit = fixture_root("conntrack-full");
    EXPECT_EQ(run_doctor({"check", "--root", crit.dir().string(), "-i", "0", "--fail-on", "crit"})
                  .exit_code,
              2);
}

// From a timer or an agent (stdin is not a terminal here), a host whose services
// get enough fds exits 0 even though our own soft limit is 1024.
TEST(Cli, RunFromAServiceAHealthyHostExitsZero) {
    auto root = fixture_root("healthy");
    root.write("proc/self/limits", "Max open files 1024 4096 files\n");
    root.write("run/systemd/system/.keep", "");
    auto r = run_doctor({"check", "--root", root.dir().string(), "-i", "0", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("services get an fd limit of 1024/524288"), std::string::npos) << r.out;
}

TEST(Cli, QuietShowsOnlyProblems) {
    auto root = fixture_root("somaxconn-128");
    auto r = run_doctor({"check", "--root", root.dir().string(), "-i", "0", "--quiet"});
    EXPECT_NE(r.out.find("somaxconn 128"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("OK      "), std::string::npos) << r.out;
}

TEST(Cli, JsonGoesToStdoutAlone) {
    auto root = fixture_root("healthy");
    auto r =
        run_doctor({"check", "--root", root.dir().string(), "-i", "0", "--json", "-c", "20000"});
    auto doc =
        nlohmann::json::parse(r.out);  // throws (fails the test) if anything else is mixed in
    EXPECT_EQ(doc["target"]["connections"], 20000);
    EXPECT_EQ(doc["target"]["source"], "flag");
}

// --output replaces the file whole (temp file, fsync, rename, 0644) and keeps the
// exit code; a directory that is not there is one line, exit 3, no file at all.
TEST(Cli, OutputIsWrittenAtomicallyOrNotAtAll) {
    auto root = fixture_root("fd-limit-1024");
    auto out = root.dir() / "out";
    std::filesystem::create_directories(out);
    auto file = out / "c10k.prom";
    auto r = run_doctor({"check", "--root", root.dir().string(), "-i", "0", "--format",
                         "prometheus", "--output", file.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;  // the fixture's WARN, as without --output
    EXPECT_TRUE(r.out.empty()) << r.out;
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("c10k_doctor_status"), std::string::npos);
    EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
              std::filesystem::perms(0644));
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(out))
        ++entries;
    EXPECT_EQ(entries, 1u);  // no temp file left beside it

    auto missing = out / "no-such-dir" / "c10k.prom";
    auto bad = run_doctor(
        {"check", "--root", root.dir().string(), "-i", "0", "--output", missing.string()});
    EXPECT_EQ(bad.exit_code, 3);
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_NE(bad.err.find("--output " + missing.string()), std::string::npos) << bad.err;
    EXPECT_FALSE(std::filesystem::exists(missing.parent_path()));
}

TEST(Cli, BogusPidIsOneLineAndExit3) {
    auto root = fixture_root("healthy");
    auto r = run_doctor({"check", "--root", root.dir().string(), "--pid", "999999", "-i", "0"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("no process with PID 999999"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, MissingNetnsIsOneLineAndExit3) {
    auto r = run_doctor({"check", "--netns", "c10k-no-such-ns", "-i", "0"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("c10k-no-such-ns"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, BadFlagsExit3) {
    EXPECT_EQ(run_doctor({"check", "--connections", "0"}).exit_code, 3);
    EXPECT_EQ(run_doctor({"check", "--interval", "-1"}).exit_code, 3);
    EXPECT_EQ(run_doctor({"check", "--format", "xml"}).exit_code, 3);
    EXPECT_EQ(run_doctor({"check", "--bogus"}).exit_code, 3);
    EXPECT_EQ(run_doctor({}).exit_code, 3);
    auto help = run_doctor({"check", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--connections"), std::string::npos);
}

// Every long option --help shows is documented in the man page, and vice versa.
static void expect_man_matches_help(const std::vector<std::vector<std::string>>& helps,
                                    const std::string& page) {
    std::string help;
    for (auto args : helps) {
        args.push_back("--help");
        help += run_doctor(args).out;
    }
    std::ifstream in(std::string(C10K_FIXTURES_DIR) + "/../../man/" + page);
    std::string man((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(man.empty());
    std::regex opt("--([a-z][a-z-]+)");
    std::set<std::string> in_help, in_man;
    for (std::sregex_iterator it(help.begin(), help.end(), opt), end; it != end; ++it)
        in_help.insert((*it)[1]);
    std::string man_plain = std::regex_replace(man, std::regex("\\\\-"), "-");
    for (std::sregex_iterator it(man_plain.begin(), man_plain.end(), opt), end; it != end; ++it)
        in_man.insert((*it)[1]);
    in_help.erase("help");
    for (const auto& o : in_help)
        EXPECT_TRUE(in_man.count(o)) << "--" << o << " is not in the man page";
    for (const auto& o : in_man)
        EXPECT_TRUE(in_help.count(o) || o == "help" || o == "version")
            << "--" << o << " is in the man page but not in --help";
}

TEST(Cli, CheckManPageMatchesHelp) {
    expect_man_matches_help({{"check"}}, "c10k-doctor-check.8");
}

TEST(Cli, ProbeManPageMatchesHelp) {
    expect_man_matches_help({{"probe"}}, "c10k-doctor-probe.8");
}

TEST(Cli, TuneManPageMatchesHelp) {
    expect_man_matches_help({{"tune"}}, "c10k-doctor-tune.8");
}

TEST(Cli, ProfileManPageMatchesHelp) {
    expect_man_matches_help({{"profile", "list"},
                             {"profile", "show"},
                             {"profile", "diff"},
                             {"profile", "verify"},
                             {"profile", "apply"},
                             {"profile", "rollback"},
                             {"profile", "backups"}},
                            "c10k-doctor-profile.8");
}
