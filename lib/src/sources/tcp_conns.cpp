// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/tcp_conns.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>

namespace c10k {

namespace {

// Copies an attribute into a zeroed struct: older kernels send less, newer more.
template <typename T>
T copy_attr(const uint8_t* data, size_t len) {
    T v{};
    std::memcpy(&v, data, std::min(len, sizeof v));
    return v;
}

// tcpi_rcv_wnd follows tcpi_snd_wnd since Linux 6.2; this build's headers may predate it.
constexpr size_t kRcvWndOffset = offsetof(tcp_info, tcpi_snd_wnd) + sizeof(uint32_t);

void fill_info(TcpConn& c, const uint8_t* data, size_t len) {
    auto i = copy_attr<tcp_info>(data, len);
    c.has_info = true;
    c.rtt_us = i.tcpi_rtt;
    c.min_rtt_us = i.tcpi_min_rtt;
    c.snd_mss = i.tcpi_snd_mss;
    c.unacked = i.tcpi_unacked;
    c.snd_cwnd = i.tcpi_snd_cwnd;
    c.notsent_bytes = i.tcpi_notsent_bytes;
    c.last_data_sent_ms = i.tcpi_last_data_sent;
    c.last_data_recv_ms = i.tcpi_last_data_recv;
    c.last_ack_recv_ms = i.tcpi_last_ack_recv;
    c.rcv_space = i.tcpi_rcv_space;
    c.snd_wnd = i.tcpi_snd_wnd;
    if (len >= kRcvWndOffset + sizeof(uint32_t)) std::memcpy(&c.rcv_wnd, data + kRcvWndOffset, 4);
    c.bytes_received = i.tcpi_bytes_received;
    c.bytes_acked = i.tcpi_bytes_acked;
    c.busy_time_us = i.tcpi_busy_time;
    c.rwnd_limited_us = i.tcpi_rwnd_limited;
    c.sndbuf_limited_us = i.tcpi_sndbuf_limited;
    c.data_segs_out = i.tcpi_data_segs_out;
    c.data_segs_in = i.tcpi_data_segs_in;
    c.segs_in = i.tcpi_segs_in;
}

void fill_mem(TcpConn& c, const uint8_t* data, size_t len) {
    uint32_t m[SK_MEMINFO_VARS]{};
    std::memcpy(m, data, std::min(len, sizeof m));
    c.has_mem = true;
    c.rmem_alloc = m[SK_MEMINFO_RMEM_ALLOC];
    c.rcvbuf = m[SK_MEMINFO_RCVBUF];
    c.wmem_queued = m[SK_MEMINFO_WMEM_QUEUED];
    c.sndbuf = m[SK_MEMINFO_SNDBUF];
}

}  // namespace

namespace {

// One inet_diag_msg and its attributes, as a TcpConn; false when truncated.
bool decode_conn(const nlmsghdr* h, TcpConn& c) {
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return false;
    auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    c = TcpConn{};
    c.state = m->idiag_state;
    c.local.family = c.remote.family = m->idiag_family;
    size_t alen = m->idiag_family == AF_INET ? 4 : 16;
    std::memcpy(c.local.addr.data(), m->id.idiag_src, alen);
    std::memcpy(c.remote.addr.data(), m->id.idiag_dst, alen);
    c.local.port = ntohs(m->id.idiag_sport);
    c.remote.port = ntohs(m->id.idiag_dport);
    c.inode = m->idiag_inode;
    c.cookie = m->id.idiag_cookie[0] | static_cast<uint64_t>(m->id.idiag_cookie[1]) << 32;
    c.ifindex = m->id.idiag_if;
    c.rqueue = m->idiag_rqueue;
    c.wqueue = m->idiag_wqueue;
    c.expires_ms = m->idiag_expires;

    // Attributes follow the message, each aligned; a malformed length ends the walk.
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(inet_diag_msg)));
    auto* base = reinterpret_cast<const uint8_t*>(h);
    while (off + NLA_HDRLEN <= h->nlmsg_len) {
        nlattr a;
        std::memcpy(&a, base + off, sizeof a);
        if (a.nla_len < NLA_HDRLEN || off + a.nla_len > h->nlmsg_len) break;
        const uint8_t* data = base + off + NLA_HDRLEN;
        size_t dlen = a.nla_len - NLA_HDRLEN;
        if ((a.nla_type & NLA_TYPE_MASK) == INET_DIAG_INFO) fill_info(c, data, dlen);
        if ((a.nla_type & NLA_TYPE_MASK) == INET_DIAG_SKMEMINFO) fill_mem(c, data, dlen);
        off += NLA_ALIGN(a.nla_len);
    }
    return true;
}

// Each whole message of one recv, in order; stops at a length that does not
// fit. Walked by offset, not NLMSG_NEXT: that subtracts the aligned length from
// what is left, which wraps around when the last message's length is not a
// multiple of 4 (found by the fuzzer: a read past the buffer).
template <typename Fn>
void each_message(std::span<const uint8_t> buf, Fn&& fn) {
    for (size_t at = 0; buf.size() - at >= sizeof(nlmsghdr);) {
        auto* h = reinterpret_cast<const nlmsghdr*>(buf.data() + at);
        if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > buf.size() - at) return;
        at += std::min<size_t>(NLMSG_ALIGN(h->nlmsg_len), buf.size() - at);
        if (!fn(h)) return;
    }
}

}  // namespace

Result<bool> parse_tcp_conns(std::span<const uint8_t> buf,
                             const std::function<void(const TcpConn&)>& each) {
    std::optional<Result<bool>> ended;
    each_message(buf, [&](const nlmsghdr* h) {
        if (h->nlmsg_type == NLMSG_DONE) {
            ended = false;
            return false;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
                ended = make_error("sock_diag: truncated error message");
                return false;
            }
            auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            // The kernel sends -errno; anything else is not an errno to negate.
            int code = err->error < 0 && err->error > -4096 ? -err->error : EPROTO;
            ended = sys_error("sock_diag", code);
            return false;
        }
        // A compat dump (see dump_tcp) answers with its request's type.
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY && h->nlmsg_type != TCPDIAG_GETSOCK) return true;
        TcpConn c;
        if (!decode_conn(h, c)) {
            ended = make_error("sock_diag: truncated inet_diag_msg");
            return false;
        }
        each(c);
        return true;
    });
    if (ended) return *ended;
    return true;
}

Result<TcpConnReader> TcpConnReader::open() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return sys_error("sock_diag: socket");
    // Room for a whole batch of exact lookups' replies with some to spare
    // (root only; without it the default holds one batch).
    int bytes = 1 << 20;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
    return TcpConnReader(std::move(fd));
}

namespace {

// Sends one dump request and walks the answer. Ok(false) when the kernel
// refused the request before sending any socket (the caller may ask another
// way), Ok(true) when the dump ran to its end.
Result<bool> run_dump(int fd, std::span<const uint8_t> msg,
                      const std::function<void(const TcpConn&)>& each) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return sys_error("sock_diag: send");
    // The kernel fills at most ~32 KiB per recv whatever the buffer; this fits it.
    static thread_local std::vector<uint8_t> buf(64 * 1024);
    bool delivered = false;
    for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("sock_diag: recv");
        }
        if (n == 0) return make_error("sock_diag: connection closed mid-dump");
        auto more = parse_tcp_conns({buf.data(), static_cast<size_t>(n)}, [&](const TcpConn& c) {
            delivered = true;
            each(c);
        });
        if (!more) {
            if (!delivered) return false;
            return more.error();
        }
        if (!*more) return true;
    }
}

// nlmsghdr, a request struct, then the bytecode filter as an attribute. A
// dump unless `flags` say otherwise.
template <typename Req>
std::vector<uint8_t> request(uint16_t type, const Req& req, std::span<const uint8_t> bytecode,
                             uint16_t flags = NLM_F_REQUEST | NLM_F_DUMP, uint32_t seq = 0) {
    std::vector<uint8_t> msg;
    auto put = [&](const void* p, size_t n) {
        auto* bytes = static_cast<const uint8_t*>(p);
        msg.insert(msg.end(), bytes, bytes + n);
    };
    size_t head = NLMSG_LENGTH(sizeof(Req));
    nlmsghdr nlh{};
    nlh.nlmsg_len = static_cast<uint32_t>(
        head + (bytecode.empty() ? 0 : NLA_HDRLEN + NLA_ALIGN(bytecode.size())));
    nlh.nlmsg_type = type;
    nlh.nlmsg_flags = flags;
    nlh.nlmsg_seq = seq;
    put(&nlh, sizeof nlh);
    msg.resize(NLMSG_HDRLEN);
    put(&req, sizeof req);
    msg.resize(head);
    if (!bytecode.empty()) {
        nlattr attr{};
        attr.nla_type = INET_DIAG_REQ_BYTECODE;
        attr.nla_len = static_cast<uint16_t>(NLA_HDRLEN + bytecode.size());
        put(&attr, sizeof attr);
        put(bytecode.data(), bytecode.size());
    }
    msg.resize(nlh.nlmsg_len);
    return msg;
}

}  // namespace

Status dump_tcp(int fd, bool ipv4, bool ipv6, uint32_t states, uint8_t ext,
                std::span<const uint8_t> bytecode,
                const std::function<void(const TcpConn&)>& each) {
    // Every dump walks the kernel's whole established table (sized for the
    // host and shared by every namespace and both families), whatever it
    // keeps. The old TCPDIAG_GETSOCK request dumps with no family (AF_UNSPEC):
    // IPv4 and IPv6 in one walk, half the cost of one request per family.
    if (ipv4 && ipv6) {
        inet_diag_req req{};
        req.idiag_ext = ext;
        req.idiag_states = states;
        auto once = run_dump(fd, request(TCPDIAG_GETSOCK, req, bytecode), each);
        if (!once) return once.error();
        if (*once) return ok_status();
        // Refused (a kernel without the compat request): one dump per family.
    }
    for (uint8_t family : {AF_INET, AF_INET6}) {
        if ((family == AF_INET && !ipv4) || (family == AF_INET6 && !ipv6)) continue;
        inet_diag_req_v2 req{};
        req.sdiag_family = family;
        req.sdiag_protocol = IPPROTO_TCP;
        req.idiag_states = states;
        req.idiag_ext = ext;
        auto r = run_dump(fd, request(SOCK_DIAG_BY_FAMILY, req, bytecode), each);
        if (!r) return r.error();
        // A kernel without IPv6 refuses the AF_INET6 dump; that is not fatal.
        if (!*r && family == AF_INET) return make_error("sock_diag: the kernel refused the dump");
    }
    return ok_status();
}

namespace {

// What a process holds and waits on: open connections, connects under way,
// peers that closed first, listeners. Sockets closing on their way out
// (FIN_WAIT, LAST_ACK, TIME_WAIT) are nobody's wait, and filling TCP_INFO for
// them is what a dump costs.
constexpr uint32_t kHeldStates =
    (1u << static_cast<int>(TcpState::established)) | (1u << static_cast<int>(TcpState::syn_sent)) |
    (1u << static_cast<int>(TcpState::close_wait)) | (1u << static_cast<int>(TcpState::listen));
constexpr uint32_t kListening = 1u << static_cast<int>(TcpState::listen);
constexpr uint32_t kHeldConnections = kHeldStates & ~kListening;
constexpr uint8_t kHeldExt = (1u << (INET_DIAG_INFO - 1)) | (1u << (INET_DIAG_SKMEMINFO - 1));

// Requests sent at once: the kernel answers them all inside the send, into
// the receive buffer, so their replies (~1 KiB of buffer each) must fit the
// default 208 KiB whether or not a bigger one was granted.
constexpr size_t kLookupsPerSend = 64;

}  // namespace

std::vector<uint8_t> exact_lookup_request(const TcpConn& c, uint8_t ext, uint32_t seq) {
    inet_diag_req_v2 req{};
    req.sdiag_family = static_cast<uint8_t>(c.local.family);
    req.sdiag_protocol = IPPROTO_TCP;
    req.idiag_ext = ext;
    req.idiag_states = ~0u;  // an exact lookup ignores them; the caller filters
    req.id.idiag_sport = htons(c.local.port);
    req.id.idiag_dport = htons(c.remote.port);
    size_t alen = c.local.family == AF_INET ? 4 : 16;
    std::memcpy(req.id.idiag_src, c.local.addr.data(), alen);
    std::memcpy(req.id.idiag_dst, c.remote.addr.data(), alen);
    req.id.idiag_if = c.ifindex;
    // The cookie makes it this socket: a lookup that finds another (the
    // listener, when the connection is gone and its local port listens; a new
    // connection on the same addresses) is refused with ESTALE.
    req.id.idiag_cookie[0] = static_cast<uint32_t>(c.cookie);
    req.id.idiag_cookie[1] = static_cast<uint32_t>(c.cookie >> 32);
    return request(SOCK_DIAG_BY_FAMILY, req, {}, NLM_F_REQUEST, seq);
}

Status TcpConnReader::read(const std::function<bool(const TcpConn&)>& keep,
                           std::vector<TcpConn>& out, bool ipv4, bool ipv6) {
    return dump_tcp(fd_.get(), ipv4, ipv6, kHeldStates, kHeldExt, {}, [&](const TcpConn& c) {
        if (keep(c)) out.push_back(c);
    });
}

Result<bool> TcpConnReader::read_known(std::span<const TcpConn> known,
                                       const std::function<bool(const TcpConn&)>& keep,
                                       std::vector<TcpConn>& out, bool ipv4, bool ipv6) {
    // The listening table alone: the kernel skips the established one when
    // no other state is asked for.
    if (auto st = dump_tcp(fd_.get(), ipv4, ipv6, kListening, 0, {},
                           [&](const TcpConn& c) {
                               if (keep(c)) out.push_back(c);
                           });
        !st)
        return st.error();
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    // Each reply is its own datagram: one recvmmsg takes a whole batch's
    // (a recv each was 64 syscalls a look, at ~1 us a syscall on these VMs).
    // A slot holds one reply (448 bytes with kHeldExt) with room to spare;
    // a reply cut short makes the caller walk instead.
    constexpr size_t kSlot = 2048;
    static thread_local std::vector<uint8_t> slots(kLookupsPerSend * kSlot);
    static thread_local std::vector<iovec> iov(kLookupsPerSend);
    static thread_local std::vector<mmsghdr> msgs(kLookupsPerSend);
    std::vector<uint8_t> batch;
    for (size_t first = 0; first < known.size(); first += kLookupsPerSend) {
        size_t n = std::min(kLookupsPerSend, known.size() - first);
        batch.clear();
        for (size_t i = 0; i < n; ++i) {
            auto one = exact_lookup_request(known[first + i], kHeldExt, static_cast<uint32_t>(i));
            batch.insert(batch.end(), one.begin(), one.end());
        }
        if (::sendto(fd_.get(), batch.data(), batch.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof kernel) < 0)
            return sys_error("sock_diag: send");
        // Each request gets one message: the socket, or an error (ENOENT: gone;
        // ESTALE: its addresses now another socket's). All are queued by the
        // time send returns, so reading stops when the queue is empty.
        size_t answered = 0;
        bool overrun = false;
        for (;;) {
            for (size_t i = 0; i < kLookupsPerSend; ++i) {
                iov[i] = {slots.data() + i * kSlot, kSlot};
                msgs[i] = {};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int got = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(kLookupsPerSend),
                                 MSG_DONTWAIT, nullptr);
            if (got < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                // Replies were dropped; the ones queued are read all the same,
                // or the walk that follows would take them for its own.
                if (errno == ENOBUFS) {
                    overrun = true;
                    continue;
                }
                return sys_error("sock_diag: recv");
            }
            for (int m = 0; m < got; ++m) {
                if (msgs[m].msg_hdr.msg_flags & MSG_TRUNC) overrun = true;
                std::span<const uint8_t> reply(slots.data() + static_cast<size_t>(m) * kSlot,
                                               std::min<size_t>(msgs[m].msg_len, kSlot));
                each_message(reply, [&](const nlmsghdr* h) {
                    ++answered;
                    TcpConn c;
                    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || !decode_conn(h, c)) return true;
                    // Not the listener a gone connection's addresses lead to, nor
                    // a socket on its way out.
                    if (c.state >= 32 || (kHeldConnections & (1u << c.state)) == 0) return true;
                    if (keep(c)) out.push_back(c);
                    return true;
                });
            }
            // Every request answered, or fewer than asked for: the queue is empty.
            if (answered >= n || static_cast<size_t>(got) < kLookupsPerSend) break;
        }
        if (overrun || answered < n) return false;
    }
    return true;
}

Status TcpConnReader::read_time_wait(const std::function<bool(const TcpConn&)>& keep,
                                     std::vector<TcpConn>& out) {
    constexpr uint32_t kTimeWait = 1u << static_cast<int>(TcpState::time_wait);
    return dump_tcp(fd_.get(), true, true, kTimeWait, 0, {}, [&](const TcpConn& c) {
        if (keep(c)) out.push_back(c);
    });
}

}  // namespace c10k
