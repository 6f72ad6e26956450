#include "verdict_rules.hpp"

namespace c10k::verdict {

// fd-limit: every new connection needs an fd.
void Judge::fd_limit() {
    if (fd_limited) {
        auto f = make(
            "fd-limit", Severity::crit, emfile > 0 ? 0.95 : 0.75,
            fmt::format("{} open fds against a soft limit of {}{}", s.fds_max, s.nofile_soft,
                        emfile ? fmt::format("; {} calls failed with EMFILE/ENFILE", emfile) : ""));
        ev(f, "fds_open_max", "open fds (max seen)", static_cast<double>(s.fds_max), "fds");
        ev(f, "nofile_soft", "RLIMIT_NOFILE soft limit", static_cast<double>(s.nofile_soft), "fds");
        if (b) ev(f, "emfile_errors", "EMFILE/ENFILE errors", static_cast<double>(emfile), "calls");
        if (b && sys_s > 0)
            ev(f, "emfile_per_second", "EMFILE/ENFILE errors per second",
               static_cast<double>(emfile) / sys_s, "/s");
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
        out.push_back({100, std::move(f)});
    }
}

// Accept queue: full listeners and ListenOverflows rising; a symptom when fd-limited.
void Judge::accept_queue() {
    double overflows = rate(s, "TcpExt.ListenOverflows");
    const ListenerSample* full = nullptr;
    for (const auto& l : s.listeners)
        if (l.backlog > 0 && l.queued_max >= l.backlog) full = &l;
    if (overflows > 0 || full) {
        bool big_backlog = full && full->backlog >= 4096;
        const char* id =
            big_backlog && !fd_limited ? "app-connection-limit" : "accept-queue-overflow";
        auto f = make(id, Severity::crit, full && overflows > 0 ? 0.9 : 0.7,
                      full ? fmt::format("accept queue of {} full: {}/{}", full->local.to_string(),
                                         full->queued_max, full->backlog)
                           : fmt::format("{:.1f} listen overflows per second", overflows));
        f.subject = full ? full->local.to_string() : "";
        ev(f, "listen_overflows_per_second", "ListenOverflows per second", overflows, "/s");
        if (full) {
            ev(f, "accept_queue_max", "accept queue (max seen)", full->queued_max, "connections");
            ev(f, "backlog", "listen backlog (after the somaxconn clamp)", full->backlog,
               "connections");
        }
        ev(f, "somaxconn", "net.core.somaxconn", static_cast<double>(s.somaxconn), "connections");
        if (b) {
            uint64_t accepts = b->calls_of({"accept", "accept4"});
            ev(f, "accepts_per_second", "accept() calls per second",
               static_cast<double>(accepts) / sys_s, "/s");
        }
        ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
        double score = 85;
        if (fd_limited) {
            score = 50;
            f.severity = Severity::warn;
            f.why =
                "A consequence of the fd limit above: connections the process cannot accept "
                "(EMFILE) wait in the queue until it overflows.";
            f.fix = {"fix the fd limit first"};
        } else if (big_backlog) {
            f.why = fmt::format(
                "The queue is deep ({}) and still full while the process uses {:.2f} of {} "
                "cores: the application is not calling accept() fast enough - its own "
                "concurrency cap (worker pool, max clients) is the limit, not the kernel.",
                full->backlog, s.cpu_cores, s.cpus);
            f.fix = {
                "raise the application's worker/connection limit (e.g. nginx "
                "worker_connections, a server's max clients or pool size)",
                "accept in a loop until EAGAIN on every wakeup"};
            score = 80;
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
                "backlog setting)",
                "sysctl -w net.core.somaxconn=4096   # or: c10k-doctor profile apply c10k",
                "accept in a loop until EAGAIN, or add acceptor threads"};
            if (clamped) std::swap(f.fix[0], f.fix[1]);
        }
        out.push_back({score, std::move(f)});
    }
}

// SYN queue: handshakes dropped before they complete.
void Judge::syn_backlog() {
    double reqq = rate(s, "TcpExt.TCPReqQFullDrop");
    if (reqq > 0) {
        auto f = make("syn-backlog-overflow", Severity::crit, 0.8,
                      fmt::format("{:.1f} SYNs dropped per second: SYN queue full", reqq));
        ev(f, "reqqfull_drops_per_second", "TCPReqQFullDrop per second", reqq, "/s");
        f.why = "Half-open connections fill the SYN queue and further SYNs are dropped.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_syncookies=1",
            "sysctl -w net.ipv4.tcp_max_syn_backlog=65535   # or: c10k-doctor profile apply c100k"};
        out.push_back({70, std::move(f)});
    }
}

}  // namespace c10k::verdict
