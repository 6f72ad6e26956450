// SPDX-License-Identifier: GPL-2.0-or-later
// The target's own TCP sockets with what the kernel knows of each (TCP_INFO and
// SKMEMINFO through sock_diag): who is waiting for whom, what is held back
// unsent, how full the buffers are. What `probe` samples many times a second.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_set>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/sources/sockets.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

struct TcpConn {
    uint8_t state = 0;
    Endpoint local;
    Endpoint remote;
    uint64_t inode = 0;
    uint64_t cookie = 0;      // the kernel's id of the socket: what an exact lookup checks
    uint32_t ifindex = 0;     // the device it is bound to, 0 for none
    uint32_t rqueue = 0;      // bytes received, not yet read by the process
    uint32_t wqueue = 0;      // bytes written, not yet acknowledged
    uint32_t expires_ms = 0;  // the socket's pending timer: for TIME_WAIT, the time it has left
    bool has_info = false;
    uint32_t rtt_us = 0;      // smoothed: delayed ACKs inflate it
    uint32_t min_rtt_us = 0;  // the path's round trip, as the fastest ACK showed it
    uint32_t snd_mss = 0;
    uint32_t unacked = 0;  // segments in flight
    uint32_t snd_cwnd = 0;
    uint32_t notsent_bytes = 0;  // written by the process, not yet sent by TCP
    uint32_t last_data_sent_ms = 0;
    uint32_t last_data_recv_ms = 0;
    uint32_t last_ack_recv_ms = 0;  // any ACK from the peer, with or without data
    uint32_t rcv_space = 0;
    uint32_t snd_wnd = 0;  // the peer's advertised window
    uint32_t rcv_wnd = 0;  // ours (kernels >= 6.2; 0 when absent)
    uint64_t bytes_received = 0;
    uint64_t bytes_acked = 0;
    uint64_t busy_time_us = 0;
    uint64_t rwnd_limited_us = 0;
    uint64_t sndbuf_limited_us = 0;
    uint32_t data_segs_out = 0;
    uint32_t data_segs_in = 0;
    uint32_t segs_in = 0;  // every segment from the peer, data or not (the SYN too)
    bool has_mem = false;
    uint32_t rmem_alloc = 0;
    uint32_t rcvbuf = 0;
    uint32_t wmem_queued = 0;
    uint32_t sndbuf = 0;
};

// Parses one recv of an inet_diag dump that asked for INET_DIAG_INFO and
// SKMEMINFO. Returns false once NLMSG_DONE is seen. Attributes shorter than
// the structs we know (older kernels) are zero-filled; longer ones truncated.
Result<bool> parse_tcp_conns(std::span<const uint8_t> buf,
                             const std::function<void(const TcpConn&)>& each);

// The request for one socket by exact lookup (no NLM_F_DUMP), with its
// addresses, ports, device and cookie, asking for `ext`; `seq` numbers it.
std::vector<uint8_t> exact_lookup_request(const TcpConn& c, uint8_t ext, uint32_t seq);

// One sock_diag dump of the TCP sockets in `states` (a bit per TcpState) of
// the families asked for, over the NETLINK_SOCK_DIAG socket `fd`: `ext` asks
// for attributes (INET_DIAG_INFO, ...), `bytecode` filters in the kernel.
// Both families come from one walk of the kernel's tables where it can.
Status dump_tcp(int fd, bool ipv4, bool ipv6, uint32_t states, uint8_t ext,
                std::span<const uint8_t> bytecode, const std::function<void(const TcpConn&)>& each);

// A netlink socket bound, when it is made, to the calling thread's network
// namespace: keep one and ask it many times.
class TcpConnReader {
  public:
    static Result<TcpConnReader> open();
    // TCP sockets established, connecting, closed by the peer or listening that
    // `keep` accepts. It costs a walk of the kernel's whole established hash
    // table (sized by the host's memory, ~1 ms at 262,144 buckets, whatever
    // the namespace holds), so callers ask only for the families they need.
    Status read(const std::function<bool(const TcpConn&)>& keep, std::vector<TcpConn>& out,
                bool ipv4 = true, bool ipv6 = true);
    // The same sockets as `read` asks for, by exact lookup of each of `known`
    // (by its addresses, ports and cookie), and the listeners (a dump of the
    // listening table only): no walk of the established table, which costs
    // ~1 ms at 262,144 buckets against ~2 us a socket looked up. Sockets gone,
    // or in a state `read` does not ask for, are left out. Ok(false) when
    // some lookup went unanswered (the receive buffer overran): read() then.
    Result<bool> read_known(std::span<const TcpConn> known,
                            const std::function<bool(const TcpConn&)>& keep,
                            std::vector<TcpConn>& out, bool ipv4, bool ipv6);
    // TIME_WAIT sockets that `keep` accepts: no attributes, just their
    // addresses and the time each has left.
    Status read_time_wait(const std::function<bool(const TcpConn&)>& keep,
                          std::vector<TcpConn>& out);

  private:
    explicit TcpConnReader(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace c10k
