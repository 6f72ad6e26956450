// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/host_stat.hpp"

#include "c10k/text.hpp"

namespace c10k {

Result<CpuStat> parse_proc_stat(std::string_view text) {
    CpuStat s;
    bool saw_ctxt = false;
    for (auto line : split_lines(text)) {
        auto f = split_ws(line);
        if (f.empty()) continue;
        if (f[0] == "cpu") {
            // user nice system idle iowait irq softirq steal ...
            uint64_t v[8] = {};
            for (size_t i = 1; i < f.size() && i <= 8; ++i)
                v[i - 1] = parse_uint(f[i]).value_or(0);
            s.busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
            s.total_ticks = s.busy_ticks + v[3] + v[4];
            s.steal_ticks = v[7];
        } else if (starts_with(f[0], "cpu")) {
            ++s.cpus;
        } else if (f[0] == "ctxt" && f.size() > 1) {
            auto v = parse_uint(f[1]);
            if (!v) return make_error("ctxt: '" + std::string(f[1]) + "' is not a number");
            s.context_switches = *v;
            saw_ctxt = true;
        } else if (f[0] == "procs_running" && f.size() > 1) {
            s.procs_running = static_cast<uint32_t>(parse_uint(f[1]).value_or(0));
        } else if (f[0] == "procs_blocked" && f.size() > 1) {
            s.procs_blocked = static_cast<uint32_t>(parse_uint(f[1]).value_or(0));
        }
    }
    if (!saw_ctxt) return make_error("no 'ctxt' line");
    if (s.cpus == 0) return make_error("no 'cpuN' lines");
    return s;
}

Result<LoadAvg> parse_loadavg(std::string_view text) {
    auto f = split_ws(text);
    if (f.size() < 4) return make_error("expected 5 fields");
    LoadAvg l;
    l.load1 = parse_double(f[0]).value_or(0);
    auto slash = f[3].find('/');
    if (slash == std::string_view::npos) return make_error("field 4 is not running/total");
    auto total = parse_uint(f[3].substr(slash + 1));
    if (!total) return make_error("field 4 is not running/total");
    l.threads_total = static_cast<uint32_t>(*total);
    return l;
}

Result<CpuPressure> parse_cpu_pressure(std::string_view text) {
    for (auto line : split_lines(text)) {
        auto f = split_ws(line);
        if (f.empty() || f[0] != "some") continue;
        CpuPressure p;
        for (auto kv : f) {
            if (starts_with(kv, "avg10=")) p.some_avg10 = parse_double(kv.substr(6)).value_or(0);
            if (starts_with(kv, "avg60=")) p.some_avg60 = parse_double(kv.substr(6)).value_or(0);
        }
        return p;
    }
    return make_error("no 'some' line");
}

Result<MemInfo> parse_meminfo(std::string_view text) {
    MemInfo m;
    for (auto line : split_lines(text)) {
        auto f = split_ws(line);
        if (f.size() < 2) continue;
        uint64_t kib = parse_uint(f[1]).value_or(0);
        if (f[0] == "MemTotal:") m.total_bytes = kib * 1024;
        if (f[0] == "MemAvailable:") m.available_bytes = kib * 1024;
    }
    if (m.total_bytes == 0) return make_error("no MemTotal");
    return m;
}

namespace {
template <typename T>
Result<T> read_parsed(const std::filesystem::path& path, Result<T> (*parse)(std::string_view)) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto r = parse(*text);
    if (!r) return make_error(path.string() + ": " + r.error().message());
    return r;
}
}  // namespace

Result<CpuStat> read_cpu_stat(const SysRoot& root) {
    return read_parsed(root.proc("stat"), &parse_proc_stat);
}
Result<LoadAvg> read_loadavg(const SysRoot& root) {
    return read_parsed(root.proc("loadavg"), &parse_loadavg);
}
Result<CpuPressure> read_cpu_pressure(const SysRoot& root) {
    return read_parsed(root.proc("pressure/cpu"), &parse_cpu_pressure);
}
Result<MemInfo> read_meminfo(const SysRoot& root) {
    return read_parsed(root.proc("meminfo"), &parse_meminfo);
}

}  // namespace c10k
