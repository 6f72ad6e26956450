// SPDX-License-Identifier: GPL-2.0-or-later
// The verdict's vocabulary, declared once: every id probe can name, what it
// means, how it ranks against the others, and which histograms back it up.
// Ids are stable (JSON, scripts); add new ones, never rename one.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "c10k/severity.hpp"

namespace c10k {

enum class Bottleneck {
    fd_limit,
    ephemeral_port_exhaustion,
    poll_scaling,
    context_switch_storm,
    app_connection_limit,
    downstream_bound,
    nagle_delayed_ack,
    socket_buffer_limited,
    off_cpu_blocking,
    lock_contention,
    accept_queue_overflow,
    syn_backlog_overflow,
    conntrack_full,
    cpu_saturated,
    tcp_memory_pressure,
    time_wait_overflow,
    network_loss,
    healthy,
};

// What the window showed, whatever causes it: the evidence a cause explains.
// Stable names (JSON "explains"); add new ones, never rename one.
enum class Symptom {
    emfile,              // accept()/socket() failing with EMFILE, or fds at the limit
    accept_queue_full,   // a listener's queue at its backlog, or overflowing
    connection_plateau,  // the connections held stay flat across the looks
    requests_waiting,    // requests in progress on the inbound connections, one or more
    run_queue_wait,      // the process's threads waiting for a CPU
    cpu_busy,            // the process, or one of its threads, on the CPU all the time
    futex_waits,         // threads asleep in futex, one or more at a time
    resets_sent,         // connections ended by resets, one or more a second
    time_wait_overflow,  // TIME_WAIT sockets destroyed early (tcp_max_tw_buckets)
    retransmits,         // 0.5% or more of the segments sent are data sent again
    requests_unread,     // requests left in the receive queues across looks
    syn_queue_full,      // SYNs dropped, or answered with cookies, for a full SYN queue
    conntrack_full,      // new connections' packets dropped, or entries evicted, for a full table
};

std::string_view to_string(Symptom s);

// Histograms a finding can be backed by, beyond syscall latencies.
enum class ExtraHist { none, reply_latency, nagle_stall };

struct BottleneckInfo {
    Bottleneck id;
    std::string_view name;  // the stable id, e.g. "fd-limit"
    // Higher outranks lower among findings of equal severity. A cause sits above
    // the symptoms it drags along: fd-limit above the accept queue it fills,
    // a thread storm or poll scans above the CPU they burn, a pool or a slow
    // dependency above the queues that back up behind them.
    int rank;
    // What finding it says: CRIT, the limit the server is at; WARN, a cost or
    // a risk that does not cap it by itself (TIME_WAIT sockets destroyed
    // early, loss); OK, nothing found. A rule may lower a CRIT to WARN where
    // its own evidence shows the mechanism but not the cap; it never raises one.
    Severity severity;
    std::string_view meaning;
    // Syscalls whose latency histograms back a finding of this id (BPF mode).
    std::span<const std::string_view> syscalls;
    ExtraHist extra;
    // The findings this cause brings along by its own mechanism: when both
    // stand, those are its symptoms (WARN, "a consequence of ..."), and this
    // finding says it accounts for them.
    std::span<const Bottleneck> accounts_for = {};
    // The symptoms its mechanism produces: a finding explains those of them
    // the window showed.
    std::span<const Symptom> explains = {};
};

std::span<const BottleneckInfo> bottlenecks();
const BottleneckInfo& info(Bottleneck b);
std::string_view to_string(Bottleneck b);
std::optional<Bottleneck> bottleneck_from(std::string_view name);

}  // namespace c10k
