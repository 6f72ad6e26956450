// SPDX-License-Identifier: GPL-2.0-or-later
// The server found by its port or its unit, as users know it, and probe's
// textfile for Prometheus, against real listeners in this test's namespace.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "probe_scenarios.hpp"

using namespace c10k::test;
using nlohmann::json;

namespace {

pid_t parent_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("PPid:", 0) == 0) return std::stoi(line.substr(5));
    return -1;
}

// A listener on PORT (0: any) with SO_REUSEPORT, in a process of its own.
std::vector<std::string> reuseport_listener(int port) {
    return {"/usr/bin/python3", "-c",
            "import socket,sys,time\n"
            "s=socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEPORT,1)\n"
            "s.bind(('127.0.0.1',int(sys.argv[1])))\n"
            "s.listen()\n"
            "print('ready',s.getsockname()[1],flush=True)\n"
            "time.sleep(20)\n",
            std::to_string(port)};
}

}  // namespace

TEST(TargetPort, AMasterWithWorkersGivesTheBusiestWorker) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"prefork", "3", "20"}), driver({"pingpong", "PORT", "30", "20", "5"}));
    ASSERT_TRUE(s.ok());
    auto r = run_doctor({"probe", "--port", std::to_string(s.port()), "--duration", "1s", "--mode",
                         "sample", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    pid_t chosen = json::parse(r.out)["target"]["pid"];
    // Not the master, which holds the listener but never accepts: one of its workers.
    EXPECT_NE(chosen, s.pid());
    EXPECT_EQ(parent_of(chosen), s.pid());
    EXPECT_NE(r.err.find("busiest of 3 workers of PID " + std::to_string(s.pid())),
              std::string::npos)
        << r.err;
}

TEST(TargetPort, APortNobodyListensOnIsOneClearLine) {
    REQUIRE_PRIVATE_NETNS();
    auto r = run_doctor({"probe", "--port", "9", "--duration", "1s"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "c10k-doctor probe: nothing listens on TCP port 9\n");
    EXPECT_EQ(r.out, "");
}

TEST(TargetPort, UnrelatedServersOnOnePortAreAmbiguousAndListed) {
    REQUIRE_PRIVATE_NETNS();
    Background first(reuseport_listener(0));
    ASSERT_TRUE(first.ok());
    Background second(reuseport_listener(first.ready_port()));
    ASSERT_TRUE(second.ok());
    auto r =
        run_doctor({"probe", "--port", std::to_string(first.ready_port()), "--duration", "1s"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("PID " + std::to_string(first.pid())), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("PID " + std::to_string(second.pid())), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("give --pid"), std::string::npos) << r.err;
}

TEST(TargetPort, CheckInspectsTheProcessBehindThePort) {
    REQUIRE_PRIVATE_NETNS();
    Background server(target({"healthy", "20"}));
    ASSERT_TRUE(server.ok());
    auto r = run_doctor(
        {"check", "--port", std::to_string(server.ready_port()), "--interval", "0", "--json"});
    ASSERT_LE(r.exit_code, 2) << r.err;
    auto doc = json::parse(r.out);
    EXPECT_NE(doc.dump().find("pid " + std::to_string(server.pid())), std::string::npos)
        << "no finding about the server's process";
}

TEST(TargetUnit, AUnitThatDoesNotExistIsOneClearLine) {
    auto r = run_doctor({"probe", "--unit", "c10k-no-such-unit", "--duration", "1s"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("unit c10k-no-such-unit.service: no cgroup of that name"),
              std::string::npos)
        << r.err;
}

TEST(TargetUnit, ATransientUnitIsFoundByItsCgroup) {
    if (!std::filesystem::exists("/run/systemd/system"))
        GTEST_SKIP() << "systemd is not running here (no /run/systemd/system): --unit is tested "
                        "through a fixture cgroup tree (Target.UnitProcesses...) only";
    // A transient unit on loopback that stops by itself within 30 s.
    std::string unit = "c10k-doctor-test-" + std::to_string(::getpid());
    auto started = run_command({"systemd-run", "--unit=" + unit, "--collect", "-p",
                                "RuntimeMaxSec=30", C10K_TARGET_PATH, "healthy", "25"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    CommandResult r;
    for (int i = 0; i < 50; ++i) {  // until it listens
        r = run_doctor({"probe", "--unit", unit, "--duration", "1s", "--mode", "sample", "--json"});
        if (r.exit_code == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run_command({"systemctl", "stop", unit + ".service"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["target"]["comm"], "c10k-target");
}

TEST(ProbePrometheusFile, WrittenAtomicallyAndPromtoolClean) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"healthy", "20"}), driver({"pingpong", "PORT", "4", "20", "20"}));
    ASSERT_TRUE(s.ok());
    auto dir = std::filesystem::temp_directory_path() / ("c10k-prom-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto file = dir / "probe.prom";
    auto r = run_doctor({"probe", "--port", std::to_string(s.port()), "--duration", "1s",
                         "--format", "prometheus", "--output", file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
        ++files;
    struct stat st {};
    ::stat(file.c_str(), &st);
    std::filesystem::remove_all(dir);
    EXPECT_EQ(files, 1u) << "a temp file was left beside it";
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    EXPECT_NE(text.find("c10k_doctor_probe_verdict{comm=\"c10k-target\",unit=\""),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("c10k_doctor_probe_window_seconds"), std::string::npos);
    if (std::system("command -v promtool >/dev/null") == 0) {
        std::FILE* p = ::popen("promtool check metrics 2>&1", "w");
        ASSERT_NE(p, nullptr);
        std::fputs(text.c_str(), p);
        EXPECT_EQ(::pclose(p), 0) << text;
    }
}

// A unit is its cgroup: a directory named like a systemd service, holding a
// master and its workers, found without systemd (as in a container).
class ScopedUnitCgroup {
  public:
    explicit ScopedUnitCgroup(const std::string& unit) {
        namespace fs = std::filesystem;
        // cgroup v2 at /sys/fs/cgroup, or a hybrid host's systemd hierarchy.
        for (const char* base : {"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"})
            if (fs::exists(std::string(base) + "/cgroup.procs")) {
                dir_ = std::string(base) + "/" + unit;
                break;
            }
        if (dir_.empty() && fs::exists("/sys/fs/cgroup/cgroup.procs"))
            dir_ = "/sys/fs/cgroup/" + unit;
        std::error_code ec;
        if (dir_.empty() || (!fs::create_directory(dir_, ec) && ec)) {
            why_ = dir_.empty() ? "no writable cgroup hierarchy" : dir_ + ": " + ec.message();
            dir_.clear();
        }
    }
    ~ScopedUnitCgroup() { remove_cgroup(dir_); }
    const std::string& unavailable() const { return why_; }
    void add(pid_t pid) const { std::ofstream(dir_ + "/cgroup.procs") << pid; }

  private:
    std::string dir_, why_;
};

TEST(TargetUnit, AUnitsCgroupGivesItsWorkerNotItsMaster) {
    REQUIRE_PRIVATE_NETNS();
    Scenario s(target({"prefork", "2", "20"}), driver({"pingpong", "PORT", "10", "20", "5"}));
    ASSERT_TRUE(s.ok());
    std::string unit = "c10k-test-" + std::to_string(::getpid()) + ".service";
    ScopedUnitCgroup cg(unit);
    if (!cg.unavailable().empty()) GTEST_SKIP() << "cannot make a cgroup: " << cg.unavailable();
    cg.add(s.pid());
    std::ifstream kids("/proc/" + std::to_string(s.pid()) + "/task/" + std::to_string(s.pid()) +
                       "/children");
    for (pid_t child; kids >> child;)
        cg.add(child);
    auto r = run_doctor({"probe", "--unit", unit.substr(0, unit.size() - 8), "--duration", "1s",
                         "--mode", "sample", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = json::parse(r.out);
    pid_t chosen = doc["target"]["pid"];
    EXPECT_EQ(parent_of(chosen), s.pid()) << r.err;
    EXPECT_EQ(doc["target"]["unit"], unit);
    EXPECT_NE(r.err.find("busiest of 2 workers"), std::string::npos) << r.err;
}
