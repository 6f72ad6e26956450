// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/target.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <unordered_set>

#include "c10k/sources/netns.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/tcp_conns.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

std::string list_candidates(const std::vector<ServerCandidate>& c) {
    std::string out;
    for (const auto& x : c)
        out += fmt::format("\n  PID {} ({}), parent {}, {} connections", x.pid, x.comm, x.ppid,
                           x.connections);
    return out;
}

// The listening sockets (on `port`, or every port when 0) of the calling
// thread's network namespace, and the accepted sockets on their ports.
struct PortSockets {
    std::unordered_set<uint64_t> listening;
    std::unordered_set<uint64_t> accepted;
};

Result<PortSockets> read_port_sockets(uint16_t port) {
    auto reader = TcpConnReader::open();
    if (!reader) return reader.error();
    std::vector<TcpConn> conns;
    auto st = reader->read([](const TcpConn&) { return true; }, conns);
    if (!st) return st.error();
    PortSockets out;
    std::set<uint16_t> ports;
    for (const auto& c : conns) {
        if (c.state != static_cast<uint8_t>(TcpState::listen)) continue;
        if (port != 0 && c.local.port != port) continue;
        out.listening.insert(c.inode);
        ports.insert(c.local.port);
    }
    for (const auto& c : conns)
        if (c.state != static_cast<uint8_t>(TcpState::listen) && ports.count(c.local.port))
            out.accepted.insert(c.inode);
    return out;
}

// Runs read_port_sockets inside the network namespace at `ns_path` (empty:
// ours) on a thread of its own, so this thread's namespace never changes.
Result<PortSockets> port_sockets_in(const std::string& ns_path, uint16_t port) {
    if (ns_path.empty()) return read_port_sockets(port);
    auto fd = open_netns(ns_path);
    if (!fd) return fd.error();
    Result<PortSockets> out = make_error("not read");
    std::thread t([&] {
        auto st = enter_netns(fd->get(), ns_path);
        out = st ? read_port_sockets(port) : Result<PortSockets>(st.error());
    });
    t.join();
    return out;
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (auto* e = ::readdir(d))
        if (auto pid = parse_uint(e->d_name)) out.push_back(static_cast<pid_t>(*pid));
    ::closedir(d);
    return out;
}

uint64_t cpu_ticks_of(pid_t pid) {
    auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return 0;
    auto t = user_sys_ticks(*stat);
    return t ? t->first + t->second : 0;
}

// Each of `pids` as a candidate, judged against the sockets of its namespace.
std::vector<ServerCandidate> candidates_of(const std::vector<pid_t>& pids, const PortSockets& s,
                                           std::optional<uint64_t> netns) {
    std::vector<ServerCandidate> out;
    SysRoot root;
    for (pid_t pid : pids) {
        auto p = read_process(root, pid, false);
        if (!p || !p->fds) continue;
        if (netns && p->netns_inode != netns) continue;
        ServerCandidate c;
        c.pid = pid;
        c.ppid = p->ppid;
        c.comm = p->comm;
        for (auto ino : p->fds->socket_inodes) {
            if (s.listening.count(ino)) c.listens = true;
            if (s.accepted.count(ino)) ++c.connections;
        }
        c.cpu_ticks = cpu_ticks_of(pid);
        out.push_back(std::move(c));
    }
    return out;
}

std::string with_service_suffix(std::string unit) {
    if (unit.find('.') == std::string::npos) unit += ".service";
    return unit;
}

Result<ResolvedTarget> by_pid(pid_t pid) {
    auto comm = read_text("/proc/" + std::to_string(pid) + "/comm");
    if (!comm) return sys_error(fmt::format("no process with PID {}", pid), comm.error().code);
    return ResolvedTarget{pid, printable(trim(*comm)), systemd_unit_of(SysRoot{}, pid), "", 0};
}

Result<ResolvedTarget> by_port(const TargetSpec& spec) {
    std::string ns_path = spec.netns.empty() ? "" : netns_path(spec.netns);
    auto sockets = port_sockets_in(ns_path, spec.port);
    if (!sockets) return sockets.error();
    std::string what = fmt::format("port {}", spec.port);
    if (!spec.netns.empty()) what += " in network namespace " + spec.netns;
    if (sockets->listening.empty())
        return sys_error(fmt::format("nothing listens on TCP {}", what), ENOENT);
    std::optional<uint64_t> netns = netns_inode_of(ns_path.empty() ? "/proc/self/ns/net" : ns_path);
    auto all = candidates_of(all_pids(), *sockets, netns);
    std::erase_if(all, [](const ServerCandidate& c) { return !c.listens; });
    auto chosen = choose_server(all, what);
    if (!chosen) return chosen.error();
    return ResolvedTarget{chosen->pid, chosen->comm, systemd_unit_of(SysRoot{}, chosen->pid),
                          chosen->why, 0};
}

Result<ResolvedTarget> by_unit(const TargetSpec& spec) {
    std::string unit = with_service_suffix(spec.unit);
    auto pids = unit_processes(SysRoot{}, unit);
    if (!pids) return pids.error();
    if (pids->empty()) return sys_error(fmt::format("unit {} has no processes", unit), ESRCH);
    // The unit's sockets live in its processes' namespace (PrivateNetwork=
    // gives it one of its own).
    std::string ns_path = fmt::format("/proc/{}/ns/net", pids->front());
    auto self = netns_inode_of("/proc/self/ns/net");
    auto theirs = netns_inode_of(ns_path);
    auto sockets = port_sockets_in(theirs == self ? "" : ns_path, 0);
    if (!sockets) return sockets.error();
    auto all = candidates_of(*pids, *sockets, std::nullopt);
    if (all.empty()) return sys_error(fmt::format("unit {}: its processes exited", unit), ESRCH);
    std::vector<ServerCandidate> listening;
    for (const auto& c : all)
        if (c.listens) listening.push_back(c);
    std::string what = "unit " + unit;
    Result<ChosenServer> chosen = make_error("none");
    if (!listening.empty()) {
        chosen = choose_server(listening, what);
    } else {
        // Nothing listens (a consumer of a queue, a client): the unit's main
        // process is the one whose parent is outside the cgroup.
        std::set<pid_t> in_unit(pids->begin(), pids->end());
        std::vector<ServerCandidate> roots;
        for (const auto& c : all)
            if (!in_unit.count(c.ppid)) roots.push_back(c);
        if (roots.size() == 1)
            chosen = ChosenServer{roots[0].pid, roots[0].comm,
                                  fmt::format("PID {} ({}), the main process of {} (it listens "
                                              "on no TCP port)",
                                              roots[0].pid, roots[0].comm, unit)};
        else
            chosen = sys_error(fmt::format("{}: none of its processes listens on a TCP port and "
                                           "{} are main processes; give --pid:{}",
                                           what, roots.size(), list_candidates(all)),
                               kAmbiguousTarget);
    }
    if (!chosen) return chosen.error();
    return ResolvedTarget{chosen->pid, chosen->comm, unit, chosen->why, 0};
}

}  // namespace

Result<ChosenServer> choose_server(const std::vector<ServerCandidate>& candidates,
                                   const std::string& what) {
    if (candidates.empty()) return sys_error("no process holds a listener on " + what, ENOENT);
    if (candidates.size() == 1) {
        const auto& c = candidates[0];
        return ChosenServer{c.pid, c.comm,
                            fmt::format("PID {} ({}) listens on {}", c.pid, c.comm, what)};
    }
    std::set<pid_t> holders;
    for (const auto& c : candidates)
        holders.insert(c.pid);
    // A holder whose parent holds the listener too inherited it: a worker.
    // The family's root is the one whose parent does not hold it.
    std::vector<const ServerCandidate*> roots;
    for (const auto& c : candidates)
        if (!holders.count(c.ppid)) roots.push_back(&c);
    if (roots.size() != 1)
        return sys_error(fmt::format("{} is held by {} processes that are not one master and "
                                     "its workers; give --pid:{}",
                                     what, candidates.size(), list_candidates(candidates)),
                         kAmbiguousTarget);
    const ServerCandidate* root = roots[0];
    // Accepted connections first: whoever holds them serves. A prefork master
    // never accepts, so on a tie (an idle server) a worker goes before it;
    // then the most CPU time, then the oldest (lowest PID) for a stable answer.
    auto key = [&](const ServerCandidate& c) {
        return std::make_tuple(c.connections, &c != root, c.cpu_ticks, -c.pid);
    };
    const ServerCandidate* best = &candidates[0];
    for (const auto& c : candidates)
        if (key(c) > key(*best)) best = &c;
    size_t workers = candidates.size() - 1;
    std::string why;
    if (best == root)
        why = fmt::format(
            "PID {} ({}) on {}, the master, holds the most connections ({}) of it "
            "and its {} children",
            best->pid, best->comm, what, best->connections, workers);
    else
        why = fmt::format(
            "PID {} ({}) on {}, the busiest of {} workers of PID {} ({}): {} "
            "connections",
            best->pid, best->comm, what, workers, root->pid, root->comm, best->connections);
    return ChosenServer{best->pid, best->comm, why};
}

std::string systemd_unit_of_cgroup(std::string_view text) {
    std::string unit;
    for (auto line : split_lines(text)) {
        auto slash = line.rfind('/');
        if (slash == std::string_view::npos) continue;
        auto last = line.substr(slash + 1);
        if (last.ends_with(".service") && last.size() > 8) unit = std::string(last);
    }
    return unit;
}

std::string systemd_unit_of(const SysRoot& root, pid_t pid) {
    auto cg = read_text(root.proc(std::to_string(pid) + "/cgroup"));
    return cg ? systemd_unit_of_cgroup(*cg) : std::string();
}

Result<std::vector<pid_t>> unit_processes(const SysRoot& root, std::string unit) {
    unit = with_service_suffix(std::move(unit));
    if (unit.find('/') != std::string::npos || unit.starts_with("."))
        return make_error(fmt::format("unit '{}': a unit name has no '/'", unit));
    namespace fs = std::filesystem;
    auto base = root.path("sys/fs/cgroup");
    std::error_code ec;
    // systemd puts units in slices (system.slice, user.slice/user-1000.slice/...):
    // search the tree for the unit's directory rather than assume where it is.
    std::optional<fs::path> dir;
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it.depth() > 6) {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_directory(ec) && it->path().filename() == unit) {
            dir = it->path();
            break;
        }
    }
    if (!dir)
        return sys_error(
            fmt::format("unit {}: no cgroup of that name under {}", unit, base.string()), ENOENT);
    std::vector<pid_t> pids;
    auto add_procs = [&](const fs::path& d) {
        if (auto t = read_text(d / "cgroup.procs"))
            for (auto line : split_lines(*t))
                if (auto pid = parse_uint(trim(line))) pids.push_back(static_cast<pid_t>(*pid));
    };
    add_procs(*dir);
    for (auto it = fs::recursive_directory_iterator(*dir, ec); !ec && it != fs::end(it);
         it.increment(ec))
        if (it->is_directory(ec)) add_procs(it->path());
    std::sort(pids.begin(), pids.end());
    return pids;
}

double process_start_unix_s(const SysRoot& root, pid_t pid) {
    auto stat = read_text(root.proc(std::to_string(pid) + "/stat"));
    auto host = read_text(root.proc("stat"));
    if (!stat || !host) return 0;
    auto fields = stat_fields(*stat);
    if (fields.size() <= 19) return 0;  // [19] is field 22, starttime
    auto ticks = parse_uint(fields[19]);
    std::optional<uint64_t> btime;
    for (auto line : split_lines(*host))
        if (line.starts_with("btime ")) btime = parse_uint(trim(line.substr(6)));
    long hz = ::sysconf(_SC_CLK_TCK);
    if (!ticks || !btime || hz <= 0) return 0;
    return static_cast<double>(*btime) + static_cast<double>(*ticks) / static_cast<double>(hz);
}

Result<ResolvedTarget> resolve_target(const TargetSpec& spec) {
    Result<ResolvedTarget> t = make_error("no target: give --pid, --port or --unit");
    if (spec.pid != 0)
        t = by_pid(spec.pid);
    else if (spec.port != 0)
        t = by_port(spec);
    else if (!spec.unit.empty())
        t = by_unit(spec);
    if (t) t->started_unix_s = process_start_unix_s(SysRoot{}, t->pid);
    return t;
}

}  // namespace c10k
