// SPDX-License-Identifier: GPL-2.0-or-later
// Requests the process took the connection for but left unread: the shape of
// a fixed worker pool behind a dispatcher (Tomcat's maxThreads, a JDK
// HttpServer's executor, a ThreadPoolExecutor), which hands a connection to a
// worker when it turns readable and reads nothing until one is free.
#include "verdict_rules.hpp"

namespace c10k::verdict {

namespace {

// The syscall the process's sleeping threads sat in most, for the why.
std::string top_wait(const SampledEvidence& s) {
    auto it = std::max_element(s.blocked_in.begin(), s.blocked_in.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
    return it == s.blocked_in.end() ? std::string() : it->first;
}

// The share of looks (after the first) that found a request unread since the one before.
double unread_look_share(const ConnEvidence& c) {
    return static_cast<double>(c.samples_inbound_unread) / static_cast<double>(c.samples - 1);
}

}  // namespace

// A request sits unread when the same bytes are in a connection's receive
// queue two looks in a row with nothing received in between. A process that
// reads a socket when it turns readable takes its request within one turn of
// its loop (a millisecond when busy, see kCapQueueWaitS); one whose requests
// sit there for whole look intervals, in most looks, at least one at every
// instant (Little's law: work always waits), has no one free to read them.
// When the CPU, a lock, a blocking call or a dependency already stands at
// CRIT, that is what keeps its workers busy, and it is the verdict; with none
// of them, the workers are busy in calls that cost nothing the host could
// give more of, and the pool's size is the limit.
bool Judge::requests_wait_unread() const {
    const auto& c = s.conns;
    if (c.samples <= kMinSamples || s.sample_period_s < kUnreadLookS) return false;
    return unread_look_share(c) >= kMostOfTheTime && c.mean_inbound_unread() >= kUnreadWaiting;
}

// Requests in the receive queues in most looks, at least one at every instant
// (Little's law, as kUnreadWaiting), whatever their age: one look tells it,
// however far apart the looks. A reader busy elsewhere leaves requests there
// as surely as a stalled one, so this says only that the kernel holds work
// nobody has read; find_stalled_loop says who should have.
bool Judge::requests_sit_queued() const {
    const auto& c = s.conns;
    if (c.samples < kMinSamples) return false;
    return static_cast<double>(c.samples_inbound_queued) >=
               kMostOfTheTime * static_cast<double>(c.samples) &&
           c.mean_inbound_queued() >= kUnreadWaiting;
}

void Judge::unread_requests() {
    const auto& c = s.conns;
    if (cpu_limited || fd_limited || !requests_wait_unread()) return;
    // Only a cause that holds a worker explains why none is free. The wire's
    // own delays hold nothing of the process's: a reply tail Nagle keeps for
    // an ACK was written (the worker moved on), a late SYN or a retransmit is
    // the kernel's. (A JDK HttpServer with 4 workers sleeping 100 ms, 20
    // clients: 14 requests queued in every look, and its header-then-body
    // writes Nagle-held 34 ms - nagle-delayed-ack alone hid the full pool.)
    auto holds_no_worker = [](const Finding& f) {
        auto id = f.id.bottleneck();
        return id == Bottleneck::nagle_delayed_ack || id == Bottleneck::time_wait_overflow ||
               id == Bottleneck::network_loss || id == Bottleneck::syn_backlog_overflow;
    };
    for (const auto& f : out)
        if (f.severity == Severity::crit && !holds_no_worker(f)) return;
    double share = unread_look_share(c);
    double waiting = c.mean_inbound_unread();

    auto f = make(Bottleneck::app_connection_limit, Support::counted,
                  fmt::format("requests wait unread: {:.1f} connections (mean) hold a request the "
                              "process has not read since the look before ({:.0f}% of looks), "
                              "while it uses {:.2f} cores",
                              waiting, share * 100, s.cpu_cores));
    if (!s.listeners.empty()) f.subject = s.listeners.front().local.to_string();
    ev(f, key::unread_requests_mean, waiting);
    ev(f, key::unread_looks_percent, share * 100);
    const auto& wait = c.inbound_unread_wait;
    if (wait.count() > 0) {
        ev(f, key::unread_wait_p50_ms, static_cast<double>(wait.percentile_ns(0.5)) / 1e6);
        ev(f, key::unread_wait_p99_ms, static_cast<double>(wait.percentile_ns(0.99)) / 1e6);
    }
    ev(f, key::look_interval_ms, s.sample_period_s * 1e3);
    ev(f, key::connections_max, c.inbound_max);
    ev(f, key::threads, s.threads_max);
    ev(f, key::cpu_cores, s.cpu_cores);
    auto in = top_wait(s);
    f.why = fmt::format(
        "The process has accepted these connections but not read their requests: the bytes sit "
        "in the kernel's receive queues for whole intervals between looks, while it uses {:.2f} "
        "of {} cores and nothing else stands out. A dispatcher that hands each request to a "
        "fixed pool of workers leaves it there until a worker is free: every worker is busy{}, "
        "and the pool's size, not the machine, sets the throughput.",
        s.cpu_cores, s.cpus,
        in.empty() ? "" : fmt::format(", asleep mostly in {}() rather than on the CPU", in));
    f.fix = {
        "raise the worker pool behind the listener (Tomcat maxThreads, Jetty/Undertow worker "
        "threads, the executor of a JDK HttpServer, gunicorn --threads, uWSGI "
        "--threads/--processes)",
        "or hold a worker for less time per request: what the workers wait in is where each "
        "request's time goes"};
    out.push_back(std::move(f));
}

}  // namespace c10k::verdict
