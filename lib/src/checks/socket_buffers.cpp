// SPDX-License-Identifier: GPL-2.0-or-later
// Socket buffers and TCP memory. tcp_mem is three page counts (min, pressure,
// max) for all TCP buffers of the namespace: above `pressure` the kernel shrinks
// every socket's buffers, at `max` it refuses memory and aborts connections.
#include <fmt/format.h>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"

namespace c10k {

namespace key = check_keys;

namespace {

constexpr double kNearPressure = 0.80;
// Kernel memory of one idle TCP connection: tcp_sock, socket inode, file,
// dentry and an epoll item come to roughly 4 KiB in slab.
constexpr double kIdleSocketBytes = 4096;
constexpr double kIdleRamWarn = 0.25;
constexpr double kIdleRamCrit = 0.50;
constexpr int64_t kAutotuneMaxFloor = 4 * 1024 * 1024;

std::string mib(double bytes) {
    return fmt::format("{:.0f} MiB", bytes / (1024 * 1024));
}

Finding tcp_memory(const CheckInput& in) {
    auto mem = in.sysctl().integers("net.ipv4.tcp_mem");
    auto used = in.counter("TCP.mem");
    if (!mem || mem->size() != 3 || !used) {
        return unknown_finding(
            CheckId::buffers_tcp_mem, "tcp_mem or sockstat unreadable",
            !mem ? in.sysctl().error("net.ipv4.tcp_mem") : "no 'TCP: mem' in sockstat");
    }
    double page = static_cast<double>(in.now().page_size);
    double pressure = static_cast<double>((*mem)[1]), max = static_cast<double>((*mem)[2]);
    double pages = static_cast<double>(*used);
    auto pressures = in.rate("TcpExt.TCPMemoryPressures");
    auto aborts = in.rate("TcpExt.TCPAbortOnMemory");
    Severity sev = Severity::ok;
    std::string title =
        fmt::format("TCP buffers use {} of {} before pressure ({:.0f}%)", mib(pages * page),
                    mib(pressure * page), pages / pressure * 100);
    if (pages >= max) {
        sev = Severity::crit;
        title = fmt::format("TCP memory at its hard limit ({}): sockets are being refused memory",
                            mib(max * page));
    } else if (pages >= pressure) {
        sev = Severity::crit;
        title = fmt::format("TCP memory pressure: {} in use, pressure starts at {}",
                            mib(pages * page), mib(pressure * page));
    } else if (pages >= pressure * kNearPressure) {
        sev = Severity::warn;
        title = fmt::format("TCP memory near pressure: {} of {}", mib(pages * page),
                            mib(pressure * page));
    }
    if (pressures && *pressures > 0)
        sev = Severity::crit, title += fmt::format("; {:.1f} pressure events/s", *pressures);
    if (aborts && *aborts > 0)
        sev = Severity::crit, title += fmt::format("; {:.1f} aborts/s for lack of memory", *aborts);
    auto f = make_finding(CheckId::buffers_tcp_mem, sev, title);
    f.subject = in.now().netns_label;
    add_evidence(f, key::tcp_mem_used_bytes, pages * page);
    add_evidence(f, key::tcp_mem_pressure_bytes, pressure * page);
    add_evidence(f, key::tcp_mem_max_bytes, max * page);
    if (pressures) add_evidence(f, key::tcp_memory_pressures_per_second, *pressures);
    if (aborts) add_evidence(f, key::tcp_abort_on_memory_per_second, *aborts);
    f.why =
        "Under pressure the kernel caps every socket's buffers, so throughput per connection "
        "drops; at the hard limit it refuses to buffer data and aborts connections.";
    f.fix = {
        sysctl_fix("net.ipv4.tcp_mem", fmt::format("{} {} {}", scaled((*mem)[0], 2),
                                                   scaled((*mem)[1], 2), scaled((*mem)[2], 2))),
        "find sockets holding large queues: ss -tmn | sort -k2 -n (slow readers, stuck peers)"};
    return f;
}

Finding capacity(const CheckInput& in) {
    auto mem = in.sysctl().integers("net.ipv4.tcp_mem");
    auto rmem = in.sysctl().integers("net.ipv4.tcp_rmem");
    auto wmem = in.sysctl().integers("net.ipv4.tcp_wmem");
    if (!mem || mem->size() != 3 || !rmem || rmem->size() != 3 || !wmem || wmem->size() != 3 ||
        !in.now().mem) {
        // Name the read that failed, not the first key of the three.
        std::string why = !in.now().mem ? in.now().mem.error().message()
                          : !mem        ? in.sysctl().error("net.ipv4.tcp_mem")
                          : !rmem       ? in.sysctl().error("net.ipv4.tcp_rmem")
                          : !wmem       ? in.sysctl().error("net.ipv4.tcp_wmem")
                                        : "tcp_mem, tcp_rmem or tcp_wmem is not three numbers";
        return unknown_finding(CheckId::buffers_capacity, "buffer sizes or RAM unreadable", why);
    }
    double n = static_cast<double>(in.target().connections);
    double ram = static_cast<double>(in.now().mem->total_bytes);
    double idle = n * kIdleSocketBytes;
    double busy = n * static_cast<double>((*rmem)[1] + (*wmem)[1]);
    double tcp_max = static_cast<double>((*mem)[2]) * static_cast<double>(in.now().page_size);
    Severity sev = Severity::ok;
    std::string title = fmt::format("{} connections: ~{} idle, up to {} busy (tcp_mem max {})",
                                    in.target().connections, mib(idle), mib(busy), mib(tcp_max));
    if (idle >= ram * kIdleRamCrit) {
        sev = in.shortfall();
        title = fmt::format("{} idle connections alone need ~{} of {} RAM", in.target().connections,
                            mib(idle), mib(ram));
    } else if (idle >= ram * kIdleRamWarn) {
        sev = Severity::warn;
        title = fmt::format("{} idle connections need ~{}, {:.0f}% of RAM", in.target().connections,
                            mib(idle), idle / ram * 100);
    } else if (busy > tcp_max) {
        sev = Severity::warn;
        title += ": busy connections will put TCP under memory pressure";
    }
    auto f = make_finding(CheckId::buffers_capacity, sev, title);
    add_evidence(f, key::idle_connection_bytes, idle);
    add_evidence(f, key::busy_connection_bytes, busy);
    add_evidence(f, key::tcp_mem_max_bytes, tcp_max);
    add_evidence(f, key::ram_bytes, ram);
    f.why =
        "An idle connection costs about 4 KiB of kernel memory; a busy one buffers up to the "
        "default tcp_rmem + tcp_wmem. tcp_mem, not RAM, is what caps buffers in total.";
    if (sev == Severity::warn && busy > tcp_max && idle < ram * kIdleRamWarn) {
        double pages = std::min(busy, ram * 0.25) / static_cast<double>(in.now().page_size);
        f.fix = {sysctl_fix("net.ipv4.tcp_mem",
                            fmt::format("{:.0f} {:.0f} {:.0f}", pages / 2, pages * 3 / 4, pages)),
                 "or accept that busy connections get smaller buffers under pressure"};
    } else {
        f.fix = {"add RAM or spread the connections over more hosts"};
    }
    return f;
}

Finding autotune_limits(const CheckInput& in) {
    auto rmem = in.sysctl().integers("net.ipv4.tcp_rmem");
    auto wmem = in.sysctl().integers("net.ipv4.tcp_wmem");
    if (!rmem || rmem->size() != 3 || !wmem || wmem->size() != 3) {
        return unknown_finding(CheckId::buffers_limits, "tcp_rmem/tcp_wmem unreadable",
                               in.sysctl().error("net.ipv4.tcp_rmem"));
    }
    auto pruned = in.rate("TcpExt.PruneCalled");
    auto rcvq_drop = in.rate("TcpExt.TCPRcvQDrop");
    Severity sev = Severity::ok;
    std::string title =
        fmt::format("per-socket buffers autotune up to {} receive, {} send",
                    mib(static_cast<double>((*rmem)[2])), mib(static_cast<double>((*wmem)[2])));
    if ((*rmem)[2] < kAutotuneMaxFloor || (*wmem)[2] < kAutotuneMaxFloor) {
        sev = Severity::warn;
        title += ": too small for fast long-distance flows";
    }
    if ((pruned && *pruned > 0) || (rcvq_drop && *rcvq_drop > 0)) {
        sev = Severity::warn;
        title += fmt::format("; receive queues pruned {:.1f}/s, dropped {:.1f}/s",
                             pruned.value_or(0), rcvq_drop.value_or(0));
    }
    auto f = make_finding(CheckId::buffers_limits, sev, title);
    add_evidence(f, key::tcp_rmem_max_bytes, static_cast<double>((*rmem)[2]));
    add_evidence(f, key::tcp_wmem_max_bytes, static_cast<double>((*wmem)[2]));
    if (auto v = in.sysctl().integer("net.core.rmem_max"))
        add_evidence(f, key::rmem_max_bytes, static_cast<double>(*v));
    if (pruned) add_evidence(f, key::prune_called_per_second, *pruned);
    if (rcvq_drop) add_evidence(f, key::tcp_rcvq_drop_per_second, *rcvq_drop);
    f.why =
        "A flow can carry at most one buffer per round trip; pruning and receive-queue drops "
        "mean data arrived faster than the application read it.";
    f.fix = {sysctl_fix("net.ipv4.tcp_rmem", fmt::format("{} {} {}", (*rmem)[0], (*rmem)[1],
                                                         std::max<int64_t>((*rmem)[2], 6291456))),
             sysctl_fix("net.ipv4.tcp_wmem", fmt::format("{} {} {}", (*wmem)[0], (*wmem)[1],
                                                         std::max<int64_t>((*wmem)[2], 4194304))),
             "do not set SO_RCVBUF/SO_SNDBUF in the application: it turns autotuning off"};
    return f;
}

}  // namespace

std::vector<Finding> check_socket_buffers(const CheckInput& in) {
    return {tcp_memory(in), capacity(in), autotune_limits(in)};
}

}  // namespace c10k
