// SPDX-License-Identifier: GPL-2.0-or-later
// `check` against real sockets and sysctls inside this process's private netns.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/run_command.hpp"
#include "netns_env.hpp"

using namespace c10k::test;
using nlohmann::json;

namespace {

json check_json(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"check", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_doctor(args);
    EXPECT_TRUE(r.exit_code >= 0 && r.exit_code <= 2) << r.exit_code << " " << r.err;
    EXPECT_EQ(r.err, "");
    return json::parse(r.out);
}

const json* finding(const json& doc, const std::string& id, const std::string& subject = "") {
    for (const auto& f : doc["findings"])
        if (f["id"] == id && (subject.empty() || f["subject"] == subject)) return &f;
    return nullptr;
}

std::optional<double> ev(const json& f, const std::string& key) {
    for (const auto& e : f["evidence"])
        if (e["key"] == key && e["value"].is_number()) return e["value"].get<double>();
    return std::nullopt;
}

void write_sysctl(const std::string& path, const std::string& value) {
    std::ofstream out(path);
    out << value;
    out.close();
    ASSERT_TRUE(out) << "cannot write " << path;
}

}  // namespace

// (a) A listener with backlog 4 that never accepts, and more connects than that.
TEST(CheckNetns, FullAcceptQueueIsCritAndNamesTheListener) {
    REQUIRE_PRIVATE_NETNS();
    Background listener({C10K_TESTKIT_PATH, "listen", "4", "30"});
    ASSERT_TRUE(listener.ok());
    int port = listener.ready_port();
    Background clients({C10K_TESTKIT_PATH, "burst", std::to_string(port), "20", "30"});
    ASSERT_TRUE(clients.ok());
    ::usleep(300000);

    // 2.5 s covers the clients' first SYN retransmit (1 s), each one an overflow.
    auto doc = check_json({"--interval", "2.5"});
    std::string subject = "127.0.0.1:" + std::to_string(port);
    auto* f = finding(doc, "backlog.listener", subject);
    ASSERT_TRUE(f) << doc.dump(2);
    EXPECT_EQ((*f)["severity"], "CRIT") << f->dump(2);
    EXPECT_EQ(ev(*f, "backlog"), 4);
    EXPECT_EQ(ev(*f, "accept_queue"), 5);  // the kernel admits backlog + 1
    ASSERT_TRUE(ev(*f, "listen_overflows_total"));
    EXPECT_GT(*ev(*f, "listen_overflows_total"), 0);
    auto* ns = finding(doc, "backlog.listen-overflows");
    ASSERT_TRUE(ns);
    EXPECT_EQ((*ns)["severity"], "CRIT") << ns->dump(2);
    EXPECT_GT(*ev(*ns, "listen_overflows_per_second"), 0);
}

// (b) TIME_WAIT sockets on loopback: our count is what ss counts.
TEST(CheckNetns, TimeWaitCountMatchesSs) {
    REQUIRE_PRIVATE_NETNS();
    Background tw({C10K_TESTKIT_PATH, "time-wait", "300"});
    ASSERT_TRUE(tw.ok());
    ASSERT_EQ(tw.wait(), 0);
    auto ss = run_command({"/usr/bin/ss", "-Htan", "state", "time-wait"});
    ASSERT_EQ(ss.exit_code, 0) << ss.err;
    auto ss_count = std::count(ss.out.begin(), ss.out.end(), '\n');
    EXPECT_GE(ss_count, 300);
    auto doc = check_json({"--interval", "0"});
    auto* f = finding(doc, "timewait.buckets");
    ASSERT_TRUE(f);
    EXPECT_EQ(ev(*f, "time_wait_sockets"), static_cast<double>(ss_count)) << f->dump(2);
}

// (c) A narrow port range with outbound connections filling most of it to one destination.
TEST(CheckNetns, EphemeralPortFindingNamesTheDestination) {
    REQUIRE_PRIVATE_NETNS();
    write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 40099");
    Background pairs({C10K_TESTKIT_PATH, "pairs", "95", "30"});
    ASSERT_TRUE(pairs.ok());
    auto doc = check_json({"--interval", "0"});
    std::string dest = "127.0.0.1:" + std::to_string(pairs.ready_port());
    auto* f = finding(doc, "ports.destination", dest);
    ASSERT_TRUE(f) << doc.dump(2);
    EXPECT_EQ((*f)["severity"], "CRIT");
    EXPECT_EQ(ev(*f, "ports_in_use"), 95);
    EXPECT_EQ(ev(*f, "port_range_size"), 100);
    EXPECT_EQ(finding(doc, "ports.range")->at("severity"), "WARN");
}

// (d) A process under prlimit --nofile=256 holding ~240 fds.
TEST(CheckNetns, ProcessNearItsFdLimitIsCrit) {
    REQUIRE_PRIVATE_NETNS();
    Background holder(
        {"/usr/bin/prlimit", "--nofile=256:256", C10K_TESTKIT_PATH, "hold-fds", "237", "30"});
    ASSERT_TRUE(holder.ok());
    auto doc = check_json({"--pid", std::to_string(holder.pid()), "--interval", "0"});
    auto* f = finding(doc, "fd.process-nofile");
    ASSERT_TRUE(f) << doc.dump(2);
    EXPECT_EQ((*f)["severity"], "CRIT");
    EXPECT_EQ(ev(*f, "nofile_soft"), 256);
    EXPECT_EQ(ev(*f, "fds_open"), 240);  // stdin, stdout, stderr + 237
    EXPECT_EQ(doc["status"], "CRIT");
    EXPECT_EQ(doc["process"]["pid"], holder.pid());
}

// --pid of a process in another network namespace reads that namespace (a container's view).
TEST(CheckNetns, PidInAnotherNamespaceIsInspectedFromInside) {
    REQUIRE_PRIVATE_NETNS();
    std::string script =
        std::string("ip link set lo up && exec ") + C10K_TESTKIT_PATH + " listen 7 30";
    Background inner({"/usr/bin/unshare", "-n", "/bin/sh", "-c", script});
    ASSERT_TRUE(inner.ok());
    int port = inner.ready_port();
    auto doc = check_json({"--pid", std::to_string(inner.pid()), "--interval", "0"});
    EXPECT_EQ(doc["host"]["netns"], "network namespace of pid " + std::to_string(inner.pid()));
    auto* f = finding(doc, "backlog.listener", "127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(f) << doc.dump(2);
    EXPECT_EQ(ev(*f, "backlog"), 7);
    // Our own namespace has no listener: nothing else is reported.
    int listeners = 0;
    for (const auto& x : doc["findings"])
        listeners += x["id"] == "backlog.listener";
    EXPECT_EQ(listeners, 1);
    // Host-wide keys the container's namespace lacks are read from the host's,
    // and say so: no UNKNOWN that a read from the right place answers.
    for (const char* id : {"backlog.netdev", "buffers.tcp-mem", "buffers.capacity"}) {
        auto* h = finding(doc, id);
        ASSERT_TRUE(h) << id;
        EXPECT_NE((*h)["severity"], "UNKNOWN") << h->dump(2);
        EXPECT_NE(h->dump().find("(host-wide)"), std::string::npos) << h->dump(2);
    }
}

// Ports to one destination against connect()'s parity scan: OK under 40% of the
// range, WARN from 40% (the first-parity half filling), CRIT past half. The
// connect() latency at each fill is printed (measured, not asserted).
TEST(CheckNetns, EphemeralPortSeverityFollowsTheParityHalf) {
    REQUIRE_PRIVATE_NETNS();
    write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 40999");
    Background listener({C10K_TESTKIT_PATH, "listen", "4096", "60"});
    ASSERT_TRUE(listener.ok());
    int port = listener.ready_port();
    auto connect_us = [&] {
        // Connect and reset 50 times; the median time of one connect().
        std::vector<double> us;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < 50; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            auto t0 = std::chrono::steady_clock::now();
            int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
            auto t1 = std::chrono::steady_clock::now();
            if (rc == 0) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            linger l{1, 0};  // RST: no TIME_WAIT left behind
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            ::close(fd);
        }
        std::sort(us.begin(), us.end());
        return us.empty() ? 0.0 : us[us.size() / 2];
    };
    std::string dest = "127.0.0.1:" + std::to_string(port);
    std::vector<std::unique_ptr<Background>> held;
    struct Step {
        int add;
        const char* severity;
    };
    for (auto [add, severity] : {Step{300, "OK"}, Step{150, "WARN"}, Step{150, "CRIT"}}) {
        held.push_back(std::make_unique<Background>(std::vector<std::string>{
            C10K_TESTKIT_PATH, "burst", std::to_string(port), std::to_string(add), "60"}));
        ASSERT_TRUE(held.back()->ok());
        double us = connect_us();
        auto doc = check_json({"--interval", "0"});
        auto* f = finding(doc, "ports.destination", dest);
        ASSERT_TRUE(f) << doc.dump(2);
        double used = ev(*f, "ports_in_use").value_or(-1);
        std::printf("ports in use %.0f of 1000: connect() median %.1f us -> %s\n", used, us,
                    (*f)["severity"].get<std::string>().c_str());
        EXPECT_EQ((*f)["severity"], severity) << used << " ports in use";
    }
}

TEST(CheckNetns, NamedNetnsPathIsEntered) {
    REQUIRE_PRIVATE_NETNS();
    Background listener({C10K_TESTKIT_PATH, "listen", "9", "30"});
    ASSERT_TRUE(listener.ok());
    // Our own namespace, named by path, as `ip netns` would bind-mount it.
    auto doc =
        check_json({"--netns", "/proc/" + std::to_string(::getpid()) + "/ns/net", "-i", "0"});
    auto* f =
        finding(doc, "backlog.listener", "127.0.0.1:" + std::to_string(listener.ready_port()));
    ASSERT_TRUE(f);
    EXPECT_EQ(ev(*f, "backlog"), 9);
}

// check run inside a namespace of its own (a container's view, no --pid): the
// host-wide keys are read from the host and said to be; none is UNKNOWN.
TEST(CheckNetns, HostWideKeysAreReadFromTheHostWhenRunInsideANamespace) {
    REQUIRE_PRIVATE_NETNS();
    auto doc = check_json({"--interval", "0"});
    for (const char* id : {"backlog.netdev", "buffers.tcp-mem", "buffers.capacity"}) {
        const json* f = finding(doc, id);
        ASSERT_NE(f, nullptr) << id;
        EXPECT_NE((*f)["severity"], "UNKNOWN") << (*f).dump(2);
    }
    EXPECT_NE(doc["notes"].dump().find("host-wide keys, read from the host"), std::string::npos)
        << doc["notes"];
}

// Unprivileged (as nobody, every capability gone): UNKNOWN only where a read
// is truly refused, each saying why, and the exit code as documented (0-2).
TEST(CheckNetns, AsNobodyUnknownOnlyWhereAReadIsRefused) {
    REQUIRE_PRIVATE_NETNS();
    auto r = run_command(
        {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         "--bounding-set=-all", C10K_DOCTOR_PATH, "check", "--interval", "1", "--json"},
        60);
    ASSERT_TRUE(r.exit_code >= 0 && r.exit_code <= 2) << r.exit_code << " " << r.err;
    auto doc = json::parse(r.out);
    // Only the host's namespace is out of reach for nobody: the keys that live
    // there and the findings built on them.
    const std::set<std::string> refusable = {"backlog.netdev", "buffers.tcp-mem",
                                             "buffers.capacity"};
    for (const auto& f : doc["findings"]) {
        if (f["severity"] != "UNKNOWN") continue;
        EXPECT_TRUE(refusable.count(f["id"].get<std::string>())) << f.dump(2);
        EXPECT_NE(f["why"].get<std::string>().find("Permission denied"), std::string::npos)
            << "an UNKNOWN says which read was refused: " << f.dump(2);
    }
    // UNKNOWN findings do not change the status of the others (man page).
    std::map<std::string, int> code = {{"OK", 0}, {"WARN", 1}, {"CRIT", 2}};
    EXPECT_EQ(r.exit_code, code.at(doc["status"].get<std::string>())) << doc["status"];
}
