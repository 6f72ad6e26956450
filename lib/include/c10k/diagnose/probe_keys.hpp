// SPDX-License-Identifier: GPL-2.0-or-later
// The evidence probe's findings can carry: what the judge measured, by key.
// Each key is declared once, with its name (stable: JSON, Prometheus and
// perfdata call the value by it; add keys, never rename one), the label people
// read and its unit. "{}" in a name or label takes a qualifier. The list is
// a table (a macro over its rows) so tests can walk every key.
#pragma once

#include "c10k/finding.hpp"

// clang-format off
#define C10K_PROBE_KEYS(X) \
    X(aborted_per_second, "aborted_per_second", "connections aborted (resets sent, data after close or unread)", units::per_second) \
    X(accept_queue_max, "accept_queue_max", "accept queue (max seen)", units::connections) \
    X(accepted_per_second, "accepted_per_second", "connections accepted per second", units::per_second) \
    X(accepts_per_second, "accepts_per_second", "connections accepted per second", units::per_second) \
    X(asleep_in, "in_{}", "thread samples asleep in {}()", units::samples) \
    X(backlog, "backlog", "listen backlog (after the somaxconn clamp)", units::connections) \
    X(blocking_percent, "blocking_percent", "time blocked in sleep/fsync/disk", units::percent) \
    X(buffer_limit_events, "buffer_limit_events", "buffer-limit events", units::events) \
    X(busiest_worker_cores, "busiest_worker_cores", "CPU of its busiest worker process", units::cores) \
    X(busiest_worker_runq_wait, "busiest_worker_runq_wait", "its busiest worker's run-queue wait per second", units::seconds_per_second) \
    X(bytes_per_read, "bytes_per_read", "bytes per read/recv", units::bytes) \
    X(calls_per_second, "{}_per_second", "{} per second", units::per_second) \
    X(connect_avg_us, "connect_avg_us", "connect() average latency", units::us) \
    X(connect_p99_us, "connect_p99_us", "connect() latency p99", units::us) \
    X(connections, "connections", "connections held (max seen)", units::connections) \
    X(connections_max, "connections_max", "connections held (most seen)", units::connections) \
    X(connections_mean, "connections_mean", "connections held at once (mean)", units::connections) \
    X(connections_min, "connections_min", "connections held (fewest seen)", units::connections) \
    X(conntrack_drops_per_second, "conntrack_drops_per_second", "new connections' packets dropped (table full) per second", units::per_second) \
    X(conntrack_entries, "conntrack_entries", "conntrack entries (last look)", units::entries) \
    X(conntrack_evictions_per_second, "conntrack_evictions_per_second", "unreplied entries evicted for room per second", units::per_second) \
    X(conntrack_max, "conntrack_max", "nf_conntrack_max", units::entries) \
    X(contended_waiters, "contended_waiters", "threads seen waiting on a held lock at once (mean)", units::threads) \
    X(cpu_cores, "cpu_cores", "process CPU", units::cores) \
    X(cpu_limit_cores, "cpu_limit_cores", "cgroup CPU limit (quota / period)", units::cores) \
    X(dependency_cores, "dependency_cores", "CPU of the processes serving it", units::cores) \
    X(destination_sockets, "destination_sockets", "sockets to the busiest destination", units::sockets) \
    X(destination_time_wait, "destination_time_wait", "of them in TIME_WAIT", units::sockets) \
    X(disk_samples, "disk_samples", "thread samples in D state (disk)", units::samples) \
    X(eaddrnotavail_errors, "eaddrnotavail_errors", "connect() EADDRNOTAVAIL", units::calls) \
    X(emfile_errors, "emfile_errors", "EMFILE/ENFILE errors", units::calls) \
    X(emfile_per_second, "emfile_per_second", "EMFILE/ENFILE errors per second", units::per_second) \
    X(ended_by_it_per_second, "ended_by_it_per_second", "connections it ended first, per second", units::per_second) \
    X(fds_open_max, "fds_open_max", "open fds (max seen)", units::fds) \
    X(fds_per_call, "fds_per_call", "fds passed per poll/select call (mean)", units::fds) \
    X(fds_scanned_per_second, "fds_scanned_per_second", "fds scanned per second", units::per_second) \
    X(file_lock_percent, "file_lock_percent", "thread looks asleep waiting for a file lock", units::percent) \
    X(file_lock_waiters, "file_lock_waiters", "threads waiting for a file lock at once (mean)", units::threads) \
    X(futex_p99_us, "futex_p99_us", "futex latency p99", units::us) \
    X(futex_per_second, "futex_per_second", "futex calls per second", units::per_second) \
    X(futex_percent, "futex_percent", "share in futex", units::percent) \
    X(futex_waiters, "futex_waiters", "threads waiting in futex (mean)", units::threads) \
    X(held_mean, "held_mean", "connections holding data back (mean)", units::connections) \
    X(held_percent, "held_percent", "samples with a connection holding data back", units::percent) \
    X(host_busy_percent, "host_busy_percent", "host CPU busy", units::percent) \
    X(host_cpu_user_cores, "host_cpu_user_{}_cores", "CPU of the host's user ranked {}", units::cores) \
    X(host_idle_cores, "host_idle_cores", "host CPU idle", units::cores) \
    X(idle_age_p90_ms, "idle_age_p90_ms", "idle keep-alive connections: time since their last data (p90)", units::ms) \
    X(idle_held_mean, "idle_held_mean", "held connections with no request in progress (mean)", units::connections) \
    X(involuntary_per_second, "involuntary_per_second", "involuntary switches per second", units::per_second) \
    X(kept_connections_mean, "kept_connections_mean", "connections kept from one look to the next (mean)", units::connections) \
    X(listen_overflows_per_second, "listen_overflows_per_second", "ListenOverflows per second", units::per_second) \
    X(lock_busy_bound_cores, "lock_busy_bound_cores", "CPU demand (on a CPU or waiting for one)", units::cores) \
    X(lock_stalled, "lock_stalled", "threads waiting in futex at once (mean)", units::threads) \
    X(look_interval_ms, "look_interval_ms", "time between looks", units::ms) \
    X(loop_blocked_percent, "loop_blocked_percent", "event-loop threads' looks blocked in a call", units::percent) \
    X(loop_idle_percent, "loop_idle_percent", "event-loop threads' looks waiting for work", units::percent) \
    X(loop_in, "loop_in_{}", "event-loop looks blocked in {}()", units::looks) \
    X(loop_running_percent, "loop_running_percent", "event-loop threads' looks running", units::percent) \
    X(memory_pressures_per_second, "memory_pressures_per_second", "TCPMemoryPressures per second", units::per_second) \
    X(new_connections_per_look, "new_connections_per_look", "connections no earlier look had seen, per look", units::connections) \
    X(next_thread_cpu_percent, "next_thread_cpu_percent", "next busiest thread on CPU", units::percent) \
    X(nofile_soft, "nofile_soft", "RLIMIT_NOFILE soft limit", units::fds) \
    X(off_cpu_disk_ms, "off_cpu_disk_ms", "off-CPU in D state", units::ms) \
    X(on_cpu_percent, "on_cpu_percent", "threads' time on CPU", units::percent) \
    X(on_cpu_syscall_percent, "on_cpu_syscall_{}_percent", "on-CPU samples inside the syscall ranked {}", units::percent) \
    X(on_cpu_user_percent, "on_cpu_user_percent", "on-CPU samples in user space", units::percent) \
    X(own_connections_percent, "own_connections_percent", "of them in its own fd table (the rest: its children's)", units::percent) \
    X(poll_calls_per_second, "poll_calls_per_second", "poll/select calls per second", units::per_second) \
    X(poll_cpu_percent, "poll_cpu_percent", "on-CPU samples inside poll()/select()", units::percent) \
    X(pool_all_busy_percent, "pool_all_busy_percent", "samples with every connection busy", units::percent) \
    X(pool_busy_percent, "pool_busy_percent", "pool connections awaiting a reply (mean)", units::percent) \
    X(pool_connections, "pool_connections", "connections to the destination", units::connections) \
    X(port_range_size, "port_range_size", "ephemeral ports", units::ports) \
    X(queue_full_percent, "queue_full_percent", "samples with the queue full", units::percent) \
    X(queue_half_full_percent, "queue_half_full_percent", "connection looks with the receive queue >= half the buffer", units::percent) \
    X(queue_wait_ms, "queue_wait_ms", "wait in the queue (mean queued / accepts per second)", units::ms) \
    X(queue_waiting_percent, "queue_waiting_percent", "samples with connections waiting", units::percent) \
    X(rcvbuf_min, "rcvbuf_min", "smallest receive buffer seen", units::bytes) \
    X(rcvqueue_full, "rcvqueue_full", "receive-queue-full events", units::events) \
    X(reads_per_second, "reads_per_second", "reads per second", units::per_second) \
    X(reaped_children_cores, "reaped_children_cores", "CPU of its children that exited in the window", units::cores) \
    X(refused_lifetime_ms, "refused_lifetime_ms", "their life (transient ones per look / their rate)", units::ms) \
    X(refused_per_second, "refused_per_second", "accepted connections not kept, per second", units::per_second) \
    X(replies_seen, "replies_seen", "exchanges seen completing", units::replies) \
    X(reply_mean_ms, "reply_mean_ms", "reply time, mean (requests out / replies per second)", units::ms) \
    X(reply_p50_ms, "reply_p50_ms", "reply latency p50 (clock-tick resolution)", units::ms) \
    X(reply_p99_ms, "reply_p99_ms", "reply latency p99", units::ms) \
    X(reqqfull_drops_per_second, "reqqfull_drops_per_second", "TCPReqQFullDrop per second", units::per_second) \
    X(requests_in_progress, "requests_in_progress", "inbound requests in progress (mean)", units::requests) \
    X(resets_explained_per_second, "resets_explained_per_second", "resets sent that the overflow accounts for (one per destroyed socket)", units::per_second) \
    X(retransmits_per_second, "retransmits_per_second", "retransmitted segments per second", units::per_second) \
    X(rtt_us, "rtt_us", "round-trip time (smallest seen)", units::us) \
    X(runq_p99_us, "runq_p99_us", "run-queue latency p99", units::us) \
    X(runq_wait_seconds_per_second, "runq_wait_seconds_per_second", "threads waiting for a CPU", units::seconds_per_second) \
    X(runq_wait_share, "runq_wait_share", "threads' run-queue wait per second", units::seconds_per_second) \
    X(segments_in, "segments_in", "segments received", units::segments) \
    X(serial_share_percent, "serial_share_percent", "share of each request's work that runs one at a time (1 / cores)", units::percent) \
    X(server_pid, "server_pid", "local process serving it", units::none) \
    X(closing_window_percent, "closing_window_percent", "segments closing our small receive window", units::percent) \
    X(somaxconn, "somaxconn", "net.core.somaxconn", units::connections) \
    X(stall_p50_ms, "stall_p50_ms", "unacknowledged small segment's wait (p50)", units::ms) \
    X(switches_per_second, "switches_per_second", "context switches per second", units::per_second) \
    X(syn_drops_per_second, "syn_drops_per_second", "SYNs the SYN queue dropped per second (ListenDrops less ListenOverflows)", units::per_second) \
    X(syn_stalled, "syn_stalled", "clients waiting on a SYN retransmit at once (overflows x 1 s)", units::connections) \
    X(syncookies_per_second, "syncookies_per_second", "SYNs answered with cookies for a full SYN queue, per second", units::per_second) \
    X(sys_cores, "sys_cores", "of it in the kernel", units::cores) \
    X(syscalls_per_second, "syscalls_per_second", "syscalls per second", units::per_second) \
    X(target_retransmits, "target_retransmits", "retransmits on the target's ports", units::segments) \
    X(thread_busy_percent, "thread_busy_percent", "busiest thread on CPU or runnable", units::percent) \
    X(thread_cpu_percent, "thread_cpu_percent", "busiest thread on CPU", units::percent) \
    X(threads, "threads", "threads", units::threads) \
    X(throttled_percent, "throttled_percent", "periods that ran out of quota", units::percent) \
    X(throttled_seconds_per_second, "throttled_seconds_per_second", "threads held back by the quota", units::seconds_per_second) \
    X(tw_overflow_per_second, "tw_overflow_per_second", "TCPTimeWaitOverflow per second", units::per_second) \
    X(unread_looks_percent, "unread_looks_percent", "looks with such a connection", units::percent) \
    X(unread_requests_mean, "unread_requests_mean", "connections with a request unread since the look before (mean)", units::connections) \
    X(unread_wait_p50_ms, "unread_wait_p50_ms", "a request's wait unread, p50 (at least)", units::ms) \
    X(unread_wait_p99_ms, "unread_wait_p99_ms", "a request's wait unread, p99 (at least)", units::ms) \
    X(usable_cores, "usable_cores", "cores it could use (CPUs, threads)", units::cores) \
    X(wait_percent, "wait_percent", "samples with a request out at the destination", units::percent) \
    X(waiting_max, "waiting_max", "requests out at once (most)", units::requests) \
    X(waiting_mean, "waiting_mean", "requests out at once (mean)", units::requests) \
    X(workers_blocked_percent, "workers_blocked_percent", "worker processes' looks blocked in a call", units::percent) \
    X(workers_cores, "workers_cores", "CPU of its worker processes (live children)", units::cores) \
    X(workers_idle_percent, "workers_idle_percent", "worker processes' looks waiting for work", units::percent) \
    X(workers_in, "workers_in_{}", "worker processes' looks blocked in {}()", units::looks) \
    X(workers_peer_percent, "workers_peer_percent", "worker processes' looks in a socket read or write", units::percent) \
    X(workers_running, "workers_running", "worker processes that ran", units::processes) \
    X(workers_running_percent, "workers_running_percent", "worker processes' looks running", units::percent) \
    X(workers_runq_wait, "workers_runq_wait", "its worker processes' run-queue wait per second", units::seconds_per_second) \
    X(workers_wakeup_percent, "workers_wakeup_percent", "worker processes' looks waiting to be woken (epoll on no socket, no timeout)", units::percent) \
    X(working_threads, "working_threads", "threads with work (on CPU or runnable 5% of the time)", units::threads)
// clang-format on

namespace c10k::probe_keys {

C10K_DECLARE_EVIDENCE_KEYS(C10K_PROBE_KEYS)

}  // namespace c10k::probe_keys
