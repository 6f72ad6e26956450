// SPDX-License-Identifier: GPL-2.0-or-later
// Rules that need two samples: rates are the alarm, since-boot totals only context.
#include <gtest/gtest.h>

#include "check_helpers.hpp"

using namespace c10k;
using namespace c10k::test;

namespace {

struct TwoSamples {
    Snapshot now;
    Sample before;
};

// A healthy fixture snapshot, with the earlier sample one second before it.
TwoSamples healthy_pair(const FixtureRoot& root) {
    auto c = c10k::test::collect_fixture(root);
    EXPECT_TRUE(c);
    TwoSamples t{c->now, c->now.sample};
    t.before.taken = t.now.sample.taken - std::chrono::seconds(1);
    return t;
}

void bump(Sample& s, const std::string& key, int64_t by) {
    s.net->values[key] += by;
}

}  // namespace

TEST(Rates, ListenOverflowRateIsCritButOldTotalsAreNot) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    t.before.net->values["TcpExt.ListenOverflows"] = 5000;      // large since-boot total...
    t.now.sample.net->values["TcpExt.ListenOverflows"] = 5000;  // ...that did not move
    auto quiet = run_all_checks(CheckInput(t.now, &t.before, {}));
    EXPECT_EQ(find(quiet, "backlog.listen-overflows")->severity, Severity::ok);

    bump(t.now.sample, "TcpExt.ListenOverflows", 30);
    auto busy = run_all_checks(CheckInput(t.now, &t.before, {}));
    auto* f = find(busy, "backlog.listen-overflows");
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_NEAR(*evidence(*f, "listen_overflows_per_second"), 30, 0.01);
    EXPECT_EQ(evidence(*f, "listen_overflows_total"), 5030);
}

TEST(Rates, SynQueueDropsAndCookies) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    bump(t.now.sample, "TcpExt.TCPReqQFullDoCookies", 10);
    EXPECT_EQ(find(run_all_checks(CheckInput(t.now, &t.before, {})), "backlog.syn-queue")->severity,
              Severity::warn);
    bump(t.now.sample, "TcpExt.TCPReqQFullDrop", 1);
    EXPECT_EQ(find(run_all_checks(CheckInput(t.now, &t.before, {})), "backlog.syn-queue")->severity,
              Severity::crit);
}

TEST(Rates, TimeWaitOverflowIsCrit) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    bump(t.now.sample, "TcpExt.TCPTimeWaitOverflow", 100);
    auto fs = run_all_checks(CheckInput(t.now, &t.before, {}));
    auto* f = find(fs, "timewait.buckets");
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_NEAR(*evidence(*f, "time_wait_overflow_per_second"), 100, 0.01);
}

TEST(Rates, ChurnThatWouldOverflowBucketsWarns) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    bump(t.now.sample, "Tcp.ActiveOpens", 5000);  // 5000/s x 60 s = 300000 > 262144 buckets
    auto fs = run_all_checks(CheckInput(t.now, &t.before, {}));
    auto* f = find(fs, "timewait.buckets");
    EXPECT_EQ(f->severity, Severity::warn) << f->title;
}

TEST(Rates, ContextSwitchStormPerCpu) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    uint32_t cpus = t.now.sample.cpu->cpus;
    t.now.sample.cpu->context_switches = t.before.cpu->context_switches + 150000ull * cpus;
    auto fs = run_all_checks(CheckInput(t.now, &t.before, {}));
    auto* f = find(fs, "sched.context-switches");
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_NEAR(*evidence(*f, "context_switches_per_cpu_per_second"), 150000, 1);
    t.now.sample.cpu->context_switches = t.before.cpu->context_switches + 40000ull * cpus;
    EXPECT_EQ(
        find(run_all_checks(CheckInput(t.now, &t.before, {})), "sched.context-switches")->severity,
        Severity::warn);
}

TEST(Rates, TcpMemoryPressureEventsAreCrit) {
    auto root = fixture_root("healthy");
    auto t = healthy_pair(root);
    bump(t.now.sample, "TcpExt.TCPMemoryPressures", 2);
    EXPECT_EQ(find(run_all_checks(CheckInput(t.now, &t.before, {})), "buffers.tcp-mem")->severity,
              Severity::crit);
}

TEST(Rates, ThreadPerConnectionWithStarvedRunQueueIsCrit) {
    auto root = fixture_root("healthy");
    root.add_process(
        {.pid = 900, .comm = "tpc", .soft = 65536, .hard = 65536, .fds = 10, .threads = 2});
    auto c = collect_fixture(root, 900);
    ASSERT_TRUE(c);
    Snapshot now = c->now;
    // 2000 threads for 2000 connections, switching hard and waiting for CPUs.
    now.process->threads->threads = 2000;
    SocketSummaryBuilder b;
    SocketSummary socks = std::move(b).finish(32768, 60999);
    socks.owned_connections = 2000;
    now.sockets = socks;
    Sample before = now.sample;
    before.taken = now.sample.taken - std::chrono::seconds(1);
    ThreadStats a{2000, 0, 0, 0, 0};
    ThreadStats z{2000, 60000, 30000, 2'000'000'000, 5'000'000'000};
    before.threads = Result<ThreadStats>(a);
    now.sample.threads = Result<ThreadStats>(z);
    auto fs = run_all_checks(CheckInput(now, &before, {}));
    auto* f = find(fs, "sched.process");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::crit) << f->title;
    EXPECT_NE(f->title.find("thread per connection"), std::string::npos);
    EXPECT_NEAR(*evidence(*f, "runqueue_wait_ratio"), 5.0, 0.01);
    EXPECT_NEAR(*evidence(*f, "involuntary_switches_per_second"), 30000, 1);
}
