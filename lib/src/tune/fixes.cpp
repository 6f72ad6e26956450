// SPDX-License-Identifier: GPL-2.0-or-later
// Which kernel change answers which bottleneck, sized from the evidence, and
// how a round is judged. The changes are those that act on a live process
// (design.md, "Which fixes take effect on a live process"); the rest are the
// application's, printed from the finding.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "c10k/text.hpp"
#include "c10k/tune/tune.hpp"

namespace c10k::tune {

namespace {

constexpr const char* kTwBuckets = "net.ipv4.tcp_max_tw_buckets";
constexpr const char* kPortRange = "net.ipv4.ip_local_port_range";
constexpr const char* kSomaxconn = "net.core.somaxconn";
constexpr const char* kSynBacklog = "net.ipv4.tcp_max_syn_backlog";
constexpr const char* kSyncookies = "net.ipv4.tcp_syncookies";
constexpr const char* kConntrackMax = "net.netfilter.nf_conntrack_max";
constexpr const char* kRmem = "net.ipv4.tcp_rmem";
constexpr const char* kTcpMem = "net.ipv4.tcp_mem";

// TIME_WAIT lasts TCP_TIMEWAIT_LEN, 60 s, fixed in the kernel: a steady rate
// of closes holds rate x 60 sockets in it.
constexpr double kTimeWaitSeconds = 60;
// A limit sized to twice what the measured load needs, so a burst of the same
// load does not meet it again at once.
constexpr double kHeadroom = 2;

std::optional<int64_t> integer(const CurrentLimits& now, std::string_view key) {
    auto it = now.sysctls.find(key);
    if (it == now.sysctls.end()) return std::nullopt;
    auto v = parse_int(trim(it->second));
    return v;
}

std::vector<int64_t> integers(const CurrentLimits& now, std::string_view key) {
    std::vector<int64_t> out;
    auto it = now.sysctls.find(key);
    if (it == now.sysctls.end()) return out;
    for (auto w : split_ws(it->second))
        if (auto v = parse_int(w)) out.push_back(*v);
    return out;
}

double rate(const ProbeEvidence& e, const char* counter) {
    auto it = e.sampled.counter_rates.find(counter);
    return it == e.sampled.counter_rates.end() ? 0 : it->second;
}

// Errors with errno `code` per traced second, over every syscall.
std::optional<double> errno_rate(const ProbeEvidence& e, int code) {
    if (!e.bpf || e.bpf->syscall_seconds <= 0) return std::nullopt;
    uint64_t n = 0;
    for (const auto& s : e.bpf->syscalls)
        if (auto it = s.errnos.find(code); it != s.errnos.end()) n += it->second;
    return static_cast<double>(n) / e.bpf->syscall_seconds;
}

// The plan's changes as a profile of their own, made on the first change.
Profile& tune_profile(FixPlan& p) {
    if (!p.profile) {
        p.profile = Profile{};
        p.profile->name = "tune";
        p.profile->description = "c10k-doctor tune";
        p.profile->chain = {"tune"};
    }
    return *p.profile;
}

void add_sysctl(FixPlan& p, const CurrentLimits& now, const std::string& key,
                const std::string& value, const std::string& why) {
    Profile& profile = tune_profile(p);
    ProfileEntry entry;
    entry.key = key;
    entry.value = value;
    entry.origin = {"tune", 0};
    entry.why = why;
    profile.entries.push_back(entry);
    auto it = now.sysctls.find(key);
    p.changes.push_back({key, it == now.sysctls.end() ? "?" : normalize_value(it->second), value});
}

void fix_fd_limit(FixPlan& p, const ProbeEvidence& e, const CurrentLimits& now) {
    if (!now.nofile) {
        p.why = "the target's RLIMIT_NOFILE could not be read";
        return;
    }
    auto [soft, hard] = *now.nofile;
    // The demand is hidden by the limit (accept() fails before it shows), so
    // the soft limit goes to the hard one the administrator already allows,
    // or, when they are equal, to four times what it is (prlimit raises a hard
    // limit only with CAP_SYS_RESOURCE; without it the soft one stays).
    // 1 Mi is the kernel's default fs.nr_open: no process may hold more.
    constexpr uint64_t kNrOpen = 1 << 20;
    uint64_t wanted = hard > soft ? std::min(hard, kNrOpen) : std::min(soft * 4, kNrOpen);
    if (wanted <= soft) {
        p.why = fmt::format("RLIMIT_NOFILE is already {} (the most a process may hold)", soft);
        return;
    }
    Profile& profile = tune_profile(p);
    profile.nofile = wanted;
    profile.nofile_origin = "tune";
    p.changes.push_back({fmt::format("RLIMIT_NOFILE (soft) of PID {}", e.pid), std::to_string(soft),
                         std::to_string(wanted)});
    p.why = hard > soft ? fmt::format(
                              "the soft limit up to the hard limit ({}), set live with "
                              "prlimit; {} fds were open at most",
                              wanted, e.sampled.fds_max)
                        : fmt::format(
                              "soft = hard = {}: both raised to {} (needs "
                              "CAP_SYS_RESOURCE); {} fds were open at most",
                              soft, wanted, e.sampled.fds_max);
    // A master's raise is not inherited by workers already running.
    p.to_make_it_act = "a worker forked before the change keeps its old limit";
}

void fix_time_wait(FixPlan& p, const ProbeEvidence& e, const CurrentLimits& now) {
    auto cur = integer(now, kTwBuckets);
    if (!cur) {
        p.why = std::string(kTwBuckets) + " could not be read";
        return;
    }
    // At the cap, closes/s >= cap / 60 s, plus those whose TIME_WAIT was
    // refused (the overflows). Twice that many fit the load with headroom.
    double overflows = rate(e, "TcpExt.TCPTimeWaitOverflow");
    double closes = static_cast<double>(*cur) / kTimeWaitSeconds + overflows;
    auto wanted = static_cast<int64_t>(closes * kTimeWaitSeconds * kHeadroom);
    wanted = std::max<int64_t>({wanted, *cur * 2, 262144});
    add_sysctl(p, now, kTwBuckets, std::to_string(wanted),
               "a close rate of that many per second holds 60 s of them");
    p.why = fmt::format(
        "{:.0f} closes/s at the cap ({} / 60 s + {:.0f} overflows/s) hold {:.0f} "
        "sockets in TIME_WAIT; twice that",
        closes, *cur, overflows, closes * kTimeWaitSeconds);
}

void fix_ports(FixPlan& p, const ProbeEvidence& e, const CurrentLimits& now) {
    auto range = integers(now, kPortRange);
    if (range.size() != 2) {
        p.why = std::string(kPortRange) + " could not be read";
        return;
    }
    // Each destination (address:port) can use every port of the range. 1024
    // and up: ports below are the privileged ones servers bind to.
    constexpr int64_t kLow = 1024, kHigh = 65535;
    if (range[0] <= kLow && range[1] >= kHigh) {
        p.why =
            "the port range is already 1024-65535: fewer connections per destination "
            "(pooling, keep-alive) or more source addresses";
        return;
    }
    add_sysctl(p, now, kPortRange, fmt::format("{} {}", kLow, kHigh),
               "every port from 1024: a listener on a port in that range keeps it, but "
               "ip_local_reserved_ports should name ports servers bind later");
    uint32_t busiest = e.sampled.busiest_destination ? e.sampled.busiest_destination->sockets : 0;
    p.why = fmt::format("{} ports -> {} ports for each destination; the busiest had {} sockets",
                        range[1] - range[0] + 1, kHigh - kLow + 1, busiest);
}

void fix_accept_queue(FixPlan& p, const ProbeEvidence& e, const CurrentLimits& now) {
    auto cur = integer(now, kSomaxconn);
    if (!cur) {
        p.why = std::string(kSomaxconn) + " could not be read";
        return;
    }
    // The accept queue is min(listen(backlog), somaxconn). Raising somaxconn
    // helps only when it cut the application's backlog, and only once the
    // server calls listen() again.
    bool clamped = false;
    for (const auto& l : e.sampled.listeners)
        if (l.backlog > 0 && static_cast<int64_t>(l.backlog) >= *cur) clamped = true;
    if (!clamped) {
        p.why =
            "the listen backlog is the application's (below somaxconn): its listen() call "
            "is what to raise";
        return;
    }
    int64_t wanted = std::clamp<int64_t>(*cur * 4, 4096, 65535);
    add_sysctl(p, now, kSomaxconn, std::to_string(wanted),
               "the accept queue's cap, read at listen()");
    p.live = false;
    p.to_make_it_act =
        "somaxconn is read when the server calls listen(): reload it so it "
        "listens again (nginx -s reload; most servers only at restart), then "
        "tune again";
    p.why = fmt::format(
        "the listen backlog is cut to somaxconn ({}): {} lets a backlog of up "
        "to that stand",
        *cur, wanted);
}

// Both keys are read on every SYN (tcp_conn_request), so the running listener
// feels them at once. With syncookies off a SYN is dropped once the half-open
// queue passes 3/4 of tcp_max_syn_backlog for a peer not seen before, or the
// listen backlog for any: handshakes that never complete (a flood) fill any
// size in seconds and hold it for the minute their SYN-ACKs are sent again, so
// only cookies stop the drops - a SYN past a full queue is then answered
// without keeping state. With cookies on already, the queue that fills is the
// listen backlog itself, sized at listen(): the application's setting.
void fix_syn_backlog(FixPlan& p, const CurrentLimits& now) {
    auto cookies = integer(now, kSyncookies);
    auto cur = integer(now, kSynBacklog);
    if (!cur || !cookies) {
        p.why = std::string(cur ? kSyncookies : kSynBacklog) + " could not be read";
        return;
    }
    if (*cookies != 0) {
        p.live = false;
        p.to_make_it_act = "the listener's backlog is set at listen(): restart or reload it";
        p.why = "syncookies are on: the SYN queue is the listen backlog, the application's";
        return;
    }
    add_sysctl(p, now, kSyncookies, "1",
               "a SYN past a full SYN queue answered with a cookie instead of dropped");
    int64_t wanted = std::max<int64_t>(*cur * 4, 4096);
    add_sysctl(p, now, kSynBacklog, std::to_string(wanted), "half-open connections kept");
    p.why = fmt::format("syncookies on; {} -> {} half-open connections", *cur, wanted);
}

// Read for every new entry, so the running server's next connection gets
// one. Twice the entries the window saw at the limit (a burst of the same
// load fits), and never less than twice the current size.
void fix_conntrack(FixPlan& p, const ProbeEvidence& e, const CurrentLimits& now) {
    auto cur = integer(now, kConntrackMax);
    if (!cur) {
        p.why = std::string(kConntrackMax) + " could not be read (nf_conntrack not loaded?)";
        return;
    }
    auto seen = static_cast<double>(e.sampled.conntrack_entries.value_or(0));
    auto wanted = std::max<int64_t>(*cur * 2, static_cast<int64_t>(seen * kHeadroom));
    add_sysctl(p, now, kConntrackMax, std::to_string(wanted), "connections tracked at once");
    p.why = fmt::format("{} -> {} tracked connections (one size for the host)", *cur, wanted);
}

void fix_rmem(FixPlan& p, const CurrentLimits& now) {
    auto v = integers(now, kRmem);
    if (v.size() != 3) {
        p.why = std::string(kRmem) + " could not be read";
        return;
    }
    // Autotuning grows a receive buffer up to the third value; a socket that
    // set SO_RCVBUF is not autotuned and keeps its size (application fix).
    constexpr int64_t kMax = 16 << 20;
    int64_t wanted = std::max<int64_t>(v[2] * 4, kMax);
    add_sysctl(p, now, kRmem, fmt::format("{} {} {}", v[0], v[1], wanted),
               "the most autotuning may give one socket's receive buffer");
    p.live = false;
    p.to_make_it_act = "buffers are sized for connections made after the change";
    p.why =
        fmt::format("receive buffers may grow to {} MiB (from {} KiB)", wanted >> 20, v[2] >> 10);
}

void fix_tcp_mem(FixPlan& p, const CurrentLimits& now) {
    auto v = integers(now, kTcpMem);
    if (v.size() != 3) {
        p.why = std::string(kTcpMem) + " could not be read (host-wide)";
        return;
    }
    add_sysctl(p, now, kTcpMem, fmt::format("{} {} {}", v[0] * 2, v[1] * 2, v[2] * 2),
               "pages all TCP sockets of the host may hold");
    p.why = "every threshold doubled (pages of 4 KiB, host-wide)";
}

}  // namespace

const std::vector<std::string>& tunable_keys() {
    static const std::vector<std::string> keys = {kTwBuckets,  kPortRange,   kSomaxconn,
                                                  kSynBacklog, kSyncookies,  kRmem,
                                                  kTcpMem,     kConntrackMax};
    return keys;
}

FixPlan plan_fix(const Finding& top, const ProbeEvidence& e, const CurrentLimits& now) {
    FixPlan p;
    p.app_fix = top.fix;
    auto b = top.id.bottleneck();
    if (!b) {
        p.why = "not a probe verdict";
        return p;
    }
    p.bottleneck = *b;
    switch (*b) {
        case Bottleneck::fd_limit:
            fix_fd_limit(p, e, now);
            break;
        case Bottleneck::time_wait_overflow:
            fix_time_wait(p, e, now);
            break;
        case Bottleneck::ephemeral_port_exhaustion:
            fix_ports(p, e, now);
            break;
        case Bottleneck::accept_queue_overflow:
            fix_accept_queue(p, e, now);
            break;
        case Bottleneck::syn_backlog_overflow:
            fix_syn_backlog(p, now);
            break;
        case Bottleneck::conntrack_full:
            fix_conntrack(p, e, now);
            break;
        case Bottleneck::socket_buffer_limited:
            fix_rmem(p, now);
            break;
        case Bottleneck::tcp_memory_pressure:
            fix_tcp_mem(p, now);
            break;
        case Bottleneck::healthy:
            p.why = "nothing to fix";
            break;
        default:
            // Threads, locks, pools, a pegged loop, a dependency, Nagle: the
            // application's design or configuration, not a kernel limit.
            p.why = fmt::format("{} is fixed in the application, not in the kernel", to_string(*b));
            break;
    }
    return p;
}

std::optional<Symptom> symptom_of(Bottleneck b, const ProbeEvidence& e) {
    switch (b) {
        case Bottleneck::fd_limit: {
            if (auto r = errno_rate(e, EMFILE)) {
                double enfile = errno_rate(e, ENFILE).value_or(0);
                return Symptom{"syscalls failing with EMFILE/ENFILE", *r + enfile,
                               units::per_second};
            }
            // Without syscall tracing: how close the fds came to the soft limit.
            if (e.sampled.nofile_soft == 0) return std::nullopt;
            return Symptom{"fds open of the soft limit (max)",
                           100.0 * static_cast<double>(e.sampled.fds_max) /
                               static_cast<double>(e.sampled.nofile_soft),
                           units::percent};
        }
        case Bottleneck::accept_queue_overflow:
            return Symptom{"accept queue overflows (ListenOverflows)",
                           rate(e, "TcpExt.ListenOverflows"), units::per_second};
        case Bottleneck::syn_backlog_overflow:
            return Symptom{"SYNs dropped (ListenDrops beyond overflows)",
                           syn_queue_drops(e.sampled), units::per_second};
        case Bottleneck::conntrack_full:
            return Symptom{"new connections' packets dropped (conntrack drop)",
                           rate(e, "Conntrack.drop"), units::per_second};
        case Bottleneck::time_wait_overflow:
            return Symptom{"TIME_WAIT refused (TCPTimeWaitOverflow)",
                           rate(e, "TcpExt.TCPTimeWaitOverflow"), units::per_second};
        case Bottleneck::ephemeral_port_exhaustion: {
            if (auto r = errno_rate(e, EADDRNOTAVAIL))
                return Symptom{"connect()/bind() failing with EADDRNOTAVAIL", *r,
                               units::per_second};
            if (!e.sampled.busiest_destination || e.sampled.port_range == 0) return std::nullopt;
            return Symptom{"ports in use to the busiest destination",
                           100.0 * e.sampled.busiest_destination->sockets / e.sampled.port_range,
                           units::percent};
        }
        case Bottleneck::socket_buffer_limited: {
            const auto& c = e.sampled.conns;
            if (c.rcv_observations == 0) return std::nullopt;
            return Symptom{"looks at a full receive queue",
                           100.0 * static_cast<double>(c.rcv_full_observations) /
                               static_cast<double>(c.rcv_observations),
                           units::percent};
        }
        case Bottleneck::tcp_memory_pressure:
            return Symptom{"TCP memory pressure events", rate(e, "TcpExt.TCPMemoryPressures"),
                           units::per_second};
        default:
            return std::nullopt;
    }
}

Throughput throughput_of(const ProbeEvidence& e, const std::string& like) {
    const auto& series = e.sampled.throughput;
    auto mean_and_se = [&](auto value) {
        double secs = 0, sum = 0;
        for (const auto& s : series) {
            secs += s.seconds;
            sum += value(s) * s.seconds;
        }
        double mean = secs > 0 ? sum / secs : 0;
        double var = 0;
        for (const auto& s : series)
            var += (value(s) - mean) * (value(s) - mean);
        size_t n = series.size();
        double se = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) / std::sqrt(n) : 0;
        return std::pair{mean, se};
    };
    auto [accepts, accepts_se] = mean_and_se([](const auto& s) { return s.accepts_per_s; });
    auto [segs, segs_se] = mean_and_se([](const auto& s) { return s.segments_out_per_s; });
    bool by_accepts = like.empty() ? accepts >= kMinAcceptRate : like == "accepts/s";
    if (by_accepts) return {"accepts/s", accepts, accepts_se};
    return {"segments out/s", segs, segs_se};
}

RoundDecision decide(const std::optional<Symptom>& before, const std::optional<Symptom>& after,
                     const Throughput& work_before, const Throughput& work_after) {
    if (!before || !after)
        return {false,
                "the symptom could not be measured in both windows, so the change is "
                "not proved"};
    if (before->value <= 0)
        return {false,
                fmt::format("{} was 0 before the change: nothing for it to lower", before->what)};
    if (after->value > before->value / 2)
        return {false, fmt::format("{} fell by less than half ({:.3g} -> {:.3g})", before->what,
                                   before->value, after->value)};
    // Two windows' means differ by their standard errors combined, twice
    // that for a fall to be more than chance; never less than the floor.
    double noise = std::max(2 * std::hypot(work_before.standard_error, work_after.standard_error),
                            kWindowNoiseFloor * work_before.per_s);
    if (work_after.per_s < work_before.per_s - noise)
        return {false, fmt::format("{} fell from {:.0f} to {:.0f}, beyond the noise ({:.0f})",
                                   work_before.what, work_before.per_s, work_after.per_s, noise)};
    return {true, fmt::format("{} fell from {:.3g} to {:.3g}; {} {:.0f} -> {:.0f}", before->what,
                              before->value, after->value, work_before.what, work_before.per_s,
                              work_after.per_s)};
}

}  // namespace c10k::tune
