// SPDX-License-Identifier: GPL-2.0-or-later
// Finding the server by port or unit, and probe's Prometheus textfile.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>

#include "c10k/diagnose/probe_keys.hpp"
#include "c10k/report/probe_render.hpp"
#include "c10k/sources/target.hpp"
#include "fixture_root.hpp"

using namespace c10k;

namespace {

ServerCandidate cand(pid_t pid, pid_t ppid, uint32_t conns, uint64_t ticks = 0) {
    return {pid, ppid, "nginx", conns, ticks, true};
}

}  // namespace

TEST(ChooseServer, OneHolderIsTheServer) {
    auto c = choose_server({cand(50, 1, 0)}, "port 80");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pid, 50);
    EXPECT_NE(c->why.find("listens on port 80"), std::string::npos) << c->why;
}

TEST(ChooseServer, AnIdleMasterIsSkippedForItsWorkers) {
    // prefork: the master holds the listener but never accepts.
    auto c =
        choose_server({cand(10, 1, 0, 500), cand(11, 10, 0, 3), cand(12, 10, 0, 7)}, "port 80");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pid, 12);  // a worker, the one with more CPU time
    EXPECT_NE(c->why.find("busiest of 2 workers of PID 10"), std::string::npos) << c->why;
}

TEST(ChooseServer, TheWorkerHoldingTheMostConnectionsWins) {
    auto c = choose_server({cand(10, 1, 0), cand(11, 10, 40, 1), cand(12, 10, 5, 900)}, "port 80");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pid, 11);
}

TEST(ChooseServer, AMasterThatServesIsChosen) {
    // A server that forked a helper which inherited the listener.
    auto c = choose_server({cand(10, 1, 300), cand(11, 10, 0, 50)}, "port 80");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pid, 10);
}

TEST(ChooseServer, UnrelatedHoldersAreAmbiguousAndListed) {
    // Two servers sharing a port with SO_REUSEPORT, neither the other's parent.
    auto c = choose_server({cand(10, 1, 3), cand(20, 1, 3)}, "port 80");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, kAmbiguousTarget);
    EXPECT_NE(c.error().context.find("PID 10"), std::string::npos);
    EXPECT_NE(c.error().context.find("PID 20"), std::string::npos);
}

TEST(ChooseServer, NobodyIsNotFound) {
    auto c = choose_server({}, "port 80");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ENOENT);
}

TEST(Target, UnitFromTheCgroupLine) {
    EXPECT_EQ(systemd_unit_of_cgroup("0::/system.slice/nginx.service\n"), "nginx.service");
    EXPECT_EQ(systemd_unit_of_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"), "");
    EXPECT_EQ(systemd_unit_of_cgroup("0::/system.slice/.service\n"), "");
}

TEST(Target, UnitProcessesComeFromItsCgroupAndTheOnesBelow) {
    test::FixtureRoot fx("healthy");
    fx.write("sys/fs/cgroup/system.slice/web.service/cgroup.procs", "300\n301\n");
    fx.write("sys/fs/cgroup/system.slice/web.service/workers/cgroup.procs", "302\n");
    fx.write("sys/fs/cgroup/system.slice/other.service/cgroup.procs", "400\n");
    auto pids = unit_processes(fx.root(), "web");  // ".service" is implied
    ASSERT_TRUE(pids.ok()) << pids.error().message();
    EXPECT_EQ(*pids, (std::vector<pid_t>{300, 301, 302}));
    auto none = unit_processes(fx.root(), "absent.service");
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, ENOENT);
    EXPECT_FALSE(unit_processes(fx.root(), "../etc").ok());
}

TEST(Target, StartTimeIsBootTimePlusTheProcessTicks) {
    test::FixtureRoot fx("healthy");
    fx.write("proc/stat", "cpu  1 2 3 4\nbtime 1700000000\n");
    // Field 22 (starttime) = 250 ticks after boot.
    fx.write("proc/77/stat", "77 (a b) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0\n");
    double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    EXPECT_DOUBLE_EQ(process_start_unix_s(fx.root(), 77), 1700000000 + 250 / hz);
    EXPECT_EQ(process_start_unix_s(fx.root(), 78), 0);
}

namespace {

ProbeEvidence prom_evidence() {
    ProbeEvidence e;
    e.pid = 4242;
    e.comm = "shop \"api\"";
    e.unit = "shop.service";
    e.mode = "bpf";
    e.window_s = 10;
    e.started_unix_s = 1700000123.5;
    e.bpf = BpfEvidence{};
    e.bpf->syscall_duty = 0.25;
    GroupAttach a;
    a.group = ProbeGroup::tcp_probe;
    a.status = AttachStatus::failed;
    e.bpf->attach.push_back(a);
    e.cost.own_cpu_s = 0.05;
    e.cost.bpf_run_s = 0.05;
    e.cost.window_s = 10;
    return e;
}

Verdict prom_verdict() {
    Verdict v;
    Finding f(Bottleneck::fd_limit);
    f.severity = Severity::crit;
    f.subject = "pid 4242";
    f.confidence = 0.9;
    f.evidence.emplace_back(probe_keys::emfile_per_second, 120);
    f.evidence.emplace_back(probe_keys::reply_p99_ms, 250);
    f.evidence.emplace_back(probe_keys::connect_avg_us, 1500);
    f.evidence.emplace_back(probe_keys::held_percent, 40);
    Finding g(Bottleneck::accept_queue_overflow);
    g.severity = Severity::warn;
    v.findings = {f, g};
    return v;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST(ProbePrometheus, FindingsAreLabelledByIdSeverityAndSubjectNeverThePid) {
    auto out = render_probe_prometheus(prom_evidence(), prom_verdict());
    const std::string t = R"(comm="shop \"api\"",unit="shop.service")";
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_status{" + t + "} 2")) << out;
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_verdict{" + t + ",id=\"fd-limit\"} 1")) << out;
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_finding{" + t +
                                  ",id=\"fd-limit\",severity=\"crit\",subject=\"pid 4242\"} 1"))
        << out;
    EXPECT_TRUE(
        has_line(out, "c10k_doctor_probe_finding{" + t +
                          ",id=\"accept-queue-overflow\",severity=\"warn\",subject=\"\"} 2"))
        << out;
    // The PID is in the subject text only, never a label of its own.
    EXPECT_EQ(out.find("pid=\""), std::string::npos);
}

TEST(ProbePrometheus, EvidenceInBaseUnitsAndRatesKeptAsGauges) {
    auto out = render_probe_prometheus(prom_evidence(), prom_verdict());
    EXPECT_NE(out.find("# TYPE c10k_doctor_probe_emfile_per_second gauge"), std::string::npos);
    EXPECT_NE(out.find("c10k_doctor_probe_emfile_per_second{"), std::string::npos);
    EXPECT_NE(out.find("} 120\n"), std::string::npos);
    EXPECT_NE(out.find("c10k_doctor_probe_reply_p99_seconds{"), std::string::npos) << out;
    EXPECT_NE(out.find("} 0.25\n"), std::string::npos);
    EXPECT_NE(out.find("c10k_doctor_probe_connect_avg_seconds{"), std::string::npos) << out;
    EXPECT_NE(out.find("} 0.0015\n"), std::string::npos);
    EXPECT_NE(out.find("c10k_doctor_probe_held_ratio{"), std::string::npos) << out;
    EXPECT_EQ(out.find("_ms{"), std::string::npos);
    EXPECT_EQ(out.find("_us{"), std::string::npos);
}

TEST(ProbePrometheus, TheWindowModeAttachAndCostAreSaid) {
    auto out = render_probe_prometheus(prom_evidence(), prom_verdict());
    const std::string t = R"(comm="shop \"api\"",unit="shop.service")";
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_mode{" + t + ",mode=\"bpf\"} 1")) << out;
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_attach_status{" + t + ",group=\"tcp_probe\"} 2"))
        << out;
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_syscall_traced_ratio{" + t + "} 0.25")) << out;
    EXPECT_TRUE(
        has_line(out, "c10k_doctor_probe_target_start_time_seconds{" + t + "} 1700000123.500"))
        << out;
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_cpu_seconds_per_second{" + t + "} 0.01")) << out;
}

TEST(ProbePrometheus, PromtoolAcceptsIt) {
    if (std::system("command -v promtool >/dev/null") != 0)
        GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
    auto out = render_probe_prometheus(prom_evidence(), prom_verdict());
    std::FILE* p = ::popen("promtool check metrics >/dev/null 2>&1", "w");
    ASSERT_NE(p, nullptr);
    std::fputs(out.c_str(), p);
    EXPECT_EQ(::pclose(p), 0) << out;
}

// --follow: the dependency's own verdict reaches the textfile, by destination
// and command.
TEST(ProbePrometheus, AFollowedDependencysVerdictIsExported) {
    auto e = prom_evidence();
    auto v = prom_verdict();
    const std::string t = R"(comm="shop \"api\"",unit="shop.service")";
    EXPECT_EQ(render_probe_prometheus(e, v).find("dependency_verdict"), std::string::npos)
        << "nothing followed, nothing said";
    FollowedProbe f;
    f.destination.family = AF_INET;
    f.destination.addr = {127, 0, 0, 1};
    f.destination.port = 5432;
    f.pid = 812;
    f.comm = "postgres";
    e.followed = f;
    auto dep = std::make_shared<Verdict>();
    Finding cpu(Bottleneck::cpu_saturated);
    cpu.severity = Severity::crit;
    dep->findings = {cpu};
    v.followed = dep;
    auto out = render_probe_prometheus(e, v);
    EXPECT_TRUE(has_line(out, "c10k_doctor_probe_dependency_verdict{" + t +
                                  R"(,destination="127.0.0.1:5432",dependency_comm="postgres",)" +
                                  R"(id="cpu-saturated"} 1)"))
        << out;
    EXPECT_EQ(out.find("812"), std::string::npos) << "no PID";
}
