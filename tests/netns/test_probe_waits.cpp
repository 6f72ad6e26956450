// SPDX-License-Identifier: GPL-2.0-or-later
// `probe` on what real servers wait on: a dependency, a connection pool, their
// own connection cap, a pegged event loop, Nagle, poll() scans. Each case has a
// lookalike that must not get its id. All servers and load run on loopback in
// this test process's private network namespace and stop by themselves.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "probe_scenarios.hpp"

using namespace c10k::test;

namespace {

bool has_finding(const Probe& p, const std::string& id) {
    for (const auto& f : p.doc["findings"])
        if (f["id"] == id) return true;
    return false;
}

std::string subject(const Probe& p) {
    return p.doc["findings"][0]["subject"].get<std::string>();
}

// The verdict on a host whose CPUs work outside the scenario filled (a build,
// another test run): the target starved of CPU, named as such. The scenarios
// are sized for a 2-core host's headroom; once outsiders take half a core of
// it, a limit that needs headroom (an application's cap) is not what binds.
// The probe names only the host's three biggest users, by command, so
// outsiders are counted both ways and the larger kept: the named ones that are
// not the scenario's, and the host's busy cores less the scenario's processes.
// The scenario runs one process of each command: a named command of several
// processes (another run of these tests beside this one) counts the average
// process, and each process not named held at most what the smallest named
// user did.
bool starved_by_outsiders(const Probe& p) {
    if (p.id != "cpu-saturated" || subject(p).rfind("host CPU", 0) != 0) return false;
    constexpr int kScenarioProcesses = 3;  // c10k-target, c10k-load, c10k-doctor
    const auto& sampled = p.doc["sampled"];
    double named_outsiders = 0, scenario = 0, smallest = 0;
    int scenario_named = 0;
    for (const auto& u : sampled["host_cpu_users"]) {
        auto comm = u["comm"].get<std::string>();
        double cores = u["cores"].get<double>();
        int processes = std::max(1, u["processes"].get<int>());
        smallest = smallest == 0 ? cores : std::min(smallest, cores);
        if (comm.rfind("c10k-", 0) == 0) {
            scenario += cores / processes;
            named_outsiders += cores - cores / processes;
            ++scenario_named;
        } else {
            named_outsiders += cores;
        }
    }
    scenario += std::max(0, kScenarioProcesses - scenario_named) * smallest;
    double busy = sampled["cpus"].get<double>() * sampled["host_busy"].get<double>();
    double outsiders = std::max(named_outsiders, busy - scenario);
    if (outsiders < 0.5) return false;
    std::printf("others held %.2f cores of the host: starved is the verdict\n", outsiders);
    return true;
}

// The dependency (a database that answers after 20 ms of sleep, or of CPU) and
// an application server in front of it with WORKERS threads and POOL connections.
struct AppWithDb {
    std::unique_ptr<Background> db;
    std::unique_ptr<Scenario> app;
    std::string db_addr;

    AppWithDb(const std::string& db_mode, const std::string& workers, const std::string& pool,
              const std::string& clients, const std::string& db_secs = "20",
              const std::string& wait = "read", const std::string& db_ms = "20",
              const std::string& think_ms = "0") {
        db = std::make_unique<Background>(target({db_mode, db_ms, db_secs}));
        if (!db->ok()) return;
        db_addr = "127.0.0.1:" + std::to_string(db->ready_port());
        app = std::make_unique<Scenario>(
            target({"pool-app", std::to_string(db->ready_port()), workers, pool, "20", wait}),
            driver({"pingpong", "PORT", clients, "20", think_ms}));
    }
    bool ok() const { return db->ok() && app && app->ok(); }
};

void expect_downstream(const std::string& mode) {
    AppWithDb s("db", "16", "16", "8");
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("downstream-bound", s.app->pid(), mode);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "downstream-bound") << p.doc.dump(2);
    EXPECT_EQ(subject(p), s.db_addr);
    // The local process serving the destination is named, with the next command.
    const auto& dest = p.doc["sampled"]["connections"]["destinations"][0];
    EXPECT_EQ(dest["remote"], s.db_addr);
    ASSERT_FALSE(dest["server"].is_null()) << dest.dump();
    EXPECT_EQ(dest["server"]["pid"], s.db->pid());
    EXPECT_NE(p.doc["findings"][0]["fix"].dump().find("probe --pid " + std::to_string(s.db->pid())),
              std::string::npos);
}

void expect_pool(const std::string& mode, const std::string& wait = "read") {
    AppWithDb s("db", "16", "4", "12", "20", wait);
    ASSERT_TRUE(s.ok());
    // 28 threads make each look costly, so looks are fewer: a longer window.
    auto p = probe_expecting("app-connection-limit", s.app->pid(), mode, "5s");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p), "pool of 4 to " + s.db_addr);
    EXPECT_FALSE(has_finding(p, "lock-contention")) << "threads wait for a slot, not a lock";
}

Probe capped(const std::string& mode, const std::string& backlog = "64") {
    // 8 workers each held by a keep-alive client, new connections queueing behind them.
    Scenario s(target({"capped", "8", "20", backlog}),
               driver({"pingpong", "PORT", "8", "20", "50"}),
               driver({"connect-rate", "PORT", "100", "20"}));
    EXPECT_TRUE(s.ok());
    return probe_expecting("app-connection-limit", s.pid(), mode);
}

Probe pegged(const std::string& mode) {
    Scenario s(target({"pegged-loop", "4", "20"}), driver({"pingpong", "PORT", "20", "20"}));
    EXPECT_TRUE(s.ok());
    return probe_expecting("cpu-saturated", s.pid(), mode);
}

Probe nagle(const std::string& server_mode, const std::string& mode) {
    // Responses are 47 bytes in two writes; the client waits for all of them.
    Scenario s(target({server_mode, "20"}), driver({"pingpong", "PORT", "8", "20", "0", "47"}));
    EXPECT_TRUE(s.ok());
    // Only the positive case gets more than one window: the lookalike must
    // never look like Nagle.
    return server_mode == "two-writes" ? probe_expecting("nagle-delayed-ack", s.pid(), mode)
                                       : probe(s.pid(), mode);
}

// Clients that reconnect at once, 200 of them, against a server that ends
// connections itself: by eviction past a cap of 50 (`evict-cap`), or after
// each reply (`close-after-reply`, the lookalike, which gets one window).
Probe churned(const std::string& server_mode, const std::string& mode) {
    std::vector<std::string> args = {server_mode, "20"};
    if (server_mode == "evict-cap") args.insert(args.begin() + 1, "50");
    Scenario s(target(args), driver({"pingpong-reconnect", "PORT", "200", "20"}));
    EXPECT_TRUE(s.ok());
    return server_mode == "evict-cap" ? probe_expecting("app-connection-limit", s.pid(), mode)
                                      : probe(s.pid(), mode);
}

// The lookalike: churn (the counter at `churn`, a JSON pointer) but no cap.
void expect_churn_without_cap(const Probe& p, const std::string& churn) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    EXPECT_GT(p.doc[json::json_pointer(churn)].get<double>(), 1000) << "it churned";
}

void expect_evicting_cap(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("connection cap", 0), 0u) << subject(p);
    // The cap of 50 held against 200 clients. A look counts every established
    // inbound socket: the server's 50 plus those the kernel has completed but
    // the server not yet accepted (the listener's queue at that look), so the
    // most seen lies between the cap and the cap plus the deepest queue seen -
    // and far below the clients' 200, which is what tells a cap from the load.
    const auto& sampled = p.doc["sampled"];
    int held = sampled["connections"]["inbound_max"].get<int>();
    int queued = 0;
    for (const auto& l : sampled["listeners"])
        queued = std::max(queued, l["queued_max"].get<int>());
    EXPECT_GE(held, 45) << "a cap of 50 under 200 clients is reached";
    EXPECT_LE(held, 50 + queued + 1) << "the cap plus the queue (" << queued << ") at most";
    EXPECT_LT(held, 100) << "held by the server's cap, not the clients' 200";
}

}  // namespace

TEST(ProbeWaits, DownstreamBoundNamesTheDependencyAndWhoServesIt) {
    REQUIRE_BPF();
    expect_downstream("bpf");
}

TEST(ProbeWaits, DownstreamBoundWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_downstream("sample");
}

// Lookalike: a server blocked on the disk (sleep + fdatasync) waits, but on no peer.
TEST(ProbeWaits, DiskWaitsAreNotDownstream) {
    REQUIRE_BPF();
    Scenario s(target({"sleepy", "20"}), driver({"pingpong", "PORT", "20", "20"}));
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("off-cpu-blocking", s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "downstream-bound"));
}

TEST(ProbeWaits, ExhaustedConnectionPool) {
    REQUIRE_BPF();
    expect_pool("bpf");
}

TEST(ProbeWaits, ExhaustedConnectionPoolWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_pool("sample");
}

// libpq and JDBC wait for a reply in poll() on the socket, and send a
// transaction's next statement the moment the last reply lands, so TCP_INFO's
// send and receive times fall in one tick: the poll set and the ACKs tell.
TEST(ProbeWaits, ExhaustedConnectionPoolWaitingInPoll) {
    REQUIRE_BPF();
    expect_pool("bpf", "poll");
}

// An async driver waits in epoll_wait, which names no socket: TCP_INFO alone.
TEST(ProbeWaits, ExhaustedConnectionPoolSeenByTcpInfoAlone) {
    REQUIRE_PRIVATE_NETNS();
    expect_pool("sample", "epoll");
}

// Lookalike: the same application over a dependency that answers at once, its
// clients thinking 20 ms between requests. Each exchange ends inside one clock
// tick, so send and receive times tie there too; the connections are idle.
TEST(ProbeWaits, AFastDependencyBehindAnIdlePoolIsNotAWait) {
    REQUIRE_PRIVATE_NETNS();
    AppWithDb s("db", "16", "4", "4", "20", "epoll", "0", "20");
    ASSERT_TRUE(s.ok());
    auto p = probe(s.app->pid(), "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "downstream-bound")) << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    const auto& dests = p.doc["sampled"]["connections"]["destinations"];
    ASSERT_FALSE(dests.empty()) << "the pool's connections were not seen";
    EXPECT_LT(dests[0]["waiting_sum"].get<double>(),
              0.5 * dests[0]["connections_sum"].get<double>())
        << dests[0].dump();
}

// Lookalike: threads fighting over one mutex, no pool of connections behind it.
TEST(ProbeWaits, ContendedMutexIsNotAPool) {
    REQUIRE_BPF();
    Scenario s(target({"lock", "20"}), {});
    ASSERT_TRUE(s.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto p = probe_expecting("lock-contention", s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit"));
}

TEST(ProbeWaits, AppAtItsConnectionCap) {
    REQUIRE_BPF();
    auto p = capped("bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("127.0.0.1:", 0), 0u) << "the listener: " << subject(p);
}

TEST(ProbeWaits, AppAtItsConnectionCapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = capped("sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
}

// Lookalike: a fast acceptor whose tiny backlog overflows in bursts.
TEST(ProbeWaits, FastAcceptorWithATinyBacklogIsAcceptQueueOverflow) {
    REQUIRE_BPF();
    auto s = accept_queue_scenario();
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("accept-queue-overflow", s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "accept-queue-overflow") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit"));
}

// The pegged loop is the subject - unless other work fills the host's CPUs
// and the loop gets under half a core of the one it wants: then the host is
// what holds it back, and the judge says so (a 2-core machine busy with a
// build or another test run does that).
void expect_the_loop_or_a_full_host(const Probe& p) {
    if (subject(p).rfind("host CPU", 0) == 0) {
        const auto& threads = p.doc["sampled"]["busiest_threads"];
        ASSERT_FALSE(threads.empty());
        EXPECT_LT(threads[0]["cores"].get<double>(), 0.5) << threads.dump();
        return;
    }
    EXPECT_EQ(subject(p).rfind("thread ", 0), 0u) << subject(p);
}

TEST(ProbeWaits, PeggedEventLoopThread) {
    REQUIRE_BPF();
    auto p = pegged("bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "cpu-saturated") << p.doc.dump(2);
    expect_the_loop_or_a_full_host(p);
    EXPECT_GE(p.doc["sampled"]["threads_max"], 5) << "the idle helpers are there";
}

TEST(ProbeWaits, PeggedEventLoopThreadWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = pegged("sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "cpu-saturated") << p.doc.dump(2);
    expect_the_loop_or_a_full_host(p);
}

// Lookalike: about the same CPU spread over four loops, none of them saturated.
TEST(ProbeWaits, SpreadCpuIsNotAPeggedThread) {
    REQUIRE_BPF();
    Scenario s(target({"spread-cpu", "4", "20"}), driver({"pingpong", "PORT", "20", "20", "30"}));
    ASSERT_TRUE(s.ok());
    auto p = probe(s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    // No thread is named: on a contended host the process as a whole may still
    // want more CPU than it gets, but no one loop holds the others up.
    for (const auto& f : p.doc["findings"]) {
        if (f["id"] == "cpu-saturated") {
            EXPECT_NE(f["subject"].get<std::string>().rfind("thread ", 0), 0u) << f.dump(2);
        }
    }
    EXPECT_GT(p.doc["sampled"]["cpu_cores"].get<double>(), 0.3) << "it did work";
}

namespace {

// A neighbour's load: four spinning threads fill both cores (c10k-hog), next
// to a server that burns ~1 ms of CPU per request for four clients pausing
// 10 ms (alone, about 0.35 cores and healthy). Measured here: it ran 0.31
// cores and waited 0.37 s/s for a CPU, against under 0.02 s/s without the hog.
Probe starved(const std::string& mode, const std::string& pause_ms, const std::string& clients,
              bool expect) {
    Background hog(target({"hog", "4", "20"}));
    EXPECT_TRUE(hog.ok());
    Scenario s(target({"cpu-burn", "20"}), driver({"pingpong", "PORT", clients, "20", pause_ms}));
    EXPECT_TRUE(s.ok());
    return expect ? probe_expecting("cpu-saturated", s.pid(), mode) : probe(s.pid(), mode);
}

void expect_starved(const std::string& mode) {
    auto p = starved(mode, "10", "4", true);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "cpu-saturated") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("host CPU", 0), 0u) << subject(p);
    // Who holds the CPU is named, biggest first. The hog's four spinning
    // threads take more than the target's one request at a time; on a machine
    // busy with other work (a build) those may hold still more, so the hog is
    // named, not necessarily first.
    const auto& users = p.doc["sampled"]["host_cpu_users"];
    ASSERT_FALSE(users.empty());
    double hog = -1, target = 0, before = std::numeric_limits<double>::infinity();
    for (const auto& u : users) {
        auto cores = u["cores"].get<double>();
        EXPECT_LE(cores, before) << "biggest first: " << users.dump();
        before = cores;
        if (u["comm"] == "c10k-hog") hog = cores;
        if (u["comm"] == "c10k-target") target = cores;
    }
    EXPECT_GT(hog, target) << users.dump();
    EXPECT_NE(p.doc["findings"][0]["why"].get<std::string>().find("c10k-hog"), std::string::npos);
}

}  // namespace

TEST(ProbeWaits, StarvedOfCpuByANeighbour) {
    REQUIRE_BPF();
    expect_starved("bpf");
}

TEST(ProbeWaits, StarvedOfCpuByANeighbourWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_starved("sample");
}

// Lookalike: the same hog beside a server that barely runs (one client pausing
// 50 ms): its few requests wait little for a CPU; others' load costs it
// latency, not capacity.
TEST(ProbeWaits, AnIdleServerBesideANeighboursLoadIsNotCpuSaturated) {
    REQUIRE_BPF();
    auto p = starved("bpf", "50", "1", false);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "cpu-saturated")) << p.doc.dump(2);
    EXPECT_GT(p.doc["sampled"]["host_busy"].get<double>(), 0.85) << "the hog filled the cores";
}

// nginx at worker_connections: it keeps accepting and makes room by ending
// idle keep-alive connections, whose clients' next requests meet a reset. No
// queue fills; the process's own limit is the bottleneck. (Found on nginx with
// worker_connections 64 under wrk -c300: it said "healthy".)
TEST(ProbeWaits, ACapKeptByEvictingConnectionsIsTheApplicationsLimit) {
    REQUIRE_BPF();
    expect_evicting_cap(churned("evict-cap", "bpf"));
}

// Lookalike: a server that ends every connection itself after one reply, as
// fast, with clients that reconnect at once: churn, but no cap.
TEST(ProbeWaits, EndingEachConnectionAfterOneReplyIsNotACap) {
    REQUIRE_BPF();
    expect_churn_without_cap(churned("close-after-reply", "bpf"), "/tcp/closed_first_by_target");
}

// Lookalike: a pool that ends each connection after its one reply, 100 ms a
// request, with a worker for every client (uWSGI or a PHP-FPM pool without
// keep-alive). The clients' next requests on the connections it has just
// closed meet resets and the count held sits at the clients' 20, which is the
// churn and plateau of an evicting cap; but every held connection has its
// request in progress, and there is no idle one for a cap to evict.
Probe slow_close_after_reply(const std::string& mode) {
    Scenario s(target({"worker-pool", "24", "100", "20"}),
               driver({"pingpong-reconnect", "PORT", "20", "20"}));
    EXPECT_TRUE(s.ok());
    return probe(s.pid(), mode);
}

void expect_no_cap_behind_slow_replies(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    const auto& c = p.doc["sampled"]["connections"];
    EXPECT_GE(c["inbound_mean"].get<double>(), 10.0) << "a plateau at the clients' count";
    EXPECT_LT(c["inbound_mean"].get<double>() - c["inbound_pending_mean"].get<double>(), 1.0)
        << "none idle";
}

TEST(ProbeWaits, SlowRepliesThenCloseUnderReconnectingClientsIsNotACap) {
    REQUIRE_BPF();
    expect_no_cap_behind_slow_replies(slow_close_after_reply("bpf"));
}

TEST(ProbeWaits, SlowRepliesThenCloseUnderReconnectingClientsIsNotACapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_no_cap_behind_slow_replies(slow_close_after_reply("sample"));
}

// Without BPF: the namespace's passive opens and resets, and the target seen
// churning in the looks.
TEST(ProbeWaits, ACapKeptByEvictingConnectionsWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_evicting_cap(churned("evict-cap", "sample"));
}

TEST(ProbeWaits, EndingEachConnectionAfterOneReplyIsNotACapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_churn_without_cap(churned("close-after-reply", "sample"),
                             "/sampled/counter_rates/Tcp.PassiveOpens");
}

// The same cap behind a backlog of 4096: at 100 connections a second the
// queue does not fill in the window, and no overflow is counted, but every
// look finds connections waiting that nobody accepts. (It said "healthy".)
TEST(ProbeWaits, AnApplicationAtItsCapBehindADeepBacklog) {
    REQUIRE_BPF();
    auto p = capped("bpf", "4096");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("127.0.0.1:", 0), 0u) << "the listener: " << subject(p);
    EXPECT_EQ(p.doc["sampled"]["listeners"][0]["full_samples"], 0) << "the queue never filled";
}

TEST(ProbeWaits, NagleDelayedAck) {
    REQUIRE_BPF();
    auto p = nagle("two-writes", "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "nagle-delayed-ack") << p.doc.dump(2);
    EXPECT_NE(p.doc["findings"][0]["fix"].dump().find("TCP_NODELAY"), std::string::npos);
}

TEST(ProbeWaits, NagleDelayedAckWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = nagle("two-writes", "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "nagle-delayed-ack") << p.doc.dump(2);
}

// Lookalike: the same two writes with TCP_NODELAY go out at once.
TEST(ProbeWaits, TwoWritesWithNodelayAreNotNagle) {
    REQUIRE_BPF();
    auto p = nagle("two-writes-nodelay", "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "nagle-delayed-ack")) << p.doc.dump(2);
    EXPECT_EQ(p.doc["sampled"]["connections"]["nagle_held_samples"], 0);
}

TEST(ProbeWaits, PollOverTenThousandFds) {
    REQUIRE_BPF();
    // 10,000 idle connections held by one process, 20 busy ones by another.
    Scenario s(target({"poll-server", "25"}), {C10K_TESTKIT_PATH, "burst", "PORT", "10000", "25"},
               driver({"pingpong", "PORT", "20", "20"}));
    ASSERT_TRUE(s.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // all 10,000 accepted
    auto p = probe_expecting("poll-scaling", s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "poll-scaling") << p.doc.dump(2);
    EXPECT_GT(p.doc["poll"]["nfds_sum"].get<double>() / p.doc["poll"]["calls"].get<double>(), 9000);
}

// Lookalike: the same poll() loop over ten connections.
TEST(ProbeWaits, PollOverTenFdsIsNotPollScaling) {
    REQUIRE_BPF();
    Scenario s(target({"poll-server", "20"}), driver({"pingpong", "PORT", "10", "20"}));
    ASSERT_TRUE(s.ok());
    auto p = probe(s.pid(), "bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "poll-scaling")) << p.doc.dump(2);
    EXPECT_GT(p.doc["poll"]["calls"], 0) << "poll() was seen";
}

// Sampling mode with a loop that never sleeps (poll timeout 0): /proc never
// catches it inside poll(), so only the on-CPU samples name the call and read
// its fd count from the registers saved at syscall entry.
namespace {
Probe busy_poll(const char* clients_idle, const char* verdict) {
    Scenario s(target({"poll-server", "25", "0"}),
               {C10K_TESTKIT_PATH, "burst", "PORT", clients_idle, "25"},
               driver({"pingpong", "PORT", "10", "20"}));
    EXPECT_TRUE(s.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // all accepted
    return verdict ? probe_expecting(verdict, s.pid(), "sample") : probe(s.pid(), "sample");
}
}  // namespace

TEST(ProbeWaits, BusyPollOverTenThousandFdsWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = busy_poll("10000", "poll-scaling");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    const auto& cpu = p.doc["sampled"]["on_cpu"];
    if (!cpu["sampled"].get<bool>())
        GTEST_SKIP() << "no perf cpu-clock here: " << cpu["unavailable"].get<std::string>();
    EXPECT_EQ(p.id, "poll-scaling") << p.doc.dump(2);
    ASSERT_GT(cpu["fd_scan"]["samples"].get<double>(), 0) << cpu.dump(2);
    EXPECT_GT(cpu["fd_scan"]["nfds_sum"].get<double>() / cpu["fd_scan"]["samples"].get<double>(),
              9000)
        << "poll()'s own nfds argument";
}

// Lookalike: the same busy poll() over the ten busy connections alone. Its
// CPU is inside poll() too, but each call looks at eleven fds.
TEST(ProbeWaits, BusyPollOverTenFdsIsNotPollScalingWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = busy_poll("0", nullptr);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    const auto& cpu = p.doc["sampled"]["on_cpu"];
    if (!cpu["sampled"].get<bool>())
        GTEST_SKIP() << "no perf cpu-clock here: " << cpu["unavailable"].get<std::string>();
    EXPECT_FALSE(has_finding(p, "poll-scaling")) << p.doc.dump(2);
    ASSERT_GT(cpu["fd_scan"]["samples"].get<double>(), 0) << "the CPU was seen inside poll()";
    EXPECT_LE(cpu["fd_scan"]["nfds_max"].get<double>(), 11) << cpu.dump(2);
}

TEST(ProbeFollow, ChainsTheTargetToItsDependencysOwnBottleneck) {
    REQUIRE_BPF();
    AppWithDb s("busy-db", "16", "16", "8");
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("downstream-bound", s.app->pid(), "bpf", "4s", {"--follow"});
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "downstream-bound") << p.doc.dump(2);
    ASSERT_FALSE(p.doc["follow"].is_null()) << p.doc.dump(2);
    EXPECT_EQ(p.doc["follow"]["pid"], s.db->pid());
    EXPECT_EQ(p.doc["follow"]["verdict"]["id"], "cpu-saturated") << p.doc["follow"].dump(2);
    auto chain = p.doc["chain"].get<std::string>();
    EXPECT_NE(chain.find(s.db_addr), std::string::npos) << chain;
    EXPECT_NE(chain.find("cpu-saturated"), std::string::npos) << chain;
    // The chain's share is the one the finding measured.
    double wait = -1;
    for (const auto& ev : p.doc["findings"][0]["evidence"])
        if (ev["key"] == "wait_percent") wait = ev["value"].get<double>();
    ASSERT_GE(wait, 0) << p.doc["findings"][0].dump(2);
    // Both printed as the chain prints it (fmt rounds the same way twice).
    EXPECT_NE(chain.find(fmt::format("({:.0f}% of the time)", wait)), std::string::npos)
        << chain << " vs wait_percent " << wait;
}

TEST(ProbeFollow, ADependencyThatExitsMidWindowIsSaidAndTheTargetStillJudged) {
    REQUIRE_BPF();
    AppWithDb s("db", "16", "16", "8");
    ASSERT_TRUE(s.ok());
    // The db is stopped a second after the probe says it follows it: within
    // the window however long this machine takes to get there.
    auto p = probe_then(s.app->pid(), "bpf", "6s", {"--follow"}, "following PID",
                        "sleep 1; kill " + std::to_string(s.db->pid()));
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    ASSERT_FALSE(p.doc["follow"].is_null()) << p.raw.err << p.doc.dump(2);
    EXPECT_EQ(p.doc["follow"]["pid"], s.db->pid());
    // Said in the chain when it exited while followed, in the unobserved list
    // when its own probe was still attaching (a slow VM).
    auto said = p.doc["chain"].dump() + p.doc["unobserved"].dump();
    EXPECT_NE(said.find("exited"), std::string::npos) << said;
    EXPECT_FALSE(p.doc["verdict"]["id"].get<std::string>().empty());
}

TEST(ProbeFollow, NothingToFollowIsOneNote) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"healthy", "20"}), driver({"pingpong", "PORT", "4", "20", "50"}));
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("healthy", s.pid(), "sample", "2s", {"--follow"});
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_TRUE(p.doc["follow"].is_null());
    EXPECT_NE(p.doc["notes"].dump().find("nothing to follow"), std::string::npos) << p.doc["notes"];
    EXPECT_EQ(p.id, "healthy");
}

// Parked is not contended: a pool of 16 workers, each on a condvar of its own
// and waking every millisecond (thousands of futex calls a second, nearly all
// of the process's syscall time), beside an epoll loop under light load. The
// verdict a JVM or Go service in this state must get is healthy, not
// lock-contention, in both modes.
Probe parked_pool(const std::string& mode) {
    Scenario s(target({"parked-pool", "16", "20"}), driver({"pingpong", "PORT", "8", "20", "5"}));
    EXPECT_TRUE(s.ok());
    return probe(s.pid(), mode);
}

// The lookalike asserts what it is about: no lock-contention. Its verdict is
// healthy on a quiet machine, but on one whose cores others fill it is rightly
// the host's CPU, which says nothing about parking.
TEST(ProbeWaits, AParkedPoolIsNotLockContention) {
    REQUIRE_BPF();
    auto p = parked_pool("bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "lock-contention")) << p.doc.dump(2);
    // It did park: the sampler saw the workers in futex, none on a held lock.
    EXPECT_GT(p.doc["sampled"]["thread_states"]["futex_samples"].get<double>(), 0);
    EXPECT_EQ(p.doc["sampled"]["thread_states"]["futex_contended"].get<double>(), 0);
}

TEST(ProbeWaits, AParkedPoolIsNotLockContentionWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = parked_pool("sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "lock-contention")) << p.doc.dump(2);
    EXPECT_EQ(p.doc["sampled"]["thread_states"]["futex_contended"].get<double>(), 0);
}

// The contended mutex without BPF: the waiters' own futex arguments (one
// address, the lock word 2) show the lock is held, from /proc alone.
TEST(ProbeWaits, LockContentionWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"lock", "20"}), {});
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("lock-contention", s.pid(), "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_GE(p.doc["sampled"]["thread_states"]["futex_contended"].get<double>(),
              p.doc["sampled"]["samples"].get<double>())
        << "at least one thread on the held lock per look, on average";
}

// A server that closes every connection itself after its reply, with this
// namespace's tcp_max_tw_buckets at 32, under 20 clients that reconnect in a
// closed loop every 50 ms: about 400 connections a second, each leaving a
// TIME_WAIT socket for 60 s, so nearly all of them overflow the 32 buckets -
// while the server stays far from CPU-bound. The steady count is the clients'
// concurrency and any resets are the overflow's: time-wait-overflow, never a
// connection cap.
Probe tw_overflow(const std::string& mode) {
    ScopedSysctl buckets("/proc/sys/net/ipv4/tcp_max_tw_buckets", "32");
    Scenario s(target({"close-after-reply", "20"}),
               driver({"pingpong-reconnect", "PORT", "20", "20", "50", "0", "50"}));
    EXPECT_TRUE(s.ok());
    return probe_expecting("time-wait-overflow", s.pid(), mode);
}

void expect_tw_overflow(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "time-wait-overflow") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    EXPECT_GT(p.doc["sampled"]["counter_rates"]["TcpExt.TCPTimeWaitOverflow"].get<double>(), 100);
}

TEST(ProbeWaits, TimeWaitOverflowBehindCloseAfterReplyIsNotACap) {
    REQUIRE_BPF();
    expect_tw_overflow(tw_overflow("bpf"));
}

TEST(ProbeWaits, TimeWaitOverflowBehindCloseAfterReplyIsNotACapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_tw_overflow(tw_overflow("sample"));
}

// An event loop whose access log goes to a pipe drained slowly: it sits in
// write() on the pipe, in S state, not D, and uses next to no CPU. Blocking
// is where the loop's time goes, whatever the state: off-cpu-blocking, in both
// modes. The lookalike writes the same lines to a pipe drained at once.
Probe pipe_log(const std::string& drain_delay_ms, const std::string& mode) {
    Scenario s(target({"pipe-log", drain_delay_ms, "20"}),
               driver({"pingpong", "PORT", "8", "20", "5"}));
    EXPECT_TRUE(s.ok());
    return drain_delay_ms != "0" ? probe_expecting("off-cpu-blocking", s.pid(), mode)
                                 : probe(s.pid(), mode);
}

void expect_loop_blocked_in_write(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    const auto& top = p.doc["findings"][0];
    EXPECT_EQ(top["subject"], "event loop");
    EXPECT_NE(top["title"].get<std::string>().find("write()"), std::string::npos) << top["title"];
}

TEST(ProbeWaits, AnEventLoopBlockedWritingToASlowPipe) {
    REQUIRE_BPF();
    expect_loop_blocked_in_write(pipe_log("10", "bpf"));
}

TEST(ProbeWaits, AnEventLoopBlockedWritingToASlowPipeWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_loop_blocked_in_write(pipe_log("10", "sample"));
}

// An event loop parked in a futex per request (Node's Atomics.wait): twenty
// clients without pauses keep about nineteen requests unread behind its
// 10 ms waits, while its helper threads park on condvars and one waits in an
// epoll loop of its own. The loop is blocked in futex, in both modes; the
// lookalike is the same process whose loop never waits (under that load its
// loop is on the CPU: not blocked), and the pool of
// parked workers at its cap (dispatch-pool, above) stays the pool's limit.
void expect_loop_not_blocked(const Probe& p);

Probe loop_futex(const std::string& ms, const std::string& mode,
                 const std::string& clients = "20") {
    Scenario s(target({"loop-futex", ms, "20"}), driver({"pingpong", "PORT", clients, "20", "0"}));
    EXPECT_TRUE(s.ok());
    return ms != "0" ? probe_expecting("off-cpu-blocking", s.pid(), mode) : probe(s.pid(), mode);
}

void expect_loop_blocked_in_futex(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    const auto& top = p.doc["findings"][0];
    EXPECT_EQ(top["subject"], "event loop");
    EXPECT_NE(top["title"].get<std::string>().find("futex()"), std::string::npos) << top["title"];
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
}

TEST(ProbeWaits, AnEventLoopParkedInFutexIsBlocked) {
    REQUIRE_BPF();
    expect_loop_blocked_in_futex(loop_futex("10", "bpf"));
}

TEST(ProbeWaits, AnEventLoopParkedInFutexIsBlockedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_loop_blocked_in_futex(loop_futex("10", "sample"));
}

// Three clients: each request waits ~20 ms behind the one in its 10 ms wait,
// so none stays unread from one look to the next (BPF mode's looks come
// ~190 ms apart); two sit in the kernel's queues at every instant, and the
// loop is parked in futex all the while.
TEST(ProbeWaits, AnEventLoopParkedInFutexBeforeAFewClientsIsBlocked) {
    REQUIRE_BPF();
    expect_loop_blocked_in_futex(loop_futex("10", "bpf", "3"));
}

TEST(ProbeWaits, AnEventLoopParkedInFutexBeforeAFewClientsIsBlockedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_loop_blocked_in_futex(loop_futex("10", "sample", "3"));
}

TEST(ProbeWaits, AnEventLoopBesideParkedHelpersIsNotBlocked) {
    REQUIRE_BPF();
    expect_loop_not_blocked(loop_futex("0", "bpf"));
}

TEST(ProbeWaits, AnEventLoopBesideParkedHelpersIsNotBlockedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_loop_not_blocked(loop_futex("0", "sample"));
}

// The same loop sleeping 10 ms a request (Redis's DEBUG SLEEP): nearly always
// asleep, it is almost never caught in its epoll_wait, while the helper's
// idle epoll loop is; /proc read Redis so as a pool at its cap, with the
// sleeps taken for a timer's. Its share of the process's CPU marks it as the
// loop. The lookalikes are those of the futex loop above.
Probe loop_sleep(const std::string& mode) {
    Scenario s(target({"loop-sleep", "10", "20"}), driver({"pingpong", "PORT", "20", "20", "0"}));
    EXPECT_TRUE(s.ok());
    return probe_expecting("off-cpu-blocking", s.pid(), mode);
}

TEST(ProbeWaits, AnEventLoopAsleepPerRequestIsBlocked) {
    REQUIRE_BPF();
    auto p = loop_sleep("bpf");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
}

TEST(ProbeWaits, AnEventLoopAsleepPerRequestIsBlockedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    auto p = loop_sleep("sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    const auto& top = p.doc["findings"][0];
    EXPECT_EQ(top["subject"], "event loop");
    EXPECT_NE(top["title"].get<std::string>().find("clock_nanosleep()"), std::string::npos)
        << top["title"];
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
}

void expect_loop_not_blocked(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "off-cpu-blocking")) << p.doc.dump(2);
}

TEST(ProbeWaits, AnEventLoopLoggingToAFastPipeIsNotBlocked) {
    REQUIRE_BPF();
    expect_loop_not_blocked(pipe_log("0", "bpf"));
}

TEST(ProbeWaits, AnEventLoopLoggingToAFastPipeIsNotBlockedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_loop_not_blocked(pipe_log("0", "sample"));
}

// Workers serialised on a file lock: 6 threads taking turns on one flock(),
// each holding it across a 5 ms call. Lock waits whatever the runtime, seen
// from /proc in both modes: lock-contention on the file lock. The lookalike
// takes the same locks, each on a file of its own.
Probe flock_workers(const std::string& mode_name, const std::string& mode) {
    Scenario s(target({mode_name, "6", "20"}), {});
    EXPECT_TRUE(s.ok());
    return mode_name == "flock-workers" ? probe_expecting("lock-contention", s.pid(), mode)
                                        : probe(s.pid(), mode);
}

void expect_file_lock(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_EQ(p.doc["findings"][0]["subject"], "file lock");
}

TEST(ProbeWaits, WorkersSerialisedOnAFileLock) {
    REQUIRE_BPF();
    expect_file_lock(flock_workers("flock-workers", "bpf"));
}

TEST(ProbeWaits, WorkersSerialisedOnAFileLockWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_file_lock(flock_workers("flock-workers", "sample"));
}

TEST(ProbeWaits, WorkersEachOnAFileLockOfTheirOwnAreNotContended) {
    REQUIRE_PRIVATE_NETNS();
    auto p = flock_workers("flock-apart", "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "lock-contention")) << p.doc.dump(2);
}

// An application whose dependency burns the host's cores: 16 workers, each
// waiting on a database that spends 20 ms of CPU per query with a thread per
// connection. The application's threads wait for a CPU too, but the cores are
// the dependency's: downstream-bound naming its address and PID, with the
// host's CPU a consequence. (The lookalike, a neighbour that is no dependency
// holding the cores, is StarvedOfCpuByANeighbour: cpu-saturated, the host.)
void expect_dependency_holds_cpu(const std::string& mode) {
    AppWithDb s("busy-db", "16", "16", "16");
    ASSERT_TRUE(s.ok());
    auto p = probe_expecting("downstream-bound", s.app->pid(), mode);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "downstream-bound") << p.doc.dump(2);
    EXPECT_EQ(subject(p), s.db_addr);
    const auto& dest = p.doc["sampled"]["connections"]["destinations"][0];
    // The whole document: which destinations were seen, and which listeners.
    ASSERT_FALSE(dest["server"].is_null()) << p.doc.dump(2);
    EXPECT_EQ(dest["server"]["pid"], s.db->pid());
    EXPECT_GT(dest["server"]["cores"].get<double>(), 0.5) << "the dependency burned the CPU";
    for (const auto& f : p.doc["findings"]) {
        if (f["id"] == "cpu-saturated") {
            EXPECT_EQ(f["severity"], "WARN") << f.dump(2);
        }
    }
}

TEST(ProbeWaits, ADependencyBurningTheHostsCpuIsDownstreamBound) {
    REQUIRE_BPF();
    expect_dependency_holds_cpu("bpf");
}

TEST(ProbeWaits, ADependencyBurningTheHostsCpuIsDownstreamBoundWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_dependency_holds_cpu("sample");
}

// An event-loop proxy with a cap of 4 connections to its upstream (HAProxy's
// maxconn on a server line) in front of a dependency that answers each
// request in 20 ms on a thread of its own, 32 clients without pause: the 4
// connections are always out, and 28 requests wait inside the proxy for one.
// No thread parks for a slot; the requests in progress beyond the pool's
// connections show it. The lookalike: the same proxy with a connection for
// every client, each request out at once - downstream-bound, no pool.
Probe proxy_pool(const std::string& pool, const std::string& mode,
                 std::string* upstream = nullptr) {
    Background db(target({"db", "20", "20"}));
    EXPECT_TRUE(db.ok());
    if (upstream) *upstream = "127.0.0.1:" + std::to_string(db.ready_port());
    Scenario s(target({"proxy-pool", std::to_string(db.ready_port()), pool, "20"}),
               driver({"pingpong", "PORT", "32", "20"}));
    EXPECT_TRUE(s.ok());
    return probe_expecting(pool == "4" ? "app-connection-limit" : "downstream-bound", s.pid(),
                           mode);
}

void expect_proxy_pool_exhausted(const std::string& mode) {
    std::string upstream;
    auto p = proxy_pool("4", mode, &upstream);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p), "pool of 4 to " + upstream);
    const auto& f = p.doc["findings"][0];
    EXPECT_NE(f["title"].get<std::string>().find("requests waiting for a slot"), std::string::npos)
        << f["title"];
}

void expect_proxy_without_cap_is_downstream(const std::string& mode) {
    auto p = proxy_pool("32", mode);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "downstream-bound") << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
}

TEST(ProbeWaits, AnEventLoopProxyAtItsUpstreamConnectionCap) {
    REQUIRE_BPF();
    expect_proxy_pool_exhausted("bpf");
}

TEST(ProbeWaits, AnEventLoopProxyAtItsUpstreamConnectionCapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_proxy_pool_exhausted("sample");
}

TEST(ProbeWaits, AnEventLoopProxyWithAConnectionPerRequestInFlightIsDownstream) {
    REQUIRE_BPF();
    expect_proxy_without_cap_is_downstream("bpf");
}

TEST(ProbeWaits, AnEventLoopProxyWithAConnectionPerRequestInFlightIsDownstreamWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_proxy_without_cap_is_downstream("sample");
}

// An event-loop proxy in front of a slow pool of 4 workers (each request 20 ms),
// opening a connection to it per request, 16 clients without pause: the loop
// idles in epoll_wait while up to 16 requests are out upstream, 12 of them in
// the pool's accept queue. No thread of the proxy is blocked; only its
// outbound connections (request sent, nothing back yet) show the wait. The
// lookalike: the same proxy before a pool that answers in 1 ms, its clients
// pausing 100 ms between requests - the same per-request connections, about
// 0.16 of them out at once (160 requests/s x 1 ms), so a look finds one out
// about one time in seven, far from most of the time.
Probe proxy_per_request(const std::string& upstream_ms, const std::string& pause_ms,
                        const std::string& mode, std::string* upstream_addr = nullptr,
                        pid_t* upstream_pid = nullptr) {
    Background upstream(target({"worker-pool", "4", upstream_ms, "20"}));
    EXPECT_TRUE(upstream.ok());
    if (upstream_addr) *upstream_addr = "127.0.0.1:" + std::to_string(upstream.ready_port());
    if (upstream_pid) *upstream_pid = upstream.pid();
    Scenario s(target({"proxy-per-request", std::to_string(upstream.ready_port()), "20"}),
               driver({"pingpong", "PORT", "16", "20", pause_ms}));
    EXPECT_TRUE(s.ok());
    return upstream_ms == "20" ? probe_expecting("downstream-bound", s.pid(), mode)
                               : probe(s.pid(), mode);
}

void expect_per_request_upstream(const std::string& mode) {
    std::string addr;
    pid_t pid = 0;
    auto p = proxy_per_request("20", "0", mode, &addr, &pid);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "downstream-bound") << p.doc.dump(2);
    EXPECT_EQ(subject(p), addr);
    const auto& dest = p.doc["sampled"]["connections"]["destinations"][0];
    EXPECT_TRUE(dest["per_request"].get<bool>()) << dest.dump();
    ASSERT_FALSE(dest["server"].is_null()) << dest.dump();
    EXPECT_EQ(dest["server"]["pid"], pid) << "the pool holding the upstream's listener";
    // A worker ends each connection after its reply, leaving a TIME_WAIT socket
    // on its side of this namespace for 60 s: every connection the looks saw
    // opened has one by the end, but for the 16 that may still be out then.
    auto closed = dest["closed"].get<uint64_t>();
    EXPECT_GT(closed, 0u) << dest.dump();
    EXPECT_GE(closed + 16, dest["opened"].get<uint64_t>()) << dest.dump();
    // Little's law over them: no reply before the worker's 20 ms, and none
    // later than 16 requests queued for 4 workers make it (80 ms), with room
    // for a loaded machine's scheduling.
    EXPECT_GE(dest["reply_mean_s"].get<double>(), 0.02) << dest.dump();
    EXPECT_LE(dest["reply_mean_s"].get<double>(), 0.2) << dest.dump();
}

void expect_fast_per_request_upstream_is_no_wait(const std::string& mode) {
    auto p = proxy_per_request("1", "100", mode);
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "downstream-bound")) << p.doc.dump(2);
    // The load ran: the 16 clients held their connections to the proxy.
    EXPECT_EQ(p.doc["sampled"]["connections"]["inbound_max"].get<int>(), 16);
}

TEST(ProbeWaits, AnEventLoopWaitingOnAnUpstreamOverPerRequestConnections) {
    REQUIRE_BPF();
    expect_per_request_upstream("bpf");
}

TEST(ProbeWaits, AnEventLoopWaitingOnAnUpstreamOverPerRequestConnectionsWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_per_request_upstream("sample");
}

TEST(ProbeWaits, AFastUpstreamOverPerRequestConnectionsIsNotAWait) {
    REQUIRE_BPF();
    expect_fast_per_request_upstream_is_no_wait("bpf");
}

TEST(ProbeWaits, AFastUpstreamOverPerRequestConnectionsIsNotAWaitWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_fast_per_request_upstream_is_no_wait("sample");
}

// 100 clients against a server that keeps 50 and refuses the rest at once
// with an error line (Redis at maxclients), each refused client retrying 50 ms
// later: about 1,000 refusals a second beside 50 steady connections. The
// lookalike is the same load on a server that ends every connection after one
// reply: the same stream of short connections, but nothing kept.
Probe refusing(const std::string& server_mode, const std::string& mode) {
    std::vector<std::string> args = {server_mode, "20"};
    if (server_mode == "refuse-cap") args.insert(args.begin() + 1, "50");
    Scenario s(target(args), driver({"pingpong-reconnect", "PORT", "100", "20", "50", "0", "50"}));
    EXPECT_TRUE(s.ok());
    return server_mode == "refuse-cap" ? probe_expecting("app-connection-limit", s.pid(), mode)
                                       : probe(s.pid(), mode);
}

void expect_refusing_cap(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("connection cap", 0), 0u) << subject(p);
    // The kept connections are the cap's 50 (a look may also catch one being
    // refused), far below the clients' 100.
    double kept = p.doc["sampled"]["connections"]["inbound_kept_mean"].get<double>();
    EXPECT_GE(kept, 45) << "the cap's 50 kept";
    EXPECT_LE(kept, 51);
}

TEST(ProbeWaits, ACapKeptByRefusingIsTheApplicationsLimit) {
    REQUIRE_BPF();
    expect_refusing_cap(refusing("refuse-cap", "bpf"));
}

TEST(ProbeWaits, ACapKeptByRefusingIsTheApplicationsLimitWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_refusing_cap(refusing("refuse-cap", "sample"));
}

void expect_one_reply_each_is_no_cap(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    // The mechanism the cap needs is absent - nothing kept - while the load ran.
    EXPECT_LT(p.doc["sampled"]["connections"]["inbound_kept_mean"].get<double>(), 10);
    EXPECT_GT(p.doc["sampled"]["counter_rates"]["Tcp.PassiveOpens"].get<double>(), 100)
        << "the clients connected again and again";
}

TEST(ProbeWaits, OneReplyPerConnectionUnderRetryingClientsIsNotARefusingCap) {
    REQUIRE_BPF();
    expect_one_reply_each_is_no_cap(refusing("close-after-reply", "bpf"));
}

TEST(ProbeWaits, OneReplyPerConnectionUnderRetryingClientsIsNotARefusingCapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_one_reply_each_is_no_cap(refusing("close-after-reply", "sample"));
}

// nginx past worker_connections: 200 keep-alive clients, each pausing 20 ms
// between requests, against a cap of 50 that takes a new connection only by
// closing an idle one (a FIN, no reset) and otherwise leaves it queued. Every
// request then costs a connection. The lookalike closes after every reply by
// design, under the same clients: the same churn, but it holds only the
// connections it is serving.
Probe draining(const std::string& server_mode, const std::string& mode) {
    std::vector<std::string> args = {server_mode, "20"};
    if (server_mode == "drain-cap") args.insert(args.begin() + 1, "50");
    Scenario s(target(args), driver({"pingpong-reconnect", "PORT", "200", "20", "20"}));
    EXPECT_TRUE(s.ok());
    return server_mode == "drain-cap" ? probe_expecting("app-connection-limit", s.pid(), mode)
                                      : probe(s.pid(), mode);
}

double idle_held(const Probe& p) {
    const auto& c = p.doc["sampled"]["connections"];
    return c["inbound_mean"].get<double>() - c["inbound_pending_mean"].get<double>();
}

void expect_drained_cap(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    if (starved_by_outsiders(p)) return;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("connection cap", 0), 0u) << subject(p);
    EXPECT_LE(p.doc["sampled"]["connections"]["inbound_mean"].get<double>(), 60) << "the cap's 50";
    EXPECT_GE(idle_held(p), 2) << "idle keep-alive connections held";
    // ... and ended young: each new connection ends the idlest, so with ~15
    // idle at thousands of new ones a second none waits long (a millisecond
    // or so; half of them under 10 ms leaves room for a loaded machine).
    const auto& age = p.doc["sampled"]["connections"]["inbound_idle_age"];
    EXPECT_LE(age["p50_ns"].get<double>(), 10e6) << age.dump();
}

TEST(ProbeWaits, ACapDrainedCleanlyIsTheApplicationsLimit) {
    REQUIRE_BPF();
    auto p = draining("drain-cap", "bpf");
    expect_drained_cap(p);
    // Drained with FINs. A close can still race a client's next request, sent
    // the moment its 20 ms pause ends (data after close is answered with a
    // reset); a stall of a millisecond or so on a loaded machine widens that
    // instant to a few percent of the pause. Evicting resets a quarter or more
    // (kAbortedShare), so 5% still tells the two apart.
    auto resets = p.doc["tcp"]["resets_sent"].get<double>();
    auto ended = p.doc["tcp"]["closed_first_by_target"].get<double>();
    EXPECT_GT(ended, 100) << "the cap drained connections";
    EXPECT_LE(resets, 0.05 * ended) << p.doc["tcp"].dump();
}

TEST(ProbeWaits, ACapDrainedCleanlyIsTheApplicationsLimitWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_drained_cap(draining("drain-cap", "sample"));
}

void expect_close_after_reply_is_no_drain(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    // What it holds is what it serves: next to no connection idle.
    EXPECT_LT(idle_held(p), 1) << p.doc["sampled"]["connections"].dump(2);
    EXPECT_GT(p.doc["sampled"]["counter_rates"]["Tcp.PassiveOpens"].get<double>(), 100);
}

TEST(ProbeWaits, ClosingAfterEachReplyUnderKeepAliveClientsIsNotADrainedCap) {
    REQUIRE_BPF();
    expect_close_after_reply_is_no_drain(draining("close-after-reply", "bpf"));
}

TEST(ProbeWaits, ClosingAfterEachReplyUnderKeepAliveClientsIsNotADrainedCapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_close_after_reply_is_no_drain(draining("close-after-reply", "sample"));
}

// A server with room whose idle timeout (100 ms, a short nginx
// keepalive_timeout) is shorter than its 200 clients' pauses (300 ms): it ends
// every connection itself and holds idle ones while the clients reconnect for
// each request - the drained cap's churn, its queue as often empty - but it
// holds every client, and its idle connections reach the timeout's age
// instead of being ended young for their slots. (nginx 1.22 so configured:
// healthy in both modes, idle ages' median 34-67 ms.)
Probe timing_out(const std::string& mode) {
    Scenario s(target({"idle-timeout", "100", "20"}),
               driver({"pingpong-reconnect", "PORT", "200", "20", "300"}));
    EXPECT_TRUE(s.ok());
    return probe(s.pid(), mode);
}

void expect_idle_timeout_is_no_cap(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    const auto& c = p.doc["sampled"]["connections"];
    // What it shares with the cap: idle connections held, and churn.
    EXPECT_GE(idle_held(p), 2) << c.dump();
    EXPECT_GT(p.doc["sampled"]["counter_rates"]["Tcp.PassiveOpens"].get<double>(), 100);
    // What it lacks: idle connections ended young. Their ages spread up to the
    // 100 ms timeout, so half are older than 20 ms (a cap's are a few ms).
    EXPECT_GE(c["inbound_idle_age"]["p50_ns"].get<double>(), 20e6) << c.dump();
}

TEST(ProbeWaits, AShortKeepAliveTimeoutIsNotADrainedCap) {
    REQUIRE_BPF();
    expect_idle_timeout_is_no_cap(timing_out("bpf"));
}

TEST(ProbeWaits, AShortKeepAliveTimeoutIsNotADrainedCapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_idle_timeout_is_no_cap(timing_out("sample"));
}

// A server that forks per connection and refuses in the child after its
// start-up (PostgreSQL's backend, "too many clients already"): 60 clients, a
// cap of 20, each refused client retrying 600 ms later - about 65 refusals a
// second, each living its child's 12 ms start-up, longer than a busy loop's
// refusal would. The listener holds none of the connections. The lookalike is
// the same server with room for every client: the same forks, no refusals.
Probe fork_cap(const char* cap, const std::string& mode) {
    Scenario s(target({"fork-cap", cap, "12", "20"}),
               driver({"pingpong-reconnect", "PORT", "60", "20", "50", "0", "600"}));
    EXPECT_TRUE(s.ok());
    return std::string(cap) == "20" ? probe_expecting("app-connection-limit", s.pid(), mode)
                                    : probe(s.pid(), mode);
}

// The listener holds an accepted fd only between accept() and its close after
// the fork: a snapshot may catch one (seen under ASan), never a tenth of them.
void expect_children_hold_the_connections(const Probe& p) {
    const auto& s = p.doc["sampled"];
    EXPECT_GT(s["inbound_at_snapshots"].get<double>(), 0);
    EXPECT_LT(s["inbound_own_at_snapshots"].get<double>(),
              0.1 * s["inbound_at_snapshots"].get<double>())
        << "its children hold them";
}

void expect_forked_refusals(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    double kept = p.doc["sampled"]["connections"]["inbound_kept_mean"].get<double>();
    EXPECT_GE(kept, 18) << "the cap's 20 kept";
    EXPECT_LE(kept, 21);
    expect_children_hold_the_connections(p);
}

TEST(ProbeWaits, AForkingServerRefusingPastItsCapIsTheApplicationsLimit) {
    REQUIRE_BPF();
    expect_forked_refusals(fork_cap("20", "bpf"));
}

TEST(ProbeWaits, AForkingServerRefusingPastItsCapIsTheApplicationsLimitWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_forked_refusals(fork_cap("20", "sample"));
}

void expect_forks_without_refusals(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    EXPECT_GE(p.doc["sampled"]["connections"]["inbound_kept_mean"].get<double>(), 55)
        << "every client kept";
    expect_children_hold_the_connections(p);
    // Its children serve the clients, each looked at beside it: when nothing
    // stands out, the verdict says where the looks found them, never that it
    // was idle, and what of them was not looked at.
    EXPECT_GE(p.doc["sampled"]["worker_states"]["workers"].get<double>(), 55);
    if (p.id == "healthy") {
        auto title = p.doc["findings"][0]["title"].get<std::string>();
        EXPECT_EQ(title.rfind("nothing stands out: its ", 0), 0u) << title;
        EXPECT_NE(title.find("workers waited for work in"), std::string::npos) << title;
        bool named = false;
        for (const auto& u : p.doc["unobserved"])
            named = named || u.get<std::string>().find("its workers") != std::string::npos;
        EXPECT_TRUE(named) << p.doc["unobserved"].dump();
    }
}

TEST(ProbeWaits, AForkingServerWithRoomForEveryClientIsNotACap) {
    REQUIRE_BPF();
    expect_forks_without_refusals(fork_cap("1000", "bpf"));
}

TEST(ProbeWaits, AForkingServerWithRoomForEveryClientIsNotACapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_forks_without_refusals(fork_cap("1000", "sample"));
}

// The same forking server with room for all, each child computing 5 ms a
// request (PostgreSQL's backends on slow queries): under 8 clients without
// pauses its 8 children fill both cores while the listener sleeps. The
// service is CPU-bound in its workers, in both modes. The lookalike is one
// client pausing 10 ms between requests: one child busy a third of the time,
// the other core free. (Without the pause that one child is a pegged worker,
// cpu-saturated as a pegged event loop is: see the prefork tests below.)
Probe forked_work(const char* clients, const std::string& mode, const char* pause_ms = "0") {
    Scenario s(target({"fork-cap", "1000", "0", "20", "5"}),
               driver({"pingpong", "PORT", clients, "20", pause_ms}));
    EXPECT_TRUE(s.ok());
    return std::string(clients) == "8" ? probe_expecting("cpu-saturated", s.pid(), mode)
                                       : probe(s.pid(), mode);
}

void expect_workers_saturated(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "cpu-saturated") << p.doc.dump(2);
    // Eight workers computing without pause want more than the two cores
    // whoever else runs: the rule reads their CPU and their run-queue wait.
    // Those it ran half a core or more are the service's own demand ("its
    // workers"); kept under that by others' load, the host's CPU starves them.
    const auto& sampled = p.doc["sampled"];
    double ours = std::max(0.25, 1.0 - sampled.value("steal_share", 0.0));
    double ran = sampled["workers_cores"].get<double>() / ours;
    auto subject = p.doc["findings"][0]["subject"].get<std::string>();
    EXPECT_EQ(subject.rfind(ran >= 0.5 ? "its workers (c10k-target x" : "host CPU", 0), 0u)
        << subject << " (its workers ran " << ran << " cores and waited "
        << sampled["workers_runq_wait"].get<double>() << " s/s)";
    expect_children_hold_the_connections(p);
}

TEST(ProbeWaits, AForkingServerWhoseWorkersFillTheCoresIsCpuSaturated) {
    REQUIRE_BPF();
    expect_workers_saturated(forked_work("8", "bpf"));
}

TEST(ProbeWaits, AForkingServerWhoseWorkersFillTheCoresIsCpuSaturatedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_workers_saturated(forked_work("8", "sample"));
}

TEST(ProbeWaits, AForkingServerWithOneBusyWorkerIsNotCpuSaturated) {
    REQUIRE_PRIVATE_NETNS();
    auto p = forked_work("1", "sample", "10");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    // Its own demand never fills the cores. On a host others fill (a loaded
    // CI machine: kCpuBusy, 85%, of it busy) the one worker does wait for a
    // CPU longer than it runs, and the host's CPU starving it is said - as
    // the host's, not its workers'.
    bool others_fill_host = p.doc["sampled"]["host_busy"].get<double>() >= 0.85;
    for (const auto& f : p.doc["findings"]) {
        if (f["id"] != "cpu-saturated") continue;
        EXPECT_TRUE(others_fill_host) << p.doc.dump(2);
        EXPECT_EQ(f["subject"].get<std::string>().rfind("host CPU", 0), 0u) << f.dump(2);
    }
}

// nginx with worker_processes 1, probed by its master's PID (nginx.pid): the
// master waits for signals in rt_sigsuspend while its one worker, a single
// thread computing 1 ms a request for 16 clients without pause, is on the CPU
// all the time. The service is CPU-bound in that worker, in both modes, and
// the master's wait is no blocked loop. The lookalike: two clients pausing
// 20 ms - the same worker mostly idle, nothing to name.
Probe prefork_work(const char* clients, const char* pause_ms, const std::string& mode) {
    Scenario s(target({"prefork", "1", "20", "1"}),
               driver({"pingpong", "PORT", clients, "20", pause_ms}));
    EXPECT_TRUE(s.ok());
    return std::string(clients) == "16" ? probe_expecting("cpu-saturated", s.pid(), mode)
                                        : probe(s.pid(), mode);
}

void expect_pegged_worker(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "cpu-saturated") << p.doc.dump(2);
    // The worker always has work: on the CPU or runnable. Where it ran half
    // a core or more it is pegged by its own work; kept under that by others'
    // load (the host full), the host's CPU starves it.
    const auto& sampled = p.doc["sampled"];
    double ours = std::max(0.25, 1.0 - sampled.value("steal_share", 0.0));
    double ran = sampled["busiest_worker_cores"].get<double>() / ours;
    auto subject = p.doc["findings"][0]["subject"].get<std::string>();
    EXPECT_EQ(subject.rfind(ran >= 0.5 ? "worker PID " : "host CPU", 0), 0u)
        << subject << " (its worker ran " << ran << " cores and waited "
        << sampled["busiest_worker_runq_wait"].get<double>() << " s/s)";
    EXPECT_EQ(p.doc["sampled"]["busiest_worker_threads"], 1);
    EXPECT_FALSE(has_finding(p, "off-cpu-blocking")) << "the master's sigsuspend is no block";
}

TEST(ProbeWaits, AMasterWhoseOneWorkerIsPeggedIsCpuSaturated) {
    REQUIRE_BPF();
    expect_pegged_worker(prefork_work("16", "0", "bpf"));
}

TEST(ProbeWaits, AMasterWhoseOneWorkerIsPeggedIsCpuSaturatedWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_pegged_worker(prefork_work("16", "0", "sample"));
}

TEST(ProbeWaits, AMasterWaitingForSignalsBesideAnIdleWorkerIsNotBlocked) {
    REQUIRE_PRIVATE_NETNS();
    auto p = prefork_work("2", "20", "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "cpu-saturated")) << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "off-cpu-blocking")) << p.doc.dump(2);
}

// A master whose four workers each block per request (an fdatasync and a
// 3 ms sleep: PostgreSQL's backends reading from disk, PHP workers in
// sleep()), probed by the master's PID. Under 16 clients without pause the
// workers have requests behind their blocked calls nearly all the time, while
// the master sleeps in sigsuspend and the CPU is idle: the workers' own looks
// show it, in both modes - all of them blocked, or, where the shared listener
// gave the connections to some of them, those (named by the busiest's PID).
// On a host whose CPU others hold, a woken worker may wait for a CPU longer
// than it slept: runnable more than blocked, it waits for the host's CPU,
// which is then the verdict. The lookalike: one client pausing 20 ms, three
// workers idle and the fourth blocked 3 ms in each 23.
Probe prefork_sleepy(const char* clients, const char* pause_ms, const std::string& mode) {
    Scenario s(target({"prefork-sleepy", "4", "20"}),
               driver({"pingpong", "PORT", clients, "20", pause_ms}));
    EXPECT_TRUE(s.ok());
    return std::string(clients) == "16" ? probe_expecting("off-cpu-blocking", s.pid(), mode)
                                        : probe(s.pid(), mode);
}

void expect_blocked_workers(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    const auto& w = p.doc["sampled"]["worker_states"];
    EXPECT_EQ(w["workers"], 4) << w.dump();
    const auto& most = w["most_blocked"];
    if (most["running"].get<double>() > most["blocked"].get<double>()) {
        EXPECT_EQ(p.id, "cpu-saturated") << "runnable more than blocked: " << p.doc.dump(2);
        return;
    }
    EXPECT_EQ(p.id, "off-cpu-blocking") << p.doc.dump(2);
    auto subject = p.doc["findings"][0]["subject"].get<std::string>();
    EXPECT_TRUE(subject == "its workers" || subject.rfind("worker PID ", 0) == 0) << subject;
    const auto& in = w["all"]["blocked_in"];
    EXPECT_GT(in.value("clock_nanosleep", 0) + in.value("nanosleep", 0), 0) << w.dump();
    expect_children_hold_the_connections(p);
}

TEST(ProbeWaits, AMasterWhoseWorkersBlockPerRequestIsOffCpuBlocking) {
    REQUIRE_BPF();
    expect_blocked_workers(prefork_sleepy("16", "0", "bpf"));
}

TEST(ProbeWaits, AMasterWhoseWorkersBlockPerRequestIsOffCpuBlockingWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_blocked_workers(prefork_sleepy("16", "0", "sample"));
}

TEST(ProbeWaits, WorkersBlockingNowAndThenAreNotOffCpuBlocking) {
    REQUIRE_PRIVATE_NETNS();
    auto p = prefork_sleepy("1", "20", "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    const auto& w = p.doc["sampled"]["worker_states"]["all"];
    EXPECT_GT(w["idle"].get<double>(), w["blocked"].get<double>()) << w.dump();
    EXPECT_FALSE(has_finding(p, "off-cpu-blocking")) << p.doc.dump(2);
}

// PostgreSQL's backends on one hot row, as the kernel sees them: a master
// forking a child per connection, each taking one lock in shared memory per
// request and holding it 5 ms, the holder waiting on its latch with a timeout
// (pg_sleep) and the others on theirs without one - an eventfd in an epoll
// set with no socket in it - until the holder hands the lock over. 16 clients
// keep a queue on it. The lookalike: a lock for each of the 16 children, the
// same timed waits and no queue, which is blocking and never a lock.
Probe latch_workers(const std::string& mode_name, const std::string& mode) {
    Scenario s(target({mode_name, "16", "20"}), driver({"pingpong", "PORT", "16", "20", "0"}));
    EXPECT_TRUE(s.ok());
    return mode_name != "latch-apart" ? probe_expecting("lock-contention", s.pid(), mode)
                                      : probe(s.pid(), mode);
}

void expect_latch_lock(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_EQ(p.doc["findings"][0]["subject"], "its workers") << p.doc.dump(2);
    EXPECT_GT(p.doc["sampled"]["worker_states"]["all"]["wakeup"].get<double>(), 0);
    expect_children_hold_the_connections(p);
}

TEST(ProbeWaits, WorkersQueuedOnALatchLockAreLockContention) {
    REQUIRE_BPF();
    expect_latch_lock(latch_workers("latch-workers", "bpf"));
}

TEST(ProbeWaits, WorkersQueuedOnALatchLockAreLockContentionWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_latch_lock(latch_workers("latch-workers", "sample"));
}

// The same children taking turns on one lock file (flock), as PHP's file
// sessions make concurrent requests of one session do: the lock is the
// verdict, its holder's sleep a WARN below it, in both modes.
void expect_flocked_children(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_EQ(p.doc["findings"][0]["subject"], "file lock") << p.doc.dump(2);
    const auto& w = p.doc["sampled"]["worker_states"]["all"];
    EXPECT_GT(w["file_lock"].get<double>(), w["blocked"].get<double>()) << w.dump();
    expect_children_hold_the_connections(p);
}

TEST(ProbeWaits, ChildrenTakingTurnsOnALockFileAreLockContention) {
    REQUIRE_BPF();
    expect_flocked_children(latch_workers("flock-children", "bpf"));
}

TEST(ProbeWaits, ChildrenTakingTurnsOnALockFileAreLockContentionWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_flocked_children(latch_workers("flock-children", "sample"));
}

TEST(ProbeWaits, WorkersEachOnALockOfTheirOwnAreNotLockContention) {
    REQUIRE_PRIVATE_NETNS();
    auto p = latch_workers("latch-apart", "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.doc["sampled"]["worker_states"]["all"]["wakeup"], 0) << p.doc.dump(2);
    EXPECT_FALSE(has_finding(p, "lock-contention")) << p.doc.dump(2);
}

// Handlers serialised on one lock held across 2 ms of CPU, its waiters parked
// each on a condition of its own (Go's sync.Mutex as the kernel sees it): 8
// clients without pause keep 8 requests in progress while the process runs
// one core's worth on the VM's two. The lookalike is the same server under one
// client: one core's worth too, but only because one request is all there is.
Probe serialised(const std::string& clients, const std::string& mode) {
    Scenario s(target({"serialised", "2", "20"}), driver({"pingpong", "PORT", clients, "20"}));
    EXPECT_TRUE(s.ok());
    return clients != "1" ? probe_expecting("lock-contention", s.pid(), mode)
                          : probe(s.pid(), mode);
}

void expect_serialised(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    // The mechanism needs a core the lock leaves unused. On a host whose other
    // core someone else fills for every window, the process is as much the
    // host's prisoner as the lock's, and the rule rightly stays silent.
    const auto& sampled = p.doc["sampled"];
    double idle = sampled["cpus"].get<double>() * (1 - sampled["host_busy"].get<double>());
    if (p.id != "lock-contention" && idle < 0.5)
        GTEST_SKIP() << "the host had only " << idle
                     << " cores idle in the last window (others' load): no free core for the "
                        "lock to leave unused";
    EXPECT_EQ(p.id, "lock-contention") << p.doc.dump(2);
    EXPECT_EQ(subject(p), "serialised handlers");
}

TEST(ProbeWaits, HandlersSerialisedOnALockThatParksInUserSpace) {
    REQUIRE_BPF();
    expect_serialised(serialised("8", "bpf"));
}

TEST(ProbeWaits, HandlersSerialisedOnALockThatParksInUserSpaceWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_serialised(serialised("8", "sample"));
}

void expect_one_client_is_not_serialised(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "lock-contention")) << p.doc.dump(2);
    // The mechanism the rule needs is absent: never more than the one request.
    EXPECT_LE(p.doc["sampled"]["connections"]["inbound_pending_mean"].get<double>(), 1.0);
}

TEST(ProbeWaits, OneClientOfASerialisedServerIsNotContention) {
    REQUIRE_BPF();
    expect_one_client_is_not_serialised(serialised("1", "bpf"));
}

TEST(ProbeWaits, OneClientOfASerialisedServerIsNotContentionWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_one_client_is_not_serialised(serialised("1", "sample"));
}

// Keep-alive clients pausing 300 ms, longer than their RTO (200 ms at least):
// each re-enters quick-ACK mode and acknowledges every reply at once, so a
// request answered inside its clock tick leaves request, reply and ACK in one
// tick for the whole pause - the tie a request that rode our reply's ACK also
// leaves. The pure ACKs tell them apart: none of these idle connections owes a
// reply (88.7 of the 100 read as owed before). At ~330 requests a second each
// answered in microseconds, a look catches under one in progress; 5 of 100
// leaves room for a loaded machine stretching the replies.
TEST(ProbeWaits, IdleConnectionsOfClientsPausingPastTheirRtoOweNoReply) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"healthy", "20"}), driver({"pingpong", "PORT", "100", "20", "300"}));
    ASSERT_TRUE(s.ok());
    auto p = probe(s.pid(), "sample");
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    const auto& c = p.doc["sampled"]["connections"];
    EXPECT_GE(c["inbound_mean"].get<double>(), 95) << "the clients' 100 held";
    EXPECT_LT(c["inbound_pending_mean"].get<double>(), 5) << c.dump();
}

// A fixed pool behind a dispatcher (a JDK HttpServer's executor, Tomcat at
// maxThreads): 4 workers, each request 100 ms parked on a condvar, 20
// keep-alive clients. The dispatcher takes every connection, so no queue of
// the kernel's fills and nothing fails; 16 requests at a time sit unread in
// their sockets until a worker is free.
Probe dispatch_pool(const std::string& workers, const std::string& mode) {
    Scenario s(target({"dispatch-pool", workers, "100", "20"}),
               driver({"pingpong", "PORT", "20", "20"}));
    EXPECT_TRUE(s.ok());
    return workers == "4" ? probe_expecting("app-connection-limit", s.pid(), mode)
                          : probe(s.pid(), mode);
}

void expect_unread_behind_a_full_pool(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_EQ(p.id, "app-connection-limit") << p.doc.dump(2);
    EXPECT_EQ(subject(p).rfind("127.0.0.1:", 0), 0u) << "the listener: " << subject(p);
    // 16 of 20 requests wait at any instant; the looks catch them unread
    // unless a worker frees up in between (each does every 100 ms).
    EXPECT_GE(p.doc["sampled"]["connections"]["inbound_unread_mean"].get<double>(), 1.0);
    EXPECT_FALSE(has_finding(p, "lock-contention")) << "each worker parks on its own condvar";
}

TEST(ProbeWaits, RequestsUnreadBehindAFullWorkerPool) {
    REQUIRE_BPF();
    expect_unread_behind_a_full_pool(dispatch_pool("4", "bpf"));
}

TEST(ProbeWaits, RequestsUnreadBehindAFullWorkerPoolWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_unread_behind_a_full_pool(dispatch_pool("4", "sample"));
}

// The lookalike: the same server with a worker for every client. Each request
// is read as soon as it arrives and then waits its 100 ms in a worker, so the
// clients see the same slow replies but none waits for the pool.
void expect_a_pool_with_room(const Probe& p) {
    ASSERT_EQ(p.raw.exit_code, 0) << p.raw.err;
    EXPECT_FALSE(has_finding(p, "app-connection-limit")) << p.doc.dump(2);
    EXPECT_LT(p.doc["sampled"]["connections"]["inbound_unread_mean"].get<double>(), 1.0);
    // The mechanism's other half was there: every client's request in progress.
    EXPECT_GE(p.doc["sampled"]["connections"]["inbound_pending_mean"].get<double>(), 10.0);
}

TEST(ProbeWaits, AWorkerPoolWithRoomForEveryRequestIsNotACap) {
    REQUIRE_BPF();
    expect_a_pool_with_room(dispatch_pool("32", "bpf"));
}

TEST(ProbeWaits, AWorkerPoolWithRoomForEveryRequestIsNotACapWithoutBpf) {
    REQUIRE_PRIVATE_NETNS();
    expect_a_pool_with_room(dispatch_pool("32", "sample"));
}
