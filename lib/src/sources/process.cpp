// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/process.hpp"
#include "c10k/sources/target.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "c10k/text.hpp"

namespace c10k {

namespace {

uint64_t parse_limit_value(std::string_view v) {
    if (v == "unlimited" || v == "infinity") return kUnlimited;
    return parse_uint(v).value_or(0);
}

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

Result<FdTable> read_fds(const std::filesystem::path& fd_dir) {
    DirPtr dir(::opendir(fd_dir.c_str()));
    if (!dir) return sys_error(fd_dir.string());
    FdTable t;
    int dfd = ::dirfd(dir.get());
    char target[64];
    while (auto* e = ::readdir(dir.get())) {
        if (e->d_name[0] == '.') continue;
        ++t.open;
        ssize_t n = ::readlinkat(dfd, e->d_name, target, sizeof target - 1);
        if (n <= 0) continue;
        std::string_view link(target, static_cast<size_t>(n));
        if (starts_with(link, "socket:[") && link.back() == ']') {
            if (auto ino = parse_uint(link.substr(8, link.size() - 9)))
                t.socket_inodes.insert(*ino);
        }
    }
    return t;
}

// systemd sets LimitNOFILE per unit; the unit is the last path element of the
// cgroup when it ends in ".service".
std::string systemd_origin(const SysRoot& root, pid_t pid) {
    std::string unit = systemd_unit_of(root, pid);
    if (unit.empty()) return {};
    // Later directories override earlier ones; drop-ins override the unit file.
    std::string found, where;
    for (const char* dir : {"usr/lib/systemd/system", "lib/systemd/system", "run/systemd/system",
                            "etc/systemd/system"}) {
        auto base = root.path(dir);
        if (auto t = read_text(base / unit)) {
            if (auto v = find_limit_nofile(*t)) found = *v, where = (base / unit).string();
        }
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(base / (unit + ".d"), ec)) {
            if (e.path().extension() != ".conf") continue;
            if (auto t = read_text(e.path())) {
                if (auto v = find_limit_nofile(*t)) found = *v, where = e.path().string();
            }
        }
    }
    if (found.empty()) return "systemd unit " + unit + " (no LimitNOFILE=, so systemd's default)";
    return "systemd unit " + unit + ": LimitNOFILE=" + found + " in " + where;
}

}  // namespace

std::vector<std::string_view> stat_fields(std::string_view stat_text) {
    auto close = stat_text.rfind(')');
    if (close == std::string_view::npos) return {};
    return split_ws(stat_text.substr(close + 1));
}

std::optional<uint64_t> status_field(std::string_view status, std::string_view name) {
    for (auto line : split_lines(status)) {
        if (starts_with(line, name) && line.size() > name.size() && line[name.size()] == ':')
            return parse_uint(trim(line.substr(name.size() + 1)));
    }
    return std::nullopt;
}

std::string status_text_field(std::string_view status, std::string_view name) {
    for (auto line : split_lines(status)) {
        if (starts_with(line, name) && line.size() > name.size() && line[name.size()] == ':')
            return std::string(trim(line.substr(name.size() + 1)));
    }
    return {};
}

std::optional<std::pair<uint64_t, uint64_t>> user_sys_ticks(std::string_view stat_text) {
    auto f = stat_fields(stat_text);
    if (f.size() < 13) return std::nullopt;
    auto ut = parse_uint(f[11]), st = parse_uint(f[12]);
    if (!ut || !st) return std::nullopt;
    return std::pair{*ut, *st};
}

std::optional<uint64_t> reaped_children_ticks(std::string_view stat_text) {
    auto f = stat_fields(stat_text);
    if (f.size() < 15) return std::nullopt;
    auto cut = parse_int(f[13]), cst = parse_int(f[14]);  // signed in proc(5); never negative
    if (!cut || !cst || *cut < 0 || *cst < 0) return std::nullopt;
    return static_cast<uint64_t>(*cut + *cst);
}

std::string stat_comm(std::string_view stat_text) {
    auto open = stat_text.find('('), close = stat_text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return "";
    return printable(stat_text.substr(open + 1, close - open - 1));
}

std::optional<TaskSchedStat> parse_schedstat(std::string_view text) {
    auto f = split_ws(text);
    if (f.size() < 3) return std::nullopt;
    auto ns = parse_uint(f[0]), wait = parse_uint(f[1]), runs = parse_uint(f[2]);
    if (!ns || !wait || !runs) return std::nullopt;
    return TaskSchedStat{*ns, *wait, *runs};
}

Result<NofileLimit> parse_nofile_limit(std::string_view limits_text) {
    for (auto line : split_lines(limits_text)) {
        if (!starts_with(line, "Max open files")) continue;
        auto f = split_ws(line.substr(14));
        if (f.size() < 2) break;
        NofileLimit l{parse_limit_value(f[0]), parse_limit_value(f[1])};
        return l;
    }
    return make_error("no 'Max open files' line");
}

std::optional<std::string> find_limit_nofile(std::string_view unit_text) {
    std::optional<std::string> out;
    for (auto line : split_lines(unit_text)) {
        line = trim(line);
        if (starts_with(line, "LimitNOFILE=")) out = std::string(trim(line.substr(12)));
    }
    return out;
}

Result<ThreadStats> read_thread_stats(const SysRoot& root, pid_t pid) {
    auto task_dir = root.proc(std::to_string(pid) + "/task");
    DirPtr dir(::opendir(task_dir.c_str()));
    if (!dir) return sys_error(task_dir.string());
    ThreadStats s;
    while (auto* e = ::readdir(dir.get())) {
        if (e->d_name[0] == '.') continue;
        ++s.threads;
        auto tdir = task_dir / e->d_name;
        if (auto st = read_text(tdir / "status")) {
            s.voluntary_switches += status_field(*st, "voluntary_ctxt_switches").value_or(0);
            s.involuntary_switches += status_field(*st, "nonvoluntary_ctxt_switches").value_or(0);
        }
        if (auto ss = read_text(tdir / "schedstat"))
            if (auto parsed = parse_schedstat(*ss)) {
                s.on_cpu_ns += parsed->on_cpu_ns;
                s.runqueue_wait_ns += parsed->wait_ns;
            }
    }
    if (s.threads == 0) return make_error(task_dir.string() + ": no threads (process exited?)");
    return s;
}

Result<FdTable> read_fd_table(const SysRoot& root, pid_t pid) {
    return read_fds(root.proc(std::to_string(pid) + "/fd"));
}

Result<ProcessSnapshot> read_process(const SysRoot& root, pid_t pid, bool with_threads) {
    auto base = root.proc(std::to_string(pid));
    auto status = read_text(base / "status");
    if (!status) {
        return make_error("no process with pid " + std::to_string(pid) + " (" +
                          status.error().message() + ")");
    }
    ProcessSnapshot p;
    p.pid = pid;
    p.comm = printable(status_text_field(*status, "Name"));
    p.ppid = static_cast<pid_t>(status_field(*status, "PPid").value_or(0));

    if (auto limits = read_text(base / "limits")) {
        p.nofile = parse_nofile_limit(*limits);
    } else {
        p.nofile = limits.error();
    }
    p.fds = read_fds(base / "fd");
    if (with_threads) p.threads = read_thread_stats(root, pid);

    struct stat st {};
    if (::stat((base / "ns/net").c_str(), &st) == 0) p.netns_inode = st.st_ino;

    if (p.nofile) {
        p.nofile_origin = systemd_origin(root, pid);
        if (p.nofile_origin.empty() && p.ppid > 0) {
            auto parent = read_text(root.proc(std::to_string(p.ppid) + "/limits"));
            auto parent_limit =
                parent ? parse_nofile_limit(*parent) : Result<NofileLimit>(Error{""});
            if (parent_limit && parent_limit->soft == p.nofile->soft &&
                parent_limit->hard == p.nofile->hard) {
                p.nofile_origin = "inherited from parent pid " + std::to_string(p.ppid);
            } else if (parent_limit) {
                p.nofile_origin = "set by the process or its launcher (differs from parent pid " +
                                  std::to_string(p.ppid) + ")";
            }
        }
    }
    return p;
}

}  // namespace c10k
