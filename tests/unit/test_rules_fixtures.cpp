// SPDX-License-Identifier: GPL-2.0-or-later
// Each fixture host differs from `healthy` in one limit; the rules must name it.
#include <gtest/gtest.h>

#include "check_helpers.hpp"

using namespace c10k;
using namespace c10k::test;

TEST(HealthyHost, EveryJudgedFindingIsOk) {
    auto root = fixture_root("healthy");
    auto fs = check_fixture(root);
    ASSERT_FALSE(fs.empty());
    for (const auto& f : fs) {
        EXPECT_NE(f.severity, Severity::warn) << f.id << ": " << f.title;
        EXPECT_NE(f.severity, Severity::crit) << f.id << ": " << f.title;
    }
    EXPECT_EQ(overall_severity(fs), Severity::ok);
    // Without an interval, rates are UNKNOWN rather than a guess from since-boot totals.
    auto* overflow = find(fs, "backlog.listen-overflows");
    ASSERT_TRUE(overflow);
    EXPECT_EQ(overflow->severity, Severity::unknown);
    EXPECT_EQ(find(fs, "conntrack.table")->severity, Severity::ok);
    // A limit with room needs no fix: none is shown, whatever the check would advise.
    for (const auto& f : fs) {
        if (f.severity == Severity::ok) {
            EXPECT_TRUE(f.fix.empty()) << f.id << ": " << f.fix.front();
        }
    }
}

TEST(FdLimit1024, ShellLimitWarnsAtBaselineAndIsCritForAnExplicitTarget) {
    auto root = fixture_root("fd-limit-1024");
    auto baseline = check_fixture(root);
    auto* f = find(baseline, "fd.shell-nofile");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::warn) << f->title;
    EXPECT_EQ(evidence(*f, "nofile_soft"), 1024);
    EXPECT_EQ(evidence(*f, "nofile_hard"), 4096);

    auto sized = check_fixture(root, {50000, true});
    f = find(sized, "fd.shell-nofile");
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_EQ(evidence(*f, "fds_needed"), 55000);
    EXPECT_FALSE(f->fix.empty());
    // nr_open 4096 also caps any raise of the hard limit.
    EXPECT_EQ(find(sized, "fd.nr-open")->severity, Severity::crit);
}

// Run by a timer or an agent (no terminal), our own 1024 is nobody's limit: the
// one systemd gives services is judged instead, and says where it came from.
TEST(FdLimit1024, WithoutATerminalTheServicesLimitIsJudgedNotOurs) {
    auto root = fixture_root("fd-limit-1024");
    root.write("run/systemd/system/.keep", "");
    auto fs = check_fixture(root, {}, std::nullopt, /*interactive=*/false);
    auto* f = find(fs, "fd.shell-nofile");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::ok) << f->title;
    EXPECT_EQ(evidence(*f, "nofile_hard"), 524288) << "systemd's built-in default";
    EXPECT_NE(f->title.find("built-in"), std::string::npos) << f->title;
    // A drop-in that lowers it, against an explicit target, is CRIT and named.
    root.write("etc/systemd/system.conf.d/50-nofile.conf",
               "[Manager]\nDefaultLimitNOFILE=1024:4096\n");
    fs = check_fixture(root, {50000, true}, std::nullopt, false);
    f = find(fs, "fd.shell-nofile");
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_NE(f->title.find("50-nofile.conf"), std::string::npos) << f->title;
    // No systemd at all: not judged, and it says why.
    auto bare = fixture_root("fd-limit-1024");
    auto bare_fs = check_fixture(bare, {}, std::nullopt, false);
    f = find(bare_fs, "fd.shell-nofile");
    EXPECT_EQ(f->severity, Severity::ok);
    EXPECT_NE(f->title.find("not judged"), std::string::npos) << f->title;
}

TEST(ServiceLimits, NofileValues) {
    EXPECT_EQ(parse_nofile_value("1024:524288")->hard, 524288u);
    EXPECT_EQ(parse_nofile_value("65536")->soft, 65536u);
    EXPECT_EQ(parse_nofile_value("infinity")->hard, kUnlimited);
    EXPECT_FALSE(parse_nofile_value("4096:1024")) << "soft above hard";
    EXPECT_FALSE(parse_nofile_value("lots"));
}

TEST(FdLimit1024, SmallTargetFits) {
    auto root = fixture_root("fd-limit-1024");
    auto fs = check_fixture(root, {500, true});
    EXPECT_EQ(find(fs, "fd.shell-nofile")->severity, Severity::ok);
    EXPECT_EQ(find(fs, "fd.nr-open")->severity, Severity::ok);
}

TEST(ProcessFds, NearlyFullSoftLimitIsCritWithOrigin) {
    auto root = fixture_root("healthy");
    root.add_process({.pid = 777,
                      .comm = "server",
                      .soft = 256,
                      .hard = 256,
                      .fds = 240,
                      .unit = "server.service",
                      .unit_limit = "256"});
    auto fs = check_fixture(root, {}, 777);
    auto* f = find(fs, "fd.process-nofile");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::crit) << f->title;
    EXPECT_EQ(f->subject, "pid 777 (server)");
    EXPECT_EQ(evidence(*f, "fds_open"), 240);
    EXPECT_NE(f->why.find("LimitNOFILE=256"), std::string::npos) << f->why;
    ASSERT_FALSE(f->fix.empty());
    EXPECT_NE(f->fix[0].find("prlimit --pid 777"), std::string::npos);

    root.add_process({.pid = 778, .comm = "calm", .soft = 1024, .hard = 1024, .fds = 100});
    auto calm = check_fixture(root, {}, 778);
    EXPECT_EQ(find(calm, "fd.process-nofile")->severity, Severity::ok);
}

// nginx's workers set their own limit from nginx.conf at every start and
// reload: the fix names that setting too, not only prlimit and the unit.
TEST(ProcessFds, AKnownServerGetsItsOwnSetting) {
    auto root = fixture_root("healthy");
    root.add_process({.pid = 780, .comm = "nginx", .soft = 128, .hard = 128, .fds = 126});
    auto fs = check_fixture(root, {}, 780);
    auto* f = find(fs, "fd.process-nofile");
    ASSERT_TRUE(f);
    ASSERT_GE(f->fix.size(), 3u);
    EXPECT_EQ(f->fix[1].rfind("nginx: worker_rlimit_nofile ", 0), 0u) << f->fix[1];
    root.add_process({.pid = 781, .comm = "myserver", .soft = 128, .hard = 128, .fds = 126});
    auto other = check_fixture(root, {}, 781);
    EXPECT_EQ(find(other, "fd.process-nofile")->fix.size(), 2u);
}

TEST(ProcessFds, ThreeQuartersIsWarn) {
    auto root = fixture_root("healthy");
    root.add_process({.pid = 779, .comm = "w", .soft = 100, .hard = 100, .fds = 80});
    auto fs = check_fixture(root, {}, 779);
    EXPECT_EQ(find(fs, "fd.process-nofile")->severity, Severity::warn);
}

TEST(Somaxconn128, ClampIsReportedWithKernelContext) {
    auto root = fixture_root("somaxconn-128");
    auto fs = check_fixture(root);
    auto* f = find(fs, "backlog.somaxconn");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::warn);
    EXPECT_EQ(evidence(*f, "somaxconn"), 128);
    // The fixture's kernel is 6.1: 128 is not its default.
    EXPECT_NE(f->why.find("since Linux 5.4"), std::string::npos) << f->why;
    auto sized = check_fixture(root, {10000, true});
    EXPECT_EQ(find(sized, "backlog.somaxconn")->severity, Severity::crit);
}

TEST(NarrowPorts, RangeOf1000PortsWarns) {
    auto root = fixture_root("narrow-ports");
    auto fs = check_fixture(root);
    auto* f = find(fs, "ports.range");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::warn);
    EXPECT_EQ(evidence(*f, "port_range_size"), 1000);
    ASSERT_FALSE(f->fix.empty());
    EXPECT_NE(f->fix[0].find("ip_local_port_range"), std::string::npos);
}

TEST(NarrowPorts, ReservedPortsShrinkTheRange) {
    auto root = fixture_root("narrow-ports");
    root.write("proc/sys/net/ipv4/ip_local_reserved_ports", "60000-60099,60500,1-10\n");
    auto fs = check_fixture(root);
    EXPECT_EQ(evidence(*find(fs, "ports.range"), "port_range_size"), 899);
    EXPECT_EQ(evidence(*find(fs, "ports.range"), "reserved_ports"), 101);
}

TEST(TcpMemPressure, UsageBeyondPressureIsCrit) {
    auto root = fixture_root("tcp-mem-pressure");
    auto fs = check_fixture(root);
    auto* f = find(fs, "buffers.tcp-mem");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::warn) << f->title;  // 360000 of 383867 pages: 94% of pressure
    root.write("proc/net/sockstat", "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 400000\n");
    auto over = check_fixture(root);
    EXPECT_EQ(find(over, "buffers.tcp-mem")->severity, Severity::crit);
    EXPECT_EQ(evidence(*find(over, "buffers.tcp-mem"), "tcp_mem_used_bytes"), 400000.0 * 4096);
}

TEST(ConntrackFull, NearlyFullTableIsCrit) {
    auto root = fixture_root("conntrack-full");
    auto fs = check_fixture(root);
    auto* f = find(fs, "conntrack.table");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::crit);
    EXPECT_EQ(evidence(*f, "conntrack_entries"), 250000);
    root.write("proc/sys/net/netfilter/nf_conntrack_count", "200000\n");
    auto fewer = check_fixture(root);
    EXPECT_EQ(find(fewer, "conntrack.table")->severity, Severity::warn);
    auto sized = check_fixture(root, {1000000, true});
    EXPECT_EQ(find(sized, "conntrack.table")->severity, Severity::crit);
}

TEST(UnreadableSources, BecomeUnknownWithTheReason) {
    auto root = fixture_root("healthy");
    std::filesystem::remove(root.dir() / "proc/sys/net/core/somaxconn");
    std::filesystem::remove(root.dir() / "proc/pressure/cpu");
    auto fs = check_fixture(root);
    auto* f = find(fs, "backlog.somaxconn");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::unknown);
    EXPECT_NE(f->why.find("somaxconn"), std::string::npos);
    EXPECT_EQ(find(fs, "sched.run-queue")->severity, Severity::unknown);
    // Unknowns do not hide the verdict of the rest.
    EXPECT_EQ(overall_severity(fs), Severity::ok);
}

TEST(Capacity, MillionConnectionsOnSmallRamIsFlagged) {
    auto root = fixture_root("healthy");
    root.write("proc/meminfo", "MemTotal:        4000000 kB\nMemAvailable:    3000000 kB\n");
    auto fs = check_fixture(root, {1000000, true});
    auto* f = find(fs, "buffers.capacity");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, Severity::crit) << f->title;
    EXPECT_EQ(evidence(*f, "idle_connection_bytes"), 1000000.0 * 4096);
}

// A fix that doubles a host's value where the value is the type's maximum
// (fs.file-max is LONG_MAX on current kernels) holds there instead of wrapping.
TEST(Fixes, AScaledValueHoldsAtTheTypesMaximum) {
    EXPECT_EQ(scaled(1000, 2), 2000);
    EXPECT_EQ(scaled(INT64_MAX, 2), INT64_MAX);
    EXPECT_EQ(scaled(INT64_MAX / 4 + 1, 4), INT64_MAX);
    EXPECT_EQ(scaled(INT64_MAX / 4, 4), INT64_MAX / 4 * 4);
}
