// SPDX-License-Identifier: GPL-2.0-or-later
// TCP sockets of one network namespace, read through netlink sock_diag (never by
// parsing /proc/net/tcp, which is O(n) text), reduced while reading to what the
// rules need: state counts, listeners, and ephemeral-port use per destination.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "c10k/result.hpp"

namespace c10k {

// TCP states as the kernel numbers them (include/net/tcp_states.h).
enum class TcpState : uint8_t {
    established = 1,
    syn_sent,
    syn_recv,
    fin_wait1,
    fin_wait2,
    time_wait,
    close,
    close_wait,
    last_ack,
    listen,
    closing,
    new_syn_recv,
    bound_inactive,
    max_state
};

struct Endpoint {
    int family = 0;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;

    std::string to_string() const;  // "127.0.0.1:80", "[::1]:80"
    bool operator==(const Endpoint&) const = default;
};

// For maps keyed by address:port (no text formatting on the way).
struct EndpointHash {
    size_t operator()(const Endpoint& e) const;
};

// One socket as the parser hands it over.
struct SocketRecord {
    uint8_t state = 0;
    Endpoint local;
    Endpoint remote;
    uint64_t inode = 0;
    uint32_t rqueue = 0;  // listener: current accept queue length
    uint32_t wqueue = 0;  // listener: backlog (already clamped by somaxconn)
};

struct Listener {
    Endpoint local;
    uint32_t backlog = 0;
    uint32_t queued = 0;
    uint64_t inode = 0;
    bool owned = false;  // one of the target process's sockets
    // Over the interval's samples (collect() with an interval): the fullest
    // queue seen, how many samples saw this listener and how many found it full.
    uint32_t queued_max = 0;
    uint32_t samples = 0;
    uint32_t full_samples = 0;
};

// Outbound-style sockets to one remote address:port whose local port is not a
// listening port (so not accepted connections): what competes for ephemeral ports.
struct DestinationUse {
    Endpoint remote;
    uint32_t sockets = 0;
    uint32_t time_wait = 0;
    uint32_t in_port_range = 0;  // local port inside ip_local_port_range
};

struct SocketSummary {
    // Of the sockets the dump returned: every socket with DumpPlan::everything,
    // otherwise listeners and outbound-style sockets only (use sockstat for totals).
    std::array<uint32_t, 16> by_state{};
    uint32_t total = 0;
    std::vector<Listener> listeners;
    std::vector<DestinationUse> destinations;  // busiest first
    uint32_t owned_connections = 0;            // non-listening sockets of the target process

    uint32_t count(TcpState s) const { return by_state[static_cast<size_t>(s)]; }
};

// Accumulates records, then reduces them. Kept apart from netlink so tests can
// feed it recorded or synthetic sockets.
class SocketSummaryBuilder {
  public:
    // `owned`: socket inodes of the target process (may be empty).
    explicit SocketSummaryBuilder(std::unordered_set<uint64_t> owned = {});
    void add(const SocketRecord& r);
    std::vector<uint16_t> listening_ports() const;
    SocketSummary finish(uint16_t port_low, uint16_t port_high) &&;

  private:
    struct Outbound {
        Endpoint remote;
        uint16_t local_port;
        uint8_t state;
    };
    std::unordered_set<uint64_t> owned_;
    SocketSummary summary_;
    std::vector<Outbound> outbound_;
};

// Parses a buffer of netlink messages (one recv of an inet_diag dump).
// Returns false when NLMSG_DONE was seen; errors carry the kernel's errno.
Result<bool> parse_inet_diag_buffer(std::span<const uint8_t> buf, SocketSummaryBuilder& into);

// What to ask the kernel for. Filling a socket into a netlink message is what a
// dump costs (walking the hash table alone is ~10x cheaper), so by default the
// kernel filters: listeners, then only sockets whose local port is ephemeral and
// not a listening port. Counting a process's connections needs every socket.
struct DumpPlan {
    bool everything = false;
    bool listeners_only = false;  // just the listeners: cheap enough to repeat
    uint16_t port_low = 32768;
    uint16_t port_high = 60999;
};

// inet_diag bytecode: local port within [low, high] and none of `excluded`.
std::vector<uint8_t> outbound_port_filter(uint16_t low, uint16_t high,
                                          const std::vector<uint16_t>& excluded);

// Dumps TCP sockets (IPv4 and IPv6) of the calling thread's network namespace.
Status dump_tcp_sockets(SocketSummaryBuilder& into, const DumpPlan& plan);

}  // namespace c10k
