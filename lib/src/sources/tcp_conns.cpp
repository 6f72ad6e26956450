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

Result<bool> parse_tcp_conns(std::span<const uint8_t> buf,
                             const std::function<void(const TcpConn&)>& each) {
    size_t len = buf.size();
    auto* h = reinterpret_cast<const nlmsghdr*>(buf.data());
    for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type == NLMSG_DONE) return false;
        if (h->nlmsg_type == NLMSG_ERROR) {
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
                return make_error("sock_diag: truncated error message");
            auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            return make_error(std::string("sock_diag: ") + std::strerror(-err->error));
        }
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
            return make_error("sock_diag: truncated inet_diag_msg");
        auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        TcpConn c;
        c.state = m->idiag_state;
        c.local.family = c.remote.family = m->idiag_family;
        size_t alen = m->idiag_family == AF_INET ? 4 : 16;
        std::memcpy(c.local.addr.data(), m->id.idiag_src, alen);
        std::memcpy(c.remote.addr.data(), m->id.idiag_dst, alen);
        c.local.port = ntohs(m->id.idiag_sport);
        c.remote.port = ntohs(m->id.idiag_dport);
        c.inode = m->idiag_inode;
        c.rqueue = m->idiag_rqueue;
        c.wqueue = m->idiag_wqueue;

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
        each(c);
    }
    return true;
}

Result<TcpConnReader> TcpConnReader::open() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return make_error(std::string("sock_diag: socket: ") + std::strerror(errno));
    return TcpConnReader(std::move(fd));
}

Status TcpConnReader::read(const std::function<bool(const TcpConn&)>& keep,
                           std::vector<TcpConn>& out, bool ipv4, bool ipv6) {
    // What a process holds and waits on: open connections, connects under way,
    // peers that closed first, listeners. Sockets closing on their way out
    // (FIN_WAIT, LAST_ACK, TIME_WAIT) are nobody's wait, and filling TCP_INFO for
    // them is what a dump costs.
    constexpr uint32_t kStates = (1u << static_cast<int>(TcpState::established)) |
                                 (1u << static_cast<int>(TcpState::syn_sent)) |
                                 (1u << static_cast<int>(TcpState::close_wait)) |
                                 (1u << static_cast<int>(TcpState::listen));
    for (uint8_t family : {AF_INET, AF_INET6}) {
        if ((family == AF_INET && !ipv4) || (family == AF_INET6 && !ipv6)) continue;
        struct {
            nlmsghdr nlh;
            inet_diag_req_v2 req;
        } msg{};
        msg.nlh.nlmsg_len = sizeof msg;
        msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.nlh.nlmsg_seq = family;
        msg.req.sdiag_family = family;
        msg.req.sdiag_protocol = IPPROTO_TCP;
        msg.req.idiag_states = kStates;
        msg.req.idiag_ext = (1u << (INET_DIAG_INFO - 1)) | (1u << (INET_DIAG_SKMEMINFO - 1));
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (::sendto(fd_.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof kernel) < 0)
            return make_error(std::string("sock_diag: send: ") + std::strerror(errno));
        static thread_local std::vector<uint8_t> buf(64 * 1024);
        for (;;) {
            ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return make_error(std::string("sock_diag: recv: ") + std::strerror(errno));
            }
            if (n == 0) return make_error("sock_diag: connection closed mid-dump");
            auto more =
                parse_tcp_conns({buf.data(), static_cast<size_t>(n)}, [&](const TcpConn& c) {
                    if (keep(c)) out.push_back(c);
                });
            if (!more) {
                if (family == AF_INET6) break;  // a kernel without IPv6: not fatal
                return more.error();
            }
            if (!*more) break;
        }
    }
    return ok_status();
}

}  // namespace c10k
