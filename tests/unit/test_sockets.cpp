// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <cstring>
#include <vector>

#include "c10k/checks/checks.hpp"
#include "c10k/sources/sockets.hpp"
#include "c10k/sources/tcp_conns.hpp"
#include "check_helpers.hpp"

using namespace c10k;

namespace {

Endpoint v4(const char* ip, uint16_t port) {
    Endpoint e;
    e.family = AF_INET;
    ::inet_pton(AF_INET, ip, e.addr.data());
    e.port = port;
    return e;
}

SocketRecord rec(TcpState st, Endpoint local, Endpoint remote, uint64_t inode = 0, uint32_t rq = 0,
                 uint32_t wq = 0) {
    return {static_cast<uint8_t>(st), local, remote, inode, rq, wq};
}

// Appends one inet_diag message the way the kernel lays it out.
void append_msg(std::vector<uint8_t>& buf, uint16_t type, const SocketRecord& r) {
    size_t at = buf.size();
    size_t len = NLMSG_LENGTH(sizeof(inet_diag_msg));
    buf.resize(at + NLMSG_ALIGN(len));
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data() + at);
    h->nlmsg_len = static_cast<uint32_t>(len);
    h->nlmsg_type = type;
    auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
    m->idiag_family = static_cast<uint8_t>(r.local.family);
    m->idiag_state = r.state;
    m->id.idiag_sport = htons(r.local.port);
    m->id.idiag_dport = htons(r.remote.port);
    std::memcpy(m->id.idiag_src, r.local.addr.data(), 16);
    std::memcpy(m->id.idiag_dst, r.remote.addr.data(), 16);
    m->idiag_inode = static_cast<uint32_t>(r.inode);
    m->idiag_rqueue = r.rqueue;
    m->idiag_wqueue = r.wqueue;
}

void append_done(std::vector<uint8_t>& buf) {
    size_t at = buf.size();
    buf.resize(at + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(int))));
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data() + at);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(int));
    h->nlmsg_type = NLMSG_DONE;
}

}  // namespace

TEST(Endpoint, FormatsV4V6AndMapped) {
    EXPECT_EQ(v4("127.0.0.1", 80).to_string(), "127.0.0.1:80");
    Endpoint e6;
    e6.family = AF_INET6;
    ::inet_pton(AF_INET6, "::1", e6.addr.data());
    e6.port = 443;
    EXPECT_EQ(e6.to_string(), "[::1]:443");
    ::inet_pton(AF_INET6, "::ffff:10.0.0.1", e6.addr.data());
    EXPECT_EQ(e6.to_string(), "10.0.0.1:443");
}

TEST(SocketSummary, CountsStatesListenersAndOutboundPerDestination) {
    SocketSummaryBuilder b({/*owned inodes*/ 11, 21});
    b.add(rec(TcpState::listen, v4("0.0.0.0", 8080), v4("0.0.0.0", 0), 11, 3, 511));
    // Accepted connections share the listener's port: not ephemeral use.
    b.add(rec(TcpState::established, v4("127.0.0.1", 8080), v4("127.0.0.1", 40001), 21));
    // Outbound to one upstream: 3 established, 2 TIME_WAIT, one bound outside the range.
    for (uint16_t p = 40001; p <= 40003; ++p)
        b.add(rec(TcpState::established, v4("127.0.0.1", p), v4("127.0.0.1", 8080)));
    b.add(rec(TcpState::established, v4("10.0.0.1", 40010), v4("10.0.0.9", 5432)));
    b.add(rec(TcpState::time_wait, v4("10.0.0.1", 40011), v4("10.0.0.9", 5432)));
    b.add(rec(TcpState::time_wait, v4("10.0.0.1", 40012), v4("10.0.0.9", 5432)));
    b.add(rec(TcpState::established, v4("10.0.0.1", 1000), v4("10.0.0.9", 5432)));
    auto s = std::move(b).finish(32768, 60999);
    EXPECT_EQ(s.total, 9u);
    EXPECT_EQ(s.count(TcpState::established), 6u);
    EXPECT_EQ(s.count(TcpState::time_wait), 2u);
    ASSERT_EQ(s.listeners.size(), 1u);
    EXPECT_EQ(s.listeners[0].backlog, 511u);
    EXPECT_EQ(s.listeners[0].queued, 3u);
    EXPECT_TRUE(s.listeners[0].owned);
    EXPECT_EQ(s.owned_connections, 1u);
    // Busiest first: equal ports in range, so more sockets wins.
    ASSERT_EQ(s.destinations.size(), 2u);
    EXPECT_EQ(s.destinations[0].remote.to_string(), "10.0.0.9:5432");
    EXPECT_EQ(s.destinations[0].sockets, 4u);
    EXPECT_EQ(s.destinations[0].time_wait, 2u);
    EXPECT_EQ(s.destinations[0].in_port_range, 3u);
    EXPECT_EQ(s.destinations[1].remote.to_string(), "127.0.0.1:8080");
    EXPECT_EQ(s.destinations[1].sockets, 3u);
    EXPECT_EQ(s.destinations[1].in_port_range, 3u);
}

TEST(InetDiag, ParsesKernelLayoutUntilDone) {
    std::vector<uint8_t> buf;
    append_msg(buf, SOCK_DIAG_BY_FAMILY,
               rec(TcpState::listen, v4("127.0.0.1", 9000), v4("0.0.0.0", 0), 7, 5, 4));
    // A compat (TCPDIAG_GETSOCK) dump answers in messages of its own type.
    append_msg(buf, TCPDIAG_GETSOCK,
               rec(TcpState::time_wait, v4("127.0.0.1", 50000), v4("127.0.0.1", 9000)));
    SocketSummaryBuilder b;
    auto more = parse_inet_diag_buffer(buf, b);
    ASSERT_TRUE(more);
    EXPECT_TRUE(*more);
    append_done(buf);
    SocketSummaryBuilder b2;
    auto done = parse_inet_diag_buffer(buf, b2);
    ASSERT_TRUE(done);
    EXPECT_FALSE(*done);
    auto s = std::move(b2).finish(32768, 60999);
    ASSERT_EQ(s.listeners.size(), 1u);
    EXPECT_EQ(s.listeners[0].local.to_string(), "127.0.0.1:9000");
    EXPECT_EQ(s.listeners[0].queued, 5u);
    EXPECT_EQ(s.listeners[0].backlog, 4u);
    EXPECT_EQ(s.count(TcpState::time_wait), 1u);
}

TEST(InetDiag, ReportsKernelErrorsAndTruncation) {
    std::vector<uint8_t> buf(NLMSG_ALIGN(NLMSG_LENGTH(sizeof(nlmsgerr))));
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data());
    h->nlmsg_len = NLMSG_LENGTH(sizeof(nlmsgerr));
    h->nlmsg_type = NLMSG_ERROR;
    static_cast<nlmsgerr*>(NLMSG_DATA(h))->error = -EPERM;
    SocketSummaryBuilder b;
    auto r = parse_inet_diag_buffer(buf, b);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("not permitted"), std::string::npos) << r.error().message();

    std::vector<uint8_t> shortmsg(NLMSG_LENGTH(8));
    auto* s = reinterpret_cast<nlmsghdr*>(shortmsg.data());
    s->nlmsg_len = NLMSG_LENGTH(8);
    s->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    EXPECT_FALSE(parse_inet_diag_buffer(shortmsg, b));
}

// Rules over a synthetic socket table: a full listener and a nearly exhausted destination.
// One socket asked for by exact lookup: no dump flag, its own addresses,
// ports, device and cookie in the kernel's byte order, states left open.
TEST(InetDiag, AnExactLookupNamesOneSocketByAddressesPortsAndCookie) {
    TcpConn c;
    c.local.family = c.remote.family = AF_INET6;
    for (uint8_t i = 0; i < 16; ++i) {
        c.local.addr[i] = i;
        c.remote.addr[i] = static_cast<uint8_t>(0xf0 | i);
    }
    c.local.port = 8080;
    c.remote.port = 51234;
    c.ifindex = 3;
    c.cookie = 0x1122334455667788ull;
    auto msg = exact_lookup_request(c, 1u << (INET_DIAG_INFO - 1), 7);
    ASSERT_EQ(msg.size(), NLMSG_LENGTH(sizeof(inet_diag_req_v2)));
    nlmsghdr h;
    std::memcpy(&h, msg.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_len, msg.size());
    EXPECT_EQ(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST);  // not a dump
    EXPECT_EQ(h.nlmsg_seq, 7u);
    inet_diag_req_v2 r;
    std::memcpy(&r, msg.data() + NLMSG_HDRLEN, sizeof r);
    EXPECT_EQ(r.sdiag_family, AF_INET6);
    EXPECT_EQ(r.sdiag_protocol, IPPROTO_TCP);
    EXPECT_EQ(r.idiag_ext, 1u << (INET_DIAG_INFO - 1));
    EXPECT_EQ(r.idiag_states, ~0u);
    EXPECT_EQ(ntohs(r.id.idiag_sport), 8080);
    EXPECT_EQ(ntohs(r.id.idiag_dport), 51234);
    EXPECT_EQ(std::memcmp(r.id.idiag_src, c.local.addr.data(), 16), 0);
    EXPECT_EQ(std::memcmp(r.id.idiag_dst, c.remote.addr.data(), 16), 0);
    EXPECT_EQ(r.id.idiag_if, 3u);
    EXPECT_EQ(r.id.idiag_cookie[0], 0x55667788u);
    EXPECT_EQ(r.id.idiag_cookie[1], 0x11223344u);

    // IPv4: the first four bytes of each address, the rest zero.
    c.local.family = c.remote.family = AF_INET;
    msg = exact_lookup_request(c, 0, 0);
    std::memcpy(&r, msg.data() + NLMSG_HDRLEN, sizeof r);
    EXPECT_EQ(r.sdiag_family, AF_INET);
    EXPECT_EQ(std::memcmp(r.id.idiag_src, c.local.addr.data(), 4), 0);
    EXPECT_EQ(r.id.idiag_src[1], 0u);
    EXPECT_EQ(r.id.idiag_dst[3], 0u);
}

// The cookie and the device come back from a dump as the kernel sent them.
TEST(InetDiag, ADumpCarriesEachSocketsCookieAndDevice) {
    std::vector<uint8_t> buf(NLMSG_LENGTH(sizeof(inet_diag_msg)));
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(buf.size());
    h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    inet_diag_msg m{};
    m.idiag_family = AF_INET;
    m.idiag_state = 1;
    m.id.idiag_if = 2;
    m.id.idiag_cookie[0] = 0xdeadbeef;
    m.id.idiag_cookie[1] = 0x01;
    std::memcpy(buf.data(), &h, sizeof h);
    std::memcpy(buf.data() + NLMSG_HDRLEN, &m, sizeof m);
    std::vector<TcpConn> got;
    auto r = parse_tcp_conns(buf, [&](const TcpConn& c) { got.push_back(c); });
    ASSERT_TRUE(r);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].cookie, 0x1deadbeefull);
    EXPECT_EQ(got[0].ifindex, 2u);
}

TEST(SocketRules, FullListenerAndBusyDestination) {
    auto root = c10k::test::fixture_root("narrow-ports");  // 60000-60999: 1000 ports
    auto c = c10k::test::collect_fixture(root);
    ASSERT_TRUE(c);
    SocketSummaryBuilder b;
    b.add(rec(TcpState::listen, v4("127.0.0.1", 8080), v4("0.0.0.0", 0), 1, 5, 4));
    b.add(rec(TcpState::listen, v4("127.0.0.1", 8081), v4("0.0.0.0", 0), 2, 0, 4096));
    for (uint16_t p = 60000; p < 60950; ++p)
        b.add(rec(TcpState::established, v4("127.0.0.1", p), v4("127.0.0.1", 9999)));
    c->now.sockets = std::move(b).finish(60000, 60999);
    auto fs = run_all_checks(CheckInput(c->now, nullptr, {}));
    auto* full = c10k::test::find(fs, "backlog.listener", "127.0.0.1:8080");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->severity, Severity::crit);
    EXPECT_EQ(c10k::test::find(fs, "backlog.listener", "127.0.0.1:8081")->severity, Severity::ok);
    auto* dest = c10k::test::find(fs, "ports.destination", "127.0.0.1:9999");
    ASSERT_TRUE(dest);
    EXPECT_EQ(dest->severity, Severity::crit) << dest->title;
    EXPECT_EQ(c10k::test::evidence(*dest, "ports_in_use"), 950);
}
