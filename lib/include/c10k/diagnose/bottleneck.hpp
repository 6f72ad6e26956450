// SPDX-License-Identifier: GPL-2.0-or-later
// The verdict's vocabulary, declared once: every id probe can name, what it
// means, how it ranks against the others, and which histograms back it up.
// Ids are stable (JSON, scripts); add new ones, never rename one.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

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
    cpu_saturated,
    tcp_memory_pressure,
    time_wait_overflow,
    network_loss,
    healthy,
};

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
    std::string_view meaning;
    // Syscalls whose latency histograms back a finding of this id (BPF mode).
    std::span<const std::string_view> syscalls;
    ExtraHist extra;
    // The findings this cause brings along by its own mechanism: when both
    // stand, those are its symptoms (WARN, "a consequence of ..."), and this
    // finding says it accounts for them.
    std::span<const Bottleneck> accounts_for = {};
};

std::span<const BottleneckInfo> bottlenecks();
const BottleneckInfo& info(Bottleneck b);
std::string_view to_string(Bottleneck b);
std::optional<Bottleneck> bottleneck_from(std::string_view name);

}  // namespace c10k
