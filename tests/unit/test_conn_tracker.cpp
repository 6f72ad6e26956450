// SPDX-License-Identifier: GPL-2.0-or-later
// The connection-level evidence: the predicates that read TCP_INFO, the tracker
// that turns samples into per-destination waits, and the sock_diag parser.
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <cstring>

#include "c10k/probe/conn_evidence.hpp"
#include "c10k/sources/tcp_conns.hpp"

using namespace c10k;

namespace {

TcpConn conn(uint16_t local_port, uint16_t remote_port, uint64_t inode) {
    TcpConn c;
    c.state = static_cast<uint8_t>(TcpState::established);
    c.local.family = c.remote.family = AF_INET;
    c.local.addr = {127, 0, 0, 1};
    c.remote.addr = {127, 0, 0, 1};
    c.local.port = local_port;
    c.remote.port = remote_port;
    c.inode = inode;
    c.has_info = true;
    c.snd_mss = 32768;
    c.snd_cwnd = 10;
    c.snd_wnd = 65536;
    c.min_rtt_us = 5;
    c.rtt_us = 20000;  // smoothed over delayed ACKs
    c.bytes_received = 100;
    return c;
}

}  // namespace

TEST(ConnPredicates, NagleHeldIsASmallTailBehindOneUnackedSegmentForManyRoundTrips) {
    auto c = conn(8080, 40000, 1);
    c.unacked = 1;
    c.notsent_bytes = 16;
    c.last_data_sent_ms = 32;
    EXPECT_TRUE(nagle_held(c));
    auto bulk = c;  // a full segment waiting is congestion, not Nagle
    bulk.notsent_bytes = 40000;
    EXPECT_FALSE(nagle_held(bulk));
    auto cwnd = c;  // in flight up to the congestion window
    cwnd.unacked = 10;
    EXPECT_FALSE(nagle_held(cwnd));
    auto fresh = c;  // sent this tick: the ACK may still be on its way
    fresh.last_data_sent_ms = 0;
    EXPECT_FALSE(nagle_held(fresh));
    auto idle = c;  // nothing unsent
    idle.notsent_bytes = 0;
    EXPECT_FALSE(nagle_held(idle));
}

TEST(ConnPredicates, AwaitingAReplyNeedsARequestOutAndAPeerThatTalksBack) {
    auto c = conn(50000, 5432, 1);
    c.last_data_sent_ms = 4;
    c.last_data_recv_ms = 28;
    EXPECT_TRUE(awaiting_reply(c));
    auto unread = c;  // the reply is here, the process has not read it
    unread.rqueue = 32;
    EXPECT_FALSE(awaiting_reply(unread));
    auto stream = c;  // a peer that never sends data is fed, not asked
    stream.bytes_received = 0;
    EXPECT_FALSE(awaiting_reply(stream));
    auto tie = c;  // request and reply in one clock tick, the reply acking it: idle
    tie.last_data_recv_ms = 4;
    tie.last_ack_recv_ms = 4;
    EXPECT_FALSE(awaiting_reply(tie));
}

// A client that sends its next request in the tick its last reply came (a
// transaction's next statement, a pooled connection handed straight on) shows
// a tie in the data timestamps; measured on psycopg2 against PostgreSQL, every
// look during a 20 ms query was such a tie. The ACKs tell which came last.
TEST(ConnPredicates, ATieIsBrokenByTheAcks) {
    auto c = conn(50000, 5432, 1);
    c.last_data_sent_ms = c.last_data_recv_ms = c.last_ack_recv_ms = 12;
    EXPECT_FALSE(awaiting_reply(c));
    auto unacked = c;  // our request is not even acknowledged: sent after the peer spoke
    unacked.unacked = 1;
    EXPECT_TRUE(awaiting_reply(unacked));
    auto acked_later = c;  // a bare ACK after our request, no data since (delayed-ACK timer)
    acked_later.last_ack_recv_ms = 2;
    EXPECT_TRUE(awaiting_reply(acked_later));
    auto received_later = c;  // data came after what we sent: answered, not a tie
    received_later.last_data_recv_ms = 2;
    received_later.last_ack_recv_ms = 2;
    received_later.unacked = 1;
    EXPECT_FALSE(awaiting_reply(received_later));
}

TEST(ConnTracker, PerDestinationWaitsAndAThreadBlockedInRead) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    std::unordered_set<uint16_t> listening = {8080};
    for (int i = 0; i < 10; ++i) {
        auto a = conn(50001, 5432, 11);  // waiting by TCP_INFO
        a.last_data_sent_ms = 4;
        a.last_data_recv_ms = 30;
        auto b = conn(50002, 5432, 12);  // a tie, but a thread sits in read() on it
        b.last_data_sent_ms = b.last_data_recv_ms = 8;
        auto in = conn(8080, 60000, 13);  // inbound: not a destination
        t.add({a, b, in}, listening, {12}, at + std::chrono::milliseconds(100 * i));
    }
    auto e = t.evidence();
    ASSERT_EQ(e.destinations.size(), 1u);
    const auto& d = e.destinations[0];
    EXPECT_EQ(d.remote.port, 5432);
    EXPECT_EQ(d.conns_max, 2u);
    EXPECT_EQ(d.samples_waiting, 10u);
    EXPECT_EQ(d.samples_all_busy, 10u);
    EXPECT_EQ(d.conns_sum, 20u);  // 2 connections in each of 10 samples
    EXPECT_EQ(d.waiting_sum, 20u);
    EXPECT_EQ(e.inbound_min, 1u);
    EXPECT_EQ(e.inbound_max, 1u);
}

// One look that counts more than the others (a dump walked while connections
// were replaced) sets the most seen, not the most seen but one.
TEST(ConnTracker, TheMostHeldButOneLeavesOutOneLooksPeak) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    std::unordered_set<uint16_t> listening = {8080};
    uint32_t inode = 100;
    for (int look : {5, 7, 12, 6, 7}) {
        std::vector<TcpConn> held;
        for (int i = 0; i < look; ++i, ++inode)
            held.push_back(conn(8080, static_cast<uint16_t>(40000 + inode), inode));
        t.add(held, listening, {}, at);
        at += std::chrono::milliseconds(100);
    }
    auto e = t.evidence();
    EXPECT_EQ(e.inbound_max, 12u);
    EXPECT_EQ(e.inbound_max_but_one, 7u);
    EXPECT_EQ(e.inbound_min, 5u);
}

// Idle: an inbound connection that has had a request and owes no reply; its
// age is the time since its last data either way.
TEST(ConnTracker, IdleKeepAliveConnectionsAreAgedFromTheirLastData) {
    ConnTracker t;
    std::unordered_set<uint16_t> listening = {8080};
    auto idle = conn(8080, 40001, 1);
    idle.last_data_recv_ms = 9;           // the request
    idle.last_data_sent_ms = 7;           // the reply, after it
    auto pending = conn(8080, 40002, 2);  // a request unanswered
    pending.last_data_recv_ms = 1;
    pending.last_data_sent_ms = 50;
    auto fresh = conn(8080, 40003, 3);  // accepted, nothing asked yet
    fresh.bytes_received = 0;
    fresh.last_data_recv_ms = fresh.last_data_sent_ms = 30;
    t.add({idle, pending, fresh}, listening, {}, std::chrono::steady_clock::now());
    auto e = t.evidence();
    ASSERT_EQ(e.inbound_idle_age.count(), 1u);
    // 7 ms, in the log2 slot that holds it.
    EXPECT_GE(e.inbound_idle_age.percentile_ns(0.5), 7'000'000u);
    EXPECT_LT(e.inbound_idle_age.percentile_ns(0.5), 14'000'000u);
}

TEST(TcpConnParser, ReadsTcpInfoAndMeminfoAttributes) {
    alignas(4) uint8_t buf[1024] = {};
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
    m->idiag_family = AF_INET;
    m->idiag_state = 1;
    m->id.idiag_sport = htons(8080);
    m->id.idiag_dport = htons(40000);
    m->idiag_inode = 777;
    m->idiag_expires = 1234;
    size_t off = NLMSG_LENGTH(sizeof(inet_diag_msg));
    auto put = [&](uint16_t type, const void* data, size_t len) {
        nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
        std::memcpy(buf + off, &a, sizeof a);
        std::memcpy(buf + off + NLA_HDRLEN, data, len);
        off += NLA_ALIGN(a.nla_len);
    };
    tcp_info info{};
    info.tcpi_notsent_bytes = 16;
    info.tcpi_unacked = 1;
    info.tcpi_min_rtt = 5;
    put(INET_DIAG_INFO, &info, 104);  // an old kernel's shorter struct: the rest reads as 0
    uint32_t mem[SK_MEMINFO_VARS] = {};
    mem[SK_MEMINFO_RMEM_ALLOC] = 512;
    mem[SK_MEMINFO_RCVBUF] = 1024;
    put(INET_DIAG_SKMEMINFO, mem, sizeof mem);
    h->nlmsg_len = static_cast<uint32_t>(off);
    h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    std::vector<TcpConn> got;
    auto r = parse_tcp_conns({buf, off}, [&](const TcpConn& c) { got.push_back(c); });
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].inode, 777u);
    EXPECT_EQ(got[0].expires_ms, 1234u);
    EXPECT_EQ(got[0].local.port, 8080);
    EXPECT_TRUE(got[0].has_info);
    EXPECT_EQ(got[0].unacked, 1u);
    EXPECT_EQ(got[0].notsent_bytes, 0u) << "beyond the 104 bytes sent: zero, not garbage";
    EXPECT_EQ(got[0].rcvbuf, 1024u);
    EXPECT_EQ(got[0].rmem_alloc, 512u);
    // An attribute whose length runs past the message ends the walk, safely.
    reinterpret_cast<nlattr*>(buf + NLMSG_LENGTH(sizeof(inet_diag_msg)))->nla_len = 60000;
    got.clear();
    ASSERT_TRUE(parse_tcp_conns({buf, off}, [&](const TcpConn& c) { got.push_back(c); }).ok());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].has_info);
}

// A request sent on a connection that has received nothing yet is a wait only
// when the destination's connections are per-request (each replaced within
// the window); on a long-lived connection it is a one-way stream (a log
// shipper), fed and never asked.
TEST(ConnTracker, PerRequestConnectionsWaitBeforeTheirFirstReplyAndAStreamDoesNot) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < 10; ++i) {
        auto ask = conn(static_cast<uint16_t>(50000 + i), 9000, 100 + i);  // new each look
        ask.bytes_received = 0;
        ask.data_segs_out = 1;
        ask.last_data_sent_ms = 2;
        ask.last_data_recv_ms = 2;
        auto stream = conn(40000, 514, 7);  // the same connection in every look
        stream.bytes_received = 0;
        stream.data_segs_out = 50 + static_cast<uint32_t>(i);
        t.add({ask, stream}, {}, {}, at + std::chrono::milliseconds(100 * i));
    }
    auto e = t.evidence();
    ASSERT_EQ(e.destinations.size(), 2u);
    const auto& upstream = e.destinations[0];
    EXPECT_EQ(upstream.remote.port, 9000);
    EXPECT_TRUE(upstream.per_request);
    EXPECT_EQ(upstream.opened, 9u) << "all but the first look's";
    EXPECT_EQ(upstream.samples_waiting, 10u);
    EXPECT_EQ(upstream.waiting_sum, 10u);
    // One reply per connection by Little's law: 1 out at once, 9 replies in 0.9 s.
    EXPECT_NEAR(upstream.reply_mean_s, 0.1, 1e-9);
    const auto& log = e.destinations[1];
    EXPECT_EQ(log.remote.port, 514);
    EXPECT_FALSE(log.per_request);
    EXPECT_EQ(log.waiting_sum, 0u);
    EXPECT_EQ(log.samples_waiting, 0u);
}

// Connections that lived between two looks are seen by nobody but the TIME_WAIT
// socket each leaves behind for 60 s. 10 looks a second at a destination that
// answers in 30 ms: each look catches the one request out (if any), so the
// looks see 10 connections a second while 25 a second came and went.
TEST(ConnTracker, ConnectionsBetweenLooksAreCountedFromTheirTimeWaitSockets) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < 11; ++i) {
        auto ask = conn(static_cast<uint16_t>(50000 + i), 9000, 100 + i);
        ask.bytes_received = 0;
        ask.data_segs_out = 1;
        ask.last_data_sent_ms = 2;
        ask.last_data_recv_ms = 2;
        t.add({ask}, {}, {}, at + std::chrono::milliseconds(100 * i));
    }
    auto e = t.evidence();
    ASSERT_EQ(e.destinations.size(), 1u);
    auto d = e.destinations[0];
    ASSERT_TRUE(d.per_request);
    EXPECT_EQ(d.opened, 10u);
    EXPECT_NEAR(d.reply_mean_s, 0.1, 1e-9) << "1 out at once over the 10 a second seen";
    // 25 connections ended in the last second, 14 of them by the server (its
    // TIME_WAIT: local 9000, peer on our address), 11 by us; 30 more ended
    // before the window (less than 59 s left) and a socket to another port.
    std::vector<TcpConn> tw;
    auto time_wait = [&](uint16_t local, uint16_t remote, uint32_t left_ms) {
        auto c = conn(local, remote, 0);
        c.state = static_cast<uint8_t>(TcpState::time_wait);
        c.has_info = false;
        c.expires_ms = left_ms;
        tw.push_back(c);
    };
    for (uint16_t i = 0; i < 14; ++i)
        time_wait(9000, static_cast<uint16_t>(51000 + i), 59'100 + i * 50);
    for (uint16_t i = 0; i < 11; ++i)
        time_wait(static_cast<uint16_t>(52000 + i), 9000, 59'050 + i * 80);
    for (uint16_t i = 0; i < 30; ++i)
        time_wait(static_cast<uint16_t>(53000 + i), 9000, 20'000 + i * 1000);
    time_wait(54000, 9001, 59'500);
    d.closed = closed_within(d, tw, 1.0);
    EXPECT_EQ(d.closed, 25u);
    set_reply_mean(d, e.samples, 1.0);
    EXPECT_EQ(d.replies, 25u);
    EXPECT_NEAR(d.reply_mean_s, 1.0 / 25, 1e-9) << "1 out at once over 25 a second";
    // Another process holding as many connections to it as we do (a second
    // worker of the same proxy) ended half of them.
    d.others_sum = d.conns_sum;
    EXPECT_EQ(closed_within(d, tw, 1.0), 12u);
    // A longer window reaches further back.
    d.others_sum = 0;
    EXPECT_EQ(closed_within(d, tw, 30.0), 25u + 20u);
}

// A request waiting (for a lock, a worker) that came in the tick our last
// reply went out: its segment acknowledged the reply, so it came after it.
TEST(ConnPredicates, ARequestInTheTickOfOurReplyOwesOneWhenItAcknowledgedTheReply) {
    auto waiting = conn(8080, 40000, 1);
    waiting.last_data_sent_ms = waiting.last_data_recv_ms = waiting.last_ack_recv_ms = 14;
    waiting.data_segs_in = 6;  // its sixth request, after five replies ...
    waiting.data_segs_out = 5;
    waiting.segs_in = 2 + 6 + 1;  // ... of which only the first was ACKed on its own
    EXPECT_TRUE(owes_reply(waiting));
    auto in_flight = waiting;  // our reply answered it and is not yet acknowledged
    in_flight.unacked = 1;
    EXPECT_FALSE(owes_reply(in_flight));
    auto acked_later = waiting;  // the client's delayed ACK came after its request
    acked_later.last_ack_recv_ms = 2;
    EXPECT_FALSE(owes_reply(acked_later));
    auto later = waiting;  // a request after our reply, ticks apart: the plain case
    later.last_data_recv_ms = 3;
    EXPECT_TRUE(owes_reply(later));
}

// A request answered inside its tick, its reply acknowledged at once (the
// client's quick ACK: a connection's first data, or after a pause longer than
// its RTO) - the tie again, with nothing owed. The pure ACKs since the
// handshake tell it from a request that rode the ACK of our last reply.
TEST(ConnPredicates, ARequestAnsweredAndAcknowledgedOnItsOwnInOneTickOwesNothing) {
    auto first = conn(8080, 40000, 1);
    first.last_data_sent_ms = first.last_data_recv_ms = first.last_ack_recv_ms = 14;
    first.data_segs_in = first.data_segs_out = 1;
    first.segs_in = 4;  // SYN, ACK, the request, the ACK of our reply
    EXPECT_FALSE(owes_reply(first));
    auto paused = first;  // the sixth exchange of a client pausing 300 ms, each reply quick-ACKed
    paused.data_segs_in = paused.data_segs_out = 6;
    paused.segs_in = 2 + 6 + 6;
    EXPECT_FALSE(owes_reply(paused));
    auto rode = first;  // the second request, sent right after the first reply's quick ACK
    rode.data_segs_in = 2;
    rode.segs_in = 5;
    EXPECT_TRUE(owes_reply(rode));
    auto greeted = first;  // the server spoke first; the client's first request acknowledged it
    greeted.segs_in = 3;
    EXPECT_TRUE(owes_reply(greeted));
    auto big = first;  // replies of four segments, the client ACKing every other one
    big.data_segs_in = 3;
    big.data_segs_out = 8;
    big.segs_in = 2 + 3 + 4;
    EXPECT_TRUE(owes_reply(big));
    auto no_counts = first;  // an old kernel's short tcp_info: the tie leans to owing
    no_counts.segs_in = no_counts.data_segs_in = no_counts.data_segs_out = 0;
    EXPECT_TRUE(owes_reply(no_counts));
}

// A request the process leaves in the receive queue: the same bytes, nothing
// received since, look after look. One that is read between looks (the queue
// empties, or new bytes arrive behind it) is not left unread.
TEST(ConnTracker, ARequestUnreadAcrossLooksIsCountedAndTimed) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    std::unordered_set<uint16_t> listening = {8080};
    for (int i = 0; i < 10; ++i) {
        auto waits = conn(8080, 60001, 21);  // looks 2..6 hold the same 32 bytes
        waits.rqueue = (i >= 2 && i <= 6) ? 32 : 0;
        waits.bytes_received = i <= 6 ? 100 : 132;
        auto served = conn(8080, 60002, 22);  // a new request each look, each read at once
        served.rqueue = 32;
        served.bytes_received = 100 + 32 * static_cast<uint64_t>(i);
        t.add({waits, served}, listening, {}, at + std::chrono::milliseconds(100 * i));
    }
    auto e = t.evidence();
    EXPECT_EQ(e.inbound_unread_sum, 4u) << "looks 3..6 saw the bytes of look 2 still there";
    EXPECT_EQ(e.samples_inbound_unread, 4u);
    EXPECT_NEAR(e.mean_inbound_unread(), 4.0 / 9, 1e-9);
    ASSERT_EQ(e.inbound_unread_wait.count(), 1u);
    // From look 2 to look 6: 400 ms, as a log2 bucket's bounds.
    EXPECT_GE(e.inbound_unread_wait.percentile_ns(0.5), 400'000'000u / 2);
    EXPECT_LE(e.inbound_unread_wait.percentile_ns(0.5), 400'000'000u * 2);
}

// Requests queued in the kernel are told by one look: inbound connections
// holding unread bytes, whatever their age, and however far apart the looks
// (none of these stays the same from one look to the next). An empty queue,
// or an outbound connection's reply, is not one.
TEST(ConnTracker, RequestsQueuedAreCountedInEachLook) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    std::unordered_set<uint16_t> listening = {8080};
    for (int i = 0; i < 4; ++i) {
        auto bytes = 100 + 32 * static_cast<uint64_t>(i);  // a new request each look
        auto waits = conn(8080, 60001, 31);
        waits.rqueue = 32;
        waits.bytes_received = bytes;
        auto just_in = conn(8080, 60002, 32);  // arrived 1 ms ago: queued all the same
        just_in.rqueue = 32;
        just_in.last_data_recv_ms = 1;
        just_in.bytes_received = bytes;
        auto read = conn(8080, 60003, 33);  // all of it read
        read.rqueue = 0;
        auto reply = conn(40000, 5432, 34);  // outbound: a reply, not a request
        reply.rqueue = 64;
        std::vector<TcpConn> look = {read, reply};
        if (i % 2 == 0) look.insert(look.end(), {waits, just_in});  // looks 0 and 2
        t.add(look, listening, {}, at + std::chrono::milliseconds(400 * i));
    }
    auto e = t.evidence();
    EXPECT_EQ(e.inbound_queued_sum, 4u);
    EXPECT_EQ(e.samples_inbound_queued, 2u);
    EXPECT_NEAR(e.mean_inbound_queued(), 4.0 / 4, 1e-9) << "over every look, the first too";
    EXPECT_EQ(e.inbound_unread_sum, 0u) << "never the same bytes in two looks in a row";
}

// The closed-window counts take only looks at a connection that took data since
// the look before: a full queue nobody reads is a stalled reader, and a full
// queue on a big buffer is a slow reader, neither a buffer too small.
TEST(ConnTracker, ClosedWindowsAreCountedOnFlowingConnectionsBySize) {
    ConnTracker t;
    auto at = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < 10; ++i) {
        auto flowing = conn(8080, 40000, 1);  // a 2 KiB buffer, full, taking data
        flowing.has_mem = true;
        flowing.rcvbuf = 2304;
        flowing.rmem_alloc = 1280;
        flowing.data_segs_in = 100 * i;
        auto stalled = flowing;  // the same, but nothing arrives: the reader stopped
        stalled.inode = 2;
        stalled.remote.port = 40001;
        stalled.data_segs_in = 7;
        auto big = flowing;  // full and taking data on a default-sized buffer
        big.inode = 3;
        big.remote.port = 40002;
        big.rcvbuf = 131072;
        big.rmem_alloc = 70000;
        t.add({flowing, stalled, big}, {8080}, {}, at + std::chrono::milliseconds(100 * i));
    }
    auto e = t.evidence();
    // The first look has no look before it: 9 flowing looks at each of two.
    EXPECT_EQ(e.rcv_observations, 18u);
    EXPECT_EQ(e.rcv_full_observations, 18u);
    EXPECT_EQ(e.rcv_small_observations, 9u);
    EXPECT_EQ(e.rcv_small_full_observations, 9u);
    EXPECT_EQ(e.rcvbuf_min, 2304u);
}
