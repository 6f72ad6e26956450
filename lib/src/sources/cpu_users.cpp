// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/cpu_users.hpp"

#include <dirent.h>

#include <algorithm>
#include <map>

#include "c10k/sources/process.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

std::vector<ProcessTicks> read_process_ticks(const std::string& proc) {
    std::vector<ProcessTicks> out;
    DIR* dir = ::opendir(proc.c_str());
    if (!dir) return out;
    while (dirent* ent = ::readdir(dir)) {
        auto pid = parse_uint(ent->d_name);
        if (!pid || *pid == 0) continue;
        auto stat = read_text(proc + "/" + ent->d_name + "/stat");
        if (!stat) continue;
        auto ticks = user_sys_ticks(*stat);
        if (!ticks) continue;
        // Field 4, the parent, follows the state after the comm's closing ')'.
        pid_t ppid = 0;
        if (auto close = stat->rfind(')'); close != std::string::npos) {
            auto fields = split_ws(std::string_view(*stat).substr(close + 1));
            if (fields.size() > 1)
                if (auto v = parse_uint(fields[1])) ppid = static_cast<pid_t>(*v);
        }
        out.push_back(
            {static_cast<pid_t>(*pid), ppid, stat_comm(*stat), ticks->first + ticks->second});
    }
    ::closedir(dir);
    std::sort(out.begin(), out.end(),
              [](const ProcessTicks& a, const ProcessTicks& b) { return a.pid < b.pid; });
    return out;
}

std::vector<CpuUser> top_cpu_users(const std::vector<ProcessTicks>& before,
                                   const std::vector<ProcessTicks>& after, double seconds,
                                   double ticks_per_second, size_t n) {
    std::vector<CpuUser> out;
    if (seconds <= 0 || ticks_per_second <= 0) return out;
    std::map<std::string, CpuUser> by_comm;
    auto b = before.begin();
    for (const auto& p : after) {
        while (b != before.end() && b->pid < p.pid)
            ++b;
        uint64_t start = b != before.end() && b->pid == p.pid && b->ticks <= p.ticks ? b->ticks : 0;
        if (p.ticks == start) continue;
        auto& u = by_comm[p.comm];
        u.comm = p.comm;
        ++u.processes;
        u.cores += static_cast<double>(p.ticks - start) / ticks_per_second / seconds;
    }
    for (auto& [_, u] : by_comm)
        out.push_back(std::move(u));
    std::sort(out.begin(), out.end(),
              [](const CpuUser& x, const CpuUser& y) { return x.cores > y.cores; });
    if (out.size() > n) out.resize(n);
    return out;
}

}  // namespace c10k
