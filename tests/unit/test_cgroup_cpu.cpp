// SPDX-License-Identifier: GPL-2.0-or-later
// The cgroup CPU limit source: both cgroup versions, from fixture trees.
#include <gtest/gtest.h>

#include "c10k/sources/cgroup_cpu.hpp"
#include "fixture_root.hpp"

using namespace c10k;

TEST(CgroupCpu, ParsesV2AndV1LimitsAndStat) {
    EXPECT_DOUBLE_EQ(*parse_cpu_max("40000 100000\n"), 0.4);
    EXPECT_DOUBLE_EQ(*parse_cpu_max("250000 100000"), 2.5);
    EXPECT_FALSE(parse_cpu_max("max 100000\n"));
    EXPECT_FALSE(parse_cpu_max("garbage"));
    EXPECT_FALSE(parse_cpu_max("10 0"));
    EXPECT_FALSE(parse_cpu_max("0 100000"));  // a zero limit is no limit (fuzzer: 0 usable cores)
    EXPECT_DOUBLE_EQ(*parse_cfs_quota("50000\n", "100000\n"), 0.5);
    EXPECT_FALSE(parse_cfs_quota("-1\n", "100000\n"));

    auto v2 =
        parse_cpu_stat("usage_usec 9\nnr_periods 200\nnr_throttled 150\nthrottled_usec 7000\n");
    EXPECT_EQ(v2.periods, 200u);
    EXPECT_EQ(v2.throttled, 150u);
    EXPECT_EQ(v2.throttled_ns, 7'000'000u);
    auto v1 = parse_cpu_stat("nr_periods 10\nnr_throttled 2\nthrottled_time 123456\n");
    EXPECT_EQ(v1.throttled, 2u);
    EXPECT_EQ(v1.throttled_ns, 123456u);
}

// cgroup v2 (a container's view or a systemd host): the tightest limit on the
// way up binds, and its group's counters are the ones read.
TEST(CgroupCpu, V2TightestLimitUpTheTreeBinds) {
    test::FixtureRoot fx("healthy");
    fx.write("proc/700/cgroup", "0::/kubepods/pod1/app\n");
    fx.write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    fx.write("sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
    fx.write("sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n");
    fx.write("sys/fs/cgroup/kubepods/pod1/cpu.stat", "nr_periods 100\nnr_throttled 80\n");
    fx.write("sys/fs/cgroup/kubepods/pod1/app/cpu.max", "150000 100000\n");
    auto l = read_cgroup_cpu_limit(fx.root(), 700);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_DOUBLE_EQ(l->limit_cores, 0.5);
    EXPECT_EQ(l->cgroup, "/kubepods/pod1");
    EXPECT_EQ(l->stat.throttled, 80u);
}

TEST(CgroupCpu, V1CpuControllerAndNoLimitAtAll) {
    test::FixtureRoot fx("healthy");
    fx.write("proc/701/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n");
    fx.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
    fx.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    fx.write("sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us", "30000\n");
    fx.write("sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
    fx.write("sys/fs/cgroup/cpu/docker/abc/cpu.stat",
             "nr_periods 5\nnr_throttled 4\nthrottled_time 9\n");
    auto l = read_cgroup_cpu_limit(fx.root(), 701);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_DOUBLE_EQ(l->limit_cores, 0.3);
    EXPECT_EQ(l->cgroup, "/docker/abc");
    EXPECT_EQ(l->stat.periods, 5u);

    fx.write("proc/702/cgroup", "3:cpu,cpuacct:/\n");
    auto none = read_cgroup_cpu_limit(fx.root(), 702);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->limit_cores, 0);
    EXPECT_FALSE(read_cgroup_cpu_limit(fx.root(), 703));  // no such process
}
