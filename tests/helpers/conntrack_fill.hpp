// SPDX-License-Identifier: GPL-2.0-or-later
// Fills this network namespace's conntrack table with N established, assured
// TCP entries over ctnetlink (what `conntrack -I` does, batched): a table at
// nf_conntrack_max in a second, without the host's size being touched. The
// entries are ESTABLISHED and ASSURED, so neither the kernel's early drop nor
// its garbage collector near the limit may evict them: a new connection's
// packet then finds no room and is dropped, as on a host whose table is full.
#pragma once

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "net_util.hpp"

namespace c10k::helpers {

class NetlinkMessage {
  public:
    NetlinkMessage(uint16_t type, uint16_t flags, uint32_t seq) {
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = flags;
        h.nlmsg_seq = seq;
        append(&h, sizeof h);
        nfgenmsg g{};
        g.nfgen_family = AF_INET;
        g.version = NFNETLINK_V0;
        append(&g, sizeof g);
    }
    size_t open_nest(uint16_t type) {
        size_t at = buf_.size();
        put(static_cast<uint16_t>(type | NLA_F_NESTED), nullptr, 0);
        return at;
    }
    void close_nest(size_t at) {
        auto len = static_cast<uint16_t>(buf_.size() - at);
        std::memcpy(buf_.data() + at, &len, sizeof len);
    }
    template <typename T>
    void put_value(uint16_t type, T v) {
        put(type, &v, sizeof v);
    }
    const std::vector<char>& finish() {
        auto len = static_cast<uint32_t>(buf_.size());
        std::memcpy(buf_.data(), &len, sizeof len);
        return buf_;
    }

  private:
    void append(const void* p, size_t n) {
        const char* c = static_cast<const char*>(p);
        buf_.insert(buf_.end(), c, c + n);
        buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
    }
    void put(uint16_t type, const void* p, size_t n) {
        nlattr a{};
        a.nla_type = type;
        a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + n);
        append(&a, sizeof a);  // 4 bytes: stays aligned
        if (n) append(p, n);
    }
    std::vector<char> buf_;
};

inline void put_tuple(NetlinkMessage& m, uint16_t which, uint32_t src, uint32_t dst, uint16_t sport,
                      uint16_t dport) {
    auto tuple = m.open_nest(which);
    auto ip = m.open_nest(CTA_TUPLE_IP);
    m.put_value(CTA_IP_V4_SRC, htonl(src));
    m.put_value(CTA_IP_V4_DST, htonl(dst));
    m.close_nest(ip);
    auto proto = m.open_nest(CTA_TUPLE_PROTO);
    m.put_value(CTA_PROTO_NUM, static_cast<uint8_t>(IPPROTO_TCP));
    m.put_value(CTA_PROTO_SRC_PORT, htons(sport));
    m.put_value(CTA_PROTO_DST_PORT, htons(dport));
    m.close_nest(proto);
    m.close_nest(tuple);
}

// Creates `n` entries 10.0.0.1+i:1000 -> 10.255.255.254:80; returns how many
// the kernel took (it refuses past nf_conntrack_max).
inline long fill_conntrack(long n) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) die("socket(NETLINK_NETFILTER)");
    constexpr uint32_t kSrc = 0x0a000000, kDst = 0x0afffffe;
    constexpr uint8_t kEstablished = 3;  // TCP_CONNTRACK_ESTABLISHED
    constexpr long kBatch = 256;
    long failed = 0;
    for (long i = 0; i < n;) {
        std::vector<char> batch;
        long first = i;
        uint32_t last = 0;
        for (; i < n && i - first < kBatch; ++i) {
            // Only the batch's last message asks for an ACK: the answers end there.
            bool acks = i + 1 == n || i - first + 1 == kBatch;
            last = static_cast<uint32_t>(i);
            NetlinkMessage m((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW,
                             NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | (acks ? NLM_F_ACK : 0),
                             last);
            auto src = kSrc + 1 + static_cast<uint32_t>(i);
            put_tuple(m, CTA_TUPLE_ORIG, src, kDst, 1000, 80);
            put_tuple(m, CTA_TUPLE_REPLY, kDst, src, 80, 1000);
            // CONFIRMED as well: the kernel refuses (EBUSY) a status that
            // would change it, and an entry it inserts is confirmed.
            m.put_value(CTA_STATUS, htonl(IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED));
            m.put_value(CTA_TIMEOUT, htonl(600));
            auto info = m.open_nest(CTA_PROTOINFO);
            auto tcp = m.open_nest(CTA_PROTOINFO_TCP);
            m.put_value(CTA_PROTOINFO_TCP_STATE, kEstablished);
            m.close_nest(tcp);
            m.close_nest(info);
            const auto& msg = m.finish();
            batch.insert(batch.end(), msg.begin(), msg.end());
        }
        if (::send(fd, batch.data(), batch.size(), 0) < 0) die("send to ctnetlink");
        // The answers: an error message for each refused entry, and one
        // (error 0, or its refusal) for the last, which ends them.
        bool answered = false;
        while (!answered) {
            alignas(nlmsghdr) char reply[65536];
            ssize_t got = ::recv(fd, reply, sizeof reply, 0);
            if (got < 0) die("recv from ctnetlink");
            int left = static_cast<int>(got);
            for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, left);
                 h = NLMSG_NEXT(h, left)) {
                if (h->nlmsg_type != NLMSG_ERROR) continue;
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                if (e->error != 0 && failed++ == 0)
                    std::fprintf(stderr, "ctnetlink: first refusal: %s\n",
                                 std::strerror(-e->error));
                if (e->msg.nlmsg_seq == last) answered = true;
            }
        }
    }
    ::close(fd);
    return n - failed;
}

}  // namespace c10k::helpers
