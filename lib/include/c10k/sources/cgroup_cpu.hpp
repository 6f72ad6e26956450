// SPDX-License-Identifier: GPL-2.0-or-later
// The CPU limit a process's cgroups put on it (CFS bandwidth control: a quota
// of CPU time per period, what `docker --cpus`, Kubernetes CPU limits and
// systemd's CPUQuota= set) and how often the group was throttled for it.
// cgroup v2 (cpu.max, cpu.stat) and v1 (cpu.cfs_quota_us, cpu.cfs_period_us).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct CpuThrottling {
    uint64_t periods = 0;    // nr_periods: periods in which the group had runnable work
    uint64_t throttled = 0;  // nr_throttled: periods it used its quota up before the end
    uint64_t throttled_ns = 0;
};

struct CgroupCpuLimit {
    std::string cgroup;         // the group whose limit binds, as /proc/PID/cgroup names it
    std::filesystem::path dir;  // its directory in the cgroup filesystem
    double limit_cores = 0;     // quota / period; 0: no limit anywhere up the tree
    CpuThrottling stat;         // of that group
};

// "40000 100000" -> 0.4 cores; "max 100000" -> nullopt (no limit). v2 cpu.max.
std::optional<double> parse_cpu_max(std::string_view text);
// v1: quota -1 means no limit.
std::optional<double> parse_cfs_quota(std::string_view quota, std::string_view period);
// cpu.stat of either version: v2 gives throttled_usec, v1 throttled_time (ns).
CpuThrottling parse_cpu_stat(std::string_view text);

// The tightest limit between the process's cgroup and the root of its cpu
// hierarchy. Ok with limit_cores 0 when there is none; an error only when
// /proc/PID/cgroup cannot be read.
Result<CgroupCpuLimit> read_cgroup_cpu_limit(const SysRoot& root, pid_t pid);
// The throttling counters of the group whose limit binds, read again.
std::optional<CpuThrottling> read_cpu_throttling(const CgroupCpuLimit& limit);

}  // namespace c10k
