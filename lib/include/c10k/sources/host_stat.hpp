// SPDX-License-Identifier: GPL-2.0-or-later
// Host-wide scheduler and memory figures: /proc/stat, /proc/loadavg,
// /proc/pressure/cpu, /proc/meminfo.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct CpuStat {
    uint64_t context_switches = 0;  // since boot
    uint64_t busy_ticks = 0;        // user+nice+system+irq+softirq+steal, all CPUs
    uint64_t steal_ticks = 0;       // time a hypervisor ran something else on our CPUs
    uint64_t total_ticks = 0;       // busy + idle + iowait
    uint32_t cpus = 0;
    uint32_t procs_running = 0;
    uint32_t procs_blocked = 0;
};

struct LoadAvg {
    double load1 = 0;
    uint32_t threads_total = 0;  // every task (thread) on the host
};

struct CpuPressure {
    double some_avg10 = 0;  // % of time some runnable task waited for a CPU
    double some_avg60 = 0;
};

struct MemInfo {
    uint64_t total_bytes = 0;
    uint64_t available_bytes = 0;
};

Result<CpuStat> parse_proc_stat(std::string_view text);
Result<LoadAvg> parse_loadavg(std::string_view text);
Result<CpuPressure> parse_cpu_pressure(std::string_view text);
Result<MemInfo> parse_meminfo(std::string_view text);

Result<CpuStat> read_cpu_stat(const SysRoot& root);
Result<LoadAvg> read_loadavg(const SysRoot& root);
Result<CpuPressure> read_cpu_pressure(const SysRoot& root);
Result<MemInfo> read_meminfo(const SysRoot& root);

}  // namespace c10k
