// SPDX-License-Identifier: GPL-2.0-or-later
// tune's pure parts: which change answers which verdict and how it is sized,
// what is measured before and after, and when a change is kept.
#include <gtest/gtest.h>

#include <cerrno>

#include "c10k/tune/tune.hpp"

using namespace c10k;
using namespace c10k::tune;

namespace {

Finding top(Bottleneck b) {
    Finding f(b);
    f.severity = Severity::crit;
    f.fix = {"the application's fix"};
    return f;
}

ProbeEvidence with_rates(std::map<std::string, double> rates) {
    ProbeEvidence e;
    e.pid = 7;
    e.sampled.counter_rates = std::move(rates);
    return e;
}

Throughput work(double per_s, double se = 0) {
    return {"accepts/s", per_s, se};
}

}  // namespace

TEST(TunePlan, FdLimitRaisesTheSoftLimitToTheHardOne) {
    CurrentLimits now;
    now.nofile = NofileLimit{1024, 524288};
    auto p = plan_fix(top(Bottleneck::fd_limit), ProbeEvidence{}, now);
    ASSERT_TRUE(p.profile);
    EXPECT_EQ(p.profile->nofile, 524288u);
    EXPECT_TRUE(p.profile->entries.empty());
    ASSERT_EQ(p.changes.size(), 1u);
    EXPECT_EQ(p.changes[0].from, "1024");
}

TEST(TunePlan, FdLimitAtTheHardLimitAsksForFourTimesAndNeverPastNrOpen) {
    CurrentLimits now;
    now.nofile = NofileLimit{20000, 20000};
    EXPECT_EQ(plan_fix(top(Bottleneck::fd_limit), ProbeEvidence{}, now).profile->nofile, 80000u);
    now.nofile = NofileLimit{1u << 20, 1u << 20};
    auto p = plan_fix(top(Bottleneck::fd_limit), ProbeEvidence{}, now);
    EXPECT_FALSE(p.profile) << "no process may hold more than fs.nr_open";
    EXPECT_FALSE(p.why.empty());
}

TEST(TunePlan, TimeWaitBucketsHoldSixtySecondsOfClosesTwice) {
    CurrentLimits now;
    now.sysctls["net.ipv4.tcp_max_tw_buckets"] = "60000";
    // At the cap: 60000 / 60 s = 1000 closes/s, plus 9000 overflows/s = 10000/s;
    // 10000/s x 60 s x 2 = 1.2 M.
    auto e = with_rates({{"TcpExt.TCPTimeWaitOverflow", 9000}});
    auto p = plan_fix(top(Bottleneck::time_wait_overflow), e, now);
    ASSERT_TRUE(p.profile);
    EXPECT_EQ(p.profile->entries[0].value, "1200000");
    // A small load still gets at least the kernel's usual 256 Ki.
    now.sysctls["net.ipv4.tcp_max_tw_buckets"] = "32";
    EXPECT_EQ(plan_fix(top(Bottleneck::time_wait_overflow), with_rates({}), now)
                  .profile->entries[0]
                  .value,
              "262144");
}

TEST(TunePlan, SomaxconnOnlyWhenItCutTheBacklogAndSaidNotLive) {
    CurrentLimits now;
    now.sysctls["net.core.somaxconn"] = "128";
    ProbeEvidence e;
    ListenerSample l;
    l.backlog = 128;  // clamped
    e.sampled.listeners = {l};
    auto p = plan_fix(top(Bottleneck::accept_queue_overflow), e, now);
    ASSERT_TRUE(p.profile);
    EXPECT_EQ(p.profile->entries[0].value, "4096");
    EXPECT_FALSE(p.live);
    EXPECT_NE(p.to_make_it_act.find("listen()"), std::string::npos);
    e.sampled.listeners[0].backlog = 64;  // the application's own, below somaxconn
    auto q = plan_fix(top(Bottleneck::accept_queue_overflow), e, now);
    EXPECT_FALSE(q.profile);
    EXPECT_EQ(q.app_fix, std::vector<std::string>{"the application's fix"});
}

// A flood fills any SYN queue in seconds: with cookies off they come first,
// beside a bigger queue; with cookies on, the queue is the listen backlog.
TEST(TunePlan, SynDropsTurnCookiesOnAndAFullQueueWithCookiesIsTheApplications) {
    CurrentLimits now;
    now.sysctls["net.ipv4.tcp_syncookies"] = "0";
    now.sysctls["net.ipv4.tcp_max_syn_backlog"] = "128";
    auto p = plan_fix(top(Bottleneck::syn_backlog_overflow), ProbeEvidence{}, now);
    ASSERT_TRUE(p.profile);
    ASSERT_EQ(p.profile->entries.size(), 2u);
    EXPECT_EQ(p.profile->entries[0].key, "net.ipv4.tcp_syncookies");
    EXPECT_EQ(p.profile->entries[0].value, "1");
    EXPECT_EQ(p.profile->entries[1].value, "4096");
    EXPECT_TRUE(p.live);
    now.sysctls["net.ipv4.tcp_syncookies"] = "1";
    auto cookies = plan_fix(top(Bottleneck::syn_backlog_overflow), ProbeEvidence{}, now);
    EXPECT_FALSE(cookies.profile);
    EXPECT_FALSE(cookies.live);
    EXPECT_NE(cookies.to_make_it_act.find("listen()"), std::string::npos);
}

// The table's size doubles, live; without nf_conntrack there is nothing to size.
TEST(TunePlan, AFullConntrackTableDoublesAndSaysWhenItCannotBeRead) {
    CurrentLimits now;
    now.sysctls["net.netfilter.nf_conntrack_max"] = "65536";
    ProbeEvidence e;
    e.sampled.conntrack_entries = 65536;
    auto p = plan_fix(top(Bottleneck::conntrack_full), e, now);
    ASSERT_TRUE(p.profile);
    EXPECT_EQ(p.profile->entries[0].key, "net.netfilter.nf_conntrack_max");
    EXPECT_EQ(p.profile->entries[0].value, "131072");
    EXPECT_TRUE(p.live);
    auto absent = plan_fix(top(Bottleneck::conntrack_full), e, CurrentLimits{});
    EXPECT_FALSE(absent.profile);
    EXPECT_NE(absent.why.find("nf_conntrack_max"), std::string::npos);
}

TEST(TunePlan, ApplicationBottlenecksGetNoKernelChange) {
    for (auto b :
         {Bottleneck::cpu_saturated, Bottleneck::lock_contention, Bottleneck::off_cpu_blocking,
          Bottleneck::app_connection_limit, Bottleneck::context_switch_storm}) {
        auto p = plan_fix(top(b), ProbeEvidence{}, CurrentLimits{});
        EXPECT_FALSE(p.profile) << to_string(b);
        EXPECT_FALSE(p.app_fix.empty());
    }
}

TEST(TunePlan, PortRangeWidensOnceThenItIsTheApplications) {
    CurrentLimits now;
    now.sysctls["net.ipv4.ip_local_port_range"] = "32768\t60999";
    auto p = plan_fix(top(Bottleneck::ephemeral_port_exhaustion), ProbeEvidence{}, now);
    ASSERT_TRUE(p.profile);
    EXPECT_EQ(p.profile->entries[0].value, "1024 65535");
    EXPECT_EQ(p.changes[0].from, "32768 60999");
    now.sysctls["net.ipv4.ip_local_port_range"] = "1024 65535";
    EXPECT_FALSE(
        plan_fix(top(Bottleneck::ephemeral_port_exhaustion), ProbeEvidence{}, now).profile);
}

TEST(TuneSymptom, FdLimitCountsEmfileWhenTracedAndTheLimitsShareWhenNot) {
    ProbeEvidence e;
    e.bpf = BpfEvidence{};
    e.bpf->syscall_seconds = 2;
    SyscallStat accept;
    accept.name = "accept4";
    accept.errnos = {{EMFILE, 300}, {EAGAIN, 50}};
    e.bpf->syscalls = {accept};
    auto s = symptom_of(Bottleneck::fd_limit, e);
    ASSERT_TRUE(s);
    EXPECT_DOUBLE_EQ(s->value, 150);  // EMFILE only, per traced second
    ProbeEvidence sampled;
    sampled.sampled.nofile_soft = 128;
    sampled.sampled.fds_max = 128;
    EXPECT_DOUBLE_EQ(symptom_of(Bottleneck::fd_limit, sampled)->value, 100);
}

TEST(TuneThroughput, AcceptsWhenTheServerAcceptsPerRequestAndTheSameMeasureAfter) {
    ProbeEvidence e;
    e.sampled.throughput = {{1, 400, 9000}, {1, 420, 9100}, {1, 380, 8900}};
    auto t = throughput_of(e);
    EXPECT_EQ(t.what, "accepts/s");
    EXPECT_DOUBLE_EQ(t.per_s, 400);
    EXPECT_NEAR(t.standard_error, 20 / std::sqrt(3.0), 1e-9);
    ProbeEvidence idle;
    idle.sampled.throughput = {{1, 0, 100}, {1, 0, 100}};
    EXPECT_EQ(throughput_of(idle).what, "segments out/s");
    EXPECT_EQ(throughput_of(idle, "accepts/s").what, "accepts/s") << "compared like for like";
}

TEST(TuneDecide, KeptWhenTheSymptomHalvesAndTheWorkHolds) {
    tune::Symptom before{"x", 100, units::per_second}, after{"x", 50, units::per_second};
    EXPECT_TRUE(decide(before, after, work(1000), work(1000)).keep);
    after.value = 51;
    EXPECT_FALSE(decide(before, after, work(1000), work(1000)).keep) << "less than half";
}

TEST(TuneDecide, AFallInWorkWithinTheNoiseIsNotHeldAgainstIt) {
    tune::Symptom before{"x", 100, units::per_second}, after{"x", 0, units::per_second};
    // 4% down with steady intervals: under the 5% floor.
    EXPECT_TRUE(decide(before, after, work(1000), work(960)).keep);
    // 10% down, steady: beyond the noise.
    EXPECT_FALSE(decide(before, after, work(1000), work(900)).keep);
    // 10% down but the windows' own spread is wide (SE 40 each: 2 x 57 = 113).
    EXPECT_TRUE(decide(before, after, work(1000, 40), work(900, 40)).keep);
}

TEST(TuneDecide, NothingMeasuredOrNothingToLowerIsNotKept) {
    tune::Symptom zero{"x", 0, units::per_second};
    EXPECT_FALSE(decide(std::nullopt, zero, work(1), work(1)).keep);
    EXPECT_FALSE(decide(zero, zero, work(1), work(1)).keep);
}
