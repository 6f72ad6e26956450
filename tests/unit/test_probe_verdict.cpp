// SPDX-License-Identifier: GPL-2.0-or-later
// The verdict rules over synthetic evidence: causes above symptoms, the
// lookalikes told apart, and "healthy" when nothing stands out.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "c10k/diagnose/bottleneck.hpp"
#include "c10k/diagnose/verdict.hpp"
#include "c10k/probe/probe.hpp"
#include "c10k/probe/sampler.hpp"
#include "c10k/report/probe_render.hpp"
#include "c10k/sources/cpu_users.hpp"

using namespace c10k;

namespace {

ProbeEvidence base(bool with_bpf = true) {
    ProbeEvidence e;
    e.pid = 42;
    e.comm = "server";
    e.mode = with_bpf ? "bpf" : "sample";
    e.window_s = 10;
    e.interval_s = 1;
    auto& s = e.sampled;
    s.samples = 11;
    s.seconds = 10;
    s.cpus = 4;
    s.nofile_soft = 65536;
    s.fds_max = 120;
    s.threads_max = 4;
    s.connections_max = 100;
    s.cpu_cores = 0.3;
    s.somaxconn = 4096;
    s.port_range = 28232;
    if (with_bpf) {
        e.bpf = BpfEvidence{};
        e.bpf->syscall_seconds = 2.5;
        e.bpf->syscall_duty = 0.05;
    }
    return e;
}

SyscallStat call(const std::string& name, uint64_t count, uint64_t total_ns,
                 std::map<int, uint64_t> errnos = {}) {
    SyscallStat s;
    s.name = name;
    s.count = count;
    s.total_ns = total_ns;
    s.errnos = std::move(errnos);
    for (auto& [_, n] : s.errnos)
        s.errors += n;
    s.latency.slots[10] = count;
    return s;
}

std::vector<std::string> ids(const Verdict& v) {
    std::vector<std::string> out;
    for (const auto& f : v.findings)
        out.emplace_back(f.id.name());
    return out;
}

// The judge's rule for confidence: its kind of support's share, cut by the
// standard error of a share read from that many observations (0.5/sqrt(n)).
double weighed(double support, double observations) {
    return support * (1 - 0.5 / std::sqrt(observations));
}

double value_of(const Finding& f, std::string_view key) {
    for (const auto& x : f.evidence)
        if (x.key == key) return x.value;
    ADD_FAILURE() << "no evidence " << key << " in " << f.id.name();
    return -1;
}

}  // namespace

TEST(Verdict, EmfileIsTheCauseAndTheFullAcceptQueueItsSymptom) {
    auto e = base();
    e.sampled.nofile_soft = 1024;
    e.sampled.fds_max = 1024;
    e.sampled.listeners = {{{}, 511, 512}};
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 40;
    e.bpf->syscalls = {call("accept4", 5000, 1'000'000, {{EMFILE, 4000}})};
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"fd-limit", "accept-queue-overflow"}));
    EXPECT_EQ(v.findings[0].severity, Severity::crit);
    EXPECT_GE(v.findings[0].confidence, 0.9);
    EXPECT_EQ(v.findings[1].severity, Severity::warn);
    EXPECT_NE(v.findings[1].why.find("consequence"), std::string::npos);
    // What each explains of what the window showed: the cause both symptoms,
    // the queue only its own.
    EXPECT_EQ(v.findings[0].explains, (std::vector<std::string>{"emfile", "accept-queue-full"}));
    EXPECT_EQ(v.findings[1].explains, (std::vector<std::string>{"accept-queue-full"}));
    auto doc = nlohmann::json::parse(render_probe_json(e, v));
    EXPECT_EQ(doc["findings"][0]["explains"][0], "emfile");
}

TEST(Verdict, SmallBacklogOverflowingIsAcceptQueueAndSaysWhenSomaxconnClamped) {
    auto e = base();
    e.sampled.somaxconn = 128;
    e.sampled.listeners = {{{}, 128, 129}};
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 12;
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "accept-queue-overflow");
    EXPECT_NE(v.findings.front().why.find("clamped"), std::string::npos);
    EXPECT_EQ(v.findings.front().fix.front().rfind("sysctl -w net.core.somaxconn", 0), 0u);
    // A server we know gets its own setting beside listen(): clamped, after somaxconn ...
    e.comm = "nginx";
    auto fixes = judge(e).findings.front().fix;
    ASSERT_EQ(fixes.size(), 4u);
    EXPECT_EQ(fixes[0].rfind("sysctl -w net.core.somaxconn", 0), 0u);
    EXPECT_EQ(fixes[2].rfind("nginx: listen PORT backlog=4096;", 0), 0u) << fixes[2];
    // ... and not clamped (Python's socketserver asks for 5), the app's ask first.
    e.comm = "python3";
    e.sampled.listeners = {{{}, 5, 6}};
    fixes = judge(e).findings.front().fix;
    ASSERT_EQ(fixes.size(), 4u);
    EXPECT_EQ(fixes[0].rfind("raise the listen backlog", 0), 0u);
    EXPECT_NE(fixes[1].find("request_queue_size"), std::string::npos) << fixes[1];
}

// A full queue in front of a process that holds a flat number of connections
// is the application's own cap; the backlog's size tells nothing either way.
TEST(Verdict, FullQueueBehindAFlatPlateauIsTheApplicationsOwnLimit) {
    for (uint32_t backlog : {64u, 4096u}) {
        auto e = base();
        e.sampled.listeners = {{{}, backlog, backlog + 1, 30, 30}};
        e.sampled.counter_rates["TcpExt.ListenOverflows"] = 3;
        e.sampled.cpu_cores = 0.1;
        e.sampled.conns.samples = 30;
        e.sampled.conns.inbound_min = 64;
        e.sampled.conns.inbound_max = 64;
        auto v = judge(e);
        EXPECT_EQ(v.findings.front().id, "app-connection-limit") << backlog;
        // A server we know gets its own setting first: HAProxy at maxconn 64
        // (its backlog defaults to maxconn), at twice what it holds or 100 more.
        EXPECT_EQ(v.findings.front().fix.front().find("haproxy"), std::string::npos);
        auto haproxy = e;
        haproxy.comm = "haproxy";
        auto hv = judge(haproxy);
        ASSERT_EQ(hv.findings.front().id, "app-connection-limit") << backlog;
        EXPECT_EQ(hv.findings.front().fix.front(),
                  "haproxy: maxconn 164 in the global and frontend sections");
        // The same queue in front of a process whose connections come and go is overflow.
        e.sampled.conns.inbound_min = 3;
        EXPECT_EQ(judge(e).findings.front().id, "accept-queue-overflow") << backlog;
    }
}

// Below its backlog, a queue that holds connections in every look is a cap
// when they wait there long (no accepts), not when a busy loop takes each
// within a millisecond.
TEST(Verdict, ConnectionsWaitingLongBelowTheBacklogAreACap) {
    auto e = base();
    ListenerSample l;
    l.backlog = 4096;
    l.queued_max = 400;
    l.samples = 30;
    l.waiting_samples = 30;
    l.queued_sum = 30 * 200;
    e.sampled.listeners = {l};
    e.sampled.cpu_cores = 0.1;
    e.sampled.conns.samples = 30;
    e.sampled.conns.inbound_min = 8;
    e.sampled.conns.inbound_max = 8;
    auto v = judge(e);  // no accept() traced: an unbounded wait
    ASSERT_EQ(v.findings.front().id, "app-connection-limit");
    EXPECT_NE(v.findings.front().title.find("below its backlog of 4096"), std::string::npos);
    // Lookalike: a few queued in every look, but accepted at 5,000 a second (1 ms each).
    auto busy = e;
    busy.sampled.listeners[0].queued_sum = 30 * 5;
    busy.sampled.listeners[0].queued_max = 19;
    busy.bpf->syscalls.push_back(call("accept4", 5000 * 2.5, 1000));
    EXPECT_EQ(judge(busy).findings.front().id, "healthy");
    // Lookalike: connections waiting in only a few looks.
    auto rare = e;
    rare.sampled.listeners[0].waiting_samples = 5;
    EXPECT_EQ(judge(rare).findings.front().id, "healthy");
}

TEST(Verdict, QueueFullOnlyInBurstsIsOverflowNotACap) {
    auto e = base();
    e.sampled.listeners = {{{}, 8, 9, 30, 3}};  // full in 3 of 30 samples
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 40;
    e.sampled.conns.samples = 30;
    e.sampled.conns.inbound_min = 1;
    e.sampled.conns.inbound_max = 1;
    EXPECT_EQ(judge(e).findings.front().id, "accept-queue-overflow");
}

namespace {
// A destination seen in `samples` samples with `conns` connections, at least
// one awaiting a reply in `waiting` of them; `busy_share` of the connections
// awaiting one on average, and all of them at once in `all_busy` samples.
DestinationWait dest(uint32_t conns, uint64_t samples, uint64_t waiting, uint64_t all_busy,
                     double busy_share = 0.5) {
    DestinationWait d;
    d.remote.family = AF_INET;
    d.remote.addr = {127, 0, 0, 1};
    d.remote.port = 5432;
    d.conns_min = d.conns_max = conns;
    d.samples_seen = samples;
    d.samples_waiting = waiting;
    d.conns_sum = conns * samples;
    d.waiting_sum = static_cast<uint64_t>(busy_share * static_cast<double>(d.conns_sum));
    d.samples_all_busy = all_busy;
    return d;
}
}  // namespace

TEST(Verdict, WaitingOnADependencyMostOfTheTimeIsDownstreamBound) {
    auto e = base();
    e.sampled.conns.samples = 40;
    e.sampled.conns.destinations = {dest(16, 40, 36, 0)};
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "downstream-bound");
    EXPECT_EQ(v.findings.front().subject, "127.0.0.1:5432");
    // Waiting now and then is not being bound by it.
    e.sampled.conns.destinations = {dest(16, 40, 12, 0)};
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    // Nor is waiting while the process itself is out of CPU.
    e.sampled.conns.destinations = {dest(16, 40, 36, 0)};
    e.sampled.cpu_cores = 3.9;
    EXPECT_NE(judge(e).findings.front().id, "downstream-bound");
}

TEST(Verdict, AllPoolConnectionsBusyWithThreadsWaitingIsAnExhaustedPool) {
    auto e = base();
    e.sampled.threads_max = 16;
    e.sampled.samples = 40;
    e.sampled.futex_active = 40 * 8;  // 8 running threads parked on a futex at any time
    e.sampled.conns.samples = 40;
    e.sampled.conns.destinations = {dest(4, 40, 40, 38, 0.97)};
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "app-connection-limit");
    EXPECT_EQ(v.findings.front().subject, "pool of 4 to 127.0.0.1:5432");
    EXPECT_EQ(ids(v)[1], "downstream-bound");
    EXPECT_EQ(v.findings[1].severity, Severity::warn);
    // No thread waits for a slot: the pool is busy but not what holds requests back.
    e.sampled.futex_active = 0;
    EXPECT_EQ(judge(e).findings.front().id, "downstream-bound");
    // Threads wait on a futex, but the connections are idle half the time: a
    // pool with headroom, whatever the threads wait for.
    e.sampled.futex_active = 40 * 8;
    e.sampled.conns.destinations = {dest(4, 40, 40, 10, 0.5)};
    EXPECT_NE(judge(e).findings.front().subject, "pool of 4 to 127.0.0.1:5432");
    // A pool of 20 at its cap is seen with all 20 busy at once only now and then
    // (each is idle for the instant it is handed back), yet 90% of it is out.
    e.sampled.threads_max = 64;
    e.sampled.conns.destinations = {dest(20, 40, 40, 6, 0.9)};
    v = judge(e);
    EXPECT_EQ(v.findings.front().subject, "pool of 20 to 127.0.0.1:5432");
    bool has_share = false;
    for (const auto& x : v.findings.front().evidence)
        if (x.key == "pool_busy_percent") has_share = x.value > 89 && x.value < 91;
    EXPECT_TRUE(has_share);
}

// An event-loop proxy parks no thread for a slot: HAProxy with maxconn 10 on
// its server line, 100 clients, keeps 100 requests in progress and 10 out at
// the upstream; the other 90 wait inside it. The lookalikes are the same
// proxy without the cap (each request out at once: as many out as in
// progress) and one whose clients are no more than its connections.
TEST(Verdict, AnEventLoopHoldingRequestsBeyondABusyFixedPoolIsAnExhaustedPool) {
    auto e = base();
    e.comm = "haproxy";
    e.sampled.threads_max = 2;
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.inbound_min = c.inbound_max = 100;
    c.inbound_pending_sum = 40 * 100;
    c.samples_inbound_pending = 40;
    c.destinations = {dest(10, 40, 40, 30, 0.98)};
    auto v = judge(e);
    const auto& f = v.findings.front();
    ASSERT_EQ(f.id, "app-connection-limit") << f.title;
    EXPECT_EQ(f.subject, "pool of 10 to 127.0.0.1:5432");
    EXPECT_NE(f.title.find("90 requests waiting for a slot"), std::string::npos) << f.title;
    ASSERT_FALSE(f.fix.empty());
    EXPECT_NE(f.fix.front().find("maxconn on the server line"), std::string::npos);
    EXPECT_EQ(ids(v)[1], "downstream-bound");
    EXPECT_EQ(v.findings[1].severity, Severity::warn);

    auto uncapped = e;  // every request out at once
    uncapped.sampled.conns.destinations = {dest(100, 40, 40, 30, 0.98)};
    EXPECT_EQ(judge(uncapped).findings.front().id, "downstream-bound");
    auto matched = e;  // ten clients on ten connections
    matched.sampled.conns.inbound_min = matched.sampled.conns.inbound_max = 10;
    matched.sampled.conns.inbound_pending_sum = 40 * 10;
    EXPECT_EQ(judge(matched).findings.front().id, "downstream-bound");
}

TEST(Verdict, OnePeggedThreadIsCpuSaturatedWhileTheProcessLooksIdle) {
    auto e = base();
    e.sampled.cpus = 2;
    e.sampled.threads_max = 5;
    e.sampled.cpu_cores = 1.0;  // of 2 cores: the process as a whole has headroom
    e.sampled.busiest_threads = {{101, "loop", 0.97, 0.99}, {102, "pool", 0.01, 0.01}};
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "cpu-saturated");
    EXPECT_EQ(v.findings.front().subject, "thread 101 (loop)");
    // The same CPU spread over threads that each have idle time.
    e.sampled.busiest_threads = {{101, "w1", 0.5, 0.55}, {102, "w2", 0.5, 0.55}};
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    // Runnable but starved is not pegged by its own work.
    e.sampled.busiest_threads = {{101, "w1", 0.2, 0.99}};
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
}

TEST(Verdict, NagleHeldDataInManySamplesIsNagleDelayedAck) {
    auto e = base();
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.samples_nagle_held = 30;
    c.nagle_held_sum = 120;
    c.nagle_ports[8080] = 120;
    c.nagle_stall.record(35'000'000);
    c.rtt_us_min = 5;
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "nagle-delayed-ack");
    EXPECT_EQ(v.findings.front().subject, "port 8080");
    c.samples_nagle_held = 2;  // transient: not the pattern
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
}

TEST(Verdict, PollOverThousandsOfFdsWithTheCpuInTheKernelIsPollScaling) {
    auto e = base();
    e.sampled.cpu_cores = 0.9;
    e.sampled.sys_cores = 0.85;
    e.sampled.threads_max = 1;
    e.sampled.busiest_threads = {{7, "srv", 0.9, 0.95}};
    e.bpf->poll_calls = 1000;
    e.bpf->poll_nfds_sum = 1000ull * 10000;
    auto v = judge(e);
    EXPECT_EQ(ids(v), (std::vector<std::string>{"poll-scaling", "cpu-saturated"}));
    EXPECT_EQ(v.findings[1].severity, Severity::warn) << "the CPU burnt by the scans";
    e.bpf->poll_nfds_sum = 1000ull * 10;  // ten fds a call
    EXPECT_EQ(judge(e).findings.front().id, "cpu-saturated");
}

// Sampling mode: a loop that never sleeps is never caught inside poll() by
// /proc (a running thread's syscall file reads "running"); its on-CPU samples
// name the call and carry its fd count.
TEST(Verdict, PollScanSeenOnTheCpuWithoutBpf) {
    auto e = base(false);
    auto& s = e.sampled;
    s.cpu_cores = 0.97;
    s.sys_cores = 0.95;
    s.threads_max = 1;
    s.fds_max = 10026;
    s.busiest_threads = {{7, "srv", 0.97, 0.99}};
    auto& p = s.on_cpu;
    p.sampled = true;
    p.samples = 500;
    p.user = 20;
    p.kernel = 480;
    p.in_syscall = {{"poll", 440}, {"read", 20}};
    p.fd_scan_samples = 440;
    p.fd_scan_nfds_sum = 440ull * 10021;
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"poll-scaling", "cpu-saturated"}));
    EXPECT_DOUBLE_EQ(v.findings[0].basis, 500);
    EXPECT_EQ(v.findings[0].basis_unit.name(), "samples");
    EXPECT_DOUBLE_EQ(v.findings[0].confidence, weighed(0.85, 500))
        << "measured: the CPU's own samples";
    EXPECT_NEAR(value_of(v.findings[0], "poll_cpu_percent"), 88, 0.1);
    EXPECT_NEAR(value_of(v.findings[1], "on_cpu_syscall_1_percent"), 88, 0.1);
    EXPECT_NEAR(value_of(v.findings[1], "on_cpu_user_percent"), 4, 0.1);
    for (const auto& u : v.unobserved)
        EXPECT_EQ(u.find("while on the CPU"), std::string::npos) << u;

    // Lookalike: the same busy poll() over eleven fds (a loop that spins on a
    // few sockets): the CPU is in poll(), but no scan grows with connections.
    auto few = e;
    few.sampled.on_cpu.fd_scan_nfds_sum = 440ull * 11;
    EXPECT_EQ(judge(few).findings.front().id, "cpu-saturated");
    // Lookalike: 10,000 fds polled, but the kernel time goes elsewhere (the
    // loop's writes): the profile overrules the kernel's share of the CPU.
    auto elsewhere = e;
    elsewhere.sampled.on_cpu.in_syscall = {{"poll", 60}, {"write", 400}};
    elsewhere.sampled.on_cpu.fd_scan_samples = 60;
    elsewhere.sampled.on_cpu.fd_scan_nfds_sum = 60ull * 10021;
    auto ew = ids(judge(elsewhere));
    EXPECT_EQ(std::count(ew.begin(), ew.end(), "poll-scaling"), 0);
    // Too few samples to read a share from: the kernel's share decides, as before.
    auto sparse = e;
    sparse.sampled.on_cpu.samples = 20;
    sparse.sampled.on_cpu.in_syscall = {{"poll", 5}};
    sparse.sampled.on_cpu.fd_scan_samples = 5;
    sparse.sampled.on_cpu.fd_scan_nfds_sum = 5ull * 10021;
    EXPECT_EQ(judge(sparse).findings.front().id, "poll-scaling");
    EXPECT_DOUBLE_EQ(judge(sparse).findings.front().confidence, weighed(0.7, 11))
        << "indirect, from the 11 looks";
}

TEST(Vocabulary, EveryIdIsDeclaredOnceWithARank) {
    std::set<std::string_view> names;
    for (const auto& b : bottlenecks()) {
        EXPECT_TRUE(names.insert(b.name).second) << b.name;
        EXPECT_FALSE(b.meaning.empty()) << b.name;
        EXPECT_EQ(bottleneck_from(b.name), b.id);
    }
    for (auto id : {"downstream-bound", "nagle-delayed-ack", "poll-scaling", "healthy"})
        EXPECT_TRUE(bottleneck_from(id).has_value()) << id;
    // Causes outrank the symptoms they bring.
    EXPECT_GT(info(Bottleneck::fd_limit).rank, info(Bottleneck::accept_queue_overflow).rank);
    EXPECT_GT(info(Bottleneck::context_switch_storm).rank, info(Bottleneck::cpu_saturated).rank);
    EXPECT_GT(info(Bottleneck::poll_scaling).rank, info(Bottleneck::cpu_saturated).rank);
    EXPECT_GT(info(Bottleneck::app_connection_limit).rank, info(Bottleneck::downstream_bound).rank);
}

TEST(Verdict, ThreadStormOutranksTheCpuItBurns) {
    auto e = base();
    e.sampled.cpus = 2;
    e.sampled.threads_max = 1001;
    e.sampled.connections_max = 1000;
    e.sampled.cpu_cores = 1.9;
    e.bpf->sched.voluntary = 800'000;
    e.bpf->sched.involuntary = 200'000;
    e.bpf->sched.runq.slots[21] = 100;  // ~2-4 ms
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"context-switch-storm", "cpu-saturated"}));
    EXPECT_EQ(v.findings[1].severity, Severity::warn);
    EXPECT_DOUBLE_EQ(v.findings[0].confidence, weighed(0.9, 11)) << "corroborated, 11 looks";
}

TEST(Verdict, OneBusyThreadIsCpuSaturatedEvenWithIdleCores) {
    auto e = base();
    e.sampled.threads_max = 1;
    e.sampled.cpu_cores = 0.99;
    e.sampled.busiest_threads = {{7, "python3", 0.99, 1.0}};
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "cpu-saturated");
    // A single-threaded event loop (asyncio) is named as the thread, with the
    // thread's fixes, when the host has cores it cannot use ...
    EXPECT_EQ(v.findings.front().subject, "thread 7 (python3)");
    EXPECT_NE(v.findings.front().fix.front().find("off the loop"), std::string::npos);
    // ... and on a one-core host it is simply the machine's CPU.
    e.sampled.cpus = 1;
    EXPECT_EQ(judge(e).findings.front().subject, "");
    e.sampled.cpus = 4;
    e.sampled.busiest_threads.clear();
    e.sampled.cpu_cores = 0.5;
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
}

TEST(Verdict, SleepsAndFsyncsAreOffCpuBlockingOnlyWhenTheCpuIsIdle) {
    auto e = base();
    e.bpf->syscalls = {call("nanosleep", 2000, 6'000'000'000), call("fdatasync", 2000, 500'000'000),
                       call("epoll_wait", 2000, 1'000'000'000)};
    EXPECT_EQ(judge(e).findings.front().id, "off-cpu-blocking");
    e.sampled.threads_max = 1;
    e.sampled.cpu_cores = 0.95;
    EXPECT_EQ(judge(e).findings.front().id, "cpu-saturated");
}

TEST(Verdict, IdleWorkersOnACondvarAreNotLockContention) {
    auto e = base();
    e.sampled.threads_max = 16;
    // Threads seen waiting on a held lock: 3 at once on average.
    e.sampled.futex_active = e.sampled.futex_contended = 33;
    // Long futex waits, but few of them: an idle pool, not a fight over a lock.
    e.bpf->syscalls = {call("futex", 100, 9'000'000'000)};
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    e.bpf->syscalls = {call("futex", 50'000, 9'000'000'000)};
    EXPECT_EQ(judge(e).findings.front().id, "lock-contention");
    // The same futex time and rate from a managed runtime's parked pool: each
    // worker waits on a condvar of its own, none on a held lock (a JVM at 0.27
    // cores made 14,567 futex calls a second and was called CRIT lock-contention).
    auto parked = e;
    parked.sampled.futex_contended = 0;
    EXPECT_EQ(judge(parked).findings.front().id, "healthy");
    // Contention seen now and then, under one thread at a time on average.
    parked.sampled.futex_contended = 5;
    EXPECT_EQ(judge(parked).findings.front().id, "healthy");
    // 400 hand-offs a second is a parked pool's pace on a CPU of its own, and a
    // contended lock's when the hypervisor steals 70% of every thread's time.
    e.bpf->syscalls = {call("futex", 1000, 9'000'000'000)};
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    e.sampled.steal_share = 0.7;
    EXPECT_EQ(judge(e).findings.front().id, "lock-contention");
}

// A lock that guards computation is busy at most the process's CPU demand:
// at 0.3 cores its waits add latency but cannot be what caps the process. At
// a core of demand, or with holders that sleep, it can be the cap and
// outranks the overflow it may cause - unless the overflow holds up more
// connections: each overflow stalls a client a second for its SYN retransmit,
// each futex waiter one request (Python's GIL behind http.server's backlog of 5).
TEST(Verdict, ALockOutranksAnOverflowOnlyWhenItCanCapAndStallsMore) {
    auto e = base();
    e.sampled.threads_max = 8;
    e.sampled.listeners = {{{}, 5, 6}};
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 2;
    e.bpf->syscalls = {call("futex", 50'000, 9'000'000'000)};  // 3.6 threads waiting at once
    e.sampled.futex_active = e.sampled.futex_contended = 33;   // seen on a held lock
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"accept-queue-overflow", "lock-contention"}));
    EXPECT_EQ(v.findings[1].severity, Severity::warn) << "0.3 cores: free most of the time";
    auto busy = e;
    busy.sampled.cpu_cores = 0.7;
    busy.sampled.runq_wait_share = 0.3;
    EXPECT_EQ(judge(busy).findings.front().id, "lock-contention");
    auto sleepy_holder = e;
    sleepy_holder.bpf->syscalls.push_back(call("nanosleep", 100, 1'500'000'000));
    EXPECT_EQ(judge(sleepy_holder).findings.front().id, "lock-contention");
    // 100 overflows a second stall 100 clients at once; the lock holds up 3.6.
    busy.sampled.counter_rates["TcpExt.ListenOverflows"] = 100;
    auto outweighed = judge(busy);
    ASSERT_EQ(ids(outweighed),
              (std::vector<std::string>{"accept-queue-overflow", "lock-contention"}));
    EXPECT_EQ(outweighed.findings[1].severity, Severity::warn);
    EXPECT_NE(outweighed.findings[1].why.find("SYN retransmit"), std::string::npos);
}

TEST(Verdict, PortsNearTheRangeToOneDestinationAreExhaustion) {
    auto e = base();
    e.sampled.port_range = 100;
    DestinationUse d;
    d.sockets = 97;
    d.time_wait = 95;
    e.sampled.busiest_destination = d;
    e.bpf->syscalls = {call("connect", 1000, 900'000'000, {{EADDRNOTAVAIL, 700}})};
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "ephemeral-port-exhaustion");
    // Caught: the failures themselves, 1,000 traced calls behind them.
    EXPECT_DOUBLE_EQ(v.findings.front().confidence, weighed(0.95, 1000));
    EXPECT_EQ(v.findings.front().basis_unit.name(), "events");
    EXPECT_EQ(v.findings.front().fix.size(), 4u);
    // nginx closes idle upstream connections beyond its upstream keepalive:
    // the fix names that setting.
    e.comm = "nginx";
    auto fixes = judge(e).findings.front().fix;
    ASSERT_EQ(fixes.size(), 5u);
    EXPECT_EQ(fixes[1].rfind("nginx: keepalive N in the upstream block", 0), 0u) << fixes[1];
}

// Segments closing a small window, and `reads` reads of `bytes_per_read` each.
void close_windows(ProbeEvidence& e, uint64_t reads, uint64_t bytes_per_read) {
    e.bpf->tcp.segments_in = 10'000;
    e.bpf->tcp.segments_closing_window = 6'000;
    e.bpf->syscalls = {call("read", reads, reads * 5'000)};
    e.bpf->syscalls[0].bytes = reads * bytes_per_read;
}

// `cause` first, accounting for `symptom`: a WARN whose why names the cause.
void expect_consequence(const Verdict& v, const std::string& cause, const std::string& symptom) {
    ASSERT_EQ(v.findings.front().id, cause);
    EXPECT_EQ(v.findings.front().accounts_for, std::vector<std::string>{symptom});
    auto it = std::find_if(v.findings.begin(), v.findings.end(),
                           [&](const Finding& f) { return f.id == symptom; });
    ASSERT_NE(it, v.findings.end());
    EXPECT_EQ(it->severity, Severity::warn);
    EXPECT_EQ(it->why.rfind("A consequence of " + cause, 0), 0u) << it->why;
}

TEST(Verdict, TinyWindowsAndTinyReadsAreSocketBufferLimited) {
    auto e = base();
    close_windows(e, 20'000, 300);
    EXPECT_EQ(judge(e).findings.front().id, "socket-buffer-limited");
}

// Closed windows on small buffers, with the reader's thread on the CPU all the
// time: when its CPU goes into its own code and each read takes the buffer's
// worth, the reader is slower than its senders on any buffer - cpu-saturated,
// the windows its consequence. When the CPU goes into the kernel's tiny reads,
// the small buffer is what costs it, and stays the verdict.
TEST(Verdict, ClosedWindowsBehindAReaderBusyInItsOwnCodeAreTheCpus) {
    auto e = base();
    close_windows(e, 2'000, 8192);
    e.sampled.cpu_cores = 0.99;
    e.sampled.sys_cores = 0.1;
    e.sampled.busiest_threads = {{101, "reader", 0.97, 0.99}};
    expect_consequence(judge(e), "cpu-saturated", "socket-buffer-limited");

    auto tiny_reads = e;  // 300 bytes a read: the buffer makes the reads
    close_windows(tiny_reads, 20'000, 300);
    EXPECT_EQ(judge(tiny_reads).findings.front().id, "socket-buffer-limited");

    auto in_the_kernel = e;  // most of its CPU spent in the kernel
    in_the_kernel.sampled.sys_cores = 0.7;
    EXPECT_EQ(judge(in_the_kernel).findings.front().id, "socket-buffer-limited");
}

TEST(Verdict, HealthyWhenNothingStandsOutAndSaysWhenTheTargetWasIdle) {
    auto e = base();
    e.bpf->syscalls = {call("epoll_wait", 1000, 2'000'000'000), call("read", 1000, 1'000'000)};
    auto busy = judge(e);
    ASSERT_EQ(ids(busy), std::vector<std::string>{"healthy"});
    EXPECT_DOUBLE_EQ(busy.findings[0].confidence, weighed(0.8, 11));
    auto idle_e = base();
    idle_e.sampled.cpu_cores = 0;
    auto idle = judge(idle_e);
    EXPECT_EQ(idle.findings[0].id, "healthy");
    EXPECT_NE(idle.findings[0].title.find("idle"), std::string::npos);
    EXPECT_LT(idle.findings[0].confidence, 0.5);
}

TEST(Verdict, SamplingModeSaysWhatItCannotSee) {
    auto e = base(false);
    e.sampled.nofile_soft = 128;
    e.sampled.fds_max = 128;
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "fd-limit");
    EXPECT_LT(v.findings.front().confidence, 0.9);  // no EMFILE seen, only the count
    ASSERT_FALSE(v.unobserved.empty());
    EXPECT_NE(v.unobserved[0].find("EMFILE"), std::string::npos);
}

TEST(ProbeParsers, TaskStateAndSyscall) {
    EXPECT_EQ(parse_task_state("123 (a b) c) S 1 2 3"), 'S');
    EXPECT_EQ(parse_task_state("123 (worker) D 1"), 'D');
    EXPECT_EQ(parse_task_state("garbage"), '?');
    EXPECT_EQ(parse_task_syscall("202 0x7f 0x80 0x0 0x0 0x0 0x0 0x7ffc 0x7f12\n"), 202);
    EXPECT_EQ(parse_task_syscall("running\n"), std::nullopt);
    EXPECT_EQ(syscall_name(syscall_number("futex")), "futex");
    EXPECT_EQ(syscall_name(100000), "syscall_100000");
}

// Every syscall has its name, from the kernel headers: these three were
// printed as syscall_21(), syscall_89() and syscall_262() by a hand-made list.
TEST(ProbeParsers, EverySyscallHasItsName) {
#ifdef SYS_access
    EXPECT_EQ(syscall_name(SYS_access), "access");
    EXPECT_EQ(syscall_name(SYS_readlink), "readlink");
#endif
    EXPECT_EQ(syscall_name(SYS_newfstatat), "newfstatat");
    EXPECT_EQ(syscall_name(SYS_flock), "flock");
    EXPECT_EQ(syscall_name(SYS_io_uring_enter), "io_uring_enter");
    EXPECT_EQ(syscall_number("flock"), SYS_flock);
    EXPECT_EQ(syscall_number("no_such_call"), -1);
    for (auto list : {std::span<const std::string_view>(syscalls::kBlocking),
                      std::span<const std::string_view>(syscalls::kSocketReads),
                      std::span<const std::string_view>(syscalls::kWorkWaits)})
        for (auto name : list)
            EXPECT_GE(syscall_number(name), 0) << name << " is a syscall here";
}

TEST(ProbeReport, Log2HistogramPercentilesAndBars) {
    Log2Hist h;
    h.slots[10] = 90;  // [1024, 2048) ns
    h.slots[20] = 10;  // [~1 ms, ~2 ms)
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.percentile_ns(0.5), 2048u);
    EXPECT_EQ(h.percentile_ns(0.99), uint64_t{1} << 21);
    auto text = render_log2_hist(h, "read() latency");
    EXPECT_NE(text.find("p99 < 2.1ms"), std::string::npos) << text;
    EXPECT_NE(text.find("1.0us -> 2.0us"), std::string::npos) << text;
    EXPECT_NE(text.find("|****************************************|"), std::string::npos);
    EXPECT_EQ(render_log2_hist(Log2Hist{}, "empty"), "");
    // The first slot holds waits of 0 as well: it starts at 0, not 1 ns.
    Log2Hist zeros;
    zeros.slots[0] = 5;
    EXPECT_NE(render_log2_hist(zeros, "run-queue latency").find("       0 -> 2ns"),
              std::string::npos)
        << render_log2_hist(zeros, "run-queue latency");
}

TEST(ProbeReport, JsonCarriesVerdictFindingsAndHistograms) {
    auto e = base();
    e.bpf->attach = {{.group = ProbeGroup::sched},
                     {.group = ProbeGroup::syscalls,
                      .how = AttachHow::tracepoint,
                      .status = AttachStatus::failed,
                      .error = "EPERM: Operation not permitted"}};
    e.bpf->syscalls = {call("accept4", 10, 10'000, {{EMFILE, 3}})};
    e.sampled.nofile_soft = 128;
    auto doc = nlohmann::json::parse(render_probe_json(e, judge(e)));
    EXPECT_EQ(doc["schema"], "c10k-doctor/probe");
    EXPECT_EQ(doc["verdict"]["id"], "fd-limit");
    EXPECT_EQ(doc["syscalls"][0]["errnos"]["EMFILE"], 3);
    EXPECT_EQ(doc["schema_version"], 2);
    ASSERT_EQ(doc["attach"].size(), 2u);
    EXPECT_EQ(doc["attach"][0]["group"], "sched");
    EXPECT_EQ(doc["attach"][0]["status"], "attached");
    EXPECT_FALSE(doc["attach"][0].contains("error"));
    EXPECT_EQ(doc["attach"][1]["how"], "tracepoint");
    EXPECT_EQ(doc["attach"][1]["status"], "failed");
    EXPECT_EQ(doc["attach"][1]["error"], "EPERM: Operation not permitted");
    EXPECT_TRUE(doc["findings"][0].contains("confidence"));
}

TEST(ProbeBudget, SyscallTracingStopsWhenTheHostHasPaidItsShare) {
    // A 1 s interval: the budget is 0.25% of one CPU-second = 2.5 ms of tracing
    // cost, i.e. 6,250 host syscalls at 400 ns each, however many CPUs.
    EXPECT_FALSE(syscall_budget_spent({6'200, 0}, 0.5, 1.0));
    EXPECT_TRUE(syscall_budget_spent({6'260, 0}, 0.5, 1.0));
    EXPECT_TRUE(syscall_budget_spent({12'510, 0}, 1.0, 2.0));  // a 2 s interval: twice
    EXPECT_FALSE(syscall_budget_spent({12'400, 0}, 1.0, 2.0));
    // Never less than the minimum share of the interval, however busy the host,
    // while the target's own calls traced are few ...
    EXPECT_FALSE(syscall_budget_spent({10'000'000, 0}, 0.01, 1.0));
    EXPECT_FALSE(syscall_budget_spent({10'000'000, kEnoughTargetSyscalls - 1}, 0.01, 1.0));
    EXPECT_TRUE(syscall_budget_spent({10'000'000, 0}, 0.02, 1.0));
    // ... but a target that gave enough evidence is traced no longer than the
    // budget pays for, however short that is.
    EXPECT_TRUE(syscall_budget_spent({10'000'000, kEnoughTargetSyscalls}, 0.001, 1.0));
    EXPECT_FALSE(syscall_budget_spent({6'200, kEnoughTargetSyscalls}, 0.001, 1.0));
    // A quiet host traces the whole interval.
    EXPECT_FALSE(syscall_budget_spent({2'000, 0}, 0.99, 1.0));
    // What attaching cost comes out of the budget: 1 ms of patching leaves
    // 1.5 ms of tracing (3,750 syscalls) in a 1 s cycle, 4 ms in a 2 s one.
    EXPECT_FALSE(syscall_budget_spent({3'700, 0}, 0.5, 1.0, 0.001));
    EXPECT_TRUE(syscall_budget_spent({3'760, 0}, 0.5, 1.0, 0.001));
    EXPECT_FALSE(syscall_budget_spent({9'900, 0}, 0.5, 2.0, 0.001));
    EXPECT_TRUE(syscall_budget_spent({10'010, 0}, 0.5, 2.0, 0.001));
}

TEST(ProbeBudget, TracingCyclesAreSpacedSoAttachingIsAThirdOfTheBudget) {
    // A 1 s interval's budget is 2.5 ms: attaching may take 0.83 ms of it.
    EXPECT_EQ(syscall_cycle_intervals(0, 1.0), 1u);       // not measured yet
    EXPECT_EQ(syscall_cycle_intervals(0.0003, 1.0), 1u);  // bare metal: every interval
    EXPECT_EQ(syscall_cycle_intervals(0.0008, 1.0), 1u);
    EXPECT_EQ(syscall_cycle_intervals(0.0016, 1.0), 2u);
    EXPECT_EQ(syscall_cycle_intervals(0.0032, 1.0), 4u);  // measured on the project's VMs
    EXPECT_EQ(syscall_cycle_intervals(0.0016, 2.0), 1u);  // a 2 s interval has twice the budget
    EXPECT_EQ(syscall_cycle_intervals(0.5, 1.0), 5u);     // never longer than 5 s
    EXPECT_EQ(syscall_cycle_intervals(0.5, 2.0), 2u);
    EXPECT_EQ(syscall_cycle_intervals(0.5, 10.0), 1u);
    // --interval 100ms: the same 3.2 ms of patching spans 3.9 s of them.
    EXPECT_EQ(syscall_cycle_intervals(0.0032, 0.1), 39u);
}

TEST(ProbeBudget, LooksFollowTheirCostBetweenTheFloorAndTwiceTheBudget) {
    // BPF mode's budget (1% of a core), 0.2 s at the fastest, the floor 5 a second.
    auto period = [](double cost) {
        return fast_sample_period(cost, kFastSampleBudgetBpf, kFastSampleMinPeriodBpf, 0.2);
    };
    EXPECT_DOUBLE_EQ(period(0.24e-3), 0.2);  // cheap: as often as allowed
    EXPECT_DOUBLE_EQ(period(2.2e-3), 0.2);   // over the budget: held at the floor...
    EXPECT_DOUBLE_EQ(period(4e-3), 0.2);     // ... up to twice the budget
    EXPECT_DOUBLE_EQ(period(15e-3), 0.75);   // past it, twice the budget decides
    // Without a floor of its own (a target of many threads), the budget decides.
    EXPECT_DOUBLE_EQ(fast_sample_period(3e-3, kFastSampleBudgetBpf, kFastSampleMinPeriodBpf, 1.0),
                     0.3);
    // Whatever the cost, the looks spend at most the larger of twice the
    // budget and what the floor's rate costs.
    for (double cost : {0.1e-3, 1e-3, 3e-3, 10e-3, 50e-3}) {
        double spend = cost / period(cost);
        EXPECT_LE(spend, std::max(kLookFloorOverspend * kFastSampleBudgetBpf,
                                  cost / kFastSampleMinPeriodBpf) +
                             1e-12)
            << cost;
    }
    // A huge target's floor is one look an interval, which each snapshot
    // makes anyway: a dear look waits at least that long.
    EXPECT_GE(fast_sample_period(0.2, kFastSampleBudgetManyThreads, 0.02, 1.0), 1.0);
}

// A container's CPU limit: the process gets 0.4 of a core, the host idles.
TEST(Verdict, ACgroupThrottledMostPeriodsIsCpuSaturatedByItsLimit) {
    auto e = base();
    e.sampled.cpus = 2;
    e.sampled.threads_max = 1;
    e.sampled.cpu_cores = 0.39;
    e.sampled.host_busy = 0.2;
    e.sampled.cpu_limit_cores = 0.4;
    e.sampled.cpu_limit_cgroup = "/docker/abc";
    e.sampled.throttled_share = 0.97;
    e.sampled.throttled_s_per_s = 0.6;
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "cpu-saturated");
    EXPECT_EQ(v.findings.front().subject, "cgroup /docker/abc (CPU limit 0.40 cores)");
    EXPECT_NE(v.findings.front().fix.front().find("--cpus"), std::string::npos);
    // Lookalike: the same limit, rarely reached by a process that mostly waits.
    e.sampled.cpu_cores = 0.05;
    e.sampled.throttled_share = 0.02;
    e.sampled.throttled_s_per_s = 0.001;
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    // And without a limit, 0.39 of a core for one thread is not saturation.
    e.sampled.cpu_limit_cores = 0;
    e.sampled.cpu_cores = 0.39;
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
}

// A probe group that did not attach is named in what the window could not see.
TEST(Verdict, AGroupThatDidNotAttachIsUnobserved) {
    auto e = base();
    e.bpf->syscall_duty = 1.0;
    e.bpf->attach = {{.group = ProbeGroup::sched}, {.group = ProbeGroup::syscalls}};
    EXPECT_TRUE(judge(e).unobserved.empty());
    e.bpf->attach.push_back({.group = ProbeGroup::tcp_probe,
                             .status = AttachStatus::failed,
                             .error = "EINVAL: Invalid argument"});
    e.bpf->attach.push_back({.group = ProbeGroup::tcp,
                             .status = AttachStatus::partial,
                             .error = "tcp_send_reset (ENOENT: No such file or directory)"});
    auto v = judge(e);
    ASSERT_EQ(v.unobserved.size(), 2u);
    EXPECT_NE(v.unobserved[0].find("tcp_probe shows: it did not attach (EINVAL"), std::string::npos)
        << v.unobserved[0];
    EXPECT_NE(v.unobserved[1].find("part of it did not attach (tcp_send_reset"), std::string::npos)
        << v.unobserved[1];
    EXPECT_EQ(describe(e.bpf->attach[2]), "tcp_probe (EINVAL: Invalid argument)");
    EXPECT_EQ(
        describe(
            {.group = ProbeGroup::syscalls, .how = AttachHow::tracepoint, .duty_cycled = true}),
        "syscalls: tracepoint, duty-cycled");
    // The text lists what attached, then on a line of its own what did not.
    auto text = render_probe_text(e, v, false);
    auto attached = text.find("attached: sched: raw_tp; syscalls: raw_tp; tcp: raw_tp (not");
    auto missing = text.find("\nnot attached: tcp_probe (EINVAL: Invalid argument)\n");
    EXPECT_NE(attached, std::string::npos) << text;
    EXPECT_NE(missing, std::string::npos) << text;
    EXPECT_LT(attached, missing);
}

// Each duty cycle attaches the syscall probes again: the first failure and the
// attach type given up on stay in the report, whatever a later cycle did.
TEST(Verdict, AGroupAttachedAgainKeepsItsFirstFailureAndEveryFallback) {
    GroupAttach first{.group = ProbeGroup::syscalls,
                      .how = AttachHow::tracepoint,
                      .status = AttachStatus::failed,
                      .error = "EBUSY: Device or resource busy",
                      .fallbacks = {"raw_tp (EPERM: Operation not permitted)"}};
    GroupAttach later{.group = ProbeGroup::syscalls,
                      .how = AttachHow::tracepoint,
                      .fallbacks = {"raw_tp (EPERM: Operation not permitted)"}};
    merge_attach(first, later);
    EXPECT_EQ(first.error, "EBUSY: Device or resource busy");
    EXPECT_EQ(first.status, AttachStatus::partial) << "failed once, attached later";
    ASSERT_EQ(first.fallbacks.size(), 1u);
    EXPECT_EQ(describe(first),
              "syscalls: tracepoint after raw_tp (EPERM: Operation not permitted) (not attached: "
              "EBUSY: Device or resource busy)");
    auto e = base();
    e.bpf->attach = {first};
    auto doc = nlohmann::json::parse(render_probe_json(e, judge(e)));
    EXPECT_EQ(doc["attach"][0]["fallbacks"][0], "raw_tp (EPERM: Operation not permitted)");
}

// Starved: the host's cores full of others' work and the process's threads
// waiting for a CPU longer than they run. Told from its own saturation (its
// demand fills its usable cores) and from an idle process on a busy host.
TEST(Verdict, AProcessWaitingForCoresOthersFillIsCpuSaturatedByTheHost) {
    auto e = base();
    e.sampled.cpus = 2;
    e.sampled.threads_max = 1;
    e.sampled.cpu_cores = 0.25;
    e.sampled.runq_wait_share = 0.7;
    e.sampled.host_busy = 1.0;
    e.sampled.busiest_threads = {{101, "server", 0.25, 0.95}};
    e.sampled.host_cpu_users = {{"batch", 3, 1.7}, {"server", 1, 0.25}};
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "cpu-saturated");
    EXPECT_EQ(v.findings.front().subject, "host CPU (2 cores)");
    EXPECT_NE(v.findings.front().why.find("batch x3 1.70 cores"), std::string::npos)
        << v.findings.front().why;
    EXPECT_NE(v.findings.front().fix.front().find("other load"), std::string::npos);
    // Its own sibling processes filling the cores (a process per connection).
    e.sampled.host_cpu_users = {{"server", 9, 1.9}};
    EXPECT_NE(judge(e).findings.front().fix.front().find("own processes"), std::string::npos);
    // Lookalike: the same host, the process barely running and barely waiting.
    auto idle = e;
    idle.sampled.cpu_cores = 0.02;
    idle.sampled.runq_wait_share = 0.02;
    idle.sampled.busiest_threads = {{101, "server", 0.02, 0.04}};
    EXPECT_EQ(judge(idle).findings.front().id, "healthy");
    // Lookalike: waiting less than it runs: contended, not starved.
    auto contended = e;
    contended.sampled.runq_wait_share = 0.2;
    EXPECT_EQ(judge(contended).findings.front().id, "healthy");
    // Lookalike: the cores busy only with what a hypervisor stole: steal is
    // run time of another guest, and the guest's own CPUs are half idle.
    auto stolen = e;
    stolen.sampled.steal_share = 0.3;
    stolen.sampled.host_busy = 0.7;
    EXPECT_EQ(judge(stolen).findings.front().id, "healthy");
}

TEST(CpuUsers, SummedByCommandBetweenTwoReads) {
    std::vector<ProcessTicks> before = {{10, 1, "postgres", 100},
                                        {11, 10, "postgres", 50},
                                        {12, 1, "nginx", 7},
                                        {13, 1, "idle", 3}};
    std::vector<ProcessTicks> after = {
        {10, 1, "postgres", 300}, {11, 10, "postgres", 150},
        {12, 1, "nginx", 57},     {13, 1, "idle", 3},  // used nothing: not listed
        {14, 10, "batch", 20},                         // born in the window: all of it
        {15, 1, "recycled", 5}};
    before.push_back({15, 1, "old", 900});  // a PID reused by a new process: counted from zero
    auto users = top_cpu_users(before, after, 2.0, 100.0, 3);
    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users[0].comm, "postgres");
    EXPECT_EQ(users[0].processes, 2u);
    EXPECT_DOUBLE_EQ(users[0].cores, 1.5);  // 300 ticks / 100 Hz / 2 s
    EXPECT_EQ(users[1].comm, "nginx");
    EXPECT_DOUBLE_EQ(users[1].cores, 0.25);
    EXPECT_EQ(users[2].comm, "batch");
    EXPECT_DOUBLE_EQ(users[2].cores, 0.1);
    EXPECT_TRUE(top_cpu_users(before, after, 0, 100.0, 3).empty());
    // A dependency's processes: the listener's holder (10) and what it forked.
    double dep = cores_of(before, after, 2.0, 100.0,
                          [](const ProcessTicks& x) { return x.pid == 10 || x.ppid == 10; });
    EXPECT_DOUBLE_EQ(dep, 1.6);  // (200 + 100 + 20) ticks / 100 Hz / 2 s
}

// An application waiting on its database while the database's processes burn
// the host's cores: its threads wait for a CPU too, but the cause is the
// dependency: downstream-bound naming it, host CPU a consequence. Lookalike:
// the cores held by someone else (a batch job) - then the starvation is the host's.
TEST(Verdict, ADependencyHoldingTheHostsCpuIsDownstreamBound) {
    for (bool with_bpf : {false, true}) {
        auto e = base(with_bpf);
        e.sampled.cpus = 2;
        e.sampled.threads_max = 16;
        e.sampled.cpu_cores = 0.03;
        e.sampled.runq_wait_share = 0.3;
        e.sampled.host_busy = 1.0;
        e.sampled.host_cpu_users = {{"postgres", 9, 1.9}, {"app", 1, 0.03}};
        auto& c = e.sampled.conns;
        c.samples = 40;
        DestinationWait d;
        d.remote = Endpoint{AF_INET, {127, 0, 0, 1}, 5432};
        d.samples_seen = 40;
        d.samples_waiting = 40;
        d.conns_min = d.conns_max = 16;
        d.conns_sum = 40 * 16;
        d.waiting_sum = 40 * 15;
        d.server_pid = 700;
        d.server_comm = "postgres";
        d.server_cores = 1.9;
        c.destinations = {d};
        auto v = judge(e);
        ASSERT_EQ(v.findings.front().id, "downstream-bound") << with_bpf;
        EXPECT_EQ(v.findings.front().subject, "127.0.0.1:5432");
        EXPECT_NE(v.findings.front().why.find("CPU-bound"), std::string::npos);
        auto host = std::find_if(v.findings.begin(), v.findings.end(),
                                 [](const Finding& f) { return f.id == "cpu-saturated"; });
        ASSERT_NE(host, v.findings.end());
        EXPECT_EQ(host->severity, Severity::warn);
        EXPECT_NE(host->why.find("A consequence of downstream-bound"), std::string::npos);
        // Lookalike: the same waits, the cores held by a batch job beside them.
        auto batch = e;
        batch.sampled.conns.destinations[0].server_cores = 0.1;
        batch.sampled.host_cpu_users = {{"batch", 3, 1.8}, {"postgres", 9, 0.1}};
        EXPECT_EQ(judge(batch).findings.front().id, "cpu-saturated") << with_bpf;
        EXPECT_EQ(judge(batch).findings.front().subject, "host CPU (2 cores)");
    }
}

// A cap kept by eviction: the process ends the connections it accepts itself,
// many while their peers still used them, holding a steady count.
TEST(Verdict, EndingConnectionsStillInUseAtASteadyCountIsACap) {
    auto e = base();
    e.sampled.seconds = 4;
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.inbound_min = 47;
    c.inbound_max = 62;
    c.inbound_max_but_one = 60;
    c.inbound_sum = 40 * 56;
    e.bpf->tcp.established = 80000;
    e.bpf->tcp.closed_first_local = 80000;
    e.bpf->tcp.resets_sent = 48000;
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "app-connection-limit");
    EXPECT_EQ(v.findings.front().subject, "connection cap (about 62 held)");
    // Lookalike: the same churn ended cleanly (close after each reply, keep-alive timeouts).
    auto clean = e;
    clean.bpf->tcp.resets_sent = 100;
    EXPECT_EQ(judge(clean).findings.front().id, "healthy");
    // Lookalike: aborts, but a count that follows the load (a server that ends
    // every connection after one reply holds few, now and then many).
    auto follows = e;
    follows.sampled.conns.inbound_min = 0;
    follows.sampled.conns.inbound_sum = 40 * 12;
    EXPECT_EQ(judge(follows).findings.front().id, "healthy");
    // Lookalike: the peers end the connections.
    auto peers = e;
    peers.bpf->tcp.closed_first_local = 1000;
    peers.bpf->tcp.closed_first_peer = 79000;
    EXPECT_EQ(judge(peers).findings.front().id, "healthy");
}

// A server that closes every connection itself with tcp_max_tw_buckets
// reached: each overflow destroys a FIN_WAIT2 socket and the peer's late FIN
// is answered with a reset. Those resets are the overflow's, and the steady
// count is the load generator's closed loop (40 connections): no cap.
TEST(Verdict, ResetsATimeWaitOverflowExplainsAreNotEvictions) {
    auto e = base();
    e.sampled.seconds = 10;
    auto& c = e.sampled.conns;
    c.samples = 100;
    c.inbound_min = 35;
    c.inbound_max = 41;
    c.inbound_max_but_one = 40;
    c.inbound_sum = 100 * 39;
    e.bpf->tcp.established = 19000;
    e.bpf->tcp.closed_first_local = 19000;
    e.bpf->tcp.resets_sent = 12550;
    e.sampled.counter_rates["TcpExt.TCPTimeWaitOverflow"] = 1254;
    e.sampled.counter_rates["Tcp.OutRsts"] = 1255;
    auto v = judge(e);
    EXPECT_EQ(v.findings.front().id, "time-wait-overflow") << v.findings.front().title;
    auto named = ids(v);
    EXPECT_EQ(std::count(named.begin(), named.end(), "app-connection-limit"), 0);
    const auto& tw = v.findings.front();
    auto explained = std::find_if(tw.evidence.begin(), tw.evidence.end(), [](const Evidence& x) {
        return x.key == "resets_explained_per_second";
    });
    ASSERT_NE(explained, tw.evidence.end());
    EXPECT_EQ(explained->value, 1254);
    // Without BPF, from the namespace's counters alone: the same answer.
    auto sampled = e;
    sampled.bpf.reset();
    sampled.mode = "sample";
    sampled.sampled.conns.accepted = 100 * 30;
    sampled.sampled.counter_rates["Tcp.PassiveOpens"] = 1900;
    EXPECT_EQ(judge(sampled).findings.front().id, "time-wait-overflow");
    // Evictions on top of the overflow are still evictions: aborts well beyond it.
    auto evicting = e;
    evicting.bpf->tcp.resets_sent = 12550 + 15000;
    EXPECT_EQ(judge(evicting).findings.front().id, "app-connection-limit");
}

// Without BPF the namespace's counters stand in for the target's: passive
// opens for its accepts, aborts for the ends it began; the target itself must
// be seen churning (new connections on its ports in the average look).
TEST(Verdict, EvictingCapWithoutBpfFromTheNamespacesCounters) {
    auto e = base(false);
    e.sampled.seconds = 4;
    auto& c = e.sampled.conns;
    c.samples = 80;
    c.inbound_min = 45;
    c.inbound_max = 62;
    c.inbound_max_but_one = 60;
    c.inbound_sum = 80 * 56;
    c.accepted = 80 * 40;  // each look found about 40 it had not seen
    e.sampled.counter_rates["Tcp.PassiveOpens"] = 20000;
    e.sampled.counter_rates["TcpExt.TCPAbortOnData"] = 11000;
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "app-connection-limit");
    EXPECT_EQ(v.findings.front().subject, "connection cap (about 62 held)");
    // Lookalike: the same churn ended cleanly (HTTP/1.0, close after the reply).
    auto clean = e;
    clean.sampled.counter_rates["TcpExt.TCPAbortOnData"] = 40;
    EXPECT_EQ(judge(clean).findings.front().id, "healthy");
    // Lookalike: the counters are another process's: the target keeps its
    // connections (nothing new in most looks).
    auto other = e;
    other.sampled.conns.accepted = 30;
    EXPECT_EQ(judge(other).findings.front().id, "healthy");
    // Lookalike: a count that follows the load.
    auto follows = e;
    follows.sampled.conns.inbound_sum = 80 * 12;
    EXPECT_EQ(judge(follows).findings.front().id, "healthy");
    // Lookalike: every connection held has its request in progress (slow
    // replies, then close): no idle one for a cap to evict.
    auto busy = e;
    busy.sampled.conns.inbound_pending_sum = busy.sampled.conns.inbound_sum;
    EXPECT_EQ(judge(busy).findings.front().id, "healthy");
}

// An event loop's looks: waiting for work, running, or blocked in another call
// (a pread in D state, a write to a pipe in S). Blocked more than either of
// the others is off-cpu-blocking, in both modes; blocked now and then is not.
TEST(Verdict, AnEventLoopBlockedMoreThanItWaitsOrRunsIsOffCpuBlocking) {
    for (bool with_bpf : {false, true}) {
        auto e = base(with_bpf);
        e.sampled.cpu_cores = 0.08;
        e.sampled.loop_looks = 298;
        e.sampled.loop_idle = 120;
        e.sampled.loop_running = 20;
        e.sampled.loop_blocked = 158;
        e.sampled.loop_blocked_in = {{"pread64", 109}, {"io_getevents", 49}};
        auto v = judge(e);
        ASSERT_EQ(v.findings.front().id, "off-cpu-blocking") << with_bpf;
        EXPECT_EQ(v.findings.front().subject, "event loop");
        EXPECT_NE(v.findings.front().title.find("pread64()"), std::string::npos)
            << v.findings.front().title;
        // Lookalike: the same loop waiting for work most of the time.
        auto idle = e;
        idle.sampled.loop_idle = 250;
        idle.sampled.loop_blocked = 28;
        EXPECT_EQ(judge(idle).findings.front().id, "healthy") << with_bpf;
        // Lookalike: a loop that runs more than it blocks is the CPU's, not the calls'.
        auto busy = e;
        busy.sampled.loop_running = 200;
        busy.sampled.loop_idle = 0;
        busy.sampled.loop_blocked = 98;
        EXPECT_NE(judge(busy).findings.front().id, "off-cpu-blocking") << with_bpf;
    }
}

// A forking master's workers, looked at one by one: the same account as an
// event loop's. Blocked more than they wait for work, wait on a peer or run
// is off-cpu-blocking with the workers as its subject, in both modes; the
// lookalikes are workers idle most of the time, workers running more than
// they block, and workers waiting on their peers (a client, a dependency).
// Workers queued on a file lock make the lock the cause.
TEST(Verdict, AMastersWorkersBlockedMoreThanTheyWaitOrRunAreOffCpuBlocking) {
    for (bool with_bpf : {false, true}) {
        auto e = base(with_bpf);
        e.sampled.cpu_cores = 0.0;
        e.sampled.workers_cores = 0.08;
        auto& w = e.sampled.worker_states;
        w.workers = 4;
        w.all = {984, 34, 248, 0, 0, 0, 702, 0, {{"clock_nanosleep", 688}, {"fdatasync", 14}}};
        auto v = judge(e);
        ASSERT_EQ(v.findings.front().id, "off-cpu-blocking") << with_bpf;
        EXPECT_EQ(v.findings.front().subject, "its workers");
        EXPECT_NE(v.findings.front().title.find("clock_nanosleep() 71%"), std::string::npos)
            << v.findings.front().title;
        auto idle = e;
        idle.sampled.worker_states.all.idle = 800;
        EXPECT_EQ(judge(idle).findings.front().id, "healthy") << with_bpf;
        auto peers = e;
        peers.sampled.worker_states.all.peer = 750;
        EXPECT_EQ(judge(peers).findings.front().id, "healthy") << with_bpf;
        auto busy = e;
        busy.sampled.worker_states.all.running = 710;
        EXPECT_NE(judge(busy).findings.front().id, "off-cpu-blocking") << with_bpf;
        // Beside others' load that fills the host: the workers wait longer for
        // a CPU than they run (starved), but are blocked far longer still.
        auto crowded = e;
        crowded.sampled.host_busy = 1.0;
        crowded.sampled.inbound_at_snapshots = 16;
        crowded.sampled.workers_runq_wait = 0.66;
        crowded.sampled.worker_states.all.running = 160;  // runnable looks are R too
        auto cv = judge(crowded);
        ASSERT_EQ(cv.findings.front().id, "off-cpu-blocking") << with_bpf;
        auto crowded_ids = ids(cv);
        EXPECT_NE(std::find(crowded_ids.begin(), crowded_ids.end(), "cpu-saturated"),
                  crowded_ids.end())
            << "the starving is there, and said";
        // PHP's file sessions: the workers queue on one flock, the holder sleeps.
        auto locked = e;
        locked.sampled.worker_states.all.file_lock = 600;
        locked.sampled.worker_states.all.blocked = 250;
        locked.sampled.worker_states.all.idle = 100;
        auto lv = judge(locked);
        ASSERT_EQ(lv.findings.front().id, "lock-contention") << with_bpf;
        EXPECT_EQ(lv.findings.front().subject, "file lock");
        auto blocking = std::find_if(lv.findings.begin(), lv.findings.end(),
                                     [](const Finding& f) { return f.id == "off-cpu-blocking"; });
        ASSERT_NE(blocking, lv.findings.end());
        EXPECT_EQ(blocking->severity, Severity::warn);
    }
}

// PostgreSQL's backends on one hot row: the holder sleeps (pg_sleep, timed:
// blocked), the others wait on their latches with no timeout on no socket.
// The lock is the cause and the holder's wait its consequence. Lookalike:
// the same backends each on a row of their own - only the timed waits.
TEST(Verdict, WorkersWaitingToBeWokenMostOfTheTimeAreALock) {
    for (bool with_bpf : {false, true}) {
        auto e = base(with_bpf);
        e.sampled.cpu_cores = 0.0;
        e.sampled.workers_cores = 0.05;
        auto& w = e.sampled.worker_states;
        w.workers = 4;
        w.all = {1000, 30, 0, 0, 0, 0, 240, 730, {{"epoll_wait", 240}}};
        auto v = judge(e);
        ASSERT_EQ(v.findings.front().id, "lock-contention") << with_bpf;
        EXPECT_EQ(v.findings.front().subject, "its workers");
        EXPECT_NE(v.findings.front().title.find("woken by another process in 73%"),
                  std::string::npos)
            << v.findings.front().title;
        auto blocking = std::find_if(v.findings.begin(), v.findings.end(),
                                     [](const Finding& f) { return f.id == "off-cpu-blocking"; });
        ASSERT_NE(blocking, v.findings.end());
        EXPECT_EQ(blocking->severity, Severity::warn);
        auto apart = e;
        apart.sampled.worker_states.all.wakeup = 0;
        apart.sampled.worker_states.all.blocked = 970;
        apart.sampled.worker_states.all.blocked_in = {{"epoll_wait", 970}};
        auto av = judge(apart);
        EXPECT_EQ(av.findings.front().id, "off-cpu-blocking") << with_bpf;
        auto apart_ids = ids(av);
        EXPECT_EQ(std::count(apart_ids.begin(), apart_ids.end(), "lock-contention"), 0);
    }
}

// Workers sharing a listener unevenly: one of four holds the connections and
// is blocked in most of its looks while the other three wait for work. Over
// all of them the workers look idle; the requests unread in most looks are
// that worker's, so it is the one named. Without unread requests (its
// connections' requests read as they come) the same looks are no verdict.
TEST(Verdict, OneBlockedWorkerWithRequestsUnreadIsOffCpuBlocking) {
    auto e = base(false);
    e.sampled.sample_period_s = 0.1;
    auto& c = e.sampled.conns;
    c.samples = 41;
    c.inbound_min = c.inbound_max = 16;
    c.inbound_unread_sum = 40 * 9;
    c.samples_inbound_unread = 40;
    auto& w = e.sampled.worker_states;
    w.workers = 4;
    w.all = {1000, 40, 720, 0, 0, 0, 240, 0, {{"clock_nanosleep", 240}}};
    w.most_blocked_pid = 4242;
    w.most_blocked = {250, 10, 0, 0, 0, 0, 240, 0, {{"clock_nanosleep", 240}}};
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "off-cpu-blocking");
    EXPECT_EQ(v.findings.front().subject, "worker PID 4242");
    // Looks too far apart to see a request unread: 16 in progress behind the
    // one blocked worker say the same.
    auto sparse = e;
    sparse.sampled.conns.inbound_unread_sum = 4;
    sparse.sampled.conns.samples_inbound_unread = 1;
    sparse.sampled.conns.inbound_pending_sum = 40 * 16;
    sparse.sampled.conns.samples_inbound_pending = 40;
    EXPECT_EQ(judge(sparse).findings.front().subject, "worker PID 4242");
    // Lookalike: one client's long query in the blocked worker, the others
    // idle - one request in progress, read at once.
    auto one_query = e;
    one_query.sampled.conns.inbound_unread_sum = 0;
    one_query.sampled.conns.samples_inbound_unread = 0;
    one_query.sampled.conns.inbound_pending_sum = 40;
    one_query.sampled.conns.samples_inbound_pending = 40;
    EXPECT_EQ(judge(one_query).findings.front().id, "healthy");
}

// Workers that hold a file lock across a slow call: most threads wait for the
// lock, the one holding it sleeps. The sleeping is the lock's consequence, so
// lock-contention on the file lock leads and off-cpu-blocking is a WARN below.
TEST(Verdict, BlockingUnderAFileLockIsTheLocksConsequence) {
    auto e = base();
    e.sampled.threads_max = 7;
    e.sampled.samples = 40;
    e.sampled.thread_samples = 280;
    e.sampled.file_lock_waits = 190;
    e.bpf->syscalls = {call("nanosleep", 800, 4'000'000'000), call("flock", 800, 2'000'000'000)};
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "lock-contention");
    EXPECT_EQ(v.findings.front().subject, "file lock");
    auto blocked = std::find_if(v.findings.begin(), v.findings.end(),
                                [](const Finding& f) { return f.id == "off-cpu-blocking"; });
    ASSERT_NE(blocked, v.findings.end());
    EXPECT_EQ(blocked->severity, Severity::warn);
    EXPECT_NE(blocked->why.find("A consequence of the file lock"), std::string::npos);
    // Without the lock waits the sleeps are the process's own: CRIT, first.
    e.sampled.file_lock_waits = 0;
    EXPECT_EQ(judge(e).findings.front().id, "off-cpu-blocking");
}

// A cap kept by refusing (Redis at maxclients): 50 connections kept look after
// look, and 1,000 a second accepted and ended by the server at once - never
// caught in a look but a few times.
TEST(Verdict, KeepingASteadySetAndEndingEveryFurtherConnectionAtOnceIsACap) {
    auto e = base();
    e.comm = "redis-server";
    e.sampled.seconds = 3;
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.inbound_min = 50;
    c.inbound_max = 51;
    c.inbound_sum = 40 * 50 + 2;
    c.inbound_kept_sum = 39 * 50;
    c.inbound_kept_max = 50;
    c.inbound_transient_sum = 2;
    e.bpf->syscall_seconds = 3;
    e.bpf->syscalls = {call("accept4", 3400, 10'000'000, {{EAGAIN, 400}})};
    e.bpf->tcp.closed_first_local = 900;
    e.bpf->tcp.aborted_established = 2100;
    e.bpf->tcp.resets_sent = 2100;
    auto v = judge(e);
    const auto& cap = v.findings.front();
    ASSERT_EQ(cap.id, "app-connection-limit") << cap.title;
    EXPECT_EQ(cap.subject, "connection cap (about 50 held)");
    EXPECT_NE(cap.title.find("refused"), std::string::npos) << cap.title;
    ASSERT_FALSE(cap.fix.empty());
    EXPECT_NE(cap.fix.front().find("maxclients"), std::string::npos) << cap.fix.front();
    EXPECT_EQ(ids(v).size(), 1u) << "one cap, not an eviction besides";
    // Without BPF: the namespace's passive opens, when every listener is the target's.
    auto sampled = e;
    sampled.bpf.reset();
    sampled.mode = "sample";
    sampled.sampled.counter_rates["Tcp.PassiveOpens"] = 1000;
    EXPECT_EQ(judge(sampled).findings.front().id, "app-connection-limit");
    auto shared = sampled;  // another server's listener: its opens may be the ones
    shared.sampled.foreign_listeners = true;
    EXPECT_EQ(judge(shared).findings.front().id, "healthy");
    // Lookalike: one reply per connection - the same stream, nothing kept.
    auto one_shot = e;
    one_shot.sampled.conns.inbound_min = 0;
    one_shot.sampled.conns.inbound_max = 3;
    one_shot.sampled.conns.inbound_kept_sum = 0;
    one_shot.sampled.conns.inbound_transient_sum = 20;
    EXPECT_NE(judge(one_shot).findings.front().id, "app-connection-limit");
    // Lookalike: the short connections are ended by their clients (a TCP
    // health check), not refused by the server.
    auto checked = e;
    checked.bpf->tcp.closed_first_local = 0;
    checked.bpf->tcp.aborted_established = 0;
    checked.bpf->tcp.closed_first_peer = 3000;
    EXPECT_EQ(judge(checked).findings.front().id, "healthy");
    // Lookalike: the other connections live long enough to be seen (slow
    // one-shot requests beside the kept ones): not ended at once.
    auto slow = e;
    slow.sampled.conns.inbound_transient_sum = 39 * 30;
    EXPECT_EQ(judge(slow).findings.front().id, "healthy");
}

// Redis sizes maxclients at start to its fd limit less the 32 fds it keeps
// for itself, and logs it: started under a limit of 128 it keeps 96 and
// refuses the rest without an accept failing. That cap is the fd limit's,
// in both modes. Lookalikes: the same 96 kept by a Redis with room in its
// limit (maxclients 96: its own cap), and by a server whose cap is its own
// (memcached -c sets its fd limit from its cap, not the other way round).
TEST(Verdict, ARefusingCapARedisSizedFromItsFdLimitIsTheFdLimit) {
    auto e = base();
    e.comm = "redis-server";
    e.sampled.seconds = 3;
    e.sampled.nofile_soft = 128;
    e.sampled.fds_max = 106;
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.inbound_min = 96;
    c.inbound_max = 96;
    c.inbound_sum = 40 * 96;
    c.inbound_kept_sum = 39 * 96;
    c.inbound_kept_max = 96;
    e.bpf->syscall_seconds = 3;
    e.bpf->syscalls = {call("accept4", 6000, 10'000'000)};
    e.bpf->tcp.closed_first_local = 600;
    e.bpf->tcp.aborted_established = 5400;
    e.bpf->tcp.resets_sent = 5400;
    auto v = judge(e);
    const auto& f = v.findings.front();
    ASSERT_EQ(f.id, "fd-limit") << f.title;
    EXPECT_EQ(f.subject, "fd limit (soft 128)");
    EXPECT_NE(f.title.find("the limit less the 32 fds"), std::string::npos) << f.title;
    ASSERT_FALSE(f.fix.empty());
    EXPECT_EQ(f.fix.front().rfind("redis: LimitNOFILE=", 0), 0u) << f.fix.front();
    EXPECT_EQ(ids(v), std::vector<std::string>{"fd-limit"}) << "no cap or eviction besides";
    EXPECT_TRUE(std::none_of(f.explains.begin(), f.explains.end(), [](const std::string& x) {
        return x == "emfile";
    })) << "no accept failed";

    auto sampled = e;  // the namespace's passive opens
    sampled.bpf.reset();
    sampled.mode = "sample";
    sampled.sampled.counter_rates["Tcp.PassiveOpens"] = 2000;
    EXPECT_EQ(judge(sampled).findings.front().id, "fd-limit");

    auto room = e;
    room.sampled.nofile_soft = 20000;
    EXPECT_EQ(judge(room).findings.front().id, "app-connection-limit");
    auto own_cap = e;
    own_cap.comm = "memcached";
    EXPECT_EQ(judge(own_cap).findings.front().id, "app-connection-limit");
}

// Handlers serialised on a lock that parks in user space: 8 requests in
// progress, the process at one core of the two it could use, the other idle,
// no futex contention to see.
TEST(Verdict, RequestsWaitingWhileTheProcessStaysAtOneCoreOfTwoIsSerialised) {
    for (bool with_bpf : {true, false}) {
        auto e = base(with_bpf);
        auto& s = e.sampled;
        s.cpus = 2;
        s.threads_max = 9;
        s.cpu_cores = 1.0;
        s.host_busy = 0.6;
        s.busiest_threads = {
            {101, "worker", 0.14, 0.15}, {102, "worker", 0.13, 0.14}, {103, "worker", 0.12, 0.13}};
        s.conns.samples = 40;
        s.conns.inbound_min = s.conns.inbound_max = 8;
        s.conns.inbound_sum = 40 * 8;
        s.conns.inbound_pending_sum = 40 * 7;
        auto v = judge(e);
        ASSERT_EQ(v.findings.front().id, "lock-contention") << v.findings.front().title;
        EXPECT_EQ(v.findings.front().subject, "serialised handlers");
        // Lookalike: the load is one request at a time.
        auto one = e;
        one.sampled.conns.inbound_pending_sum = 40;
        EXPECT_EQ(judge(one).findings.front().id, "healthy") << with_bpf;
        // Lookalike: the host has no core to spare (its other core is someone else's).
        auto full = e;
        full.sampled.host_busy = 0.9;
        EXPECT_NE(judge(full).findings.front().id, "lock-contention") << with_bpf;
        // Lookalike: a single loop thread doing all of it is the thread's limit.
        auto loop = e;
        loop.sampled.busiest_threads = {{101, "loop", 0.8, 0.85}};
        EXPECT_EQ(judge(loop).findings.front().id, "healthy") << with_bpf;
    }
}

// nginx at worker_connections 50 under 200 keep-alive clients (measured):
// it ends every connection itself with a FIN (no reset), ~20,000 a second,
// holds ~45 of which ~15 idle, while connections wait in its accept queue in
// 19 of 19 looks. Closing after each reply by design under the same clients
// holds ~1, all of it in progress.
TEST(Verdict, ACapDrainedWithFinsIsACapNotOneReplyPerConnection) {
    auto e = base();
    auto& s = e.sampled;
    s.seconds = 3;
    s.cpus = 2;
    s.threads_max = 1;
    s.cpu_cores = 0.7;
    s.busiest_threads = {{7, "nginx", 0.7, 0.72}};
    s.counter_rates["Tcp.PassiveOpens"] = 20000;
    ListenerSample l;
    l.samples = 19;
    l.backlog = 511;
    l.waiting_samples = 19;
    l.queued_max = 150;
    l.queued_sum = 19 * 34;
    s.listeners = {l};
    auto& c = s.conns;
    c.samples = 19;
    c.inbound_min = 38;
    c.inbound_max = 52;
    c.inbound_max_but_one = 50;
    c.inbound_sum = 19 * 45;
    c.inbound_pending_sum = 19 * 30;
    c.accepted = 830;
    c.inbound_transient_sum = 830;
    e.bpf->syscall_seconds = 3;
    e.bpf->syscalls = {call("accept4", 60000, 30'000'000)};
    e.bpf->tcp.established = 60000;
    e.bpf->tcp.closed_first_local = 59990;
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "app-connection-limit") << v.findings.front().title;
    EXPECT_NEAR(value_of(v.findings.front(), "idle_held_mean"), 15, 0.01);
    auto sampled = e;
    sampled.bpf.reset();
    sampled.mode = "sample";
    EXPECT_EQ(judge(sampled).findings.front().id, "app-connection-limit");
    // Lookalike: everything it holds has a request in progress.
    auto serving = e;
    serving.sampled.conns.inbound_pending_sum = 19 * 44;
    EXPECT_NE(judge(serving).findings.front().id, "app-connection-limit");
    // Lookalike: nothing waits to be accepted - it takes every connection offered.
    auto accepting = e;
    accepting.sampled.listeners[0].waiting_samples = 2;
    accepting.sampled.listeners[0].queued_sum = 2 * 3;
    EXPECT_NE(judge(accepting).findings.front().id, "app-connection-limit");
    // A queue found waiting in under half the looks (8 of 19) - the cap's
    // clients pause between requests - while no idle connection gets older
    // than a few ms: each new one ends the idlest.
    auto paused = e;
    paused.sampled.listeners[0].waiting_samples = 8;
    for (int i = 0; i < 19 * 15; ++i)
        paused.sampled.conns.inbound_idle_age.record(uint64_t(i % 3) * 1'000'000);
    EXPECT_EQ(judge(paused).findings.front().id, "app-connection-limit");
    // Lookalike: the same, but idle connections ended by a timeout (100 ms):
    // their ages spread up to it. The ~45 held are replaced ~45 a second.
    auto timeout = e;
    timeout.sampled.listeners[0].waiting_samples = 8;
    timeout.bpf->tcp.established = 150;
    timeout.bpf->tcp.closed_first_local = 148;
    timeout.sampled.counter_rates["Tcp.PassiveOpens"] = 50;
    timeout.sampled.conns.accepted = 120;
    for (int i = 0; i < 19 * 15; ++i)
        timeout.sampled.conns.inbound_idle_age.record(uint64_t(i % 100) * 1'000'000);
    EXPECT_NE(judge(timeout).findings.front().id, "app-connection-limit")
        << judge(timeout).findings.front().title;
    // Too few idle connections seen to say how old they get: not the cap.
    auto few = paused;
    few.sampled.conns.inbound_idle_age = {};
    for (int i = 0; i < 10; ++i)
        few.sampled.conns.inbound_idle_age.record(1'000'000);
    EXPECT_NE(judge(few).findings.front().id, "app-connection-limit");
    // Lookalike: its clients end the connections (one request each, then close).
    auto client_closes = e;
    client_closes.bpf->tcp.closed_first_local = 0;
    client_closes.bpf->tcp.closed_first_peer = 59990;
    EXPECT_NE(judge(client_closes).findings.front().id, "app-connection-limit");
}

// PostgreSQL at max_connections 20 with 40 clients: the postmaster forks a
// backend per connection, and the backend refuses ("sorry, too many clients
// already") after its own start-up, then exits; the client, having read the
// error, often hangs up first. The refused connections live tens of ms, the
// postmaster holds none of the connections itself, and the forks' CPU fills
// the host (measured: 1.6 of 2 cores in reaped children, 80 refusals/s).
TEST(Verdict, AForkingServerRefusingPastItsCapIsACapEvenWhenTheForksFillTheCpu) {
    auto e = base();
    e.comm = "postgres";
    auto& s = e.sampled;
    s.seconds = 5;
    s.cpus = 2;
    s.threads_max = 1;
    s.cpu_cores = 0.14;
    s.host_busy = 0.99;
    s.runq_wait_share = 0.85;
    s.reaped_children_cores = 1.6;
    s.inbound_at_snapshots = 140;
    s.inbound_own_at_snapshots = 6;
    auto& c = s.conns;
    c.samples = 36;
    c.inbound_min = 20;
    c.inbound_max = 28;
    c.inbound_kept_sum = 35 * 20;
    c.inbound_kept_max = 21;
    c.inbound_transient_sum = 112;  // 3.2 a look at 80/s: 40 ms each
    e.bpf->syscall_seconds = 5;
    e.bpf->syscalls = {call("accept4", 400, 10'000'000)};
    e.bpf->tcp.closed_first_peer = 399;  // the clients hang up first
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "app-connection-limit") << v.findings.front().title;
    EXPECT_NE(v.findings.front().fix.front().find("max_connections"), std::string::npos)
        << v.findings.front().fix.front();
    ASSERT_EQ(ids(v), (std::vector<std::string>{"app-connection-limit", "cpu-saturated"}));
    EXPECT_EQ(v.findings[1].severity, Severity::warn) << "the forks' CPU is the cap's churn";
    // Lookalike: the same server, but a neighbour holds the CPU - its own
    // children used little of it. The full CPU is the finding, not the cap.
    auto neighbour = e;
    neighbour.sampled.reaped_children_cores = 0.1;
    EXPECT_EQ(judge(neighbour).findings.front().id, "cpu-saturated");
    // Lookalike: a server that holds its own connections gets no fork's
    // allowance: a 40 ms connection is a slow reply, not a refusal.
    auto threaded = e;
    threaded.sampled.inbound_own_at_snapshots = 140;
    threaded.sampled.reaped_children_cores = 0;
    threaded.sampled.host_busy = 0.3;
    threaded.sampled.runq_wait_share = 0;
    EXPECT_EQ(judge(threaded).findings.front().id, "healthy");
    // Lookalike: the same kept 20 with no stream of refusals (max_connections 100).
    auto roomy = e;
    roomy.bpf->syscalls = {call("accept4", 20, 1'000'000)};
    roomy.sampled.conns.inbound_transient_sum = 0;
    roomy.sampled.reaped_children_cores = 0.01;
    roomy.sampled.host_busy = 0.3;
    roomy.sampled.runq_wait_share = 0;
    EXPECT_EQ(judge(roomy).findings.front().id, "healthy");
}

// memcached -c 50 sets its own fd limit to 50 and refuses past its cap before
// accept() could fail: the fds sit at the limit, yet every accept succeeds.
// The cap is the application's; EMFILE would have made it the kernel's.
TEST(Verdict, FdsAtALimitTheProcessSetsForItsOwnCapAreThatCapNotAnFdLimit) {
    auto e = base();
    e.comm = "memcached";
    e.sampled.seconds = 3;
    e.sampled.nofile_soft = 50;
    e.sampled.fds_max = 50;
    auto& c = e.sampled.conns;
    c.samples = 40;
    c.inbound_min = c.inbound_max = 32;
    c.inbound_sum = 40 * 32;
    c.inbound_kept_sum = 39 * 32;
    c.inbound_kept_max = 32;
    e.bpf->syscall_seconds = 3;
    e.bpf->syscalls = {call("accept4", 3867, 10'000'000)};
    e.bpf->tcp.closed_first_local = 1233;
    e.bpf->tcp.aborted_established = 2677;
    auto v = judge(e);
    ASSERT_EQ(v.findings.front().id, "app-connection-limit") << v.findings.front().title;
    EXPECT_NE(v.findings.front().fix.front().find("memcached: -c"), std::string::npos);
    auto named = ids(v);
    EXPECT_EQ(std::count(named.begin(), named.end(), "fd-limit"), 0);
    // The same count with accept() failing is the kernel's limit.
    auto failing = e;
    failing.bpf->syscalls = {call("accept4", 3867, 10'000'000, {{EMFILE, 3000}})};
    EXPECT_EQ(judge(failing).findings.front().id, "fd-limit");
    // Without BPF: connections arrive and the queue stays empty - it accepts them.
    auto sampled = e;
    sampled.bpf.reset();
    sampled.mode = "sample";
    sampled.sampled.counter_rates["Tcp.PassiveOpens"] = 1300;
    ListenerSample l;
    l.samples = 40;
    l.backlog = 1024;
    sampled.sampled.listeners = {l};
    EXPECT_EQ(judge(sampled).findings.front().id, "app-connection-limit");
    auto queued = sampled;  // it cannot accept: they wait in its queue
    queued.sampled.listeners[0].waiting_samples = 40;
    queued.sampled.listeners[0].queued_sum = 40 * 100;
    EXPECT_EQ(judge(queued).findings.front().id, "fd-limit");
}

// memcached's maintainer threads sleep in clock_nanosleep between rounds while
// its worker loops idle in epoll_wait: those sleeps hold up no request.
TEST(Verdict, ATimerThreadsSleepsBesideIdleLoopsAreNotBlocking) {
    auto e = base(false);
    auto& s = e.sampled;
    s.samples = 46;
    s.thread_samples = 368;
    s.sleeping = 364;
    s.running = 4;
    s.blocked_in = {{"clock_nanosleep", 46}, {"epoll_wait", 134}, {"futex", 184}};
    s.loop_looks = 138;
    s.loop_idle = 134;
    s.loop_running = 4;
    s.timer_sleeps = 46;
    s.conns.samples = 46;
    s.conns.inbound_pending_sum = 63;  // 1.4 requests in progress: busy, not waiting
    EXPECT_EQ(judge(e).findings.front().id, "healthy");
    // The same sleeps in threads that are not timers (handlers sleeping with
    // requests waiting on them) are blocking.
    auto handlers = e;
    handlers.sampled.timer_sleeps = 0;
    EXPECT_EQ(judge(handlers).findings.front().id, "off-cpu-blocking");
}

// One mechanism for symptoms: TCP memory pressure shrinks every socket's
// window, so the tiny windows it brings are its consequence, not a verdict of
// their own; the cause says which findings it accounts for.
TEST(Verdict, ACauseAccountsForTheSymptomsItsMechanismBrings) {
    auto e = base();
    close_windows(e, 20'000, 300);
    e.sampled.counter_rates["TcpExt.TCPMemoryPressures"] = 2;
    expect_consequence(judge(e), "tcp-memory-pressure", "socket-buffer-limited");
    // Alone, the tiny windows are the verdict, and account for nothing.
    auto alone = e;
    alone.sampled.counter_rates.erase("TcpExt.TCPMemoryPressures");
    auto w = judge(alone);
    EXPECT_EQ(w.findings.front().id, "socket-buffer-limited");
    EXPECT_TRUE(w.findings.front().accounts_for.empty());
}

// Requests left unread behind a full pool: with nothing else standing, the
// pool is the cap. The same unread requests behind a loop pegged on the CPU
// are the CPU's doing, and behind a short look interval prove nothing.
TEST(Verdict, RequestsUnreadWithTheMachineIdleAreTheApplicationsCap) {
    auto e = base(false);
    e.sampled.sample_period_s = 0.1;
    e.sampled.listeners = {ListenerSample{}};
    e.sampled.listeners[0].local.family = AF_INET;
    e.sampled.listeners[0].local.addr = {127, 0, 0, 1};
    e.sampled.listeners[0].local.port = 8095;
    auto& c = e.sampled.conns;
    c.samples = 41;
    c.inbound_min = c.inbound_max = 20;
    c.inbound_unread_sum = 40 * 12;  // 12 requests unread in every look
    c.samples_inbound_unread = 40;
    auto v = judge(e);
    ASSERT_FALSE(v.findings.empty());
    EXPECT_EQ(v.findings[0].id.name(), "app-connection-limit");
    EXPECT_EQ(v.findings[0].subject, "127.0.0.1:8095");
    EXPECT_DOUBLE_EQ(value_of(v.findings[0], "unread_requests_mean"), 12);
    EXPECT_EQ(v.findings[0].explains,
              (std::vector<std::string>{"connection-plateau", "requests-unread"}));

    auto now_and_then = e;  // a burst now and then: work does not always wait
    now_and_then.sampled.conns.inbound_unread_sum = 10;
    now_and_then.sampled.conns.samples_inbound_unread = 5;
    EXPECT_EQ(judge(now_and_then).findings[0].id.name(), "healthy");

    auto pegged = e;  // one loop on the CPU all the time: the CPU leaves them unread
    pegged.sampled.cpu_cores = 0.99;
    pegged.sampled.busiest_threads = {{101, "loop", 0.97, 0.99}};
    auto pv = judge(pegged);
    EXPECT_EQ(pv.findings[0].id.name(), "cpu-saturated");
    auto pegged_ids = ids(pv);
    EXPECT_EQ(std::count(pegged_ids.begin(), pegged_ids.end(), "app-connection-limit"), 0);

    auto quick_looks = e;  // looks 2 ms apart: a busy loop's turn, not a wait
    quick_looks.sampled.sample_period_s = 0.002;
    EXPECT_EQ(judge(quick_looks).findings[0].id.name(), "healthy");

    // Replies Nagle holds for an ACK hold no worker (the write returned): the
    // full pool is still the verdict, the held replies said beside it (a JDK
    // HttpServer writes headers, then the body).
    auto nagle_too = e;
    auto& nc = nagle_too.sampled.conns;
    nc.samples_nagle_held = 20;
    nc.nagle_held_sum = 40;
    nc.nagle_ports[8095] = 40;
    nc.nagle_stall.record(34'000'000);
    auto nv = judge(nagle_too);
    EXPECT_EQ(nv.findings[0].id.name(), "app-connection-limit");
    auto nagle_ids = ids(nv);
    EXPECT_NE(std::find(nagle_ids.begin(), nagle_ids.end(), "nagle-delayed-ack"), nagle_ids.end());
}

// An event loop parked in futex per request (Node's Atomics.wait), its
// requests told waiting by the kernel's queues alone: the looks came too far
// apart for any request to stay unread from one to the next. The loop does
// most of the process's CPU and is parked in most of its looks: blocked.
// Lookalikes: the same loop caught in epoll_wait (it reads on readiness: what
// sits queued is not waiting for it), and requests queued now and then only.
TEST(Verdict, ALoopParkedWhileItsRequestsQueueIsBlocked) {
    auto e = base(false);
    e.sampled.sample_period_s = 0.19;
    auto& c = e.sampled.conns;
    c.samples = 50;
    c.inbound_min = c.inbound_max = 20;
    c.inbound_queued_sum = 50 * 6;  // six requests in the receive queues in every look
    c.samples_inbound_queued = 50;
    e.sampled.cpu_cores = e.sampled.threads_cores = 0.05;
    ThreadCpu loop{101, "loop", 0.045, 0.05};
    loop.looks = 50;
    loop.futex_looks = 49;
    loop.running_looks = 1;
    e.sampled.busiest_threads = {loop, {102, "helper", 0.005, 0.005}};
    auto v = judge(e);
    ASSERT_FALSE(v.findings.empty());
    EXPECT_EQ(v.findings[0].id.name(), "off-cpu-blocking");
    EXPECT_EQ(v.findings[0].subject, "event loop");
    EXPECT_NE(v.findings[0].title.find("futex()"), std::string::npos) << v.findings[0].title;

    auto reads_on_readiness = e;
    auto& t = reads_on_readiness.sampled.busiest_threads[0];
    t.futex_looks = 0;
    t.readiness_looks = 49;
    for (const auto& f : judge(reads_on_readiness).findings)
        EXPECT_NE(f.id.name(), "off-cpu-blocking") << f.title;

    auto now_and_then = e;  // queued in a fifth of the looks: no queue at every instant
    now_and_then.sampled.conns.samples_inbound_queued = 10;
    now_and_then.sampled.conns.inbound_queued_sum = 60;
    for (const auto& f : judge(now_and_then).findings)
        EXPECT_NE(f.id.name(), "off-cpu-blocking") << f.title;
}

// A prefork master probed by its PID: quiet itself, while its workers hold
// the connections on its ports. Not "idle", and its healthy says whose
// threads were not looked at. The lookalike holds its own connections.
TEST(Verdict, AMasterWhoseWorkersHoldTheConnectionsIsNotIdle) {
    auto e = base(false);
    e.sampled.cpu_cores = 0.001;
    e.sampled.switches_per_s = 0.5;
    e.sampled.inbound_at_snapshots = 200;  // twenty clients over ten snapshots
    e.sampled.inbound_own_at_snapshots = 0;
    auto v = judge(e);
    ASSERT_EQ(v.findings.size(), 1u);
    const auto& f = v.findings[0];
    EXPECT_EQ(f.id.name(), "healthy");
    EXPECT_EQ(f.title.find("idle"), std::string::npos) << f.title;
    EXPECT_NE(f.title.find("served by other processes"), std::string::npos) << f.title;
    EXPECT_DOUBLE_EQ(value_of(f, "own_connections_percent"), 0);
    EXPECT_TRUE(std::any_of(v.unobserved.begin(), v.unobserved.end(), [](const std::string& u) {
        return u.find("its workers") != std::string::npos;
    }));

    // Its workers looked at, each beside it: what their looks found is said.
    auto looked = e;
    looked.sampled.worker_states.workers = 3;
    looked.sampled.worker_states.all = {300, 6, 290, 0, 0, 0, 4, 0, {{"clock_nanosleep", 4}}};
    auto lv = judge(looked);
    ASSERT_EQ(lv.findings.size(), 1u);
    EXPECT_EQ(lv.findings[0].title,
              "nothing stands out: its 3 workers waited for work in 97% of their looks, ran in "
              "2%, were blocked in 1%");
    EXPECT_TRUE(std::any_of(lv.unobserved.begin(), lv.unobserved.end(), [](const std::string& u) {
        return u.find("its workers beyond where the looks found") != std::string::npos;
    }));

    auto own = e;  // the same quiet process holding its own connections: idle is its word
    own.sampled.inbound_own_at_snapshots = 200;
    auto ov = judge(own);
    EXPECT_NE(ov.findings[0].title.find("idle"), std::string::npos) << ov.findings[0].title;
    EXPECT_TRUE(std::none_of(ov.unobserved.begin(), ov.unobserved.end(), [](const std::string& u) {
        return u.find("its workers") != std::string::npos;
    }));
}

// PostgreSQL's postmaster under 8 clients running CPU-heavy queries: it
// holds none of the connections and uses no CPU, while its 8 backends fill
// both cores. The service is CPU-bound in its workers, in both modes.
// Lookalikes: one busy worker beside an idle core; workers sharing a host
// that another load fills; a process holding its own connections.
TEST(Verdict, AMasterWhoseWorkersFillTheCoresIsCpuSaturated) {
    for (bool with_bpf : {true, false}) {
        auto e = base(with_bpf);
        e.comm = "postgres";
        e.sampled.cpus = 2;
        e.sampled.cpu_cores = 0;
        e.sampled.threads_max = 1;
        e.sampled.host_busy = 1.0;
        e.sampled.inbound_at_snapshots = 80;  // eight clients over ten snapshots
        e.sampled.inbound_own_at_snapshots = 0;
        e.sampled.workers_cores = 1.97;
        e.sampled.workers_running = 8;
        e.sampled.busiest_worker_pid = 4242;
        auto v = judge(e);
        const auto& f = v.findings.front();
        ASSERT_EQ(f.id.name(), "cpu-saturated") << f.title;
        EXPECT_EQ(f.severity, Severity::crit);
        EXPECT_EQ(f.subject, "its workers (postgres x8)");
        EXPECT_DOUBLE_EQ(value_of(f, "workers_cores"), 1.97);
        ASSERT_FALSE(f.fix.empty());
        EXPECT_NE(f.fix.front().find("--pid 4242"), std::string::npos) << f.fix.front();

        auto one = e;  // one busy worker, the other core idle
        one.sampled.workers_cores = 1.0;
        one.sampled.workers_running = 1;
        one.sampled.host_busy = 0.55;
        EXPECT_NE(judge(one).findings.front().id.name(), "cpu-saturated");
        auto crowded = one;  // ... and another load filling the other core
        crowded.sampled.host_busy = 1.0;
        EXPECT_NE(judge(crowded).findings.front().id.name(), "cpu-saturated");
        auto own = e;  // its own connections: the children are no workers of its
        own.sampled.inbound_own_at_snapshots = 80;
        EXPECT_NE(judge(own).findings.front().id.name(), "cpu-saturated");

        // nginx with worker_processes 1: its one worker, a single thread, on
        // the CPU 97% of the time while the other core idles.
        auto pegged = one;
        pegged.comm = "nginx";
        pegged.sampled.busiest_worker_cores = 0.97;
        pegged.sampled.busiest_worker_threads = 1;
        auto pv = judge(pegged);
        ASSERT_EQ(pv.findings.front().id.name(), "cpu-saturated") << pv.findings.front().title;
        EXPECT_EQ(pv.findings.front().subject, "worker PID 4242 (nginx)");
        EXPECT_NE(pv.findings.front().fix.back().find("worker_processes auto"), std::string::npos);
        auto threaded = pegged;  // the same CPU over a worker's four threads: none pegged
        threaded.sampled.busiest_worker_threads = 4;
        EXPECT_NE(judge(threaded).findings.front().id.name(), "cpu-saturated");
        auto half = pegged;  // a worker with half its time free
        half.sampled.busiest_worker_cores = 0.5;
        EXPECT_NE(judge(half).findings.front().id.name(), "cpu-saturated");

        // Others keep the workers off the cores: what they get is less than
        // the cores, what they want (CPU + run-queue wait) is more.
        auto kept_off = e;
        kept_off.sampled.workers_cores = 1.1;
        kept_off.sampled.workers_runq_wait = 2.4;
        auto kv = judge(kept_off);
        ASSERT_EQ(kv.findings.front().id.name(), "cpu-saturated") << kv.findings.front().title;
        EXPECT_EQ(kv.findings.front().subject, "its workers (postgres x8)");
        EXPECT_DOUBLE_EQ(value_of(kv.findings.front(), "workers_runq_wait"), 2.4);
        // Workers that barely run: the host's load keeps them waiting, not
        // their own demand - the service is starved of the host's CPU.
        auto barely = kept_off;
        barely.sampled.workers_cores = 0.3;
        barely.sampled.workers_runq_wait = 3.0;
        auto bv = judge(barely);
        ASSERT_EQ(bv.findings.front().id.name(), "cpu-saturated") << bv.findings.front().title;
        EXPECT_EQ(bv.findings.front().subject, "host CPU (2 cores)");
        EXPECT_NE(bv.findings.front().title.find("workers wait 3.00 s per second"),
                  std::string::npos)
            << bv.findings.front().title;
        // The pegged worker, kept off the CPU now and then: on it 60% and
        // runnable the rest of the time; one on it a third of the time, on a
        // host others fill, is starved instead.
        auto pegged_crowded = pegged;
        pegged_crowded.sampled.busiest_worker_cores = 0.6;
        pegged_crowded.sampled.busiest_worker_runq_wait = 0.38;
        auto pcv = judge(pegged_crowded);
        ASSERT_EQ(pcv.findings.front().id.name(), "cpu-saturated") << pcv.findings.front().title;
        EXPECT_EQ(pcv.findings.front().subject, "worker PID 4242 (nginx)");
        auto starved_worker = pegged_crowded;  // the host full: others' load
        starved_worker.sampled.host_busy = 1.0;
        starved_worker.sampled.workers_cores = 0.33;
        starved_worker.sampled.workers_runq_wait = 0.65;
        starved_worker.sampled.busiest_worker_cores = 0.33;
        starved_worker.sampled.busiest_worker_runq_wait = 0.65;
        EXPECT_EQ(judge(starved_worker).findings.front().subject, "host CPU (2 cores)");
        auto idle_workers = starved_worker;  // the same host, the worker with little to do
        idle_workers.sampled.workers_runq_wait = 0.1;
        idle_workers.sampled.busiest_worker_runq_wait = 0.1;
        EXPECT_NE(judge(idle_workers).findings.front().id.name(), "cpu-saturated");
        auto idle_half = pegged_crowded;  // half its time free, as above, and no wait
        idle_half.sampled.busiest_worker_runq_wait = 0.02;
        EXPECT_NE(judge(idle_half).findings.front().id.name(), "cpu-saturated");
    }
}

// The same unread requests behind the one thread that does the process's
// work, parked in futex most of the time (Node's Atomics.wait): the loop is
// blocked, not a pool full. Lookalikes: the same waits spread over a pool's
// workers (the cap), a loop that is in futex now and then, and no requests
// unread (nothing waits behind the parking).
TEST(Verdict, ALoopParkedInFutexWithRequestsUnreadIsBlocked) {
    auto e = base(false);
    e.sampled.sample_period_s = 0.1;
    e.sampled.cpu_cores = 0.08;
    e.sampled.threads_max = 7;
    auto& c = e.sampled.conns;
    c.samples = 41;
    c.inbound_min = c.inbound_max = 20;
    c.inbound_unread_sum = 40 * 12;
    c.samples_inbound_unread = 40;
    // tid, comm, cores, busy, looks, running, readiness, futex
    ThreadCpu loop{101, "node", 0.07, 0.09, 41, 2, 0, 39};
    ThreadCpu timer{102, "node", 0.001, 0.001, 41, 0, 41, 0};  // its own idle epoll loop
    e.sampled.busiest_threads = {loop, timer};
    auto v = judge(e);
    ASSERT_FALSE(v.findings.empty());
    EXPECT_EQ(v.findings[0].id.name(), "off-cpu-blocking") << ids(v).front();
    EXPECT_EQ(v.findings[0].severity, Severity::crit);
    EXPECT_EQ(v.findings[0].subject, "event loop");
    EXPECT_NE(v.findings[0].title.find("futex() 95%"), std::string::npos) << v.findings[0].title;
    EXPECT_NE(v.findings[0].title.find("waiting for work 0%"), std::string::npos);
    EXPECT_DOUBLE_EQ(value_of(v.findings[0], "loop_in_futex"), 39);
    ASSERT_EQ(v.findings[0].fix.size(), 1u);
    EXPECT_NE(v.findings[0].fix[0].find("Atomics.wait"), std::string::npos);
    auto explained = v.findings[0].explains;
    EXPECT_NE(std::find(explained.begin(), explained.end(), "requests-unread"), explained.end());
    auto all = ids(v);
    EXPECT_EQ(std::count(all.begin(), all.end(), "app-connection-limit"), 0);

    auto pool = e;  // four workers share the work, each parked in futex
    pool.sampled.busiest_threads = {{101, "w1", 0.02, 0.03, 41, 1, 0, 40},
                                    {102, "w2", 0.02, 0.03, 41, 1, 0, 40},
                                    {103, "w3", 0.02, 0.03, 41, 1, 0, 40},
                                    {104, "w4", 0.02, 0.03, 41, 1, 0, 40}};
    EXPECT_EQ(judge(pool).findings[0].id.name(), "app-connection-limit");

    auto now_and_then = e;  // in futex in a third of its looks, waiting for work in the rest
    now_and_then.sampled.busiest_threads = {{101, "node", 0.07, 0.09, 41, 2, 26, 13}};
    EXPECT_NE(judge(now_and_then).findings[0].id.name(), "off-cpu-blocking");

    // So idle a loop uses a clock tick or two of /proc/PID/stat's CPU time in
    // a 3 s window: the process reads twice what its threads' schedstat sums
    // to. The loop's share is taken against its threads' sum, measured as it is.
    auto ticks = e;
    ticks.sampled.busiest_threads = {{101, "node", 0.0035, 0.0045, 84, 0, 0, 84},
                                     {102, "node", 0.0003, 0.0003, 84, 0, 84, 0}};
    ticks.sampled.cpu_cores = 0.0066;  // two ticks over 3 s
    ticks.sampled.threads_cores = 0.0039;
    EXPECT_EQ(judge(ticks).findings[0].id.name(), "off-cpu-blocking");
    auto ticks_pool = ticks;  // two of the threads share the same work: a pool
    ticks_pool.sampled.busiest_threads.push_back({103, "w", 0.003, 0.004, 84, 0, 0, 84});
    ticks_pool.sampled.threads_cores = 0.0069;
    EXPECT_NE(judge(ticks_pool).findings[0].id.name(), "off-cpu-blocking");

    auto nothing_waits = e;  // parked, and no request left unread: idle
    nothing_waits.sampled.conns.inbound_unread_sum = 0;
    nothing_waits.sampled.conns.samples_inbound_unread = 0;
    EXPECT_EQ(judge(nothing_waits).findings[0].id.name(), "healthy");
}

// A loop blocked in a sleep nearly all the time is never caught in its
// epoll_wait, so only its share of the CPU marks it as the loop: Redis's main
// thread in DEBUG SLEEP, beside four helpers parked on condvars, was asleep in
// clock_nanosleep in 244 of 247 looks with 7 requests unread, and /proc read
// it as a pool at its cap. Lookalikes: the same sleeps spread over a pool's
// workers (the cap), and the loop asleep with nothing unread (a timer's
// sleep holds up no request).
TEST(Verdict, ALoopAsleepInAnotherCallWithRequestsUnreadIsBlocked) {
    auto e = base(false);
    e.sampled.sample_period_s = 0.02;
    e.sampled.cpu_cores = 0.012;
    e.sampled.threads_cores = 0.0113;
    e.sampled.threads_max = 5;
    auto& c = e.sampled.conns;
    c.samples = 247;
    c.inbound_min = c.inbound_max = 20;
    c.inbound_unread_sum = 203 * 7;
    c.samples_inbound_unread = 203;
    // tid, comm, cores, busy, looks, running, readiness, futex, blocked, where
    ThreadCpu loop{101, "redis-server", 0.0113, 0.013, 247, 2, 0, 0, 244, "clock_nanosleep"};
    e.sampled.busiest_threads = {loop};
    for (uint32_t tid = 102; tid < 106; ++tid)
        e.sampled.busiest_threads.push_back({tid, "bio", 0, 0, 247, 0, 0, 247});
    auto v = judge(e);
    ASSERT_FALSE(v.findings.empty());
    const auto& f = v.findings[0];
    EXPECT_EQ(f.id.name(), "off-cpu-blocking") << ids(v).front();
    EXPECT_EQ(f.severity, Severity::crit);
    EXPECT_EQ(f.subject, "event loop");
    EXPECT_NE(f.title.find("clock_nanosleep() 99%"), std::string::npos) << f.title;
    EXPECT_DOUBLE_EQ(value_of(f, "loop_in_clock_nanosleep"), 244);
    ASSERT_FALSE(f.fix.empty());
    EXPECT_EQ(f.fix[0].find("Atomics.wait"), std::string::npos) << f.fix[0];
    auto all = ids(v);
    EXPECT_EQ(std::count(all.begin(), all.end(), "app-connection-limit"), 0);

    auto pool = e;  // four workers share the work, each asleep in the same call
    pool.sampled.busiest_threads.clear();
    for (uint32_t tid = 101; tid < 105; ++tid)
        pool.sampled.busiest_threads.push_back(
            {tid, "w", 0.003, 0.004, 247, 1, 0, 0, 240, "clock_nanosleep"});
    EXPECT_EQ(judge(pool).findings[0].id.name(), "app-connection-limit");

    auto nothing_waits = e;  // the same sleeps, no request left unread
    nothing_waits.sampled.conns.inbound_unread_sum = 0;
    nothing_waits.sampled.conns.samples_inbound_unread = 0;
    EXPECT_NE(judge(nothing_waits).findings[0].id.name(), "off-cpu-blocking");
}

// The same evidence over more looks earns more confidence, and the same verdict:
// a 3 s window is judged as a 10 s one, only less surely.
TEST(Verdict, ConfidenceGrowsWithTheLooksBehindIt) {
    auto e = base(false);
    e.sampled.cpus = 2;
    e.sampled.threads_max = 5;
    e.sampled.cpu_cores = 1.0;
    e.sampled.busiest_threads = {{101, "loop", 0.97, 0.99}};
    auto few = e;
    few.sampled.samples = 9;
    auto many = e;
    many.sampled.samples = 100;
    auto vf = judge(few), vm = judge(many);
    ASSERT_EQ(vf.findings.front().id, "cpu-saturated");
    ASSERT_EQ(vm.findings.front().id, "cpu-saturated");
    EXPECT_LT(vf.findings.front().confidence, vm.findings.front().confidence);
    EXPECT_DOUBLE_EQ(vf.findings.front().basis, 9);
    EXPECT_EQ(vf.findings.front().basis_unit.name(), "looks");
    auto doc = nlohmann::json::parse(render_probe_json(few, vf));
    EXPECT_EQ(doc["findings"][0]["basis"]["count"], 9);
    EXPECT_EQ(doc["findings"][0]["basis"]["unit"], "looks");
}

namespace {
// A window's segment counts: sent, sent again, and of those the handshakes.
ProbeEvidence with_segments(double out, double retrans, double syn_retrans) {
    auto e = base();
    e.sampled.counter_rates["Tcp.OutSegs"] = out;
    e.sampled.counter_rates["Tcp.RetransSegs"] = retrans;
    e.sampled.counter_rates["TcpExt.TCPSynRetrans"] = syn_retrans;
    return e;
}
}  // namespace

// A path losing 1% of its packets: about 0.75% of the segments sent are sent
// again (a lost pure ACK is not; measured over loopback with nftables dropping
// 1% and 3%), enough that one exchange in a hundred waits for a retransmission.
TEST(Verdict, DataSegmentsSentAgainAreNetworkLoss) {
    auto v = judge(with_segments(5000, 40, 2));
    ASSERT_FALSE(v.findings.empty());
    EXPECT_EQ(v.findings.front().id, "network-loss") << v.findings.front().title;
    EXPECT_EQ(value_of(v.findings.front(), "retransmits_per_second"), 38);
}

// The same count of retransmits, all of them handshakes that a full queue
// dropped and the clients (or the server, its SYN-ACK) sent again: the path
// lost nothing.
TEST(Verdict, HandshakesSentAgainAreNotNetworkLoss) {
    auto v = judge(with_segments(5000, 40, 40));
    for (const auto& f : v.findings)
        EXPECT_NE(f.id, "network-loss") << f.title;
    // Below the share where one exchange in a hundred waits: a path's noise.
    for (const auto& f : judge(with_segments(5000, 10, 0)).findings)
        EXPECT_NE(f.id, "network-loss") << f.title;
}

// Drops the accept queue's overflows do not account for are the SYN queue's;
// a flood answered with cookies is a full queue that still serves.
TEST(Verdict, SynQueueDropsAreTheDropsNoOverflowAccountsFor) {
    auto e = base();
    e.sampled.counter_rates["TcpExt.ListenDrops"] = 1000;
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 0;
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"syn-backlog-overflow"}));
    EXPECT_EQ(v.findings[0].severity, Severity::crit);
    EXPECT_EQ(value_of(v.findings[0], "syn_drops_per_second"), 1000);
    EXPECT_EQ(v.findings[0].explains, (std::vector<std::string>{"syn-queue-full"}));

    auto cookies = base();
    cookies.sampled.counter_rates["TcpExt.TCPReqQFullDoCookies"] = 2000;
    auto answered = judge(cookies);
    ASSERT_EQ(ids(answered), (std::vector<std::string>{"syn-backlog-overflow"}));
    EXPECT_EQ(answered.findings[0].severity, Severity::warn);
    EXPECT_EQ(value_of(answered.findings[0], "syncookies_per_second"), 2000);
}

// Every drop a full accept queue makes counts in both counters: no SYN-queue
// finding beside the overflow.
TEST(Verdict, AcceptQueueDropsAreNotTheSynQueues) {
    auto e = base();
    e.sampled.listeners = {{{}, 8, 8}};
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 600;
    e.sampled.counter_rates["TcpExt.ListenDrops"] = 600;
    auto named = ids(judge(e));
    EXPECT_EQ(std::count(named.begin(), named.end(), "syn-backlog-overflow"), 0);
    EXPECT_EQ(std::count(named.begin(), named.end(), "accept-queue-overflow"), 1);
}

// A queue left full by a process that stops accepting (its fd limit) keeps
// handshakes half-open behind it, so the SYN queue fills too: a consequence.
TEST(Verdict, ASynQueueFilledBehindAFullAcceptQueueIsItsConsequence) {
    auto e = base();
    e.sampled.nofile_soft = 1024;
    e.sampled.fds_max = 1024;
    e.sampled.listeners = {{{}, 511, 512}};
    e.sampled.counter_rates["TcpExt.ListenOverflows"] = 40;
    e.sampled.counter_rates["TcpExt.ListenDrops"] = 140;
    e.bpf->syscalls = {call("accept4", 5000, 1'000'000, {{EMFILE, 4000}})};
    auto v = judge(e);
    ASSERT_FALSE(v.findings.empty());
    EXPECT_EQ(v.findings[0].id, "fd-limit");
    auto syn = std::find_if(v.findings.begin(), v.findings.end(),
                            [](const Finding& f) { return f.id == "syn-backlog-overflow"; });
    ASSERT_NE(syn, v.findings.end());
    EXPECT_EQ(syn->severity, Severity::warn);
    EXPECT_NE(syn->why.find("consequence"), std::string::npos) << syn->why;
    EXPECT_NE(
        std::find(v.findings[0].explains.begin(), v.findings[0].explains.end(), "syn-queue-full"),
        v.findings[0].explains.end());
}

namespace {
// Evidence of a conntrack table of `max` holding `entries`, with one of its
// counters' rates.
ProbeEvidence with_conntrack(uint64_t entries, uint64_t max, const char* counter = nullptr,
                             double per_second = 0) {
    auto e = base();
    e.sampled.conntrack_entries = entries;
    e.sampled.conntrack_max = max;
    if (counter) e.sampled.counter_rates[counter] = per_second;
    return e;
}
}  // namespace

// A table at nf_conntrack_max with nothing unreplied to evict drops new
// connections' SYNs: the cause, whatever else is quiet. Evictions alone are a
// warning; a table well below its size is nothing.
TEST(Verdict, ConntrackDropsAreAFullTable) {
    auto e = with_conntrack(262144, 262144, "Conntrack.drop", 800);
    auto v = judge(e);
    ASSERT_EQ(ids(v), (std::vector<std::string>{"conntrack-full"}));
    EXPECT_EQ(v.findings[0].severity, Severity::crit);
    EXPECT_EQ(value_of(v.findings[0], "conntrack_drops_per_second"), 800);
    EXPECT_EQ(v.findings[0].explains, (std::vector<std::string>{"conntrack-full"}));
    EXPECT_NE(v.findings[0].fix[0].find("nf_conntrack_max=524288"), std::string::npos);

    auto warned = judge(with_conntrack(1000, 1000, "Conntrack.early_drop", 50));
    ASSERT_EQ(ids(warned), (std::vector<std::string>{"conntrack-full"}));
    EXPECT_EQ(warned.findings[0].severity, Severity::warn);

    EXPECT_EQ(judge(with_conntrack(200000, 262144)).findings.front().id, "healthy");
}
