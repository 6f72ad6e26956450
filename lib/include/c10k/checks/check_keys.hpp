// SPDX-License-Identifier: GPL-2.0-or-later
// The evidence check's findings can carry: what each check read, by key.
// Each key is declared once, with its name (stable: JSON, Prometheus and
// perfdata call the value by it; add keys, never rename one), the label people
// read and its unit. "{}" in a name or label takes a qualifier. The list is
// a table (a macro over its rows) so tests can walk every key.
#pragma once

#include "c10k/finding.hpp"

// clang-format off
#define C10K_CHECK_KEYS(X) \
    X(accept_queue, "accept_queue", "connections waiting in the accept queue", units::connections) \
    X(accept_queue_max, "accept_queue_max", "the most waiting over the interval", units::connections) \
    X(backlog, "backlog", "effective backlog", units::connections) \
    X(backlog_needed, "backlog_needed", "backlog for the target", units::connections) \
    X(busy_connection_bytes, "busy_connection_bytes", "buffers for the target at default sizes", units::bytes) \
    X(connections, "connections", "TCP connections of the process", units::connections) \
    X(connections_opened_per_second, "connections_opened_per_second", "connections opened", units::per_second) \
    X(conntrack_entries, "conntrack_entries", "nf_conntrack_count", units::entries) \
    X(conntrack_max, "conntrack_max", "nf_conntrack_max", units::entries) \
    X(context_switches_per_cpu_per_second, "context_switches_per_cpu_per_second", "per CPU", units::per_second) \
    X(context_switches_per_second, "context_switches_per_second", "context switches", units::per_second) \
    X(context_switches_total, "context_switches_total", "context switches since boot", units::since_boot) \
    X(counter_per_second, "{}_per_second", "{} rate", units::per_second) \
    X(counter_total, "{}_total", "{} since boot", units::since_boot) \
    X(cpu_busy_ratio, "cpu_busy_ratio", "CPU busy", units::ratio) \
    X(cpu_pressure_some_avg10_percent, "cpu_pressure_some_avg10_percent", "CPU pressure, some, avg10", units::percent) \
    X(cpu_pressure_some_avg60_percent, "cpu_pressure_some_avg60_percent", "CPU pressure, some, avg60", units::percent) \
    X(cpus, "cpus", "CPUs", units::none) \
    X(fd_usage_ratio, "fd_usage_ratio", "share of the soft limit in use", units::ratio) \
    X(fds_needed, "fds_needed", "fds needed for the target", units::fds) \
    X(fds_open, "fds_open", "fds open", units::fds) \
    X(file_max, "file_max", "fs.file-max", units::files) \
    X(files_allocated, "files_allocated", "file handles allocated", units::files) \
    X(full_samples, "full_samples", "looks that found it full", units::looks) \
    X(idle_connection_bytes, "idle_connection_bytes", "kernel memory for the target, idle", units::bytes) \
    X(involuntary_switches_per_second, "involuntary_switches_per_second", "involuntary switches", units::per_second) \
    X(netdev_max_backlog, "netdev_max_backlog", "net.core.netdev_max_backlog", units::packets) \
    X(nofile_hard, "nofile_hard", "hard RLIMIT_NOFILE", units::fds) \
    X(nofile_soft, "nofile_soft", "soft RLIMIT_NOFILE", units::fds) \
    X(nr_open, "nr_open", "fs.nr_open", units::fds) \
    X(on_cpu_ratio, "on_cpu_ratio", "CPUs used", units::cpus) \
    X(pid_max, "pid_max", "kernel.pid_max", units::threads) \
    X(port_range_size, "port_range_size", "usable ephemeral ports", units::ports) \
    X(ports_in_use, "ports_in_use", "local ports in use to this destination", units::ports) \
    X(procs_running, "procs_running", "runnable tasks now", units::tasks) \
    X(prune_called_per_second, "prune_called_per_second", "PruneCalled rate", units::per_second) \
    X(ram_bytes, "ram_bytes", "RAM", units::bytes) \
    X(reserved_ports, "reserved_ports", "reserved ports inside the range", units::ports) \
    X(rmem_max_bytes, "rmem_max_bytes", "net.core.rmem_max (SO_RCVBUF cap)", units::bytes) \
    X(runqueue_wait_ratio, "runqueue_wait_ratio", "threads waiting for a CPU, on average", units::threads) \
    X(sockets, "sockets", "sockets to this destination", units::sockets) \
    X(somaxconn, "somaxconn", "net.core.somaxconn", units::connections) \
    X(tcp_abort_on_memory_per_second, "tcp_abort_on_memory_per_second", "TCPAbortOnMemory rate", units::per_second) \
    X(tcp_max_syn_backlog, "tcp_max_syn_backlog", "net.ipv4.tcp_max_syn_backlog", units::connections) \
    X(tcp_max_tw_buckets, "tcp_max_tw_buckets", "net.ipv4.tcp_max_tw_buckets", units::sockets) \
    X(tcp_mem_max_bytes, "tcp_mem_max_bytes", "tcp_mem hard limit", units::bytes) \
    X(tcp_mem_pressure_bytes, "tcp_mem_pressure_bytes", "tcp_mem pressure threshold", units::bytes) \
    X(tcp_mem_used_bytes, "tcp_mem_used_bytes", "TCP buffer memory in use", units::bytes) \
    X(tcp_memory_pressures_per_second, "tcp_memory_pressures_per_second", "TCPMemoryPressures rate", units::per_second) \
    X(tcp_rcvq_drop_per_second, "tcp_rcvq_drop_per_second", "TCPRcvQDrop rate", units::per_second) \
    X(tcp_rmem_max_bytes, "tcp_rmem_max_bytes", "tcp_rmem max", units::bytes) \
    X(tcp_syncookies, "tcp_syncookies", "net.ipv4.tcp_syncookies", units::none) \
    X(tcp_tw_reuse, "tcp_tw_reuse", "net.ipv4.tcp_tw_reuse", units::none) \
    X(tcp_wmem_max_bytes, "tcp_wmem_max_bytes", "tcp_wmem max", units::bytes) \
    X(threads, "threads", "threads", units::threads) \
    X(threads_max, "threads_max", "kernel.threads-max", units::threads) \
    X(time_wait, "time_wait", "of them in TIME_WAIT", units::sockets) \
    X(time_wait_overflow_per_second, "time_wait_overflow_per_second", "TCPTimeWaitOverflow rate", units::per_second) \
    X(time_wait_overflow_total, "time_wait_overflow_total", "TCPTimeWaitOverflow since boot", units::since_boot) \
    X(time_wait_sockets, "time_wait_sockets", "sockets in TIME_WAIT", units::sockets) \
    X(voluntary_switches_per_second, "voluntary_switches_per_second", "voluntary switches", units::per_second)
// clang-format on

namespace c10k::check_keys {

C10K_DECLARE_EVIDENCE_KEYS(C10K_CHECK_KEYS)

}  // namespace c10k::check_keys
