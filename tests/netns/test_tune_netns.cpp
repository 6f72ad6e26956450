// SPDX-License-Identifier: GPL-2.0-or-later
// `tune` on real servers in this test's network namespace: a fix that helps
// is kept and `profile rollback` undoes it; one that does not is undone at
// once; an application-side bottleneck changes nothing; Ctrl-C and a target
// that exits leave nothing half-applied.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "probe_scenarios.hpp"

using namespace c10k::test;
using nlohmann::json;

namespace {

// A state directory of the test's own (0700, as StateDir requires).
struct StateDirectory {
    std::string path;
    StateDirectory() {
        path = (std::filesystem::temp_directory_path() /
                ("c10k-tune-" + std::to_string(::getpid()) + "-" + std::to_string(++counter())))
                   .string();
        std::filesystem::remove_all(path);
        std::filesystem::create_directory(path);
        ::chmod(path.c_str(), 0700);
    }
    ~StateDirectory() { std::filesystem::remove_all(path); }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

std::pair<uint64_t, uint64_t> nofile_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream words(line.substr(14));
            uint64_t soft = 0, hard = 0;
            words >> soft >> hard;
            return {soft, hard};
        }
    return {0, 0};
}

std::string sysctl(const std::string& key) {
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    std::ifstream in(path);
    std::string v;
    std::getline(in, v);
    return v;
}

struct Tune {
    CommandResult raw;
    json doc;
};

// Every journey the tests make is checked against the schema too (python3's
// jsonschema, as the other outputs are).
void expect_schema_valid(const std::string& doc) {
    std::string cmd =
        "python3 -c 'import json,sys,jsonschema; "
        "jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])), "
        "cls=jsonschema.Draft202012Validator)' " C10K_SOURCE_DIR "/lib/schema/tune-v1.schema.json";
    std::FILE* p = ::popen(cmd.c_str(), "w");
    ASSERT_NE(p, nullptr);
    std::fputs(doc.c_str(), p);
    EXPECT_EQ(::pclose(p), 0) << "not valid against tune-v1.schema.json:\n" << doc;
}

Tune tune(const std::vector<std::string>& extra, const StateDirectory& state,
          const std::string& duration = "3s") {
    std::vector<std::string> argv = {"tune",        "--duration", duration,     "--yes", "--json",
                                     "--state-dir", state.path,   "--interval", "500ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Tune t;
    t.raw = run_doctor(argv, 120);
    if (!t.raw.out.empty()) {
        t.doc = json::parse(t.raw.out, nullptr, false);
        expect_schema_valid(t.raw.out);
    }
    return t;
}

// One round on `pid` in sampling mode: what most journeys here check.
Tune one_sampled_round(pid_t pid, const StateDirectory& state) {
    return tune({"--pid", std::to_string(pid), "--rounds", "1", "--mode", "sample"}, state);
}

// A server that never raises its own soft limit of 128 (hard 4096) and keeps
// every connection, under 500 held connects: accept() fails with EMFILE.
Scenario fd_limited(int seconds) {
    return Scenario({"/usr/bin/prlimit", "--nofile=128:4096", C10K_TARGET_PATH, "fd-limit-soft",
                     std::to_string(seconds)},
                    {C10K_TESTKIT_PATH, "burst", "PORT", "500", std::to_string(seconds)});
}

}  // namespace

TEST(Tune, AnExhaustedFdLimitIsRaisedLiveKeptAndRolledBack) {
    REQUIRE_BPF();
    auto s = fd_limited(40);
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto t = tune({"--port", std::to_string(s.port()), "--rounds", "1"}, state);
    ASSERT_EQ(t.raw.exit_code, 0) << t.raw.err;
    const auto& r = t.doc["rounds"][0];
    EXPECT_EQ(r["verdict"], "fd-limit") << t.doc.dump(2);
    EXPECT_EQ(r["outcome"], "kept") << t.doc.dump(2);
    EXPECT_GT(r["before"]["value"].get<double>(), 0);
    EXPECT_EQ(r["after"]["value"].get<double>(), 0) << "EMFILE/s after the raise";
    EXPECT_EQ(nofile_of(s.pid()).first, 4096u) << "the soft limit went up to the hard one";
    ASSERT_TRUE(t.doc["journal"].is_string());
    // `profile rollback` undoes the whole tune.
    auto back = run_doctor({"profile", "rollback", "--state-dir", state.path});
    ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
    EXPECT_EQ(nofile_of(s.pid()).first, 128u);
}

TEST(Tune, TimeWaitOverflowBehindCloseAfterReplyRaisesTheBuckets) {
    REQUIRE_PRIVATE_NETNS();
    ScopedSysctl buckets("/proc/sys/net/ipv4/tcp_max_tw_buckets", "32");
    Scenario s(target({"close-after-reply", "40"}),
               driver({"pingpong-reconnect", "PORT", "20", "40", "50", "0", "50"}));
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto t = one_sampled_round(s.pid(), state);
    ASSERT_EQ(t.raw.exit_code, 0) << t.raw.err;
    const auto& r = t.doc["rounds"][0];
    ASSERT_EQ(r["verdict"], "time-wait-overflow") << t.doc.dump(2);
    EXPECT_EQ(r["outcome"], "kept") << t.doc.dump(2);
    EXPECT_EQ(r["changes"][0]["what"], "net.ipv4.tcp_max_tw_buckets");
    EXPECT_GE(std::stoll(sysctl("net.ipv4.tcp_max_tw_buckets")), 262144);
    EXPECT_LE(r["after"]["value"].get<double>(), r["before"]["value"].get<double>() / 2);
    auto back = run_doctor({"profile", "rollback", "--state-dir", state.path});
    ASSERT_EQ(back.exit_code, 0) << back.err;
    EXPECT_EQ(sysctl("net.ipv4.tcp_max_tw_buckets"), "32");
}

// A SYN flood (handshakes from 127.0.0.3 left half-open by the test's rule)
// against syncookies off: SYNs are dropped past 96 half-open. Cookies answer
// them instead, read on every SYN, so the drops stop within the round.
TEST(Tune, ASynFloodWithCookiesOffTurnsCookiesOn) {
    REQUIRE_PRIVATE_NETNS();
    ScopedSysctl cookies("/proc/sys/net/ipv4/tcp_syncookies", "0");
    ScopedSysctl backlog("/proc/sys/net/ipv4/tcp_max_syn_backlog", "128");
    ScopedNftRule half_open("ip saddr 127.0.0.3 tcp flags '&' syn == 0 drop");
    REQUIRE_NFT_RULE(half_open);
    Scenario s(target({"healthy", "40"}), driver({"pingpong", "PORT", "20", "40", "10"}),
               driver({"connect-rate", "PORT", "1000", "40", "127.0.0.3"}));
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto t = one_sampled_round(s.pid(), state);
    ASSERT_EQ(t.raw.exit_code, 0) << t.raw.err;
    const auto& r = t.doc["rounds"][0];
    ASSERT_EQ(r["verdict"], "syn-backlog-overflow") << t.doc.dump(2);
    EXPECT_EQ(r["changes"][0]["what"], "net.ipv4.tcp_syncookies");
    EXPECT_EQ(r["outcome"], "kept") << t.doc.dump(2);
    EXPECT_GT(r["before"]["value"].get<double>(), 100);
    EXPECT_LE(r["after"]["value"].get<double>(), r["before"]["value"].get<double>() / 2);
    EXPECT_EQ(sysctl("net.ipv4.tcp_syncookies"), "1");
    auto back = run_doctor({"profile", "rollback", "--state-dir", state.path});
    ASSERT_EQ(back.exit_code, 0) << back.err;
    EXPECT_EQ(sysctl("net.ipv4.tcp_syncookies"), "0");
    EXPECT_EQ(sysctl("net.ipv4.tcp_max_syn_backlog"), "128");
}

// somaxconn cuts the server's listen(4096) to 8; raising it acts only at the
// next listen(), which this server never makes: the overflows go on, so the
// change is undone at once and the journey says how to make it act.
TEST(Tune, AFixThatDoesNotHelpIsRolledBack) {
    REQUIRE_PRIVATE_NETNS();
    ScopedSysctl somaxconn("/proc/sys/net/core/somaxconn", "8");
    Scenario s(target({"burst-accept", "4096", "40"}),
               driver({"bursts", "PORT", "200", "300", "40"}));
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto t = one_sampled_round(s.pid(), state);
    ASSERT_EQ(t.raw.exit_code, 0) << t.raw.err;
    const auto& r = t.doc["rounds"][0];
    ASSERT_EQ(r["verdict"], "accept-queue-overflow") << t.doc.dump(2);
    EXPECT_EQ(r["changes"][0]["what"], "net.core.somaxconn");
    EXPECT_EQ(r["live"], false);
    EXPECT_EQ(r["outcome"], "rolled back") << t.doc.dump(2);
    EXPECT_NE(r["reason"].get<std::string>().find("listen()"), std::string::npos);
    EXPECT_EQ(sysctl("net.core.somaxconn"), "8") << "undone";
    EXPECT_TRUE(t.doc["journal"].is_null()) << "nothing kept";
}

TEST(Tune, ACpuBoundServerGetsTheApplicationFixAndNoChange) {
    REQUIRE_PRIVATE_NETNS();
    auto s = cpu_scenario();
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto t = tune({"--pid", std::to_string(s.pid()), "--mode", "sample"}, state);
    ASSERT_EQ(t.raw.exit_code, 0) << t.raw.err;
    const auto& r = t.doc["rounds"][0];
    // The verdict is the CPU (or, on a machine losing its CPU to other guests,
    // whatever else the judge finds): an application fix, never a change.
    EXPECT_EQ(r["outcome"], "application fix") << t.doc.dump(2);
    EXPECT_TRUE(r["changes"].empty());
    EXPECT_FALSE(t.doc["final"]["app_fix"].empty());
    EXPECT_TRUE(t.doc["journal"].is_null());
    EXPECT_TRUE(std::filesystem::is_empty(state.path) ||
                (std::filesystem::exists(state.path + "/lock") &&
                 std::distance(std::filesystem::directory_iterator(state.path),
                               std::filesystem::directory_iterator()) == 1))
        << "no journal written";
}

TEST(Tune, DryRunShowsTheChangeAndMakesNone) {
    REQUIRE_BPF();
    auto s = fd_limited(30);
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    auto r = run_doctor({"tune", "--pid", std::to_string(s.pid()), "--duration", "2s", "--dry-run",
                         "--json", "--state-dir", state.path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_schema_valid(r.out);
    auto doc = json::parse(r.out);
    EXPECT_EQ(doc["rounds"][0]["outcome"], "shown");
    EXPECT_EQ(doc["rounds"][0]["changes"][0]["to"], "4096");
    EXPECT_EQ(nofile_of(s.pid()).first, 128u);
}

TEST(Tune, WithoutATerminalItAsksForYesBeforeSpendingAWindow) {
    auto r = run_doctor({"tune", "--pid", std::to_string(::getpid())});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("give --yes"), std::string::npos) << r.err;
}

// Ctrl-C while the change is being proved, and a target that exits then: the
// round's change is undone and its journal is settled, not left pending.
void interrupt_mid_round(const std::string& what) {
    auto s = fd_limited(40);
    std::string action =
        what == "ctrl-c" ? "kill -INT $p" : "kill -KILL " + std::to_string(s.pid());
    ASSERT_TRUE(s.ok());
    StateDirectory state;
    std::string cmd = "e=$(mktemp); " + std::string(C10K_DOCTOR_PATH) + " tune --pid " +
                      std::to_string(s.pid()) + " --duration 4s --yes --json --state-dir " +
                      state.path + " 2>\"$e\" & p=$!; i=0; until grep -q 'round 1, after' \"$e\" " +
                      "|| [ $i -ge 400 ]; do i=$((i+1)); sleep 0.05; done; sleep 1; " + action +
                      "; wait $p; rc=$?; cat \"$e\" >&2; rm -f \"$e\"; exit $rc";
    auto r = run_command({"/bin/sh", "-c", cmd}, 120);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = json::parse(r.out);
    const auto& round = doc["rounds"][0];
    EXPECT_TRUE(round["outcome"] == "interrupted" || round["outcome"] == "target exited")
        << doc.dump(2);
    EXPECT_NE(round["reason"].get<std::string>().find("undone"), std::string::npos);
    EXPECT_TRUE(doc["journal"].is_null());
    auto backups = run_doctor({"profile", "backups", "--json", "--state-dir", state.path});
    ASSERT_EQ(backups.exit_code, 0) << backups.err;
    auto listed = json::parse(backups.out);  // kept: the loop below walks into it
    ASSERT_FALSE(listed["backups"].empty()) << backups.out;
    for (const auto& j : listed["backups"])
        EXPECT_EQ(j["state"], "rolled-back") << j.dump();
    if (what == "ctrl-c") {
        EXPECT_EQ(nofile_of(s.pid()).first, 128u) << "the raise was undone";
    }
}

TEST(Tune, CtrlCMidRoundUndoesTheRoundsChange) {
    REQUIRE_BPF();
    interrupt_mid_round("ctrl-c");
}

TEST(Tune, ATargetThatExitsMidRoundLeavesNothingPending) {
    REQUIRE_BPF();
    interrupt_mid_round("target exits");
}
