// SPDX-License-Identifier: GPL-2.0-or-later
// dump_tcp against a live kernel, in this process's private namespace: one
// compat dump for both families must give each socket once, as the two
// per-family dumps do.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <map>
#include <set>
#include <tuple>

#include "c10k/sources/sockets.hpp"
#include "c10k/sources/tcp_conns.hpp"
#include "c10k/unique_fd.hpp"
#include "netns_env.hpp"

using namespace c10k;

namespace {

// A listener on the loopback of `family` and one connection to it, accepted.
struct Pair {
    UniqueFd listener, client, server;
    uint16_t port = 0;
};

Pair loopback_pair(int family) {
    Pair p;
    p.listener = UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if (::bind(p.listener.get(), sa, len) != 0 || ::listen(p.listener.get(), 8) != 0) return p;
    ::getsockname(p.listener.get(), sa, &len);
    p.port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    p.client = UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(p.client.get(), sa, len) != 0) return p;
    p.server = UniqueFd(::accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return p;
}

using Key = std::tuple<uint8_t, uint8_t, uint16_t, uint16_t>;  // family, state, lport, rport

// The sockets of these two pairs only: other tests of this process leave
// theirs behind in the namespace, some still changing state.
std::map<Key, int> dump(bool v4, bool v6, const Pair& a, const Pair& b) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    std::map<Key, int> seen;
    auto ours = [&](uint16_t port) { return port == a.port || port == b.port; };
    // Open and listening ones only: a closed socket of an earlier test may
    // have held one of these ports.
    constexpr uint32_t kStates = (1u << static_cast<int>(TcpState::established)) |
                                 (1u << static_cast<int>(TcpState::listen));
    auto st = dump_tcp(fd.get(), v4, v6, kStates, 0, {}, [&](const TcpConn& c) {
        if (ours(c.local.port) || ours(c.remote.port))
            ++seen[{c.local.family, c.state, c.local.port, c.remote.port}];
    });
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    return seen;
}

}  // namespace

TEST(TcpDump, BothFamiliesInOneDumpEachSocketOnce) {
    REQUIRE_PRIVATE_NETNS();
    auto p4 = loopback_pair(AF_INET);
    auto p6 = loopback_pair(AF_INET6);
    ASSERT_TRUE(p4.server) << "IPv4 loopback pair";
    if (!p6.server) GTEST_SKIP() << "no IPv6 loopback in this namespace";

    auto both = dump(true, true, p4, p6);
    auto only4 = dump(true, false, p4, p6);
    auto only6 = dump(false, true, p4, p6);
    // Listener, client end, server end of each family: three sockets each, once.
    EXPECT_EQ(only4.size(), 3u);
    EXPECT_EQ(only6.size(), 3u);
    for (const auto& [k, n] : both)
        EXPECT_EQ(n, 1) << "a socket seen twice";
    std::map<Key, int> sum = only4;
    sum.insert(only6.begin(), only6.end());
    EXPECT_EQ(both, sum);
    EXPECT_EQ(both.count({AF_INET6, static_cast<uint8_t>(TcpState::listen), p6.port, 0}), 1u);
    EXPECT_EQ(both.count({AF_INET, static_cast<uint8_t>(TcpState::listen), p4.port, 0}), 1u);
}

// The kernel filter (bytecode) rides along in the compat request too.
TEST(TcpDump, TheBytecodeFilterAppliesToTheOneDump) {
    REQUIRE_PRIVATE_NETNS();
    auto p4 = loopback_pair(AF_INET);
    auto p6 = loopback_pair(AF_INET6);
    ASSERT_TRUE(p4.server);
    if (!p6.server) GTEST_SKIP() << "no IPv6 loopback in this namespace";
    // Keep only local ports equal to the IPv6 listener's: its listener and the
    // server end of its connection.
    auto filter = outbound_port_filter(p6.port, p6.port, {});
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    std::set<std::pair<uint8_t, uint16_t>> seen;
    constexpr uint32_t kStates = (1u << static_cast<int>(TcpState::established)) |
                                 (1u << static_cast<int>(TcpState::listen));
    auto st = dump_tcp(fd.get(), true, true, kStates, 0, filter, [&](const TcpConn& c) {
        if (c.local.port == p4.port || c.local.port == p6.port || c.remote.port == p4.port ||
            c.remote.port == p6.port)
            seen.insert({c.local.family, c.local.port});
    });
    ASSERT_TRUE(st) << (st ? "" : st.error().message());
    EXPECT_EQ(seen, (std::set<std::pair<uint8_t, uint16_t>>{{AF_INET6, p6.port}}));
}

// Looking known sockets up one by one gives what a walk gives for them, with
// the same TCP_INFO; a socket gone is left out, never answered by the listener
// that now owns its local port alone (the cookie tells them apart).
TEST(TcpDump, ExactLookupsFindWhatTheWalkFoundAndNothingThatIsGone) {
    REQUIRE_PRIVATE_NETNS();
    auto p4 = loopback_pair(AF_INET);
    auto p6 = loopback_pair(AF_INET6);
    auto q4 = loopback_pair(AF_INET);
    ASSERT_TRUE(p4.server && q4.server) << "IPv4 loopback pairs";
    bool v6 = static_cast<bool>(p6.server);
    auto ours = [&](const TcpConn& c) {
        for (uint16_t port : {p4.port, p6.port, q4.port})
            if (port != 0 && (c.local.port == port || c.remote.port == port)) return true;
        return false;
    };
    auto reader = TcpConnReader::open();
    ASSERT_TRUE(reader);
    std::vector<TcpConn> walked;
    ASSERT_TRUE(reader->read(ours, walked, true, true));
    // Per pair: the listener and both ends.
    ASSERT_EQ(walked.size(), v6 ? 9u : 6u);
    std::vector<TcpConn> known;
    for (const auto& c : walked)
        if (c.state != static_cast<uint8_t>(TcpState::listen)) known.push_back(c);

    std::vector<TcpConn> looked;
    auto r = reader->read_known(known, ours, looked, true, true);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(*r) << "every lookup answered";
    auto key = [](const TcpConn& c) {
        return std::tuple{c.local.family, c.state, c.local.port, c.remote.port, c.inode, c.cookie};
    };
    std::multiset<decltype(key(walked[0]))> a, b;
    for (const auto& c : walked)
        a.insert(key(c));
    for (const auto& c : looked) {
        b.insert(key(c));
        if (c.state == static_cast<uint8_t>(TcpState::established)) {
            EXPECT_TRUE(c.has_info && c.has_mem) << "TCP_INFO and SKMEMINFO asked for";
            EXPECT_GT(c.rtt_us, 0u);
        }
    }
    EXPECT_EQ(a, b);

    // Both ends of q4 closed: its listener alone holds its port now. The
    // server end's lookup would find that listener without the cookie.
    uint16_t gone = q4.port;
    q4.server.reset();
    q4.client.reset();
    looked.clear();
    r = reader->read_known(known, ours, looked, true, true);
    ASSERT_TRUE(r && *r);
    for (const auto& c : looked)
        if (c.local.port == gone || c.remote.port == gone)
            EXPECT_EQ(c.state, static_cast<uint8_t>(TcpState::listen))
                << "a closed connection of port " << gone << " came back in state " << int(c.state);
    EXPECT_EQ(looked.size(), walked.size() - 2);
}
