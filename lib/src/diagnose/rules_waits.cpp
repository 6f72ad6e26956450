// SPDX-License-Identifier: GPL-2.0-or-later
// What the process waits on, read from its own connections (TCP_INFO) and its
// threads: replies from a dependency, a slot in a connection pool, ACKs that
// Nagle waits for, and fd scans by poll()/select().
#include "verdict_rules.hpp"

namespace c10k::verdict {

namespace {

double per_sample(uint64_t n, uint64_t samples) {
    return samples ? static_cast<double>(n) / static_cast<double>(samples) : 0;
}

std::string dest_name(const DestinationWait& d) {
    return d.server_pid
               ? fmt::format("{} ({}, PID {})", d.remote.to_string(), d.server_comm, d.server_pid)
               : d.remote.to_string();
}

void reply_evidence(Finding& f, const DestinationWait& d) {
    if (d.reply_mean_s > 0) ev(f, key::reply_mean_ms, d.reply_mean_s * 1e3);
    if (d.reply_latency.count() == 0) return;
    ev(f, key::reply_p50_ms, static_cast<double>(d.reply_latency.percentile_ns(0.5)) / 1e6);
    ev(f, key::reply_p99_ms, static_cast<double>(d.reply_latency.percentile_ns(0.99)) / 1e6);
    ev(f, key::replies_seen, static_cast<double>(d.reply_latency.count()));
}

std::vector<std::string> next_probe(const DestinationWait& d) {
    if (!d.server_pid) return {};
    if (d.listener_pid && d.listener_pid != d.server_pid)
        return {fmt::format(
            "c10k-doctor probe --pid {}   # {} serves the busiest connection to {} (a process "
            "of its own; PID {} holds the listener): probe it next",
            d.server_pid, d.server_comm, d.remote.to_string(), d.listener_pid)};
    return {fmt::format("c10k-doctor probe --pid {}   # {} serves {}: probe it next", d.server_pid,
                        d.server_comm, d.remote.to_string())};
}

}  // namespace

// A connection pool is exhausted when every one of a fixed set of connections to
// one destination is busy with a request nearly all the time while work waits
// for a slot: threads that do run sleep on a futex (a condvar or a semaphore)
// for one - idle workers parked on a condvar never run and do not count
// (futex_active) - or, in an event loop, which parks no thread, its clients'
// requests in progress outnumber the pool's connections (HAProxy's server
// maxconn queues them inside; a proxy without a cap has a connection for each).
void Judge::find_pool() {
    const auto& c = s.conns;
    if (c.samples < kMinSamples) return;
    for (const auto& d : c.destinations) {
        if (d.samples_seen < kMinSamples || d.conns_max == 0 || d.conns_sum == 0) continue;
        bool fixed = d.conns_max - d.conns_min <= kPoolSizeSlack;
        if (!fixed || pool_busy(d) < kPoolBusy) continue;
        // More requests in progress than the pool has connections: at every
        // instant some have none. (Against the pool's size, not the requests
        // out: a proxy without a cap holds each request in its own hands for
        // a moment between the connections' turns, as many as are idle.)
        double in_progress = c.mean_inbound_pending();
        bool queued_inside = in_progress - d.conns_max >= kPoolQueued;
        if (futex_waiters >= 1 || queued_inside) {
            pool = &d;
            pool_queued =
                futex_waiters >= 1 ? 0 : in_progress - per_sample(d.waiting_sum, c.samples);
            return;
        }
    }
}

// The mean share of the pool's connections out awaiting a reply. Not "every
// connection busy at once": each connection is seen idle for the instant
// between handing back its reply and taking the next request, so with a share
// g of that gap the chance of catching all N busy is (1-g)^N - it falls with
// the pool's size and with the VM's steal, while the share itself stays put.
double Judge::pool_busy(const DestinationWait& d) {
    return d.conns_sum ? static_cast<double>(d.waiting_sum) / static_cast<double>(d.conns_sum) : 0;
}

void Judge::connection_pool() {
    if (!pool) return;
    const auto& d = *pool;
    auto f = make_from_looks(
        Bottleneck::app_connection_limit, Support::measured,
        fmt::format("connection pool to {} exhausted: {:.0f}% of its {} connections "
                    "busy, {:.0f} {} waiting for a slot",
                    d.remote.to_string(), pool_busy(d) * 100, d.conns_max,
                    pool_queued > 0 ? pool_queued : futex_waiters,
                    pool_queued > 0 ? "requests" : "threads"),
        s.conns.samples);
    f.subject = fmt::format("pool of {} to {}", d.conns_max, d.remote.to_string());
    ev(f, key::pool_connections, d.conns_max);
    ev(f, key::pool_busy_percent, pool_busy(d) * 100);
    ev(f, key::pool_all_busy_percent, per_sample(d.samples_all_busy, d.samples_seen) * 100);
    if (pool_queued > 0) {
        ev(f, key::requests_in_progress, s.conns.mean_inbound_pending());
        ev(f, key::waiting_mean, per_sample(d.waiting_sum, s.conns.samples));
    } else {
        ev(f, key::futex_waiters, futex_waiters);
        ev(f, key::threads, s.threads_max);
    }
    reply_evidence(f, d);
    ev(f, key::cpu_cores, s.cpu_cores);
    f.why = fmt::format(
        "Every request needs one of {} connections to {}; all are in use nearly all the time and "
        "the other requests {}. The machine is idle: the pool's size, not the CPU or the kernel, "
        "sets the throughput.",
        d.conns_max, dest_name(d),
        pool_queued > 0 ? fmt::format("({:.0f} of the {:.0f} in progress) wait inside the process "
                                      "until one comes back",
                                      pool_queued, s.conns.mean_inbound_pending())
                        : "' threads sleep until one comes back");
    f.fix = {pool_queued > 0
                 ? fmt::format("raise the cap on connections to {} toward the {:.0f} requests "
                               "that want one (HAProxy: maxconn on the server line; nginx: "
                               "max_conns on the upstream server), within what it accepts",
                               d.remote.to_string(), s.conns.mean_inbound_pending())
                 : fmt::format("raise the pool size toward the {} threads that want it (and what "
                               "{} accepts: its max connections)",
                               s.threads_max, d.remote.to_string()),
             "or hold connections for less time: no slow work while a connection is checked out"};
    for (auto& cmd : next_probe(d))
        f.fix.push_back(cmd);
    out.push_back(std::move(f));
}

// Downstream-bound: for most of the window some request of the target's was out
// at one destination with its reply not yet back, while the target itself had
// CPU to spare. Only peers that talk back count (awaiting_reply needs data
// received), so a one-way stream (logs, replication) does not - except on
// per-request connections (an event loop's FastCGI or upstream HTTP/1.0),
// where a request out with nothing back yet is the wait itself: the loop sits
// idle in epoll_wait, so no thread shows it, only its outbound connections.
void Judge::downstream() {
    const auto& c = s.conns;
    const DestinationWait* d = c.top_destination();
    if (!d || c.samples < kMinSamples || fd_limited) return;
    if (cpu_limited && starving_dependency != d) return;
    double share = per_sample(d->samples_waiting, c.samples);
    if (share < kMostOfTheTime) return;
    bool behind_pool = pool == d;
    double waiting = per_sample(d->waiting_sum, c.samples);
    auto f = make_from_looks(
        Bottleneck::downstream_bound,
        c.samples_inbound_pending ? Support::measured : Support::indirect,
        fmt::format("waits on {} {:.0f}% of the time: {:.1f} requests out at once on {} "
                    "connections",
                    dest_name(*d), share * 100, waiting, d->conns_max),
        c.samples);
    // Behind a pool the pool is the cap; the dependency's time is its cost.
    lower_to_warn(f, behind_pool);
    f.subject = d->remote.to_string();
    ev(f, key::wait_percent, share * 100);
    ev(f, key::waiting_mean, waiting);
    ev(f, key::waiting_max, d->waiting_max);
    ev(f, key::connections, d->conns_max, "connections to the destination (most)");
    ev(f, key::requests_in_progress, c.mean_inbound_pending());
    reply_evidence(f, *d);
    ev(f, key::cpu_cores, s.cpu_cores);
    if (d->server_pid) ev(f, key::server_pid, d->server_pid);
    if (starving_dependency == d) {
        ev(f, key::dependency_cores, d->server_cores);
        ev(f, key::host_busy_percent, s.host_busy * 100);
        f.why = fmt::format(
            "The target's requests wait for replies from {}, whose own processes burn {:.2f} of "
            "the host's {} cores: the dependency is CPU-bound, and the target's threads also "
            "wait for a CPU behind it. Probe the dependency for its own bottleneck.",
            dest_name(*d), d->server_cores, s.cpus);
    } else if (behind_pool) {
        f.why = "The exhausted pool above is full of requests waiting on this destination.";
    } else {
        f.why = fmt::format(
            "The target is idle ({:.2f} cores) while its requests wait for replies from {}: "
            "that dependency, not this process, sets the latency and the throughput.{}",
            s.cpu_cores, dest_name(*d), d->server_pid ? " It runs on this host." : "");
    }
    f.fix = next_probe(*d);
    f.fix.push_back(fmt::format("look at why {} is slow (its own load, slow queries, locks)",
                                d->remote.to_string()));
    f.fix.push_back(
        "cache or batch what is asked of it; set timeouts so slow replies do not pile up");
    out.push_back(std::move(f));
}

void Judge::nagle() {
    const auto& c = s.conns;
    if (c.samples < kMinSamples || c.samples_nagle_held < kMinNagleLooks) return;
    double share = per_sample(c.samples_nagle_held, c.samples);
    if (share < kNagleHeld) return;
    uint16_t port = 0;
    uint64_t most = 0;
    for (auto [p, n] : c.nagle_ports)
        if (n > most) {
            port = p;
            most = n;
        }
    double stall_ms = static_cast<double>(c.nagle_stall.percentile_ns(0.5)) / 1e6;
    auto f = make_from_looks(
        Bottleneck::nagle_delayed_ack, Support::measured,
        fmt::format("small writes held by Nagle in {:.0f}% of samples, each waiting "
                    "~{:.0f} ms for a delayed ACK (round trip {:.0f} us)",
                    share * 100, stall_ms, static_cast<double>(c.rtt_us_min)),
        c.samples);
    f.subject = fmt::format("port {}", port);
    ev(f, key::held_percent, share * 100);
    ev(f, key::held_mean, per_sample(c.nagle_held_sum, c.samples));
    ev(f, key::stall_p50_ms, stall_ms);
    ev(f, key::rtt_us, c.rtt_us_min);
    ev(f, key::cpu_cores, s.cpu_cores);
    f.why =
        "The response goes out in several small writes on a socket without TCP_NODELAY: Nagle "
        "holds each later piece until the first is acknowledged, and the peer delays that ACK "
        "(40 ms on Linux, up to 200 ms elsewhere) hoping to piggyback it. Every response "
        "stalls for the delayed-ACK timer while the CPU idles.";
    f.fix = {
        "setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1) on accepted sockets (nginx: tcp_nodelay "
        "on; Node.js: socket.setNoDelay(); Python's socketserver and http.server: "
        "disable_nagle_algorithm = True on the handler class; Go sets it by default)",
        "or write each response at once: one write()/writev(), or TCP_CORK around the "
        "pieces then uncork"};
    out.push_back(std::move(f));
}

// poll()/select() scan every fd they are given on every call, ready or not.
void Judge::find_poll_scan() {
    uint64_t calls = 0, nfds = 0;
    if (b && b->poll_calls > 0) {
        calls = b->poll_calls;
        nfds = b->poll_nfds_sum;
    } else {
        // Threads caught asleep in the call, and (on-CPU samples) running in it.
        calls = s.poll_samples + s.on_cpu.fd_scan_samples;
        nfds = s.poll_nfds_sum + s.on_cpu.fd_scan_nfds_sum;
    }
    poll_nfds = per_sample(nfds, calls);
    // The scans must be what the process spends its CPU on: most of it in the
    // kernel (or, sampled on the CPU, inside the scanning calls themselves),
    // and enough of it to matter - its busiest thread (the loop) on the CPU
    // half the time, when a queue in front of it already doubles the wait.
    double loop = s.busiest_threads.empty() ? s.cpu_cores : s.busiest_threads.front().busy;
    bool cpu_in_scans = s.sys_cores >= 0.5 * s.cpu_cores;
    if (profile) {
        uint64_t in_scans = 0;
        for (auto call : syscalls::kFdScans)
            in_scans += profile->in(call);
        poll_cpu_share = profile->share(in_scans);
        cpu_in_scans = poll_cpu_share >= 0.5;
    }
    poll_scan = calls > 0 && poll_nfds >= kPollScanFds && cpu_in_scans && loop >= 0.5;
}

void Judge::poll_scaling() {
    if (!poll_scan) return;
    auto f =
        make(Bottleneck::poll_scaling,
             (b && b->poll_calls) || poll_cpu_share >= 0 ? Support::measured : Support::indirect,
             poll_cpu_share >= 0
                 ? fmt::format("poll()/select() scans {:.0f} fds per call; {:.0f}% of the "
                               "process's time on the CPU is inside those calls",
                               poll_nfds, poll_cpu_share * 100)
                 : fmt::format("poll()/select() scans {:.0f} fds per call; {:.0f}% of the "
                               "process's CPU is in the kernel",
                               poll_nfds, s.sys_cores / std::max(s.cpu_cores, 1e-9) * 100));
    ev(f, key::fds_per_call, poll_nfds);
    if (b && b->poll_calls) {
        ev(f, key::poll_calls_per_second, static_cast<double>(b->poll_calls) / sys_s);
        ev(f, key::fds_scanned_per_second, static_cast<double>(b->poll_nfds_sum) / sys_s);
    }
    ev(f, key::fds_open_max, static_cast<double>(s.fds_max));
    ev(f, key::cpu_cores, s.cpu_cores);
    ev(f, key::sys_cores, s.sys_cores);
    if (poll_cpu_share >= 0) ev(f, key::poll_cpu_percent, poll_cpu_share * 100);
    f.why =
        "select() and poll() hand the kernel every fd on every call and the kernel checks each "
        "one, ready or not: the cost grows with idle connections, not with work. select() also "
        "cannot go past FD_SETSIZE (1024).";
    f.fix = {
        "use epoll (or the server's epoll event method: nginx 'use epoll;', libevent/libuv "
        "pick it by default, Apache event MPM)",
        "close idle connections sooner (keep-alive timeouts) until then"};
    out.push_back(std::move(f));
}

}  // namespace c10k::verdict
