#include "c10k/probe/verdict.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace c10k {

namespace {

// Thresholds. Named so they can be argued with; each one is explained where used.
constexpr double kFdPinned = 0.95;           // fds / soft limit that counts as "at the limit"
constexpr uint32_t kStormThreads = 256;      // thread-per-connection starts to hurt
constexpr double kStormSwitchesPerS = 5000;  // all threads together
constexpr double kCpuBusy = 0.85;            // share of the cores the process can use
constexpr double kBlockingShare = 0.5;       // of syscall time, in sleep/fsync/disk
constexpr double kFutexShare = 0.4;          // of syscall time, in futex
constexpr double kFutexPerS = 500;
constexpr double kPortsUsed = 0.8;         // sockets to one destination / port range
constexpr double kSmallWindowShare = 0.3;  // segments arriving while our window is tiny
constexpr double kSmallRead = 4096;        // bytes per read below which reads are "tiny"

struct Ranked {
    double score;
    Finding f;
};

void ev(Finding& f, std::string key, std::string label, double value, std::string unit) {
    f.evidence.push_back({std::move(key), std::move(label), value, std::move(unit)});
}

Finding make(std::string id, Severity sev, double confidence, std::string title) {
    Finding f;
    f.id = std::move(id);
    f.area = "probe";
    f.severity = sev;
    f.confidence = confidence;
    f.title = std::move(title);
    return f;
}

double rate(const SampledEvidence& s, const char* key) {
    auto it = s.counter_rates.find(key);
    return it == s.counter_rates.end() ? 0 : it->second;
}

uint64_t sum_ns(const BpfEvidence& b, std::initializer_list<const char*> names) {
    uint64_t n = 0;
    for (const char* name : names)
        if (auto* s = b.syscall(name)) n += s->total_ns;
    return n;
}

uint64_t sum_count(const BpfEvidence& b, std::initializer_list<const char*> names) {
    uint64_t n = 0;
    for (const char* name : names)
        if (auto* s = b.syscall(name)) n += s->count;
    return n;
}

uint64_t sum_bytes(const BpfEvidence& b, std::initializer_list<const char*> names) {
    uint64_t n = 0;
    for (const char* name : names)
        if (auto* s = b.syscall(name)) n += s->bytes;
    return n;
}

double share_of(const std::map<std::string, uint64_t>& m, std::initializer_list<const char*> keys,
                uint64_t total) {
    if (total == 0) return 0;
    uint64_t n = 0;
    for (const char* k : keys)
        if (auto it = m.find(k); it != m.end()) n += it->second;
    return static_cast<double>(n) / static_cast<double>(total);
}

constexpr std::initializer_list<const char*> kSleepCalls = {"nanosleep", "clock_nanosleep"};
constexpr std::initializer_list<const char*> kSyncCalls = {"fsync", "fdatasync", "sync_file_range"};
constexpr std::initializer_list<const char*> kReadCalls = {"read", "recvfrom", "recvmsg", "readv"};

}  // namespace

Verdict judge(const ProbeEvidence& e) {
    Verdict v;
    const auto& s = e.sampled;
    const BpfEvidence* b = e.bpf ? &*e.bpf : nullptr;
    std::vector<Ranked> out;
    double sys_s = b ? std::max(b->syscall_seconds, 1e-3) : 0;
    uint32_t threads = std::max<uint32_t>(1, s.threads_max);
    double usable_cores = std::min<double>(s.cpus, threads);
    uint64_t syscall_ns = b ? b->total_syscall_ns() : 0;

    // fd-limit: EMFILE is the proof; an fd count pinned at the soft limit the hint.
    uint64_t emfile = b ? b->errno_count(EMFILE) + b->errno_count(ENFILE) : 0;
    bool pinned = s.nofile_soft > 0 &&
                  static_cast<double>(s.fds_max) >= kFdPinned * static_cast<double>(s.nofile_soft);
    bool fd_limited = emfile > 0 || pinned;
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

    // Accept queue: full listeners and ListenOverflows rising.
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
            uint64_t accepts = sum_count(*b, {"accept", "accept4"});
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

    // SYN queue.
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

    // Thread per connection: thousands of threads switching all the time.
    double switches = b && s.seconds > 0
                          ? static_cast<double>(b->sched.voluntary + b->sched.involuntary) /
                                std::max(s.seconds, 1e-3)
                          : s.switches_per_s;
    double involuntary = b && s.seconds > 0
                             ? static_cast<double>(b->sched.involuntary) / std::max(s.seconds, 1e-3)
                             : s.involuntary_per_s;
    uint64_t runq_p99 = b ? b->sched.runq.percentile_ns(0.99) : 0;
    bool storm = s.threads_max >= kStormThreads && switches >= kStormSwitchesPerS;
    if (storm) {
        auto f = make(
            "context-switch-storm", Severity::crit, runq_p99 >= 1'000'000 ? 0.9 : 0.8,
            fmt::format("{} threads, {:.0f} context switches per second", s.threads_max, switches));
        ev(f, "threads", "threads (max seen)", s.threads_max, "threads");
        ev(f, "connections", "connections held (max seen)", s.connections_max, "connections");
        ev(f, "switches_per_second", "context switches per second", switches, "/s");
        ev(f, "involuntary_per_second", "involuntary switches per second", involuntary, "/s");
        if (b)
            ev(f, "runq_p99_us", "run-queue latency p99", static_cast<double>(runq_p99) / 1e3,
               "us");
        else
            ev(f, "runq_wait_share", "threads' run-queue wait per second", s.runq_wait_share,
               "s/s");
        ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
        f.why = fmt::format(
            "One thread per connection: {} threads share {} CPUs, so the scheduler, not the "
            "work, takes the time; each switch costs microseconds and caches. CPU may read "
            "100% busy, but the cause is the design, not a lack of cores.",
            s.threads_max, s.cpus);
        f.fix = {
            "use an event loop (epoll) with one thread per core instead of a thread per "
            "connection",
            "or cap the thread pool near the core count and queue the work"};
        out.push_back({90, std::move(f)});
    }

    // CPU saturated.
    bool cpu_busy = s.cpu_cores >= kCpuBusy * usable_cores && s.cpu_cores > 0.5;
    if (cpu_busy) {
        auto f = make("cpu-saturated", storm ? Severity::warn : Severity::crit, 0.8,
                      fmt::format("process uses {:.2f} of the {:.0f} cores it can use", s.cpu_cores,
                                  usable_cores));
        ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
        ev(f, "usable_cores", "cores usable (min of CPUs and threads)", usable_cores, "cores");
        ev(f, "host_busy_percent", "host CPU busy", s.host_busy * 100, "%");
        if (b) {
            double on = static_cast<double>(b->sched.on_cpu_ns);
            double total = on;
            for (auto x : b->sched.off_cpu_ns)
                total += static_cast<double>(x);
            if (total > 0) ev(f, "on_cpu_percent", "threads' time on CPU", on / total * 100, "%");
        }
        f.why = storm ? "A symptom of the context-switch storm above."
                      : "The process's threads are on the CPU nearly all the time: requests "
                        "queue behind computation.";
        f.fix = storm ? std::vector<std::string>{"fix the thread-per-connection design first"}
                      : std::vector<std::string>{
                            "profile the hot path (perf top -p " + std::to_string(e.pid) + ")",
                            "spread the work over more cores (more worker processes/threads) "
                            "or more hosts"};
        out.push_back({storm ? 40.0 : 70.0, std::move(f)});
    }

    // Ephemeral ports: sockets to one destination near the size of the range.
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
            make("ephemeral-port-exhaustion", Severity::crit,
                 addrnotavail > 0 && dest_use >= kPortsUsed ? 0.95 : 0.8,
                 s.busiest_destination
                     ? fmt::format("{} sockets to {} with {} local ports to choose from",
                                   s.busiest_destination->sockets,
                                   s.busiest_destination->remote.to_string(), s.port_range)
                     : fmt::format("{} connect() calls failed with EADDRNOTAVAIL", addrnotavail));
        if (s.busiest_destination) {
            f.subject = s.busiest_destination->remote.to_string();
            ev(f, "destination_sockets", "sockets to the busiest destination",
               s.busiest_destination->sockets, "sockets");
            ev(f, "destination_time_wait", "of them in TIME_WAIT", s.busiest_destination->time_wait,
               "sockets");
        }
        ev(f, "port_range_size", "ephemeral ports", s.port_range, "ports");
        if (b) {
            ev(f, "eaddrnotavail_errors", "connect() EADDRNOTAVAIL",
               static_cast<double>(addrnotavail), "calls");
            if (connect) {
                ev(f, "connect_avg_us", "connect() average latency", connect_avg_us, "us");
                ev(f, "connect_p99_us", "connect() latency p99",
                   static_cast<double>(connect->latency.percentile_ns(0.99)) / 1e3, "us");
            }
        }
        f.why =
            "Each connection to one address:port needs its own local port, and TIME_WAIT holds "
            "a closed one for 60 s. Near the end of the range connect() gets slow (the kernel "
            "searches for a free port) and then fails with EADDRNOTAVAIL.";
        f.fix = {
            "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"   # or: c10k-doctor "
            "profile apply loadgen",
            "sysctl -w net.ipv4.tcp_tw_reuse=1",
            "reuse connections (keep-alive, a connection pool) instead of one per request"};
        out.push_back({88, std::move(f)});
    }

    // Socket buffers: our advertised window tiny, reads tiny.
    if (b) {
        const auto& t = b->tcp;
        double small = t.segments_in ? static_cast<double>(t.segments_small_window) /
                                           static_cast<double>(t.segments_in)
                                     : 0;
        uint64_t reads = sum_count(*b, kReadCalls);
        double bytes_per_read =
            reads ? static_cast<double>(sum_bytes(*b, kReadCalls)) / static_cast<double>(reads) : 0;
        bool tiny_window = t.segments_in >= 100 && small >= kSmallWindowShare;
        bool buf_events = t.rcvqueue_full + t.exceed_buf_limit > 0;
        if (tiny_window || (buf_events && bytes_per_read < kSmallRead)) {
            auto f = make("socket-buffer-limited", Severity::crit, tiny_window ? 0.85 : 0.6,
                          fmt::format("{:.0f}% of incoming segments met a receive window under "
                                      "8 KiB; {:.0f} bytes per read",
                                      small * 100, bytes_per_read));
            ev(f, "small_window_percent", "segments arriving with our window < 8 KiB", small * 100,
               "%");
            ev(f, "segments_in", "segments received", static_cast<double>(t.segments_in),
               "segments");
            ev(f, "bytes_per_read", "bytes per read/recv", bytes_per_read, "bytes");
            ev(f, "reads_per_second", "reads per second", static_cast<double>(reads) / sys_s, "/s");
            ev(f, "rcvqueue_full", "receive-queue-full events",
               static_cast<double>(t.rcvqueue_full), "events");
            ev(f, "buffer_limit_events", "buffer-limit events",
               static_cast<double>(t.exceed_buf_limit), "events");
            f.why =
                "The receive buffer is so small that the window closes after a few KiB: the "
                "sender waits for every window update and the process makes many tiny reads. "
                "More CPU will not help; a bigger buffer will.";
            f.fix = {"do not set a small SO_RCVBUF (let autotuning size it), or raise it",
                     "sysctl -w net.ipv4.tcp_rmem=\"4096 131072 16777216\"   # or: c10k-doctor "
                     "profile apply c100k",
                     "read in larger chunks"};
            out.push_back({86, std::move(f)});
        }
    }

    // Blocking syscalls in what should be an event loop.
    {
        double blocking = 0, futex_share = 0, futex_per_s = 0;
        std::string source;
        if (b && syscall_ns > 0) {
            uint64_t block_ns = sum_ns(*b, kSleepCalls) + sum_ns(*b, kSyncCalls);
            blocking = static_cast<double>(block_ns) / static_cast<double>(syscall_ns);
            double off_total = 0;
            for (auto x : b->sched.off_cpu_ns)
                off_total += static_cast<double>(x);
            double disk =
                off_total > 0 ? static_cast<double>(b->sched.off_cpu_ns[2]) / off_total : 0;
            blocking = std::max(blocking, disk);
            futex_share =
                static_cast<double>(sum_ns(*b, {"futex"})) / static_cast<double>(syscall_ns);
            futex_per_s = static_cast<double>(sum_count(*b, {"futex"})) / sys_s;
            source = "syscall time";
        } else if (s.thread_samples > 0) {
            blocking =
                share_of(s.blocked_in, {"nanosleep", "clock_nanosleep", "fsync", "fdatasync"},
                         s.thread_samples) +
                static_cast<double>(s.disk) / static_cast<double>(s.thread_samples);
            futex_share = share_of(s.blocked_in, {"futex"}, s.thread_samples);
            futex_per_s = s.switches_per_s;  // best proxy without syscall counts
            source = "thread samples";
        }
        if (blocking >= kBlockingShare && !cpu_busy && !fd_limited) {
            auto f = make("off-cpu-blocking", Severity::crit, b ? 0.85 : 0.65,
                          fmt::format("{:.0f}% of {} in sleeps, fsync or disk waits",
                                      blocking * 100, source));
            ev(f, "blocking_percent", "time blocked in sleep/fsync/disk", blocking * 100, "%");
            ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
            if (b) {
                for (const char* name : {"nanosleep", "clock_nanosleep", "fsync", "fdatasync"})
                    if (auto* sc = b->syscall(name))
                        ev(f, std::string(name) + "_per_second", std::string(name) + " per second",
                           static_cast<double>(sc->count) / sys_s, "/s");
                ev(f, "off_cpu_disk_ms", "off-CPU in D state",
                   static_cast<double>(b->sched.off_cpu_ns[2]) / 1e6, "ms");
            }
            f.why =
                "The process waits in calls that block the thread (sleeps, fsync, disk reads) "
                "while the CPU is idle: requests queue behind the waits, not behind work.";
            f.fix = {"move blocking work off the event loop (a thread pool for disk and fsync)",
                     "batch fsyncs (group commit) or use O_DSYNC/io_uring where durability allows",
                     "remove sleeps from request handling"};
            out.push_back({82, std::move(f)});
        }
        if (futex_share >= kFutexShare && futex_per_s >= kFutexPerS && s.threads_max >= 4 &&
            !storm) {
            auto f = make("lock-contention", Severity::crit, b ? 0.85 : 0.6,
                          fmt::format("{:.0f}% of {} in futex waits, {:.0f} futex calls per second",
                                      futex_share * 100, source, futex_per_s));
            ev(f, "futex_percent", "share in futex", futex_share * 100, "%");
            ev(f, "futex_per_second", b ? "futex calls per second" : "context switches per second",
               futex_per_s, "/s");
            ev(f, "threads", "threads", s.threads_max, "threads");
            ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
            if (b) {
                if (auto* fx = b->syscall("futex"))
                    ev(f, "futex_p99_us", "futex latency p99",
                       static_cast<double>(fx->latency.percentile_ns(0.99)) / 1e3, "us");
            }
            f.why =
                "Threads spend their time waiting for each other on a lock (futex) instead of "
                "working; adding threads makes it worse.";
            f.fix = {"shorten or split the critical section; shard the shared state",
                     "use per-thread data or lock-free structures on the hot path"};
            out.push_back({80, std::move(f)});
        }
    }

    double tw_overflow = rate(s, "TcpExt.TCPTimeWaitOverflow");
    if (tw_overflow > 0) {
        auto f =
            make("time-wait-overflow", Severity::warn, 0.8,
                 fmt::format("{:.1f} TIME_WAIT sockets destroyed early per second", tw_overflow));
        ev(f, "tw_overflow_per_second", "TCPTimeWaitOverflow per second", tw_overflow, "/s");
        f.why =
            "tcp_max_tw_buckets is reached; requests succeed, but late segments can meet "
            "new connections and RSTs appear.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_max_tw_buckets=524288   # or: c10k-doctor profile apply c100k"};
        out.push_back({60, std::move(f)});
    }
    double pressures = rate(s, "TcpExt.TCPMemoryPressures");
    if (pressures > 0) {
        auto f =
            make("tcp-memory-pressure", Severity::crit, 0.8,
                 fmt::format("TCP entered memory pressure {:.1f} times per second", pressures));
        ev(f, "memory_pressures_per_second", "TCPMemoryPressures per second", pressures, "/s");
        f.why = "Past tcp_mem's pressure threshold the kernel shrinks every socket's buffers.";
        f.fix = {
            "sysctl -w net.ipv4.tcp_mem=\"262144 524288 786432\"   # or: c10k-doctor profile apply "
            "c100k"};
        out.push_back({65, std::move(f)});
    }
    double retrans = rate(s, "Tcp.RetransSegs"), outsegs = rate(s, "Tcp.OutSegs");
    if (retrans >= 1 && outsegs > 0 && retrans / outsegs >= 0.01) {
        auto f = make("network-loss", Severity::warn, 0.6,
                      fmt::format("{:.1f}% of segments retransmitted", retrans / outsegs * 100));
        ev(f, "retransmits_per_second", "retransmitted segments per second", retrans, "/s");
        if (b)
            ev(f, "target_retransmits", "retransmits on the target's ports",
               static_cast<double>(b->tcp.retransmits), "segments");
        f.why = "Lost segments cost a retransmit timeout or a fast-retransmit round trip each.";
        f.fix = {"check the path (ethtool -S, nstat TcpExt.TCPLost*) for drops"};
        out.push_back({50, std::move(f)});
    }

    std::stable_sort(out.begin(), out.end(),
                     [](const Ranked& a, const Ranked& c) { return a.score > c.score; });
    for (auto& r : out)
        v.findings.push_back(std::move(r.f));

    if (v.findings.empty()) {
        bool idle = s.cpu_cores < 0.01 && (!b || b->total_syscalls() == 0) && s.switches_per_s < 1;
        auto f = make("healthy", Severity::ok, idle ? 0.4 : 0.8,
                      idle ? "nothing stands out - but the target was idle during the window"
                           : "nothing stands out: no errors, short queues, headroom");
        ev(f, "cpu_cores", "process CPU", s.cpu_cores, "cores");
        ev(f, "switches_per_second", "context switches per second", switches, "/s");
        ev(f, "threads", "threads", s.threads_max, "threads");
        ev(f, "fds_open_max", "open fds (max seen)", static_cast<double>(s.fds_max), "fds");
        if (b) {
            ev(f, "syscalls_per_second", "syscalls per second",
               static_cast<double>(b->total_syscalls()) / sys_s, "/s");
            ev(f, "runq_p99_us", "run-queue latency p99", static_cast<double>(runq_p99) / 1e3,
               "us");
        }
        f.why = idle ? "Put the server under its usual load during the window to judge it."
                     : "The limits this tool knows were all far away during the window.";
        v.findings.push_back(std::move(f));
    }

    if (!b) {
        v.unobserved = {
            "syscall errors (EMFILE, EADDRNOTAVAIL) and latencies: fd-limit is judged from the fd "
            "count alone, ephemeral-port-exhaustion from socket counts alone",
            "run-queue latency histograms (schedstat gives a total only)",
            "TCP window and buffer events: socket-buffer-limited cannot be judged",
        };
    } else if (b->syscall_duty < 0.99) {
        v.unobserved.push_back(fmt::format(
            "syscalls were traced for {:.0f}% of the window ({:.1f} s) to keep overhead low; "
            "counts are per traced second",
            b->syscall_duty * 100, b->syscall_seconds));
    }
    if (e.target_exited) v.unobserved.push_back("the target exited before the window ended");
    return v;
}

}  // namespace c10k
