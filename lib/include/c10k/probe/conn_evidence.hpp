// SPDX-License-Identifier: GPL-2.0-or-later
// What the target's own connections showed across many samples: who it waits
// for (outbound destinations), who waits for it (inbound requests), data held
// back by Nagle, receive buffers. Built by ConnTracker from sock_diag TCP_INFO,
// the same way in BPF and sampling mode.
#pragma once

#include <sys/types.h>

#include <bitset>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "c10k/probe/log2_hist.hpp"
#include "c10k/sources/tcp_conns.hpp"

namespace c10k {

// Outbound connections of the target to one remote address:port.
struct DestinationWait {
    Endpoint remote;
    Endpoint local;  // our end of one of the connections (same address: same host)
    uint32_t conns_min = 0, conns_max = 0;  // across the samples that saw it
    uint64_t samples_seen = 0;
    uint64_t conns_sum = 0;         // connections to it, summed over samples
    uint64_t waiting_sum = 0;       // connections awaiting a reply, summed over samples
    uint64_t samples_waiting = 0;   // samples with at least one awaiting a reply
    uint64_t samples_all_busy = 0;  // samples with every connection awaiting a reply
    uint32_t waiting_max = 0;
    // Connections to it first seen after the first sample. A client that opens
    // a connection per request (FastCGI from nginx, HTTP/1.0 to an upstream)
    // replaces every one of them within the window.
    uint64_t opened = 0;
    // Its connections are per-request: more were opened over the window than
    // were ever open at once. Then a connection that has sent its request and
    // received nothing yet is a reply awaited (the waits above count it), not a
    // one-way stream.
    bool per_request = false;
    // Request-to-reply times of exchanges that completed during the window, at
    // the kernel's clock-tick resolution (1-10 ms): TCP_INFO keeps no finer time.
    Log2Hist reply_latency;
    uint64_t replies = 0;  // data segments received over the window (a reply is one or more)
    // Per-request connections to it that ended within the window, read at its
    // end from the TIME_WAIT sockets (see closed_within): the ones that lived
    // between two looks, which `opened` misses, counted too.
    uint64_t closed = 0;
    // Other processes' established connections to it, summed over the looks:
    // with conns_sum, the target's share of the TIME_WAIT sockets.
    uint64_t others_sum = 0;
    // Little's law: requests out at once / replies per second, whatever the clock
    // resolution. A reply of several segments counts several times, so this
    // errs low, never high. 0 when nothing came back.
    double reply_mean_s = 0;
    // Our end of the connection that waited in the most samples: its peer
    // socket's owner is the process doing the work.
    Endpoint busiest_local;
    uint64_t busiest_waits = 0;
    // The local process that serves it, when one listens in the target's
    // namespace: the one holding the far end of the busiest connection. A
    // server that hands each connection to a process of its own (PostgreSQL's
    // backends, a prefork Apache) shows here as that process, with the
    // listener's holder in listener_pid; otherwise listener_pid == server_pid.
    pid_t server_pid = 0;
    std::string server_comm;
    pid_t listener_pid = 0;
    // The CPU its serving processes used over the window: server_pid, the
    // listener's holder and the processes it forked (PostgreSQL's backends).
    double server_cores = 0;
};

struct ConnEvidence {
    uint64_t samples = 0;
    double seconds = 0;  // from the first sample to the last
    // Inbound: connections on the target's listening ports.
    uint64_t inbound_pending_sum = 0;  // owing a reply (request unread or unanswered)
    uint64_t samples_inbound_pending = 0;
    uint32_t inbound_min = 0, inbound_max = 0;
    // The most seen in any look but the one with the most: a look's dump is not
    // one instant (a connection closed early in the walk and its replacement
    // accepted later are both seen), so under thousands of reconnects a second
    // one look can count a dozen more than were ever held at once.
    uint32_t inbound_max_but_one = 0;
    uint64_t inbound_sum = 0;  // connections held, summed over samples
    uint64_t accepted = 0;     // inbound connections first seen after the first sample
    // Kept: inbound connections seen in this look and the one before - they
    // outlived a look interval. Summed over every look but the first (which has
    // no look before it). A server refusing past its cap keeps the same sockets
    // look after look; the ones it refuses live far less than an interval.
    uint64_t inbound_kept_sum = 0;
    uint64_t inbound_transient_sum = 0;  // the others, over the same looks
    uint32_t inbound_kept_max = 0;       // the most kept in one look
    uint64_t inbound_kept_new = 0;       // kept connections first seen after the first look
    double mean_inbound_kept() const;
    // Unread: inbound connections holding the same unread bytes as in the look
    // before (nothing read, nothing new arrived): a request that sat in the
    // receive queue, untouched by the process, for a whole look interval.
    // Summed over every look but the first, and the looks with at least one.
    uint64_t inbound_unread_sum = 0;
    uint64_t samples_inbound_unread = 0;
    // How long such requests sat unread, from the first look that saw their
    // bytes to the last (a lower bound, by up to a look interval).
    Log2Hist inbound_unread_wait;
    double mean_inbound_unread() const;
    // Queued: inbound connections whose receive queue holds bytes at the look,
    // however long they have been there. One look tells it, however far apart
    // the looks are; summed over every look, and the looks with one.
    uint64_t inbound_queued_sum = 0;
    uint64_t samples_inbound_queued = 0;
    double mean_inbound_queued() const;
    // Idle: inbound connections that have had a request and owe no reply (kept
    // alive between requests); how long since their last data, in each look.
    Log2Hist inbound_idle_age;
    std::vector<DestinationWait> destinations;  // most waited-on first
    // Nagle: a sub-MSS tail held unsent behind one small unacknowledged segment
    // that has waited far longer than the round trip for its ACK.
    uint64_t nagle_held_sum = 0;
    uint64_t samples_nagle_held = 0;
    Log2Hist nagle_stall;  // how long the unacknowledged segment had waited (ns)
    std::map<uint16_t, uint64_t> nagle_ports;  // local port -> held observations
    uint32_t rtt_us_min = 0;                   // smallest RTT among held connections
    // Receive side, in looks at connections that took data since the look
    // before: all of them, and those whose receive queue was at least half
    // their buffer (the window closed).
    uint64_t rcv_observations = 0, rcv_full_observations = 0;
    // The same on receive buffers under kSmallRcvbuf: there the buffer, not the
    // reader, is what closes the window.
    uint64_t rcv_small_observations = 0, rcv_small_full_observations = 0;
    uint32_t rcvbuf_min = 0;
    uint64_t rwnd_limited_us = 0, busy_us = 0;  // growth over the window, all connections

    double mean_inbound_pending() const;
    const DestinationWait* top_destination() const;
};

// Half of Linux's default receive buffer (tcp_rmem[1], 128 KiB): a buffer below
// it was set small on purpose (SO_RCVBUF turns autotuning off) and holds a
// window of tens of microseconds of a LAN or loopback flow.
inline constexpr uint32_t kSmallRcvbuf = 65536;

// Feeds on one sample at a time; pure apart from the time it is given.
class ConnTracker {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    // `listening`: the target's listening ports, which make a connection inbound.
    // `read_blocked`: socket inodes a thread of the target sat blocked reading
    // (read/recv on a blocking socket): for an outbound connection, a reply
    // awaited, however close together the kernel's clock ticks put the last
    // request and the last reply.
    void add(const std::vector<TcpConn>& conns, const std::unordered_set<uint16_t>& listening,
             const std::unordered_set<uint64_t>& read_blocked, TimePoint at);
    ConnEvidence evidence() const;
    // Another process's established connection to `remote` in this look: where
    // `remote` is one of the target's destinations, it shares the destination.
    void add_other(const Endpoint& remote);
    bool is_destination_port(uint16_t port) const { return dest_ports_.test(port); }
    size_t destination_port_count() const { return dest_ports_.count(); }
    // When the first sample was taken; none before it.
    std::optional<TimePoint> first_at() const {
        return first_ ? std::nullopt : std::optional<TimePoint>(t0_);
    }
    // The remote ports of the target's own outbound connections seen so far.
    std::vector<uint16_t> destination_ports() const;
    // Outbound connections first seen after the first sample, to any destination.
    uint64_t outbound_opened() const { return outbound_opened_; }

  private:
    struct Seen {
        int64_t last_recv_ms = -1;  // absolute (since the tracker's first sample)
        uint64_t first_busy_us = 0, last_busy_us = 0;
        uint64_t first_rwnd_us = 0, last_rwnd_us = 0;
        uint64_t last_sample = 0;
        int64_t dest = -1;  // index into destinations, for outbound connections
        uint32_t first_segs_in = 0, last_segs_in = 0;
        uint64_t waiting_samples = 0;
        bool inbound_new = false;   // first seen after the first look
        bool inbound_kept = false;  // seen in two looks in a row
        // Inbound: the receive queue and bytes received at the last look, and
        // the first and last look (ms) that saw the request now waiting unread.
        uint32_t last_rqueue = 0;
        uint64_t last_bytes_received = 0;
        int64_t unread_first_ms = -1, unread_last_ms = -1;
    };
    // What one destination's looks add up to: its waits alone, or with its
    // unanswered connections counted as waits too (chosen once the window
    // shows whether its connections are per-request).
    struct WaitTally {
        uint64_t waiting_sum = 0, samples_waiting = 0, samples_all_busy = 0;
        uint32_t waiting_max = 0;
        void add(uint32_t conns, uint32_t waiting);
    };
    static void fold(const Seen& s, ConnEvidence& into);
    bool track_unread(const TcpConn& c, Seen& seen, bool in_last_look, int64_t now_ms);
    static void record_unread(const Seen& seen, ConnEvidence& into);
    ConnEvidence acc_;
    std::vector<WaitTally> waits_, waits_or_unanswered_;  // by index into destinations
    uint64_t outbound_opened_ = 0;
    std::unordered_map<uint64_t, Seen> seen_;  // by inode
    std::unordered_map<Endpoint, size_t, EndpointHash> dest_index_;
    std::bitset<65536> dest_ports_;
    std::unordered_set<uint64_t> inbound_seen_;
    bool first_ = true;
    TimePoint t0_{}, last_at_{};
};

// A TIME_WAIT socket lives TCP_TIMEWAIT_LEN, 60 s, from its connection's end
// (fixed in the kernel; tcp_fin_timeout is FIN_WAIT2's), longer than any
// window: every connection that ended within the window and left one is still
// there at its end, with the time it has left telling when it ended.
inline constexpr uint32_t kTimeWaitMs = 60'000;

// How many of the target's connections to `d` ended within the last
// `window_s` seconds, from the namespace's TIME_WAIT sockets: ours, when our
// end closed first (its remote is d's), or the server's, when the destination
// is in this namespace and closed first (its local is d's, its peer on our
// address). Other processes' connections to `d` leave them too, so the count
// is scaled by the target's share of the connections the looks saw. A lower
// bound: tcp_max_tw_buckets and tcp_tw_reuse end some early.
uint64_t closed_within(const DestinationWait& d, std::span<const TcpConn> time_wait,
                       double window_s);

// Little's law: requests out at once over replies a second, the replies the
// larger of what the segments, the connections opened and those closed show.
void set_reply_mean(DestinationWait& d, uint64_t samples, double seconds);

// Connection-level predicates, exposed for tests.
bool awaiting_reply(const TcpConn& c);  // outbound: our request sent, its reply not here yet
// Outbound: data sent and nothing ever received - a per-request connection's
// request out, or a one-way stream (a log shipper): the destination's churn tells.
bool unanswered(const TcpConn& c);
bool owes_reply(const TcpConn& c);  // inbound: a request arrived, not yet answered
bool nagle_held(const TcpConn& c);

}  // namespace c10k
