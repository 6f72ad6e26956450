// SPDX-License-Identifier: GPL-2.0-or-later
// Ephemeral ports: a connection is unique by (src addr, src port, dst addr,
// dst port), so a client can hold at most one connection per local port to
// each destination: the port range, less reserved ports, is a per-destination cap.
#include <fmt/format.h>
#include <sys/socket.h>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"
#include "c10k/server_settings.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace key = check_keys;

namespace {

// connect() picks a local port in __inet_hash_connect by scanning the range from
// a random offset, first only the ports of one parity (bind() prefers the
// other), then the rest. Once the sockets to one destination take half the
// range, that first half is full and every connect() walks all of it in the
// kernel - thousands of hash lookups - before it finds a port: milliseconds of
// CPU per connect long before EADDRNOTAVAIL. So half is CRIT, and WARN starts
// where the first half is 80% full and a random scan already averages five
// probes (1 / (1 - 0.8)).
constexpr double kPortsWarn = 0.40;
constexpr double kPortsCrit = 0.50;
constexpr int64_t kNarrowRange = 10000;
constexpr size_t kMaxDestinations = 10;

// "1000-1010,2000" -> how many of those lie within [lo, hi].
int64_t reserved_in_range(std::string_view spec, int64_t lo, int64_t hi) {
    int64_t n = 0;
    size_t start = 0;
    while (start <= spec.size()) {
        size_t comma = spec.find(',', start);
        if (comma == std::string_view::npos) comma = spec.size();
        auto part = trim(spec.substr(start, comma - start));
        if (!part.empty()) {
            auto dash = part.find('-');
            auto a = parse_int(part.substr(0, dash));
            auto b = dash == std::string_view::npos ? a : parse_int(part.substr(dash + 1));
            if (a && b) n += std::max<int64_t>(0, std::min(*b, hi) - std::max(*a, lo) + 1);
        }
        start = comma + 1;
    }
    return n;
}

}  // namespace

std::vector<Finding> check_ephemeral_ports(const CheckInput& in) {
    std::vector<Finding> out;
    auto range = in.sysctl().integers("net.ipv4.ip_local_port_range");
    if (!range || range->size() != 2) {
        out.push_back(unknown_finding(CheckId::ports_range, "ip_local_port_range unreadable",
                                      in.sysctl().error("net.ipv4.ip_local_port_range")));
        return out;
    }
    int64_t lo = (*range)[0], hi = (*range)[1];
    int64_t reserved = reserved_in_range(
        in.sysctl().text("net.ipv4.ip_local_reserved_ports").value_or(""), lo, hi);
    int64_t size = std::max<int64_t>(0, hi - lo + 1 - reserved);
    auto tw_reuse = in.sysctl().integer("net.ipv4.tcp_tw_reuse");
    std::string widen = sysctl_fix("net.ipv4.ip_local_port_range", "1024 65535");

    {
        Severity sev = Severity::ok;
        std::string title = fmt::format("{} ephemeral ports ({}-{}{}) per destination", size, lo,
                                        hi, reserved ? fmt::format(", {} reserved", reserved) : "");
        if (in.target().from_flag && static_cast<uint64_t>(size) < in.target().connections) {
            sev = Severity::warn;
            title += fmt::format(": fewer than {} outbound connections to one destination",
                                 in.target().connections);
        } else if (size < kNarrowRange) {
            sev = Severity::warn;
            title += ": a narrow range";
        }
        auto f = make_finding(CheckId::ports_range, sev, title);
        add_evidence(f, key::port_range_size, static_cast<double>(size));
        add_evidence(f, key::reserved_ports, static_cast<double>(reserved));
        f.why =
            "Matters for clients, proxies and load generators: each outbound connection to one "
            "address:port needs its own local port, and TIME_WAIT keeps a closed one for 60 s.";
        f.fix = {widen, profile_fix(in.target(), "loadgen")};
        out.push_back(std::move(f));
    }

    const auto& socks = in.now().sockets;
    if (!socks) {
        out.push_back(unknown_finding(CheckId::ports_destination, "outbound sockets not inspected",
                                      socks.error().message()));
        return out;
    }
    size_t reported = 0;
    for (const auto& d : socks->destinations) {
        double used =
            size > 0 ? static_cast<double>(d.in_port_range) / static_cast<double>(size) : 1.0;
        bool busiest = reported == 0;
        if (used < kPortsWarn && !busiest) break;  // sorted busiest first
        if (reported >= kMaxDestinations) break;
        Severity sev = used >= kPortsCrit   ? Severity::crit
                       : used >= kPortsWarn ? Severity::warn
                                            : Severity::ok;
        auto f = make_finding(
            CheckId::ports_destination, sev,
            fmt::format("{} of {} ephemeral ports in use to {} ({:.0f}%), {} in TIME_WAIT",
                        d.in_port_range, size, d.remote.to_string(), used * 100, d.time_wait));
        f.subject = d.remote.to_string();
        add_evidence(f, key::ports_in_use, d.in_port_range);
        add_evidence(f, key::sockets, d.sockets);
        add_evidence(f, key::time_wait, d.time_wait);
        add_evidence(f, key::port_range_size, static_cast<double>(size));
        if (tw_reuse) add_evidence(f, key::tcp_tw_reuse, static_cast<double>(*tw_reuse));
        f.why =
            "connect() scans the ports of one parity first (half the range; bind() prefers the "
            "other half): once the sockets to one destination fill half the range, every "
            "connect() walks that whole half in the kernel before it finds a port - "
            "milliseconds of CPU per call - and only near the end of the range does it fail "
            "with EADDRNOTAVAIL.";
        // In the order that works: fewer new connections beats more ports.
        f.fix.push_back(
            "reuse connections to it (HTTP keep-alive, a connection pool) instead of one per "
            "request");
        if (in.now().process)
            if (auto own = upstream_reuse_setting(in.now().process->comm)) f.fix.push_back(*own);
        f.fix.push_back(
            "spread load over more destination addresses or ports, or bind() more source "
            "addresses (each source address has its own ports)");
        f.fix.push_back(widen);
        bool own_clients = d.remote.family == AF_INET ? d.remote.addr[0] == 127 : false;
        if (tw_reuse && *tw_reuse != 1 && d.time_wait > 0)
            f.fix.push_back(sysctl_fix("net.ipv4.tcp_tw_reuse", "1") +
                            (own_clients ? "   (reuse TIME_WAIT ports: safe for loopback)"
                                         : "   (reuse TIME_WAIT ports for outbound "
                                           "connections; 2 = loopback only)"));
        out.push_back(std::move(f));
        ++reported;
    }
    if (reported == 0) {
        auto f = make_finding(CheckId::ports_destination, Severity::ok,
                              "no outbound connections competing for ephemeral ports");
        add_evidence(f, key::port_range_size, static_cast<double>(size));
        out.push_back(std::move(f));
    }
    return out;
}

}  // namespace c10k
