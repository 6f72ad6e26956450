// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/collect.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "c10k/sources/netns.hpp"

namespace c10k {

const std::vector<std::string>& checked_sysctl_keys() {
    static const std::vector<std::string> keys = {
        "fs.nr_open",
        "fs.file-max",
        "fs.file-nr",
        "kernel.pid_max",
        "kernel.threads-max",
        "net.core.somaxconn",
        "net.core.netdev_max_backlog",
        "net.core.rmem_max",
        "net.core.wmem_max",
        "net.ipv4.tcp_max_syn_backlog",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_tw_reuse",
        "net.ipv4.tcp_max_tw_buckets",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_mem",
        "net.ipv4.udp_mem",
        "net.netfilter.nf_conntrack_max",
        "net.netfilter.nf_conntrack_count",
    };
    return keys;
}

namespace {

constexpr double kListenerLooksPerSecond = 10;

struct Scope {
    std::filesystem::path net_dir;  // where counters are read from
    std::string label;
    std::vector<std::string> notes;
    bool sockets_visible = true;  // netlink answers for the right namespace
};

Sample take_sample(const SysRoot& root, const Scope& scope, std::optional<pid_t> pid,
                   bool thread_stats) {
    Sample s;
    s.taken = Clock::now();
    s.net = read_net_counters(scope.net_dir);
    s.cpu = read_cpu_stat(root);
    if (pid && thread_stats) s.threads = read_thread_stats(root, *pid);
    return s;
}

Result<Scope> choose_scope(const CollectOptions& opts, const std::optional<ProcessSnapshot>& proc) {
    Scope scope;
    scope.net_dir = opts.root.proc("net");
    scope.label = "host";
    if (opts.netns) {
        auto fd = open_netns(*opts.netns);
        if (!fd) return fd.error();
        auto st = enter_netns(fd->get(), "'" + *opts.netns + "'");
        if (!st) return st.error();
        scope.label = "netns " + *opts.netns;
        return scope;
    }
    if (!proc || !opts.root.is_live()) return scope;
    auto self = netns_inode_of("/proc/self/ns/net");
    if (!proc->netns_inode || !self || *proc->netns_inode == *self) return scope;

    // The target lives in another namespace (a container): look from inside it.
    auto path = "/proc/" + std::to_string(proc->pid) + "/ns/net";
    auto fd = open_netns(path);
    Status entered =
        fd ? enter_netns(fd->get(), "pid " + std::to_string(proc->pid)) : Status(fd.error());
    scope.label = "network namespace of pid " + std::to_string(proc->pid);
    if (entered) return scope;
    // Without the privilege to enter, its counters are still readable through
    // /proc/PID/net, but sysctls would be ours and its sockets out of sight: say so.
    scope.net_dir = opts.root.proc(std::to_string(proc->pid) + "/net");
    scope.sockets_visible = false;
    scope.notes.push_back(entered.error().message() +
                          "; its counters are read from /proc/PID/net, but the net.* sysctls shown "
                          "are this namespace's and its sockets are not listed");
    return scope;
}

}  // namespace

Result<Collected> collect(const CollectOptions& opts) {
    if (!std::isfinite(opts.interval_s) || opts.interval_s < 0)
        return make_error("interval must be a number of seconds >= 0");

    std::optional<ProcessSnapshot> proc;
    if (opts.pid) {
        auto p = read_process(opts.root, *opts.pid, /*with_threads=*/false);
        if (!p) return p.error();
        proc = std::move(*p);
    }
    auto scope = choose_scope(opts, proc);
    if (!scope) return scope.error();

    Collected out;
    out.interval_s = opts.interval_s;
    // An accept queue is a moment's value: sample the listeners evenly across
    // the interval so a queue that fills between two looks is still seen.
    std::vector<Listener> seen;
    auto look_at_listeners = [&] {
        SocketSummaryBuilder b;
        DumpPlan plan;
        plan.listeners_only = true;
        if (!dump_tcp_sockets(b, plan)) return;
        for (const auto& l : std::move(b).finish(0, 0).listeners) {
            auto it = std::find_if(seen.begin(), seen.end(),
                                   [&](const Listener& x) { return x.local == l.local; });
            if (it == seen.end()) it = seen.insert(seen.end(), l);
            it->queued_max = std::max(it->queued_max, l.queued);
            ++it->samples;
            if (l.backlog > 0 && l.queued >= l.backlog) ++it->full_samples;
        }
    };
    bool sample_listeners = opts.read_sockets && scope->sockets_visible && opts.interval_s > 0;
    if (opts.interval_s > 0) {
        out.before = take_sample(opts.root, *scope, opts.pid, opts.thread_stats);
        // Ten looks a second, at least two, at most a hundred: a listeners-only
        // dump costs tens of microseconds.
        int slices =
            std::clamp(static_cast<int>(opts.interval_s * kListenerLooksPerSecond), 2, 100);
        auto start = std::chrono::steady_clock::now();
        for (int i = 1; i <= slices; ++i) {
            std::this_thread::sleep_until(
                start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(opts.interval_s * i / slices)));
            if (sample_listeners) look_at_listeners();
        }
    }

    Snapshot& s = out.now;
    s.sample = take_sample(opts.root, *scope, opts.pid, opts.thread_stats);
    if (opts.sysctls) {
        s.sysctls = *opts.sysctls;
    } else {
        s.sysctls = read_sysctls(opts.root, checked_sysctl_keys());
    }
    if (opts.root.is_live() && !opts.sysctls) {
        // In any namespace but the initial one (a --pid target's, or our own
        // inside a container), host-wide net.* keys are missing: read them from
        // the host's, where they live and from where they apply here too.
        std::vector<std::string> missing;
        for (const auto& [key, error] : s.sysctls.errors)
            if (key.starts_with("net.") && error.code == ENOENT) missing.push_back(key);
        auto host = missing.empty() ? HostSysctls{} : read_host_sysctls(missing);
        std::string read;
        for (auto& [key, value] : host.values) {
            s.sysctls.errors.erase(key);
            s.sysctls.host_wide.insert(key);
            read += (read.empty() ? "" : ", ") + key;
            s.sysctls.values[key] = std::move(value);
        }
        if (!read.empty())
            scope->notes.push_back("host-wide keys, read from the host's namespace: " + read);
        // Refused: say so where the key is judged, not "No such file".
        if (host.values.empty() && !host.error.empty())
            for (const auto& key : missing)
                s.sysctls.errors[key] = make_error(
                    key + " is host-wide and not visible in this network namespace; " + host.error);
    }
    s.load = read_loadavg(opts.root);
    s.pressure = read_cpu_pressure(opts.root);
    s.mem = read_meminfo(opts.root);
    if (auto t = read_text(opts.root.proc("self/limits")))
        s.own_nofile = parse_nofile_limit(*t);
    else
        s.own_nofile = t.error();
    s.interactive = opts.interactive;
    s.service_nofile = read_service_default_nofile(opts.root);
    s.page_size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    s.netns_label = scope->label;
    s.notes = scope->notes;

    if (opts.sockets) {
        s.sockets = *opts.sockets;
    } else if (!opts.read_sockets) {
        s.sockets = Error{"sockets are not read from a fixture root"};
    } else if (!scope->sockets_visible) {
        s.sockets = Error{"cannot see the sockets of the target's network namespace"};
    } else {
        std::unordered_set<uint64_t> owned;
        if (proc && proc->fds) owned = proc->fds->socket_inodes;
        DumpPlan plan;
        plan.everything = proc.has_value();  // to count the process's own connections
        if (auto range = s.sysctls.integers("net.ipv4.ip_local_port_range");
            range && range->size() == 2) {
            plan.port_low = static_cast<uint16_t>((*range)[0]);
            plan.port_high = static_cast<uint16_t>((*range)[1]);
        }
        SocketSummaryBuilder builder(std::move(owned));
        auto st = dump_tcp_sockets(builder, plan);
        if (st) {
            s.sockets = std::move(builder).finish(plan.port_low, plan.port_high);
            for (auto& l : s.sockets->listeners) {
                l.queued_max = l.queued;
                l.samples = 1;
                l.full_samples = l.backlog > 0 && l.queued >= l.backlog;
                for (const auto& x : seen)
                    if (x.local == l.local) {
                        l.queued_max = std::max(l.queued_max, x.queued_max);
                        l.samples += x.samples;
                        l.full_samples += x.full_samples;
                    }
            }
        } else {
            s.sockets = st.error();
        }
    }
    if (proc) {
        // Thread figures come from the samples, so they describe the end of the window.
        if (s.sample.threads) proc->threads = *s.sample.threads;
        s.process = std::move(proc);
    }

    if (opts.root.is_live()) {
        utsname u{};
        if (::uname(&u) == 0) {
            s.kernel_release = u.release;
            s.hostname = u.nodename;
        }
    } else {
        s.kernel_release = read_sysctl(opts.root, "kernel.osrelease").value_or("");
        s.hostname = read_sysctl(opts.root, "kernel.hostname").value_or("");
    }
    return out;
}

}  // namespace c10k
