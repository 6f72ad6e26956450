// SPDX-License-Identifier: GPL-2.0-or-later
// Target servers defined outside target_server.cpp (see its header for the modes).
#pragma once

namespace c10k::helpers {

void run_db(long ms, bool busy, long secs);
// How a pool-app worker waits for the dependency's reply (see run_pool_app).
enum class PoolWait { read, poll, epoll };
void run_pool_app(long db_port, long workers, long pool_size, long secs, PoolWait wait);
void run_evicting(long cap, long secs);
void run_refusing(long cap, long secs);
void run_serialised(long ms, long secs);
void run_capped(long workers, long secs, long backlog);
void run_burst_accept(long backlog, long secs);
void run_pegged_loop(long helpers, long secs);
void run_spread_cpu(long threads, long secs);
void run_two_writes(bool nodelay, long secs);
void run_poll_server(long secs, long timeout_ms);
void run_fork_cap(long cap, long startup_ms, long secs, long work_ms);
void run_draining(long cap, long secs);
void run_idle_timeout(long timeout_ms, long secs);
void run_pipe_log(long drain_delay_ms, long secs);
void run_flock_workers(long workers, bool shared, long secs);
void run_latch_workers(long workers, bool shared, long secs, bool flock);
void run_worker_pool(long workers, long ms, long secs);
void run_proxy_per_request(long upstream_port, long secs);
void run_proxy_pool(long upstream_port, long pool, long secs);
void run_dispatch_pool(long workers, long ms, long secs);
// What an event loop waits in per request (see run_loop_wait).
enum class LoopWait { futex, sleep };
void run_loop_wait(LoopWait wait, long ms, long secs);

}  // namespace c10k::helpers
