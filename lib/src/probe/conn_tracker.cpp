// SPDX-License-Identifier: GPL-2.0-or-later
#include <algorithm>

#include "c10k/probe/conn_evidence.hpp"

namespace c10k {

// TCP_INFO's last_data_sent/last_data_recv are milliseconds since the last data
// segment went out / came in, at clock-tick resolution. "Sent more recently than
// received" means a request is out and its reply has not come.
//
// A tie (both in one tick) is the common case of a client that sends its next
// request as soon as a reply lands: a transaction's statements, a pooled
// connection handed straight to the next waiting thread. The ACKs break it. A
// reply carries the ACK of the request it answers, so data of ours still
// unacknowledged was sent after the peer last spoke; and an ACK that came after
// our last data, with no data since, acknowledged a request it has not answered
// (the peer's delayed-ACK timer fired while it worked). With neither, the
// exchange finished inside the tick and the connection is idle.
bool awaiting_reply(const TcpConn& c) {
    if (!c.has_info || c.state != static_cast<uint8_t>(TcpState::established)) return false;
    if (c.rqueue > 0) return false;  // the reply is here, unread: waiting on us, not them
    // A peer that has never sent data is fed, not asked (a log or replication stream).
    if (c.bytes_received == 0) return false;
    if (c.notsent_bytes > 0 || c.last_data_sent_ms < c.last_data_recv_ms) return true;
    if (c.last_data_sent_ms != c.last_data_recv_ms) return false;
    return c.unacked > 0 || c.last_ack_recv_ms < c.last_data_sent_ms;
}

bool unanswered(const TcpConn& c) {
    if (!c.has_info || c.state != static_cast<uint8_t>(TcpState::established)) return false;
    return c.rqueue == 0 && c.bytes_received == 0 && c.data_segs_out > 0;
}

// The mirror of awaiting_reply, from the serving side. The tie (request and
// our last reply in one tick) is the usual case of a client that sends its
// next request the moment a reply lands, and a request that waits (for a
// lock, a worker) keeps it tied for as long as it waits. The ACKs break it:
// a request that came after our reply acknowledges it, in the same segment -
// all our data acked, the last ACK that segment. A request we answered
// instead leaves our reply unacknowledged, or acknowledged later by a segment
// of its own (the client's delayed ACK).
//
// Or acknowledged at once. A receiver ACKs each segment as it comes while in
// quick-ACK mode: at a connection's first data, and again after a gap in its
// peer's data longer than its RTO (over 200 ms: a client pausing between
// requests). A request answered inside its tick then has its reply
// acknowledged in that tick too - the tie, with nothing owed. The segment
// counts tell the two apart: a client that has acknowledged each of our
// replies on its own has sent, since the handshake (SYN and ACK), at least as
// many pure ACKs as requests and as our data segments. One whose request rode
// the ACK (the tie above) falls short by that request: its last reply's ACK
// is the request's segment. (At HZ=250, a 4 ms tick, the idle keep-alive
// connections of clients pausing 300 ms looked owed 197 times in 200, and a
// cap draining idle connections, holding first exchanges, 33-53 of its 50.)
namespace {
bool acked_on_its_own(const TcpConn& c) {
    constexpr uint32_t kHandshake = 2;  // the SYN and the ACK that completed it
    if (c.segs_in < c.data_segs_in + kHandshake) return false;
    uint32_t pure = c.segs_in - c.data_segs_in - kHandshake;
    return c.data_segs_in > 0 && pure >= c.data_segs_in && pure >= c.data_segs_out;
}
}  // namespace

bool owes_reply(const TcpConn& c) {
    if (!c.has_info || c.state != static_cast<uint8_t>(TcpState::established)) return false;
    if (c.rqueue > 0 || c.last_data_recv_ms < c.last_data_sent_ms) return true;
    if (c.last_data_recv_ms != c.last_data_sent_ms || c.bytes_received == 0) return false;
    return c.unacked == 0 && c.notsent_bytes == 0 && c.last_ack_recv_ms == c.last_data_recv_ms &&
           !acked_on_its_own(c);
}

// Nagle (RFC 896, tcp_nagle_check): a segment smaller than the MSS is held while
// an earlier small segment is unacknowledged. The peer's delayed ACK (40 ms
// minimum on Linux) then sets the pace. Without Nagle the kernel sends inside
// write(), so a sub-MSS tail sitting unsent while the congestion and receive
// windows are open, behind a segment in flight for many round trips, is that.
bool nagle_held(const TcpConn& c) {
    if (!c.has_info || c.state != static_cast<uint8_t>(TcpState::established)) return false;
    if (c.notsent_bytes == 0 || c.snd_mss == 0 || c.notsent_bytes >= c.snd_mss) return false;
    if (c.unacked == 0 || c.unacked >= c.snd_cwnd)
        return false;  // nothing in flight, or cwnd-bound
    if (c.snd_wnd != 0 && c.snd_wnd <= c.notsent_bytes) return false;  // the peer's window is shut
    // In flight for at least one clock tick and for more than two round trips:
    // the ACK is being delayed, not travelling. The path's round trip is the
    // minimum RTT: the smoothed one has the delayed ACKs averaged into it.
    uint64_t rtt = c.min_rtt_us ? c.min_rtt_us : c.rtt_us;
    return c.last_data_sent_ms >= 1 && uint64_t{c.last_data_sent_ms} * 1000 > 2 * rtt;
}

double ConnEvidence::mean_inbound_pending() const {
    return samples ? static_cast<double>(inbound_pending_sum) / static_cast<double>(samples) : 0;
}

double ConnEvidence::mean_inbound_kept() const {
    return samples > 1 ? static_cast<double>(inbound_kept_sum) / static_cast<double>(samples - 1)
                       : 0;
}

double ConnEvidence::mean_inbound_unread() const {
    return samples > 1 ? static_cast<double>(inbound_unread_sum) / static_cast<double>(samples - 1)
                       : 0;
}

double ConnEvidence::mean_inbound_queued() const {
    return samples ? static_cast<double>(inbound_queued_sum) / static_cast<double>(samples) : 0;
}

const DestinationWait* ConnEvidence::top_destination() const {
    return destinations.empty() ? nullptr : &destinations.front();
}

void ConnTracker::add(const std::vector<TcpConn>& conns,
                      const std::unordered_set<uint16_t>& listening,
                      const std::unordered_set<uint64_t>& read_blocked, TimePoint at) {
    if (first_) t0_ = at;
    last_at_ = at;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - t0_).count();
    ++acc_.samples;

    uint32_t inbound = 0, pending = 0, held = 0, kept = 0, unread = 0, queued = 0;
    struct PerDest {
        uint32_t conns = 0, waiting = 0, unanswered = 0;
    };
    std::unordered_map<Endpoint, PerDest, EndpointHash> per_dest;
    for (const auto& c : conns) {
        bool is_inbound = listening.count(c.local.port) > 0;
        auto [seen_it, seen_fresh] = seen_.try_emplace(c.inode);
        auto& seen = seen_it->second;
        if (seen_fresh) seen.first_segs_in = c.data_segs_in;
        // Took data since the previous look: a queue that sits full while the
        // reader takes nothing is a stalled reader, not a buffer too small.
        bool flowing = !seen_fresh && c.has_info && c.data_segs_in != seen.last_segs_in;
        seen.last_segs_in = c.data_segs_in;
        bool in_last_look = !seen_fresh && seen.last_sample + 1 == acc_.samples;
        seen.last_sample = acc_.samples;
        if (c.has_info) {
            if (seen.first_busy_us == 0 && seen.last_busy_us == 0) {
                seen.first_busy_us = c.busy_time_us;
                seen.first_rwnd_us = c.rwnd_limited_us;
            }
            seen.last_busy_us = c.busy_time_us;
            seen.last_rwnd_us = c.rwnd_limited_us;
        }
        if (c.has_mem && c.state == static_cast<uint8_t>(TcpState::established)) {
            bool small = c.rcvbuf > 0 && c.rcvbuf < kSmallRcvbuf;
            if (flowing) {
                ++acc_.rcv_observations;
                if (small) ++acc_.rcv_small_observations;
                // At half its buffer the receive queue has eaten the window it
                // can advertise (the rest is the skbs' overhead allowance).
                if (c.rcvbuf > 0 && uint64_t{c.rmem_alloc} * 2 >= c.rcvbuf) {
                    ++acc_.rcv_full_observations;
                    if (small) ++acc_.rcv_small_full_observations;
                }
            }
            if (c.rcvbuf > 0 && (acc_.rcvbuf_min == 0 || c.rcvbuf < acc_.rcvbuf_min))
                acc_.rcvbuf_min = c.rcvbuf;
        }
        if (nagle_held(c)) {
            ++held;
            ++acc_.nagle_ports[c.local.port];
            acc_.nagle_stall.record(uint64_t{c.last_data_sent_ms} * 1'000'000);
            uint32_t rtt = c.min_rtt_us ? c.min_rtt_us : c.rtt_us;
            if (acc_.rtt_us_min == 0 || rtt < acc_.rtt_us_min) acc_.rtt_us_min = rtt;
        }
        if (is_inbound) {
            if (c.state != static_cast<uint8_t>(TcpState::established)) continue;
            ++inbound;
            if (owes_reply(c))
                ++pending;
            else if (c.has_info && c.bytes_received > 0 && c.rqueue == 0)
                acc_.inbound_idle_age.record(
                    uint64_t{std::min(c.last_data_recv_ms, c.last_data_sent_ms)} * 1'000'000);
            if (!first_ && inbound_seen_.insert(c.inode).second) ++acc_.accepted;
            if (first_) inbound_seen_.insert(c.inode);
            if (seen_fresh) seen.inbound_new = !first_;
            if (c.has_info && track_unread(c, seen, in_last_look, now_ms)) ++unread;
            if (c.rqueue > 0) ++queued;
            if (in_last_look) {
                ++kept;
                if (!seen.inbound_kept && seen.inbound_new) ++acc_.inbound_kept_new;
                seen.inbound_kept = true;
            }
            continue;
        }
        if (c.state != static_cast<uint8_t>(TcpState::established)) continue;
        const auto& key = c.remote;
        auto [it, fresh] = dest_index_.try_emplace(key, acc_.destinations.size());
        if (fresh) {
            DestinationWait d;
            d.remote = c.remote;
            d.local = c.local;
            acc_.destinations.push_back(d);
            dest_ports_.set(c.remote.port);
            waits_.emplace_back();
            waits_or_unanswered_.emplace_back();
        }
        seen.dest = static_cast<int64_t>(it->second);
        if (seen_fresh && !first_) {
            ++acc_.destinations[it->second].opened;
            ++outbound_opened_;
        }
        auto& pd = per_dest[key];
        ++pd.conns;
        bool waits = awaiting_reply(c) || read_blocked.count(c.inode) > 0;
        bool asks = !waits && unanswered(c);
        pd.waiting += waits ? 1 : 0;
        pd.unanswered += asks ? 1 : 0;
        if (waits || asks) {
            auto& d = acc_.destinations[it->second];
            if (++seen.waiting_samples > d.busiest_waits) {
                d.busiest_waits = seen.waiting_samples;
                d.busiest_local = c.local;
            }
        }
        // A reply that arrived since we last looked closes one exchange: its
        // latency is the gap between the request's last byte out and the reply's
        // last byte in.
        if (c.has_info && c.last_data_recv_ms <= c.last_data_sent_ms) {
            int64_t recv_abs = now_ms - c.last_data_recv_ms;
            uint64_t ms = c.last_data_sent_ms - c.last_data_recv_ms;
            // Request and reply in one tick say only "under a tick": not recorded.
            if (!first_ && recv_abs > seen.last_recv_ms && seen.last_recv_ms >= 0 && ms > 0)
                acc_.destinations[it->second].reply_latency.record(ms * 1'000'000);
            seen.last_recv_ms = recv_abs;
        } else if (c.has_info) {
            seen.last_recv_ms = now_ms - c.last_data_recv_ms;
        }
    }
    for (auto& [key, pd] : per_dest) {
        size_t i = dest_index_[key];
        auto& d = acc_.destinations[i];
        d.conns_min = d.samples_seen ? std::min(d.conns_min, pd.conns) : pd.conns;
        d.conns_max = std::max(d.conns_max, pd.conns);
        ++d.samples_seen;
        d.conns_sum += pd.conns;
        waits_[i].add(pd.conns, pd.waiting);
        waits_or_unanswered_[i].add(pd.conns, pd.waiting + pd.unanswered);
    }
    acc_.inbound_min = first_ ? inbound : std::min(acc_.inbound_min, inbound);
    if (inbound > acc_.inbound_max) {
        acc_.inbound_max_but_one = acc_.inbound_max;
        acc_.inbound_max = inbound;
    } else {
        acc_.inbound_max_but_one = std::max(acc_.inbound_max_but_one, inbound);
    }
    acc_.inbound_pending_sum += pending;
    acc_.inbound_sum += inbound;
    if (!first_) {
        acc_.inbound_kept_sum += kept;
        acc_.inbound_kept_max = std::max<uint32_t>(acc_.inbound_kept_max, kept);
        acc_.inbound_transient_sum += inbound - kept;
        acc_.inbound_unread_sum += unread;
        if (unread) ++acc_.samples_inbound_unread;
    }
    if (pending) ++acc_.samples_inbound_pending;
    acc_.inbound_queued_sum += queued;
    if (queued) ++acc_.samples_inbound_queued;
    acc_.nagle_held_sum += held;
    if (held) ++acc_.samples_nagle_held;
    first_ = false;
    // Connections that came and went: fold what they showed into the totals so
    // a churning target does not grow this map without bound.
    if (seen_.size() > 4 * conns.size() + 1024) {
        for (auto it = seen_.begin(); it != seen_.end();) {
            if (it->second.last_sample == acc_.samples) {
                ++it;
                continue;
            }
            fold(it->second, acc_);
            inbound_seen_.erase(it->first);
            it = seen_.erase(it);
        }
    }
}

// The bytes in a receive queue are a request the process has not read. The
// same count, with no byte received since, in this look and the one before:
// the process left that request untouched for the whole interval.
bool ConnTracker::track_unread(const TcpConn& c, Seen& seen, bool in_last_look, int64_t now_ms) {
    bool same = in_last_look && c.rqueue > 0 && c.rqueue == seen.last_rqueue &&
                c.bytes_received == seen.last_bytes_received;
    if (same) {
        seen.unread_last_ms = now_ms;
    } else {
        record_unread(seen, acc_);
        seen.unread_first_ms = seen.unread_last_ms = c.rqueue > 0 ? now_ms : -1;
    }
    seen.last_rqueue = c.rqueue;
    seen.last_bytes_received = c.bytes_received;
    return same;
}

// A request that sat unread across looks: how long, first look to last.
void ConnTracker::record_unread(const Seen& seen, ConnEvidence& into) {
    if (seen.unread_first_ms >= 0 && seen.unread_last_ms > seen.unread_first_ms)
        into.inbound_unread_wait.record(
            static_cast<uint64_t>(seen.unread_last_ms - seen.unread_first_ms) * 1'000'000);
}

void ConnTracker::WaitTally::add(uint32_t conns, uint32_t waiting) {
    waiting_sum += waiting;
    waiting_max = std::max(waiting_max, waiting);
    if (waiting > 0) ++samples_waiting;
    if (waiting == conns) ++samples_all_busy;
}

void ConnTracker::fold(const Seen& s, ConnEvidence& into) {
    record_unread(s, into);
    // An inode can be reused by a new connection whose counters start again.
    if (s.last_busy_us >= s.first_busy_us) into.busy_us += s.last_busy_us - s.first_busy_us;
    if (s.last_rwnd_us >= s.first_rwnd_us) into.rwnd_limited_us += s.last_rwnd_us - s.first_rwnd_us;
    if (s.dest >= 0 && static_cast<size_t>(s.dest) < into.destinations.size() &&
        s.last_segs_in >= s.first_segs_in)
        into.destinations[static_cast<size_t>(s.dest)].replies += s.last_segs_in - s.first_segs_in;
}

void set_reply_mean(DestinationWait& d, uint64_t samples, double seconds) {
    if (d.per_request) d.replies = std::max({d.replies, d.opened, d.closed});
    if (d.replies > 0 && seconds > 0 && samples > 0)
        d.reply_mean_s = (static_cast<double>(d.waiting_sum) / static_cast<double>(samples)) /
                         (static_cast<double>(d.replies) / seconds);
}

uint64_t closed_within(const DestinationWait& d, std::span<const TcpConn> time_wait,
                       double window_s) {
    if (window_s <= 0) return 0;
    double window_ms = std::min(window_s * 1e3, static_cast<double>(kTimeWaitMs));
    uint64_t n = 0;
    for (const auto& t : time_wait) {
        // Ended within the window: more than 60 s less the window left.
        if (t.expires_ms > kTimeWaitMs || kTimeWaitMs - t.expires_ms > window_ms) continue;
        bool ours_closed = t.remote == d.remote;
        bool theirs_closed = t.local == d.remote && t.remote.family == d.local.family &&
                             t.remote.addr == d.local.addr;
        if (ours_closed || theirs_closed) ++n;
    }
    if (d.others_sum == 0) return n;
    return static_cast<uint64_t>(static_cast<double>(n) * static_cast<double>(d.conns_sum) /
                                 static_cast<double>(d.conns_sum + d.others_sum));
}

void ConnTracker::add_other(const Endpoint& remote) {
    auto it = dest_index_.find(remote);
    if (it != dest_index_.end()) ++acc_.destinations[it->second].others_sum;
}

std::vector<uint16_t> ConnTracker::destination_ports() const {
    std::vector<uint16_t> out;
    for (const auto& d : acc_.destinations)
        if (std::find(out.begin(), out.end(), d.remote.port) == out.end())
            out.push_back(d.remote.port);
    return out;
}

ConnEvidence ConnTracker::evidence() const {
    ConnEvidence e = acc_;
    for (const auto& [_, s] : seen_)
        fold(s, e);
    e.seconds = std::chrono::duration<double>(last_at_ - t0_).count();
    for (size_t i = 0; i < e.destinations.size(); ++i) {
        auto& d = e.destinations[i];
        // Every connection it ever had open at once replaced within the window
        // (and more than one: a single reconnect is not a pattern).
        d.per_request = d.opened >= 2 && d.opened >= d.conns_max;
        const auto& w = d.per_request ? waits_or_unanswered_[i] : waits_[i];
        d.waiting_sum = w.waiting_sum;
        d.samples_waiting = w.samples_waiting;
        d.samples_all_busy = w.samples_all_busy;
        d.waiting_max = w.waiting_max;
        // One exchange per connection: connections opened are replies that
        // came (or will), which the segment counts miss for connections that
        // lived between two looks.
        set_reply_mean(d, e.samples, e.seconds);
    }
    std::stable_sort(e.destinations.begin(), e.destinations.end(),
                     [](const DestinationWait& a, const DestinationWait& b) {
                         return a.waiting_sum != b.waiting_sum ? a.waiting_sum > b.waiting_sum
                                                               : a.conns_max > b.conns_max;
                     });
    if (e.destinations.size() > 16) e.destinations.resize(16);
    return e;
}

}  // namespace c10k
