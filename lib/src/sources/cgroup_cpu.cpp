// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/cgroup_cpu.hpp"

#include <filesystem>
#include <vector>

#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

std::optional<double> parse_cpu_max(std::string_view text) {
    auto f = split_ws(text);
    if (f.size() < 2 || f[0] == "max") return std::nullopt;
    auto quota = parse_uint(f[0]);
    auto period = parse_uint(f[1]);
    if (!quota || !period || *quota == 0 || *period == 0) return std::nullopt;
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> parse_cfs_quota(std::string_view quota, std::string_view period) {
    auto q = parse_int(trim(quota));
    auto p = parse_uint(trim(period));
    if (!q || *q <= 0 || !p || *p == 0) return std::nullopt;
    return static_cast<double>(*q) / static_cast<double>(*p);
}

CpuThrottling parse_cpu_stat(std::string_view text) {
    CpuThrottling t;
    for (auto line : split_lines(text)) {
        auto f = split_ws(line);
        if (f.size() != 2) continue;
        auto v = parse_uint(f[1]);
        if (!v) continue;
        if (f[0] == "nr_periods")
            t.periods = *v;
        else if (f[0] == "nr_throttled")
            t.throttled = *v;
        else if (f[0] == "throttled_usec")
            t.throttled_ns = *v * 1000;
        else if (f[0] == "throttled_time")
            t.throttled_ns = *v;
    }
    return t;
}

namespace {

// Where a group lives: the v2 unified tree, or v1's cpu controller mount.
struct Hierarchy {
    fs::path base;     // the mount point
    std::string path;  // the group under it, "/..." as /proc/PID/cgroup gives it
    bool v2 = false;
};

std::optional<Hierarchy> find_hierarchy(const SysRoot& root, std::string_view cgroup_text) {
    std::optional<Hierarchy> v2;
    for (auto line : split_lines(cgroup_text)) {
        // "ID:controllers:path"; the path may itself hold ':'.
        auto a = line.find(':');
        auto b = a == std::string_view::npos ? a : line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        auto controllers = line.substr(a + 1, b - a - 1);
        std::string path(line.substr(b + 1));
        if (controllers.empty() && line.substr(0, a) == "0") {
            // Unified tree: at /sys/fs/cgroup (v2 only) or /sys/fs/cgroup/unified (hybrid).
            for (const char* m : {"sys/fs/cgroup", "sys/fs/cgroup/unified"})
                if (fs::exists(root.path(m) / "cgroup.controllers")) {
                    v2 = Hierarchy{root.path(m), path, true};
                    break;
                }
            continue;
        }
        size_t start = 0;
        while (start <= controllers.size()) {
            auto end = controllers.find(',', start);
            if (end == std::string_view::npos) end = controllers.size();
            if (controllers.substr(start, end - start) == "cpu") {
                for (const char* m : {"sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct"})
                    if (fs::exists(root.path(m) / "cpu.cfs_quota_us"))
                        return Hierarchy{root.path(m), path, false};
            }
            start = end + 1;
        }
    }
    return v2;  // the v1 cpu controller, where mounted, is the one that limits
}

fs::path group_dir(const Hierarchy& h, const std::string& group) {
    return h.base / std::string_view(group).substr(group.starts_with('/') ? 1 : 0);
}

std::optional<double> limit_of(const Hierarchy& h, const fs::path& dir) {
    if (h.v2) {
        auto t = read_text(dir / "cpu.max");
        return t ? parse_cpu_max(*t) : std::nullopt;
    }
    auto q = read_text(dir / "cpu.cfs_quota_us");
    auto p = read_text(dir / "cpu.cfs_period_us");
    return q && p ? parse_cfs_quota(*q, *p) : std::nullopt;
}

}  // namespace

Result<CgroupCpuLimit> read_cgroup_cpu_limit(const SysRoot& root, pid_t pid) {
    auto text = read_text(root.proc(std::to_string(pid) + "/cgroup"));
    if (!text) return text.error();
    CgroupCpuLimit out;
    auto h = find_hierarchy(root, *text);
    if (!h) return out;
    // Walk up: a parent's limit binds its children too, so the tightest wins.
    std::string group = h->path.empty() ? "/" : h->path;
    for (;;) {
        auto dir = group_dir(*h, group);
        if (auto cores = limit_of(*h, dir);
            cores && (out.limit_cores == 0 || *cores < out.limit_cores)) {
            out.limit_cores = *cores;
            out.cgroup = group;
            out.dir = dir;
        }
        if (group == "/") break;
        auto slash = group.rfind('/');
        group = slash == 0 || slash == std::string::npos ? "/" : group.substr(0, slash);
    }
    if (out.limit_cores > 0)
        if (auto st = read_cpu_throttling(out)) out.stat = *st;
    return out;
}

std::optional<CpuThrottling> read_cpu_throttling(const CgroupCpuLimit& limit) {
    if (limit.dir.empty()) return std::nullopt;
    auto t = read_text(limit.dir / "cpu.stat");
    if (!t) return std::nullopt;
    return parse_cpu_stat(*t);
}

}  // namespace c10k
