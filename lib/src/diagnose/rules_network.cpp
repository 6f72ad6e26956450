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
            make(Bottleneck::ephemeral_port_exhaustion,
                 addrnotavail > 0 && dest_use >= kPortsUsed ? Support::caught : Support::counted,
                 s.busiest_destination
                     ? fmt::format("{} sockets to {} with {} local ports to choose from",
                                   s.busiest_destination->sockets,
                                   s.busiest_destination->remote.to_string(), s.port_range)
                     : fmt::format("{} connect() calls failed with EADDRNOTAVAIL", addrnotavail));
        if (s.busiest_destination) {
            f.subject = s.busiest_destination->remote.to_string();
            ev(f, key::destination_sockets, s.busiest_destination->sockets);
            ev(f, key::destination_time_wait, s.busiest_destination->time_wait);
        }
        ev(f, key::port_range_size, s.port_range);
        if (b) {
            ev(f, key::eaddrnotavail_errors, static_cast<double>(addrnotavail));
            if (connect) {
                ev(f, key::connect_avg_us, connect_avg_us);
                ev(f, key::connect_p99_us,
                   static_cast<double>(connect->latency.percentile_ns(0.99)) / 1e3);
            }
        }
        ev(f, key::sys_cores, s.sys_cores, "process CPU in the kernel");
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

// Socket buffers: segments closing a small window, reads tiny (BPF); or, from
// the target's own sockets in either mode, receive queues filling buffers set
// small on connections taking data.
void Judge::socket_buffers() {
    const auto& c = s.conns;
    double small_full = c.rcv_small_observations
                            ? static_cast<double>(c.rcv_small_full_observations) /
                                  static_cast<double>(c.rcv_small_observations)
                            : 0;
    bool sampled = c.rcv_small_full_observations >= kMinSamples && small_full >= kClosedWindowShare;
    bool tiny_window = false, buf_events = false;
    double small = 0, bytes_per_read = 0;
    uint64_t reads = 0;
    if (b) {
        const auto& t = b->tcp;
        small = t.segments_in ? static_cast<double>(t.segments_closing_window) /
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
    auto f = make(Bottleneck::socket_buffer_limited,
                  tiny_window ? Support::measured : (sampled ? Support::sampled : Support::weak),
                  tiny_window || !sampled
                      ? fmt::format("{:.0f}% of incoming segments closed a receive window under "
                                    "{} KiB; {:.0f} bytes per read",
                                    small * 100, kSmallWindowBytes / 1024, bytes_per_read)
                      : fmt::format("receive queues at half of a {} byte buffer (the window "
                                    "closed) in {:.0f}% of looks at connections taking data",
                                    c.rcvbuf_min, small_full * 100));
    if (b) {
        const auto& t = b->tcp;
        ev(f, key::closing_window_percent, small * 100,
           fmt::format("segments filling what was left of our window < {} KiB",
                       kSmallWindowBytes / 1024));
        ev(f, key::segments_in, static_cast<double>(t.segments_in));
        ev(f, key::bytes_per_read, bytes_per_read);
        ev(f, key::reads_per_second, static_cast<double>(reads) / sys_s);
        ev(f, key::rcvqueue_full, static_cast<double>(t.rcvqueue_full));
        ev(f, key::buffer_limit_events, static_cast<double>(t.exceed_buf_limit));
    }
    ev(f, key::queue_half_full_percent, small_full * 100);
    ev(f, key::rcvbuf_min, c.rcvbuf_min);
    f.why =
        "The receive buffer is so small that the window closes after a few KiB: the "
        "sender waits for every window update and the process makes many tiny reads. "
        "More CPU will not help; a bigger buffer will.";
    // A small buffer's cost is the kernel's: a read and a window update per few
    // hundred bytes. A reader whose CPU goes mostly into its own code, taking
    // the buffer's worth in each read (BPF counts the bytes), is slower than
    // its senders by its own work: its queue fills whatever the buffer's size,
    // and a bigger one would only hold more waiting. Then the CPU is the cause.
    bool own_code = s.cpu_cores > 0 && s.sys_cores < kUserBound * s.cpu_cores &&
                    (!b || reads == 0 || bytes_per_read >= kSmallRead);
    auto cpu = std::find_if(out.begin(), out.end(), [](const Finding& o) {
        return o.id == Bottleneck::cpu_saturated && o.severity == Severity::crit;
    });
    if (cpu_limited && own_code && cpu != out.end() && f.severity == Severity::crit) {
        ev(f, key::sys_cores, s.sys_cores, "process CPU in the kernel");
        account_for(*cpu, f,
                    fmt::format("the reader spends {:.0f}% of its {:.2f} cores in its own code, "
                                "not in reads, so it takes data slower than it arrives and the "
                                "window would close on any buffer",
                                (1 - s.sys_cores / s.cpu_cores) * 100, s.cpu_cores));
    }
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
            make(Bottleneck::time_wait_overflow, Support::counted,
                 fmt::format("{:.1f} TIME_WAIT sockets destroyed early per second", tw_overflow));
        ev(f, key::tw_overflow_per_second, tw_overflow);
        double resets = rate(s, "Tcp.OutRsts");
        if (resets > 0) ev(f, key::resets_explained_per_second, std::min(resets, tw_overflow));
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
            make(Bottleneck::tcp_memory_pressure, Support::counted,
                 fmt::format("TCP entered memory pressure {:.1f} times per second", pressures));
        ev(f, key::memory_pressures_per_second, pressures);
        f.why = "Past tcp_mem's pressure threshold the kernel shrinks every socket's buffers.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_mem=\"262144 524288 786432\"   # or: c10k-doctor profile apply "
            "c100k"};
        out.push_back(std::move(f));
    }
    double retrans = data_retransmits(s), outsegs = rate(s, "Tcp.OutSegs");
    if (retrans >= 1 && outsegs > 0 && retrans / outsegs >= kLossShare) {
        auto f = make(Bottleneck::network_loss, Support::weak,
                      fmt::format("{:.1f}% of segments sent again (handshakes aside)",
                                  retrans / outsegs * 100));
        ev(f, key::retransmits_per_second, retrans);
        if (b) ev(f, key::target_retransmits, static_cast<double>(b->tcp.retransmits));
        f.why =
            "Each lost segment waits for its retransmission - a tail-loss probe or the 200 ms "
            "minimum RTO, far above a round trip: at this share the slowest exchange in a "
            "hundred is one of them, and a bulk flow's window shrinks.";
        f.fix = {"check the path (ethtool -S, nstat TcpExt.TCPLost*) for drops"};
        out.push_back(std::move(f));
    }
}

// Connection tracking (a NAT, a firewall's ct state rule, Docker): every new
// connection needs a table entry before its first packet goes on. With the
// namespace's count at nf_conntrack_max the kernel evicts an unreplied entry
// (early_drop); with none to evict, it drops the packet - a client's SYN, so
// the client waits a SYN retransmit timeout, 1 s and then doubling, while
// connections already tracked go on. One drop a second is a client a second
// stalled; evictions alone say the table is full and the next connection may
// be one.
void Judge::conntrack_table() {
    double dropped = rate(s, "Conntrack.drop"), evicted = rate(s, "Conntrack.early_drop");
    bool full_at_look = s.conntrack_entries && s.conntrack_max && *s.conntrack_max > 0 &&
                        *s.conntrack_entries >= *s.conntrack_max;
    bool dropping = dropped >= 1;
    if (!dropping && evicted < 1 && !full_at_look) return;
    auto f = make(Bottleneck::conntrack_full, Support::counted,
                  dropping ? fmt::format("{:.1f} packets of new connections dropped per second: "
                                         "conntrack table full",
                                         dropped)
                           : std::string("conntrack table full: entries evicted to make room"));
    if (dropping) ev(f, key::conntrack_drops_per_second, dropped);
    if (evicted > 0) ev(f, key::conntrack_evictions_per_second, evicted);
    if (s.conntrack_entries)
        ev(f, key::conntrack_entries, static_cast<double>(*s.conntrack_entries));
    if (s.conntrack_max) ev(f, key::conntrack_max, static_cast<double>(*s.conntrack_max));
    if (!dropping) f.severity = Severity::warn;
    f.why = dropping ? "Every new connection needs a conntrack entry; with the table at "
                       "nf_conntrack_max and nothing unreplied to evict, its SYN is dropped and "
                       "the client waits a SYN retransmit timeout (1 s, then doubling)."
                     : "The table is at nf_conntrack_max: each new connection evicts an "
                       "unreplied one, and drops begin when none is left.";
    uint64_t wanted = std::max<uint64_t>(2 * s.conntrack_max.value_or(0), 262144);
    f.fix = {fmt::format("sysctl -w net.netfilter.nf_conntrack_max={}", wanted),
             "or leave the service's port untracked: an nftables notrack rule for its TCP port "
             "in prerouting and output"};
    out.push_back(std::move(f));
}

}  // namespace c10k::verdict
