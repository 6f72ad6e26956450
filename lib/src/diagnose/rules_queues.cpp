// SPDX-License-Identifier: GPL-2.0-or-later
#include <cmath>

#include "c10k/server_settings.hpp"
#include "verdict_rules.hpp"

namespace c10k::verdict {

namespace {

// What a cap holding `held` connections should be raised to: twice that, or
// 100 more.
uint64_t raised_cap(double held) {
    return static_cast<uint64_t>(std::max(2 * std::ceil(held), std::ceil(held) + 100));
}

// The fixes for a cap of `held` connections: the server's own setting first
// where the process is one we know (nginx worker_connections, HAProxy maxconn,
// Redis maxclients, ...), at raised_cap.
std::vector<std::string> cap_fixes(std::string_view comm, double held) {
    std::vector<std::string> fixes = {
        "raise the application's worker/connection limit (thread pool size, max clients, "
        "nginx worker_connections, HAProxy maxconn, Apache MaxRequestWorkers, gunicorn "
        "--workers/--threads)",
        "or free workers sooner: shorter keep-alive timeouts, an event loop instead of a "
        "worker per connection"};
    if (auto own = max_clients_setting(comm, raised_cap(held))) fixes.insert(fixes.begin(), *own);
    return fixes;
}

// A cap held by the application itself: why, with what the queue shows of it, and the fixes.
void explain_cap(Finding& f, uint32_t held, const SampledEvidence& s, std::string_view comm,
                 std::string_view queue) {
    f.why = fmt::format(
        "The process holds a flat {} connections and takes a new one only when one leaves, "
        "while it uses {:.2f} of {} cores and no call fails: its own concurrency cap (worker "
        "pool, max clients, threads) is full. {}",
        held, s.cpu_cores, s.cpus, queue);
    f.fix = cap_fixes(comm, held);
}

}  // namespace

// fd-limit: every new connection needs an fd.
void Judge::fd_limit() {
    if (fd_limited) {
        auto f = make(
            Bottleneck::fd_limit, emfile > 0 ? Support::caught : Support::sampled,
            fmt::format("{} open fds against a soft limit of {}{}", s.fds_max, s.nofile_soft,
                        emfile ? fmt::format("; {} calls failed with EMFILE/ENFILE", emfile) : ""));
        ev(f, key::fds_open_max, static_cast<double>(s.fds_max));
        ev(f, key::nofile_soft, static_cast<double>(s.nofile_soft));
        if (b) ev(f, key::emfile_errors, static_cast<double>(emfile));
        if (b && sys_s > 0) ev(f, key::emfile_per_second, static_cast<double>(emfile) / sys_s);
        f.why =
            "Every new connection needs an fd; at the limit accept() fails with EMFILE, the "
            "connection stays in the accept queue and clients time out. Servers back off "
            "differently, so the accept queue filling is a consequence of this, not the cause.";
        f.fix = {
            fmt::format("prlimit --pid {} --nofile=65536:65536   # now, for the running process",
                        e.pid),
            "c10k-doctor profile apply c10k --pid " + std::to_string(e.pid) +
                "   # the same, backed up and reversible",
            "LimitNOFILE=65536 in the service's unit (or ulimit -n in its start script)"};
        if (auto own = nofile_setting(e.comm, 65536)) f.fix.insert(f.fix.begin() + 1, *own);
        out.push_back(std::move(f));
    }
}

// Accept queue: full listeners and ListenOverflows rising. Whose fault it is
// depends on what the process does: one that accepts steadily but cannot keep up
// with bursts needs a deeper queue (accept-queue-overflow); one that holds a flat
// number of connections and takes a new one only when it lets one go is at its
// own concurrency cap (app-connection-limit), and a deeper queue only makes
// clients wait longer. Behind an fd limit the queue is a symptom.
void Judge::accept_queue() {
    double overflows = rate(s, "TcpExt.ListenOverflows");
    const ListenerSample* full = nullptr;
    for (const auto& l : s.listeners)
        if (l.backlog > 0 && l.queued_max >= l.backlog &&
            (!full || l.full_samples > full->full_samples))
            full = &l;
    // Connections waiting to be accepted most of the time, the queue below its
    // backlog: an application at its cap behind a deep backlog (4096 takes
    // a while to fill) leaves them there as surely as behind a small one. A
    // process that accepts promptly leaves a connection queued for microseconds,
    // so looks rarely find one.
    const ListenerSample* waiting = nullptr;
    for (const auto& l : s.listeners)
        if (waits_in_most_looks(l) && (!waiting || l.waiting_samples > waiting->waiting_samples))
            waiting = &l;
    if (overflows <= 0 && !full && !waiting) return;

    const auto& c = s.conns;
    double full_share =
        full && full->samples ? static_cast<double>(full->full_samples) / full->samples : 0;
    bool plateau = holds_plateau(c);
    double window = std::max(s.seconds, 1e-3);
    // Accepts: counted by BPF when syscalls were traced, else new connections
    // seen - and those too when the target's own calls are none: a prefork
    // master (uWSGI, gunicorn) holds the listener while its workers accept.
    double seen_per_s = static_cast<double>(c.accepted) / window;
    double accepts_per_s = b && sys_s > 0
                               ? std::max(static_cast<double>(accepts_ok()) / sys_s, seen_per_s)
                               : seen_per_s;
    bool full_steady = full && full->samples >= kMinSamples && full_share >= kQueueFullSteady;
    double queued_mean =
        waiting ? static_cast<double>(waiting->queued_sum) / static_cast<double>(waiting->samples)
                : 0;
    // Little's law; no accepts at all is an unbounded wait.
    double queue_wait_s = accepts_per_s > 0 ? queued_mean / accepts_per_s : 1e9;
    bool waits_long = waiting && queue_wait_s >= kCapQueueWaitS;
    bool at_cap = (full_steady || waits_long) && plateau && !fd_limited && !cpu_limited;
    // A queue that drains, with no overflow, is not a finding.
    if (!at_cap && overflows <= 0 && !full) return;
    if (at_cap && !full_steady) {
        double share =
            static_cast<double>(waiting->waiting_samples) / static_cast<double>(waiting->samples);
        auto f = make(Bottleneck::app_connection_limit, Support::counted,
                      fmt::format("the application holds {} connections and accepts no more: up "
                                  "to {} wait in the accept queue of {} ({:.0f}% of samples), "
                                  "below its backlog of {}",
                                  c.inbound_max, waiting->queued_max, waiting->local.to_string(),
                                  share * 100, waiting->backlog));
        f.subject = waiting->local.to_string();
        ev(f, key::accept_queue_max, waiting->queued_max);
        ev(f, key::backlog, waiting->backlog);
        ev(f, key::queue_waiting_percent, share * 100);
        // None accepted in the window: the wait has no bound to print.
        if (accepts_per_s > 0)
            ev(f, key::queue_wait_ms, queue_wait_s * 1e3);
        else
            f.title += "; none accepted during the window";
        ev(f, key::accepts_per_second, accepts_per_s);
        ev(f, key::connections_min, c.inbound_min);
        ev(f, key::connections_max, c.inbound_max);
        ev(f, key::cpu_cores, s.cpu_cores);
        explain_cap(f, c.inbound_max, s, e.comm,
                    "New connections wait in the kernel's accept queue, unanswered; the deep "
                    "backlog hides it (no overflow yet) and only makes them wait longer.");
        out.push_back(std::move(f));
        return;
    }

    auto f = make(at_cap ? Bottleneck::app_connection_limit : Bottleneck::accept_queue_overflow,
                  full && overflows > 0 ? Support::corroborated : Support::indirect,
                  full ? fmt::format("accept queue of {} full: {}/{}", full->local.to_string(),
                                     full->queued_max, full->backlog)
                       : fmt::format("{:.1f} listen overflows per second", overflows));
    if (at_cap)
        f.title = fmt::format(
            "the application holds {} connections and accepts no more: accept queue of {} full "
            "({}/{}) in {:.0f}% of samples",
            c.inbound_max, full->local.to_string(), full->queued_max, full->backlog,
            full_share * 100);
    f.subject = full ? full->local.to_string() : "";
    ev(f, key::listen_overflows_per_second, overflows);
    if (full) {
        ev(f, key::accept_queue_max, full->queued_max);
        ev(f, key::backlog, full->backlog);
        ev(f, key::queue_full_percent, full_share * 100);
    }
    ev(f, key::somaxconn, static_cast<double>(s.somaxconn));
    ev(f, key::accepts_per_second, accepts_per_s);
    ev(f, key::connections_min, c.inbound_min);
    ev(f, key::connections_max, c.inbound_max);
    ev(f, key::cpu_cores, s.cpu_cores);
    if (fd_limited) {
        lower_to_warn(f, true);
        f.why =
            "A consequence of the fd limit above: connections the process cannot accept "
            "(EMFILE) wait in the queue until it overflows.";
        f.fix = {"fix the fd limit first"};
    } else if (at_cap) {
        explain_cap(f, c.inbound_max, s, e.comm,
                    "The kernel queue fills as a consequence; a deeper backlog would only make "
                    "clients wait longer.");
    } else {
        bool clamped = full && s.somaxconn > 0 && full->backlog == s.somaxconn;
        f.why = fmt::format(
            "Connections the kernel completed but the process has not accepted wait in a "
            "queue of `backlog` entries; past it, handshakes are dropped and clients wait for "
            "SYN retransmits (1 s, 3 s, 7 s). {}",
            clamped ? "The backlog equals somaxconn: the application's request was probably "
                      "clamped."
                    : "The backlog is what the application asked for in listen().");
        f.fix = {
            "raise the listen backlog in the application (listen(fd, 4096) or its "
            "backlog setting)"};
        if (auto own = backlog_setting(e.comm, 4096)) f.fix.push_back(*own);
        // Clamped: somaxconn first, or the application's ask stays cut.
        std::string somaxconn_fix =
            "sysctl -w net.core.somaxconn=4096   # or: c10k-doctor profile apply c10k";
        f.fix.insert(clamped ? f.fix.begin() : f.fix.end(), std::move(somaxconn_fix));
        f.fix.push_back("accept in a loop until EAGAIN, or add acceptor threads");
    }
    out.push_back(std::move(f));
}

// SYN queue: handshakes that never complete (a SYN flood, peers that vanish)
// are kept half-open while their SYN-ACKs are sent again, up to the listen
// backlog. Past it the kernel drops SYNs - each costs its client a SYN
// retransmit timeout, 1 s and then doubling, so one a second is a client a
// second stalled - or, with syncookies on, answers them with a cookie: the
// handshakes complete without a queue, served, but a connection made by a
// cookie keeps only the options the timestamp can carry (none without
// timestamps). A queue full but answered is a warning, not a limit.
void Judge::syn_backlog() {
    double dropped = syn_queue_drops(s), cookies = rate(s, "TcpExt.TCPReqQFullDoCookies");
    if (dropped < 1 && cookies < 1) return;
    bool dropping = dropped >= 1;
    auto f = make(Bottleneck::syn_backlog_overflow, Support::counted,
                  dropping ? fmt::format("{:.1f} SYNs dropped per second: SYN queue full", dropped)
                           : fmt::format("SYN queue full: {:.1f} SYNs answered with cookies a "
                                         "second",
                                         cookies));
    if (dropping) ev(f, key::syn_drops_per_second, dropped);
    double reqq = rate(s, "TcpExt.TCPReqQFullDrop");
    if (reqq > 0) ev(f, key::reqqfull_drops_per_second, reqq);
    if (cookies > 0) ev(f, key::syncookies_per_second, cookies);
    if (!dropping) f.severity = Severity::warn;
    f.why = dropping
                ? "Half-open handshakes fill the SYN queue (the listen backlog; with syncookies "
                  "off, three quarters of tcp_max_syn_backlog for new peers) and further SYNs "
                  "are dropped: each client waits a SYN retransmit timeout, 1 s and doubling."
                : "Half-open handshakes fill the SYN queue; SYN cookies keep new handshakes "
                  "going, but a cookie's connection keeps only the TCP options its timestamp "
                  "carries.";
    f.fix = {
        "sysctl -w net.ipv4.tcp_syncookies=1",
        "raise the listen backlog (listen(fd, 4096) or the server's backlog setting) and "
        "net.core.somaxconn: the SYN queue holds as many half-open handshakes",
        "sysctl -w net.ipv4.tcp_max_syn_backlog=65535   # or: c10k-doctor profile apply c100k"};
    out.push_back(std::move(f));
}

// A connection cap kept by eviction: the process keeps accepting but, to stay
// under its own limit, ends connections its peers were still using (nginx at
// worker_connections closes idle keep-alive connections to reuse their slots).
// No queue fills; clients see resets and reconnect, so new connections arrive
// as fast as old ones are ended. BPF counts the target's accepts and the ends
// it starts; the aborts are the namespace's counters, so they must be of the
// same order as the target's own ends to be its.
//
// Without BPF the namespace's counters stand in: passive opens for the
// accepts, and the resets it sent for the aborted ends (most of nginx's
// evictions reset from a socket already gone, which only OutRsts counts: 47%
// of passive opens under wrk, where TCPAbortOnData counted 5-13%). A reset is
// sent by the side that ended the connection first, so the two shares BPF
// checks one after the other bound them together. The target must itself be
// seen churning - in the average look, a connection on its listening ports
// that no earlier look saw - or the counters are another process's.
//
// Resets a full TIME_WAIT table causes are not evictions: when the kernel
// cannot get a TIME_WAIT bucket it destroys the socket in FIN_WAIT2, and the
// peer's late FIN meets no socket and is answered with a reset - one per
// overflow. Those are the time-wait-overflow finding's; only the aborts beyond
// them can be the process's own.
void Judge::evicting_cap() {
    // Refused, not evicted.
    if (fd_limited || limit_sized_cap || named(Bottleneck::app_connection_limit)) return;
    const auto& c = s.conns;
    double window = std::max(s.seconds, 1e-3);
    double ns_aborted =
        (rate(s, "TcpExt.TCPAbortOnData") + rate(s, "TcpExt.TCPAbortOnClose")) * window;
    double tw_resets = rate(s, "TcpExt.TCPTimeWaitOverflow") * window;
    auto beyond_overflow = [&](double resets) { return std::max(0.0, resets - tw_resets); };
    double accepted = 0, ended = 0, aborted = 0;
    bool churns = false;
    if (b) {
        accepted = static_cast<double>(b->tcp.established);
        ended = static_cast<double>(b->tcp.ended_by_target());
        // Aborted rather than closed: resets the target's sockets sent (a close with
        // SO_LINGER 0, as nginx drains idle keep-alive connections), or the
        // namespace's resets for data after a close or left unread.
        aborted = std::max(beyond_overflow(static_cast<double>(b->tcp.resets_sent)), ns_aborted);
        churns = accepted >= kMinConnections && ended >= kEndsItself * accepted &&
                 aborted >= kAbortedShare * ended;
    } else {
        accepted = rate(s, "Tcp.PassiveOpens") * window;
        aborted = std::max(ns_aborted, beyond_overflow(rate(s, "Tcp.OutRsts") * window));
        churns = c.accepted >= c.samples && accepted >= kMinConnections &&
                 aborted >= kEndsItself * kAbortedShare * accepted;
    }
    double held_mean =
        c.samples ? static_cast<double>(c.inbound_sum) / static_cast<double>(c.samples) : 0;
    // Or it drains cleanly: nginx closes its idle keep-alive connections with
    // a FIN when it needs their slots, and a client between requests reads
    // the FIN before it writes again - no reset anywhere. Then the cap shows
    // as idle connections held (no request in progress on them) while new ones
    // wait in the accept queue in most looks: a server with room would accept
    // those, and one that closes after each reply by design holds only the
    // connections it is serving, each for one request's time.
    double idle_held = std::max(0.0, held_mean - c.mean_inbound_pending());
    // Eviction needs a victim: a cap that makes room by ending idle
    // connections holds at least one idle connection at most instants. A
    // server that ends each connection right after its one reply holds one
    // idle only in the microseconds between the two, so the mean is far below
    // one: when its requests take a while (uWSGI without keep-alive, 100 ms a
    // request, 20 clients, 24 workers: 19.9 held, all 19.9 with a request in
    // progress), the count is a plateau at the clients' concurrency, and the
    // clients' next requests on connections it has just closed meet resets -
    // the churn of a cap, without one.
    bool has_victim = idle_held >= 1;
    churns = churns && has_victim;
    bool queue_waits = std::any_of(s.listeners.begin(), s.listeners.end(), waits_in_most_looks);
    // Or no idle connection gets old. A cap ends the idlest one each time a new
    // connection comes, so with I idle and A arriving a second none stays idle
    // much past I/A (nginx at 50: ~20 idle at 14,000 a second, ~1.5 ms); an
    // idle timeout lets them reach its length, a second or more by default.
    // That tells a cap whose queue is empty in half the looks (its clients
    // pause between requests: 3 to 17 of 17 in one test server's runs) from a
    // server with room: the queue does not (nginx with a 100 ms keep-alive
    // timeout, 200 clients each back after 300 ms: 1 to 5 looks in 17-29).
    const auto& idle_age = c.inbound_idle_age;
    bool idle_stay_young =
        idle_age.count() >= kMinIdleAges &&
        static_cast<double>(idle_age.percentile_ns(kIdleAgePercentile)) / 1e9 < kEvictedIdleAgeS;
    bool ends_most = b ? accepted >= kMinConnections && ended >= kEndsItself * accepted
                       : accepted >= kMinConnections && c.accepted >= c.samples;
    // (A CPU that is full does not rule it out: every request now costs a
    // handshake and a close - nginx at 50 took 0.7 cores for load that 0.14
    // served over kept connections.)
    bool drains = !churns && ends_most && (queue_waits || idle_stay_young) &&
                  idle_held >= kIdleHeldShare * held_mean && has_victim;
    if (!churns && !drains) return;
    // Against the most seen but one: one look's dump can overcount (see
    // ConnEvidence::inbound_max_but_one) - 68 held against a cap of 50 once.
    bool steady = c.samples >= kMinSamples && c.inbound_max_but_one >= 1 &&
                  held_mean >= (1 - kEvictedPlateau) * c.inbound_max_but_one;
    if (!steady) return;
    auto headline =
        drains ? fmt::format(
                     "ends {:.0f} connections a second itself and holds about {:.0f}, "
                     "{:.0f} of them idle, {}",
                     accepted / window, held_mean, idle_held,
                     queue_waits ? "while new ones wait in its accept queue"
                                 : "none left idle as long as a keep-alive timeout would")
        : b ? fmt::format(
                  "ends {:.0f} connections a second itself, {:.0f}% of them while the peer "
                  "was still using them, holding at most {}",
                  ended / window, std::min(1.0, aborted / ended) * 100, c.inbound_max)
            : fmt::format(
                  "accepts {:.0f} connections a second and aborts {:.0f} a second while "
                  "the peer was still using them, holding at most {}",
                  accepted / window, aborted / window, c.inbound_max);
    auto f = make(Bottleneck::app_connection_limit, Support::counted, std::move(headline));
    f.subject = fmt::format("connection cap (about {} held)", c.inbound_max);
    ev(f, key::accepted_per_second, accepted / window,
       b ? "connections accepted per second" : "connections accepted per second (namespace)");
    if (b)
        ev(f, key::ended_by_it_per_second, ended / window);
    else
        ev(f, key::new_connections_per_look,
           static_cast<double>(c.accepted) / static_cast<double>(std::max<uint64_t>(c.samples, 1)));
    ev(f, key::aborted_per_second, aborted / window);
    drain_churn = drains;
    if (drains) {
        ev(f, key::idle_held_mean, idle_held);
        if (idle_age.count())
            ev(f, key::idle_age_p90_ms,
               static_cast<double>(idle_age.percentile_ns(kIdleAgePercentile)) / 1e6);
    }
    ev(f, key::connections_max, c.inbound_max, "connections held at once (most seen)");
    ev(f, key::connections_mean, held_mean);
    ev(f, key::cpu_cores, s.cpu_cores);
    f.why = drains ? "The process holds no more than its own limit of connections. To take a "
                     "new one it closes an idle keep-alive connection (nginx past "
                     "worker_connections), so every client reconnects for each request and "
                     "new connections wait in the accept queue meanwhile. The CPU goes into "
                     "connection churn; kernel queues and limits are not involved."
                   : "The process holds no more than its own limit of connections. It keeps "
                     "accepting, and makes room by ending connections that are still in use "
                     "(idle keep-alive ones first): their clients' next requests meet a closed "
                     "socket and a reset, and they reconnect. The CPU goes into connection "
                     "churn; kernel queues and limits are not involved.";
    f.fix = {
        "raise the server's own connection limit: nginx worker_connections (and "
        "worker_rlimit_nofile), HAProxy maxconn, Apache MaxRequestWorkers",
        "or hold fewer idle connections per client (shorter keep-alive timeouts, "
        "fewer connections per client in front of it)"};
    out.push_back(std::move(f));
}

// A cap kept by refusing (Redis maxclients, MySQL and PostgreSQL
// max_connections, memcached -c): past its limit the server still accepts, but
// writes one short error and closes at once ("-ERR max number of clients
// reached", "Too many connections"). No queue fills and nothing fails in the
// kernel. What shows is two populations of inbound connections: the ones it
// keeps - the same sockets look after look, at a steady count - and a stream
// of accepted connections that live one pass of its accept loop and are never
// seen in a look at all. Little's law sizes the second: the transient
// connections a look finds on average, over the rate they arrive at, is how
// long each lives.
//
// The lookalike, a server that answers one request per connection by design,
// keeps nothing from one look to the next (a connection that lives tens of ms
// under load is a slow reply, not a kept client), so it has no plateau of kept
// sockets beside its stream. A server that keeps persistent clients and also
// serves one-shot ones at a high rate would look the same; the BPF mode at
// least checks that the server, not the client, ended the short ones.
void Judge::refusing_cap() {
    // The cap may be named already (a full accept queue at a plateau). A CPU
    // that is full rules it out, unless what fills it is the server's own
    // children started for the connections it refuses.
    if (fd_limited || (cpu_limited && !churn_holds_cpu) || named(Bottleneck::app_connection_limit))
        return;
    const auto& c = s.conns;
    if (c.samples < kMinSamples || c.inbound_max == 0) return;
    double window = std::max(s.seconds, 1e-3);
    // Accepts: the target's own when BPF traced its syscalls; otherwise the
    // namespace's passive opens, which are the target's only when every
    // listener in the namespace is.
    double accepts_per_s = 0;
    if (b && sys_s > 0)
        accepts_per_s = static_cast<double>(accepts_ok()) / sys_s;
    else if (!s.foreign_listeners)
        accepts_per_s = rate(s, "Tcp.PassiveOpens");
    // The kept ones at a plateau: their mean near their most. (Against the
    // kept ones alone: refused connections that a forking server takes tens
    // of ms to turn away are caught in looks and would raise any total.)
    double kept = c.mean_inbound_kept();
    bool steady = kept >= 1 && kept >= (1 - kEvictedPlateau) * c.inbound_kept_max;
    double refused_per_s =
        std::max(0.0, accepts_per_s - static_cast<double>(c.inbound_kept_new) / window);
    if (!steady || refused_per_s * window < kMinConnections) return;
    double transient = static_cast<double>(c.inbound_transient_sum) /
                       static_cast<double>(std::max<uint64_t>(c.samples - 1, 1));
    double lifetime_s = transient / refused_per_s;  // Little's law
    if (lifetime_s > (forks_per_connection ? kForkedRefusalS : kRefusedLifetimeS)) return;
    double ended_per_s = 0;
    // A forked child that refuses writes its error and exits; its client,
    // having read the error, hangs up first as often as not. Who sent the
    // first FIN says nothing there.
    if (b && !forks_per_connection) {
        // Ended by the server: a FIN first, or a reset (close() with the
        // client's request unread, as Redis refuses).
        ended_per_s = static_cast<double>(b->tcp.ended_by_target()) / window;
        if (ended_per_s < kEndsItself * refused_per_s) return;
    }
    // Redis lowers maxclients at start to the fd limit it finds less the fds
    // it keeps for itself (a limit of 128: 96 clients), then refuses past it
    // without an accept ever failing: a cap at exactly that is the fd limit's,
    // and raising maxclients alone changes nothing while the limit stays.
    auto reserve = cap_fd_reserve(e.comm);
    bool cap_is_fd_limit =
        reserve && s.nofile_soft > *reserve &&
        std::abs(static_cast<double>(c.inbound_kept_max) -
                 static_cast<double>(s.nofile_soft - *reserve)) <= kPoolSizeSlack;
    auto within =
        lifetime_s < 1e-4 ? std::string("0.1 ms") : fmt::format("{:.1f} ms", lifetime_s * 1e3);
    auto f = make(
        cap_is_fd_limit ? Bottleneck::fd_limit : Bottleneck::app_connection_limit,
        b ? Support::counted : Support::indirect,
        cap_is_fd_limit
            ? fmt::format("its fd limit of {} sets its cap: keeps {:.0f} connections (the limit "
                          "less the {} fds it keeps for itself) and ends {:.0f} more a second "
                          "within {} of accepting them",
                          s.nofile_soft, kept, reserve.value_or(0), refused_per_s, within)
            : fmt::format("keeps {:.0f} connections and ends {:.0f} more a second within "
                          "{} of accepting them: refused past its cap",
                          kept, refused_per_s, within));
    f.subject = cap_is_fd_limit ? fmt::format("fd limit (soft {})", s.nofile_soft)
                                : fmt::format("connection cap (about {:.0f} held)", kept);
    ev(f, key::kept_connections_mean, kept);
    ev(f, key::connections_max, c.inbound_max, "connections held at once (most seen)");
    ev(f, key::accepts_per_second, accepts_per_s,
       b && sys_s > 0 ? "accept() calls per second" : "passive opens per second (namespace)");
    ev(f, key::refused_per_second, refused_per_s);
    ev(f, key::refused_lifetime_ms, lifetime_s * 1e3);
    if (b && !forks_per_connection)
        ev(f, key::ended_by_it_per_second, ended_per_s,
           "connections it ended first (FIN or reset), per second");
    ev(f, key::cpu_cores, s.cpu_cores);
    if (forks_per_connection) {
        ev(f, key::own_connections_percent,
           static_cast<double>(s.inbound_own_at_snapshots) /
               static_cast<double>(s.inbound_at_snapshots) * 100);
        ev(f, key::reaped_children_cores, s.reaped_children_cores);
    }
    refusal_churn = cpu_limited;
    f.why = fmt::format(
        "The process keeps a steady {:.0f} connections and ends every further one as soon as it "
        "has accepted it - the way a server answers past its own client limit (an error such as "
        "\"max number of clients reached\" or \"Too many connections\", then close). Clients "
        "see errors and retry; the kernel's queues and limits are not involved{}.",
        kept,
        refusal_churn
            ? fmt::format(". Each refusal starts a process: its children that came and went used "
                          "{:.2f} of the host's {} cores",
                          s.reaped_children_cores, s.cpus)
            : fmt::format(", and it uses {:.2f} of {} cores", s.cpu_cores, s.cpus));
    f.fix = cap_fixes(e.comm, kept);
    if (cap_is_fd_limit) {
        limit_sized_cap = true;
        auto want = raised_cap(kept);
        ev(f, key::nofile_soft, static_cast<double>(s.nofile_soft));
        f.why = fmt::format(
            "{} sizes its client cap at start to the fd limit it finds, less {} fds it keeps for "
            "itself, and logs that it lowered it: here it keeps {:.0f} connections against a "
            "soft limit of {} and ends every further one as soon as it has accepted it (an "
            "error such as \"max number of clients reached\", then close). No accept fails, so "
            "no EMFILE shows; the limit is the cap, and raising the cap alone changes nothing "
            "while the limit stays.",
            e.comm, reserve.value_or(0), kept, s.nofile_soft);
        f.fix = {nofile_setting(e.comm, want + reserve.value_or(0))
                     .value_or(fmt::format("LimitNOFILE={} in the service's unit (or ulimit -n in "
                                           "its start script), then restart",
                                           want + reserve.value_or(0))),
                 "a limit raised on the running process (prlimit) is not enough: the cap was "
                 "sized from it at start, so restart it"};
    }
    // memcached sets its fd limit to its cap, Redis fits its cap to the limit:
    // then the limit must rise with the cap.
    if (!cap_is_fd_limit && s.nofile_soft > 0 &&
        static_cast<double>(s.fds_max) >= kFdPinned * static_cast<double>(s.nofile_soft)) {
        ev(f, key::fds_open_max, static_cast<double>(s.fds_max));
        ev(f, key::nofile_soft, static_cast<double>(s.nofile_soft));
        f.fix.insert(f.fix.begin() + 1,
                     fmt::format("and its fd limit with it (it holds {} of {}): LimitNOFILE= in "
                                 "its unit, ulimit -n in its start script",
                                 s.fds_max, s.nofile_soft));
    }
    out.push_back(std::move(f));
}

}  // namespace c10k::verdict
