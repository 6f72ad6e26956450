// SPDX-License-Identifier: GPL-2.0-or-later
// Accept and SYN backlogs. A connection waits in the SYN queue until the
// handshake completes, then in the listener's accept queue until accept().
// The accept queue holds at most min(listen(backlog), net.core.somaxconn).
#include <fmt/format.h>

#include <algorithm>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"

namespace c10k {

namespace key = check_keys;

namespace {

constexpr double kQueueWarn = 0.5;

// The backlog a listener should be able to get: room for a connect burst of
// ~10% of the target while the server is busy, within what the kernel allows.
uint64_t backlog_needed(uint64_t connections) {
    uint64_t want = std::clamp<uint64_t>(connections / 10, 4096, 65535);
    uint64_t p = 4096;
    while (p < want && p < 65535)
        p *= 2;
    return std::min<uint64_t>(p, 65535);
}

Finding somaxconn(const CheckInput& in, uint64_t need) {
    auto v = in.sysctl().integer("net.core.somaxconn");
    if (!v)
        return unknown_finding(CheckId::backlog_somaxconn, "net.core.somaxconn unreadable",
                               in.sysctl().error("net.core.somaxconn"));
    bool short_ = static_cast<uint64_t>(*v) < need;
    auto f = make_finding(
        CheckId::backlog_somaxconn, short_ ? in.shortfall() : Severity::ok,
        short_ ? fmt::format("somaxconn {} clamps every listen backlog below {}", *v, need)
               : fmt::format("somaxconn {} allows backlogs of {}", *v, need));
    add_evidence(f, key::somaxconn, static_cast<double>(*v));
    add_evidence(f, key::backlog_needed, static_cast<double>(need));
    f.why =
        "listen(fd, 511) silently gets min(511, somaxconn); once the accept queue is full, "
        "new handshakes are dropped and clients wait for SYN retransmits (1 s, 3 s, 7 s).";
    if (short_ && *v <= 128) {
        f.why += in.kernel().at_least(5, 4)
                     ? " The default has been 4096 since Linux 5.4, so something lowered it."
                     : " 128 was the default before Linux 5.4.";
    }
    if (short_)
        f.fix = {sysctl_fix("net.core.somaxconn", std::to_string(need)), profile_fix(in.target())};
    return f;
}

Finding syn_backlog(const CheckInput& in, uint64_t need) {
    auto v = in.sysctl().integer("net.ipv4.tcp_max_syn_backlog");
    auto cookies = in.sysctl().integer("net.ipv4.tcp_syncookies");
    if (!v || !cookies) {
        return unknown_finding(
            CheckId::backlog_syn, "SYN backlog settings unreadable",
            in.sysctl().error(!v ? "net.ipv4.tcp_max_syn_backlog" : "net.ipv4.tcp_syncookies"));
    }
    // The kernel consults tcp_max_syn_backlog only when it cannot fall back to
    // syncookies; with cookies on, the listen backlog alone bounds the SYN queue.
    Severity sev = Severity::ok;
    std::string title;
    if (*cookies != 0) {
        title =
            fmt::format("syncookies on: a full SYN queue is answered with cookies, not dropped");
    } else if (static_cast<uint64_t>(*v) < need) {
        sev = in.shortfall();
        title = fmt::format(
            "syncookies off and tcp_max_syn_backlog {} is below {}: bursts drop handshakes", *v,
            need);
    } else {
        sev = Severity::warn;
        title = fmt::format("syncookies off: handshakes beyond the SYN queue ({}) are dropped", *v);
    }
    auto f = make_finding(CheckId::backlog_syn, sev, title);
    add_evidence(f, key::tcp_max_syn_backlog, static_cast<double>(*v));
    add_evidence(f, key::tcp_syncookies, static_cast<double>(*cookies));
    f.why =
        "Half-open connections wait in the SYN queue. With syncookies (the default) the kernel "
        "answers a burst statelessly; without them, tcp_max_syn_backlog decides when to drop.";
    f.fix.push_back(sysctl_fix("net.ipv4.tcp_syncookies", "1"));
    if (static_cast<uint64_t>(*v) < need)
        f.fix.push_back(sysctl_fix("net.ipv4.tcp_max_syn_backlog", std::to_string(need)));
    return f;
}

// Counter evidence: the rate over the window is the alarm, the since-boot total is context.
void add_counter(Finding& f, const CheckInput& in, std::string_view counter,
                 std::string_view name) {
    // "TCPReqQFullDrop" -> "tcp_req_q_full_drop": a word starts at a capital after
    // a lower-case letter, or at the last capital of an acronym ("TCPReq").
    std::string snake;
    auto up = [&](size_t i) { return std::isupper(static_cast<unsigned char>(name[i])) != 0; };
    for (size_t i = 0; i < name.size(); ++i) {
        bool starts_word = i > 0 && up(i) && (!up(i - 1) || (i + 1 < name.size() && !up(i + 1)));
        if (starts_word) snake += '_';
        snake += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
    }
    if (auto r = in.rate(counter))
        add_evidence_at(f, key::counter_per_second, snake, *r, fmt::format("{} rate", name));
    if (auto t = in.counter(counter))
        add_evidence_at(f, key::counter_total, snake, static_cast<double>(*t),
                        fmt::format("{} since boot", name));
}

Finding listen_overflows(const CheckInput& in) {
    auto overflows = in.rate("TcpExt.ListenOverflows");
    auto drops = in.rate("TcpExt.ListenDrops");
    Severity sev;
    std::string title;
    if (!in.now().sample.net) {
        return unknown_finding(CheckId::backlog_listen_overflows, "TCP counters unreadable",
                               in.now().sample.net.error().message());
    }
    if (!overflows) {
        sev = Severity::unknown;
        title = fmt::format("no rate measured (--interval 0); {} accept-queue overflows since boot",
                            in.counter("TcpExt.ListenOverflows").value_or(0));
    } else if (*overflows > 0 || drops.value_or(0) > 0) {
        sev = Severity::crit;
        title = fmt::format("accept queues overflowing: {:.1f} overflows/s, {:.1f} drops/s",
                            *overflows, drops.value_or(0));
    } else {
        sev = Severity::ok;
        title = "no accept-queue overflows during the interval";
    }
    auto f = make_finding(CheckId::backlog_listen_overflows, sev, title);
    f.subject = in.now().netns_label;
    add_counter(f, in, "TcpExt.ListenOverflows", "ListenOverflows");
    add_counter(f, in, "TcpExt.ListenDrops", "ListenDrops");
    f.why =
        "Each overflow is a completed handshake the server had no room for: the client's ACK "
        "is dropped and it retransmits, adding a second or more of latency.";
    if (sev == Severity::crit)
        f.fix = {
            "accept faster (more accept threads / workers), and raise the listen backlog in the "
            "application together with net.core.somaxconn"};
    return f;
}

Finding syn_queue(const CheckInput& in) {
    auto full_drop = in.rate("TcpExt.TCPReqQFullDrop");
    auto cookies = in.rate("TcpExt.TCPReqQFullDoCookies");
    Severity sev = Severity::ok;
    std::string title = "no SYN-queue drops during the interval";
    if (!full_drop) {
        sev = Severity::unknown;
        title = "no rate measured (--interval 0)";
    } else if (*full_drop > 0) {
        sev = Severity::crit;
        title = fmt::format("SYN queue full: {:.1f} handshakes dropped/s", *full_drop);
    } else if (cookies.value_or(0) > 0) {
        sev = Severity::warn;
        title = fmt::format("SYN queue full: answering with syncookies ({:.1f}/s)", *cookies);
    }
    auto f = make_finding(CheckId::backlog_syn_queue, sev, title);
    f.subject = in.now().netns_label;
    add_counter(f, in, "TcpExt.TCPReqQFullDrop", "TCPReqQFullDrop");
    add_counter(f, in, "TcpExt.TCPReqQFullDoCookies", "TCPReqQFullDoCookies");
    add_counter(f, in, "TcpExt.SyncookiesSent", "SyncookiesSent");
    f.why =
        "A full SYN queue drops new handshakes (or falls back to syncookies, which lose TCP "
        "options such as window scaling on older kernels).";
    if (sev == Severity::crit || sev == Severity::warn) {
        f.fix = {sysctl_fix("net.ipv4.tcp_max_syn_backlog", "65535"),
                 "raise the listen backlog in the application (it bounds the SYN queue too)"};
    }
    return f;
}

Finding listener(const CheckInput& in, const Listener& l, std::optional<int64_t> somaxconn,
                 uint64_t need) {
    // Judged by the fullest queue seen across the interval, not one moment's.
    uint32_t queued = std::max(l.queued, l.queued_max);
    double fill = l.backlog ? static_cast<double>(queued) / l.backlog : 1.0;
    Severity sev = Severity::ok;
    std::string title = fmt::format("accept queue {}/{}", queued, l.backlog);
    std::string over =
        l.samples > 1 ? fmt::format(" (fullest of {} looks; full in {})", l.samples, l.full_samples)
                      : "";
    if (queued >= l.backlog) {
        sev = Severity::crit;
        title = fmt::format("accept queue full: {} waiting, backlog {}{}", queued, l.backlog, over);
    } else if (fill >= kQueueWarn) {
        sev = Severity::warn;
        title = fmt::format("accept queue {:.0f}% full: {} waiting, backlog {}{}", fill * 100,
                            queued, l.backlog, over);
    }
    bool clamped = somaxconn && static_cast<int64_t>(l.backlog) == *somaxconn;
    if (clamped && l.backlog < need) {
        sev = worse(sev, Severity::warn);
        title +=
            fmt::format(" (clamped by somaxconn {}; the app may have asked for more)", *somaxconn);
    } else if (l.backlog < 128 && sev != Severity::ok) {
        title += " (the application asked for this small backlog)";
    }
    auto f = make_finding(CheckId::backlog_listener, sev, title);
    f.subject = l.local.to_string();
    add_evidence(f, key::accept_queue, l.queued);
    if (l.samples > 1) {
        add_evidence(f, key::accept_queue_max, queued);
        add_evidence(f, key::full_samples, l.full_samples);
    }
    add_evidence(f, key::backlog, l.backlog);
    if (somaxconn) add_evidence(f, key::somaxconn, static_cast<double>(*somaxconn));
    if (sev == Severity::crit) {
        add_counter(f, in, "TcpExt.ListenOverflows", "ListenOverflows");
    }
    f.why =
        "Connections wait here between the handshake and accept(); when it is full the kernel "
        "drops new ones. A full queue means the application is not calling accept() fast "
        "enough, or its backlog is too small for its bursts.";
    if (clamped) f.fix.push_back(sysctl_fix("net.core.somaxconn", std::to_string(need)));
    f.fix.push_back(
        fmt::format("raise the backlog the application asks for (nginx: listen {} backlog={}; "
                    "listen(fd, {}) in code), then restart it",
                    l.local.port, need, need));
    f.fix.push_back(
        "if the queue stays full with a large backlog, the application accepts too "
        "slowly: add accept threads/workers or check its connection cap");
    return f;
}

Finding netdev(const CheckInput& in) {
    auto v = in.sysctl().integer("net.core.netdev_max_backlog");
    auto dropped = in.rate("softnet.dropped");
    auto squeezed = in.rate("softnet.time_squeeze");
    Severity sev = Severity::ok;
    std::string title = fmt::format("netdev_max_backlog {}", v.value_or(0));
    if (!v) {
        return unknown_finding(CheckId::backlog_netdev, "net.core.netdev_max_backlog unreadable",
                               in.sysctl().error("net.core.netdev_max_backlog"));
    }
    if (dropped && *dropped > 0) {
        sev = Severity::warn;
        title = fmt::format("{:.1f} packets/s dropped before the stack (backlog {} full)", *dropped,
                            *v);
    } else if (squeezed && *squeezed > 0) {
        title += fmt::format("; softirq ran out of budget {:.1f} times/s", *squeezed);
    }
    auto f = make_finding(CheckId::backlog_netdev, sev, title);
    add_evidence(f, key::netdev_max_backlog, static_cast<double>(*v));
    add_counter(f, in, "softnet.dropped", "SoftnetDropped");
    add_counter(f, in, "softnet.time_squeeze", "SoftnetTimeSqueeze");
    f.why =
        "Incoming packets queue per CPU before the TCP stack sees them; when that queue is full "
        "they are dropped and senders retransmit.";
    f.fix = {sysctl_fix("net.core.netdev_max_backlog",
                        std::to_string(std::max<int64_t>(scaled(*v, 4), 16384)))};
    return f;
}

}  // namespace

std::vector<Finding> check_backlogs(const CheckInput& in) {
    uint64_t need = backlog_needed(in.target().connections);
    std::vector<Finding> out;
    out.push_back(somaxconn(in, need));
    out.push_back(syn_backlog(in, need));
    out.push_back(listen_overflows(in));
    out.push_back(syn_queue(in));
    out.push_back(netdev(in));

    const auto& socks = in.now().sockets;
    if (!socks) {
        out.push_back(unknown_finding(CheckId::backlog_listener, "listeners not inspected",
                                      socks.error().message()));
        return out;
    }
    auto somax = in.sysctl().integer("net.core.somaxconn");
    // With a target process, its listeners only; otherwise every listener in the namespace.
    bool only_owned = in.now().process.has_value();
    for (const auto& l : socks->listeners) {
        if (only_owned && !l.owned) continue;
        out.push_back(listener(in, l, somax, need));
    }
    return out;
}

}  // namespace c10k
