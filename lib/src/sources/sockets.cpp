// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/sockets.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "c10k/sources/tcp_conns.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

std::string Endpoint::to_string() const {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (family == AF_INET) {
        ::inet_ntop(AF_INET, addr.data(), buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(port);
    }
    // Show v4-mapped addresses the way people think of them.
    static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr.data(), mapped, 12) == 0) {
        ::inet_ntop(AF_INET, addr.data() + 12, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(port);
    }
    ::inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
    std::string out = "[";  // not "[" + string&&: GCC 12 -O3 warns (-Wrestrict) on that
    out += buf;
    out += "]:" + std::to_string(port);
    return out;
}

size_t EndpointHash::operator()(const Endpoint& e) const {
    size_t h = static_cast<size_t>(e.family) * 1315423911u ^ e.port;
    for (uint8_t b : e.addr)
        h = h * 31 + b;
    return h;
}

SocketSummaryBuilder::SocketSummaryBuilder(std::unordered_set<uint64_t> owned)
    : owned_(std::move(owned)) {}

void SocketSummaryBuilder::add(const SocketRecord& r) {
    ++summary_.total;
    if (r.state < summary_.by_state.size()) ++summary_.by_state[r.state];
    bool owned = r.inode != 0 && owned_.count(r.inode) > 0;
    if (r.state == static_cast<uint8_t>(TcpState::listen)) {
        summary_.listeners.push_back({r.local, r.wqueue, r.rqueue, r.inode, owned});
        return;
    }
    if (owned) ++summary_.owned_connections;
    outbound_.push_back({r.remote, r.local.port, r.state});
}

std::vector<uint16_t> SocketSummaryBuilder::listening_ports() const {
    std::vector<uint16_t> ports;
    for (const auto& l : summary_.listeners)
        ports.push_back(l.local.port);
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    return ports;
}

SocketSummary SocketSummaryBuilder::finish(uint16_t port_low, uint16_t port_high) && {
    std::unordered_set<uint16_t> listening_ports;
    for (const auto& l : summary_.listeners)
        listening_ports.insert(l.local.port);

    std::unordered_map<Endpoint, DestinationUse, EndpointHash> by_dest;
    for (const auto& o : outbound_) {
        if (listening_ports.count(o.local_port)) continue;  // an accepted connection
        auto& d = by_dest[o.remote];
        d.remote = o.remote;
        ++d.sockets;
        if (o.state == static_cast<uint8_t>(TcpState::time_wait)) ++d.time_wait;
        if (o.local_port >= port_low && o.local_port <= port_high) ++d.in_port_range;
    }
    summary_.destinations.reserve(by_dest.size());
    for (auto& [_, d] : by_dest)
        summary_.destinations.push_back(d);
    std::sort(summary_.destinations.begin(), summary_.destinations.end(),
              [](const DestinationUse& a, const DestinationUse& b) {
                  return a.in_port_range != b.in_port_range ? a.in_port_range > b.in_port_range
                                                            : a.sockets > b.sockets;
              });
    std::sort(summary_.listeners.begin(), summary_.listeners.end(),
              [](const Listener& a, const Listener& b) { return a.local.port < b.local.port; });
    outbound_.clear();
    return std::move(summary_);
}

Result<bool> parse_inet_diag_buffer(std::span<const uint8_t> buf, SocketSummaryBuilder& into) {
    return parse_tcp_conns(buf, [&](const TcpConn& c) {
        into.add({c.state, c.local, c.remote, c.inode, c.rqueue, c.wqueue});
    });
}

std::vector<uint8_t> outbound_port_filter(uint16_t low, uint16_t high,
                                          const std::vector<uint16_t>& excluded) {
    // The kernel runs the program op by op: a true test moves `yes` bytes on, a
    // false one `no` bytes; landing exactly on the end accepts, jumping 4 bytes
    // past it rejects. Its audit walks the `yes` chain, which must reach the end,
    // so "port != P" is "port == P" followed by a JMP (always taken as `no`) to
    // reject, the way ss compiles NOT.
    constexpr uint16_t kOp = sizeof(inet_diag_bc_op);
    std::vector<uint16_t> not_equal;
    for (uint16_t p : excluded)
        if (p >= low && p <= high) not_equal.push_back(p);
    size_t total = 2 * (2 * kOp) + not_equal.size() * (3 * kOp);
    std::vector<inet_diag_bc_op> ops;
    ops.reserve(total / kOp);
    auto reject_from = [&](size_t off) { return static_cast<uint16_t>(total - off + 4); };
    for (auto [code, port] :
         {std::pair{INET_DIAG_BC_S_GE, low}, std::pair{INET_DIAG_BC_S_LE, high}}) {
        size_t off = ops.size() * kOp;
        ops.push_back({static_cast<uint8_t>(code), 2 * kOp, reject_from(off)});
        ops.push_back({0, 0, port});
    }
    for (uint16_t port : not_equal) {
        size_t off = ops.size() * kOp;
        ops.push_back({INET_DIAG_BC_S_EQ, 2 * kOp, 3 * kOp});
        ops.push_back({0, 0, port});
        ops.push_back({INET_DIAG_BC_JMP, kOp, reject_from(off + 2 * kOp)});
    }
    std::vector<uint8_t> out(total);
    std::memcpy(out.data(), ops.data(), total);
    return out;
}

namespace {

// Excluding more listening ports than this would make the filter itself the cost.
constexpr size_t kMaxExcludedPorts = 512;

Status dump_both(int fd, uint32_t states, const std::vector<uint8_t>& filter,
                 SocketSummaryBuilder& into) {
    return dump_tcp(fd, true, true, states, 0, filter, [&](const TcpConn& c) {
        into.add({c.state, c.local, c.remote, c.inode, c.rqueue, c.wqueue});
    });  // the same record parse_inet_diag_buffer makes
}

}  // namespace

Status dump_tcp_sockets(SocketSummaryBuilder& into, const DumpPlan& plan) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return sys_error("sock_diag: socket");
    constexpr uint32_t kListen = 1u << static_cast<int>(TcpState::listen);
    if (plan.everything) return dump_both(fd.get(), ~0u, {}, into);

    auto st = dump_both(fd.get(), kListen, {}, into);
    if (!st || plan.listeners_only) return st;
    auto ports = into.listening_ports();
    if (ports.size() > kMaxExcludedPorts) ports.clear();  // accepted sockets are dropped later
    return dump_both(fd.get(), ~kListen, outbound_port_filter(plan.port_low, plan.port_high, ports),
                     into);
}

}  // namespace c10k
