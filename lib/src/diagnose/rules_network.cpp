// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/server_settings.hpp"
#include "verdict_rules.hpp"

namespace c10k::verdict {

// Ephemeral ports: sockets to one destination near the size of the range.
void Judge::ephemeral_ports() {
    uint64_t addrnotavail = b ? b->errno_count(EADDRNOTAVAIL) : 0;
    const SyscallStat* connect = b ? b->syscall("connect") : nullptr;
    double connect_avg_us = connect && connect->count
                                ? static_cast<double>(connect->total_ns) / connect->count / 1e3
                                : 0;
    double dest_use = s.busiest_destination && s.port_range
                          ? static_cast<double>(s.busiest_destination->sockets) / s.port_range
                          : 0;
    if (addrnotavail > 0 || dest_use >= kPortsUsed) {
        auto f =
            make(Bottleneck::ephemeral_port_exhaustion, Severity::crit,
                 addrnotavail > 0 && dest_use >= kPortsUsed ? Support::caught : Support::counted,
                 s.busiest_destination
                     ? fmt::format("{} sockets to {} with {} local ports to choose from",
                                   s.busiest_destination->sockets,
                                   s.busiest_destination->remote.to_string(), s.port_range)
                     : fmt::format("{} connect() calls failed with EADDRNOTAVAIL", addrnotavail));
        if (s.busiest_destination) {
            f.subject = s.busiest_destination->remote.to_string();
            ev(f, "destination_sockets", "sockets to the busiest destination",
               s.busiest_destination->sockets, units::sockets);
            ev(f, "destination_time_wait", "of them in TIME_WAIT", s.busiest_destination->time_wait,
               units::sockets);
        }
        ev(f, "port_range_size", "ephemeral ports", s.port_range, units::ports);
        if (b) {
            ev(f, "eaddrnotavail_errors", "connect() EADDRNOTAVAIL",
               static_cast<double>(addrnotavail), units::calls);
            if (connect) {
                ev(f, "connect_avg_us", "connect() average latency", connect_avg_us, units::us);
                ev(f, "connect_p99_us", "connect() latency p99",
                   static_cast<double>(connect->latency.percentile_ns(0.99)) / 1e3, units::us);
            }
        }
        ev(f, "sys_cores", "process CPU in the kernel", s.sys_cores, units::cores);
        f.why =
            "Each connection to one address:port needs its own local port, and TIME_WAIT holds "
            "a closed one for 60 s. connect() scans one parity of the range first, so past half "
            "the range every connect() walks that half in the kernel (CPU in connect, kernel "
            "time of the process) before it finds a port; near the end it fails with "
            "EADDRNOTAVAIL.";
        f.fix = {"reuse connections (keep-alive, a connection pool) instead of one per request",
                 "spread over more destination addresses, or bind() more source addresses",
                 "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"   # or: c10k-doctor "
                 "profile apply loadgen",
                 "sysctl -w net.ipv4.tcp_tw_reuse=1   # for loopback and your own clients"};
        if (auto own = upstream_reuse_setting(e.comm)) f.fix.insert(f.fix.begin() + 1, *own);
        out.push_back(std::move(f));
    }
}

// Socket buffers: our advertised window tiny, reads tiny (BPF); or, from the
// target's own sockets in either mode, receive queues filling buffers set small.
void Judge::socket_buffers() {
    const auto& c = s.conns;
    double small_full = c.rcv_observations ? static_cast<double>(c.rcv_small_full_observations) /
                                                 static_cast<double>(c.rcv_observations)
                                           : 0;
    bool sampled = c.rcv_small_full_observations >= kMinSamples && small_full >= kSmallWindowShare;
    bool tiny_window = false, buf_events = false;
    double small = 0, bytes_per_read = 0;
    uint64_t reads = 0;
    if (b) {
        const auto& t = b->tcp;
        small = t.segments_in ? static_cast<double>(t.segments_small_window) /
                                    static_cast<double>(t.segments_in)
                              : 0;
        reads = b->calls_of({"read", "recvfrom", "recvmsg", "readv"});
        bytes_per_read =
            reads ? static_cast<double>(b->bytes_of({"read", "recvfrom", "recvmsg", "readv"})) /
                        static_cast<double>(reads)
                  : 0;
        tiny_window = t.segments_in >= kMinSegments && small >= kSmallWindowShare;
        buf_events = t.rcvqueue_full + t.exceed_buf_limit > 0 && bytes_per_read < kSmallRead;
    }
    if (!tiny_window && !buf_events && !sampled) return;
    auto f = make(Bottleneck::socket_buffer_limited, Severity::crit,
                  tiny_window ? Support::measured : (sampled ? Support::sampled : Support::weak),
                  tiny_window || !sampled
                      ? fmt::format("{:.0f}% of incoming segments met a receive window under "
                                    "{} KiB; {:.0f} bytes per read",
                                    small * 100, kSmallWindowBytes / 1024, bytes_per_read)
                      : fmt::format("receive queues at half of a {} byte buffer in {:.0f}% of "
                                    "looks at the target's connections",
                                    c.rcvbuf_min, small_full * 100));
    if (b) {
        const auto& t = b->tcp;
        ev(f, "small_window_percent",
           fmt::format("segments arriving with our window < {} KiB", kSmallWindowBytes / 1024),
           small * 100, units::percent);
        ev(f, "segments_in", "segments received", static_cast<double>(t.segments_in),
           units::segments);
        ev(f, "bytes_per_read", "bytes per read/recv", bytes_per_read, units::bytes);
        ev(f, "reads_per_second", "reads per second", static_cast<double>(reads) / sys_s,
           units::per_second);
        ev(f, "rcvqueue_full", "receive-queue-full events", static_cast<double>(t.rcvqueue_full),
           units::events);
        ev(f, "buffer_limit_events", "buffer-limit events", static_cast<double>(t.exceed_buf_limit),
           units::events);
    }
    ev(f, "queue_half_full_percent", "connection looks with the receive queue >= half the buffer",
       small_full * 100, units::percent);
    ev(f, "rcvbuf_min", "smallest receive buffer seen", c.rcvbuf_min, units::bytes);
    f.why =
        "The receive buffer is so small that the window closes after a few KiB: the "
        "sender waits for every window update and the process makes many tiny reads. "
        "More CPU will not help; a bigger buffer will.";
    f.fix = {"do not set a small SO_RCVBUF (let autotuning size it), or raise it",
             "sysctl -w net.ipv4.tcp_rmem=\"4096 131072 16777216\"   # or: c10k-doctor "
             "profile apply c100k",
             "read in larger chunks"};
    out.push_back(std::move(f));
}

// The namespace's TCP counters: TIME_WAIT overflow, memory pressure, loss.
void Judge::tcp_counters() {
    double tw_overflow = rate(s, "TcpExt.TCPTimeWaitOverflow");
    if (tw_overflow > 0) {
        auto f =
            make(Bottleneck::time_wait_overflow, Severity::warn, Support::counted,
                 fmt::format("{:.1f} TIME_WAIT sockets destroyed early per second", tw_overflow));
        ev(f, "tw_overflow_per_second", "TCPTimeWaitOverflow per second", tw_overflow,
           units::per_second);
        double resets = rate(s, "Tcp.OutRsts");
        if (resets > 0)
            ev(f, "resets_explained_per_second",
               "resets sent that the overflow accounts for (one per destroyed socket)",
               std::min(resets, tw_overflow), units::per_second);
        f.why =
            "tcp_max_tw_buckets is reached: the kernel destroys closing sockets instead of "
            "keeping them in TIME_WAIT, so a peer's late FIN meets no socket and is answered "
            "with a reset - those resets are this finding's, not a sign of evictions. "
            "Requests succeed, but old segments can land in new connections.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_max_tw_buckets=524288   # or: c10k-doctor profile apply c100k"};
        out.push_back(std::move(f));
    }
    double pressures = rate(s, "TcpExt.TCPMemoryPressures");
    if (pressures > 0) {
        auto f =
            make(Bottleneck::tcp_memory_pressure, Severity::crit, Support::counted,
                 fmt::format("TCP entered memory pressure {:.1f} times per second", pressures));
        ev(f, "memory_pressures_per_second", "TCPMemoryPressures per second", pressures,
           units::per_second);
        f.why = "Past tcp_mem's pressure threshold the kernel shrinks every socket's buffers.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_mem=\"262144 524288 786432\"   # or: c10k-doctor profile apply "
            "c100k"};
        out.push_back(std::move(f));
    }
    double retrans = rate(s, "Tcp.RetransSegs"), outsegs = rate(s, "Tcp.OutSegs");
    if (retrans >= 1 && outsegs > 0 && retrans / outsegs >= kLossShare) {
        auto f = make(Bottleneck::network_loss, Severity::warn, Support::weak,
                      fmt::format("{:.1f}% of segments retransmitted", retrans / outsegs * 100));
        ev(f, "retransmits_per_second", "retransmitted segments per second", retrans,
           units::per_second);
        if (b)
            ev(f, "target_retransmits", "retransmits on the target's ports",
               static_cast<double>(b->tcp.retransmits), units::segments);
        f.why = "Lost segments cost a retransmit timeout or a fast-retransmit round trip each.";
        f.fix = {"check the path (ethtool -S, nstat TcpExt.TCPLost*) for drops"};
        out.push_back(std::move(f));
    }
}

}  // namespace c10k::verdict
