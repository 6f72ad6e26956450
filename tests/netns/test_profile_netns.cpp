// SPDX-License-Identifier: GPL-2.0-or-later
// `profile apply/rollback` against the real kernel, inside this test process's
// private network namespace: net.* keys only, so the host never changes.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "../common/run_command.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"
#include "netns_env.hpp"

using namespace c10k;
using namespace c10k::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string normalize(std::string_view v) {
    std::string out;
    for (auto f : split_ws(v)) {
        if (!out.empty()) out += ' ';
        out += f;
    }
    return out;
}

std::string read_key(const std::string& key) {
    std::string rel = key;
    std::replace(rel.begin(), rel.end(), '.', '/');
    auto t = read_text("/proc/sys/" + rel);
    return t ? normalize(*t) : "<missing>";
}

void set_key(const std::string& key, const std::string& value) {
    std::string rel = key;
    std::replace(rel.begin(), rel.end(), '.', '/');
    std::ofstream("/proc/sys/" + rel) << value;
}

// Profiles and journals in a temp dir; the netns targeted is this process's own.
struct Workspace {
    fs::path dir;
    std::string netns = "/proc/" + std::to_string(::getpid()) + "/ns/net";
    Workspace() {
        char tmpl[] = "/tmp/c10k-profile-netns-XXXXXX";
        dir = ::mkdtemp(tmpl);
        fs::create_directories(dir / "profiles");
    }
    ~Workspace() { fs::remove_all(dir); }
    void profile(const std::string& name, const std::string& text) const {
        std::ofstream(dir / "profiles" / (name + ".conf")) << text;
    }
    std::vector<std::string> args(std::vector<std::string> a, bool target = true) const {
        a.insert(a.begin(), "profile");
        if (a[1] == "apply" || a[1] == "rollback" || a[1] == "backups")
            a.insert(a.end(), {"--state-dir", (dir / "state").string()});
        a.insert(a.end(), {"--profile-dir", (dir / "profiles").string()});
        if (target) a.insert(a.end(), {"--netns", netns});
        return a;
    }
    CommandResult doctor(std::vector<std::string> a, bool target = true) const {
        return run_doctor(args(std::move(a), target));
    }
};

std::map<std::string, std::string> snapshot(const std::vector<std::string>& keys) {
    std::map<std::string, std::string> out;
    for (const auto& k : keys)
        out[k] = read_key(k);
    return out;
}

const std::vector<std::string> kC100kNetKeys = {"net.core.somaxconn",
                                                "net.ipv4.tcp_max_syn_backlog",
                                                "net.ipv4.tcp_syncookies",
                                                "net.ipv4.ip_local_port_range",
                                                "net.ipv4.tcp_max_tw_buckets",
                                                "net.ipv4.tcp_rmem",
                                                "net.ipv4.tcp_wmem"};

}  // namespace

TEST(ProfileNetns, ApplyC100kRaisesKeepsHigherAndRollbackRestoresExactly) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    set_key("net.core.somaxconn", "70000");  // already above c100k's 65535
    set_key("net.ipv4.tcp_max_syn_backlog", "512");
    auto before = snapshot(kC100kNetKeys);

    auto diff = json::parse(w.doctor({"diff", "c100k", "--json"}).out);
    std::map<std::string, std::string> action;
    for (const auto& k : diff["keys"])
        action[k["key"]] = k["action"];
    EXPECT_EQ(action["net.core.somaxconn"], "keep");
    EXPECT_EQ(action["net.ipv4.tcp_max_syn_backlog"], "raise");
    EXPECT_EQ(action["fs.file-max"], "skip: host-wide");

    auto r = w.doctor({"apply", "c100k"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(read_key("net.core.somaxconn"), "70000");
    EXPECT_EQ(read_key("net.ipv4.tcp_max_syn_backlog"), "65535");
    EXPECT_EQ(read_key("net.ipv4.tcp_max_tw_buckets"), "524288");
    auto range = read_key("net.ipv4.ip_local_port_range");
    EXPECT_EQ(range.substr(0, 6), "15000 ") << range;

    auto rb = w.doctor({"rollback"}, false);
    ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
    EXPECT_EQ(snapshot(kC100kNetKeys), before);
}

// What configuration management asks: verify says drift (1) before an apply
// and at-profile (0) after; apply --json says changed the first time only; a
// profile verify cannot resolve is 3, never a "drift" of 1.
TEST(ProfileNetns, VerifyAndChangedAnswerConfigurationManagement) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    w.profile("two", "net.core.somaxconn = 5000\nnet.ipv4.tcp_max_syn_backlog = 3000\n");
    set_key("net.core.somaxconn", "4096");
    set_key("net.ipv4.tcp_max_syn_backlog", "9000");  // above: a minimum, so not drift

    auto before = w.doctor({"verify", "two"});
    EXPECT_EQ(before.exit_code, 1) << before.out << before.err;
    EXPECT_NE(before.out.find("net.core.somaxconn: 4096, profile 5000"), std::string::npos)
        << before.out;
    EXPECT_EQ(before.out.find("tcp_max_syn_backlog"), std::string::npos) << before.out;
    auto exact = json::parse(w.doctor({"verify", "two", "--exact", "--json"}).out);
    EXPECT_FALSE(exact["at_profile"].get<bool>());
    EXPECT_EQ(exact["drift"].size(), 2u) << exact["drift"].dump();

    auto dry = json::parse(w.doctor({"apply", "two", "--dry-run", "--json"}).out);
    EXPECT_TRUE(dry["changed"].get<bool>());
    EXPECT_EQ(read_key("net.core.somaxconn"), "4096");
    auto first = w.doctor({"apply", "two", "--json"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_TRUE(json::parse(first.out)["changed"].get<bool>());
    auto second = w.doctor({"apply", "two", "--json"});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_FALSE(json::parse(second.out)["changed"].get<bool>()) << second.out;

    auto after = w.doctor({"verify", "two"});
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
    EXPECT_EQ(w.doctor({"verify", "no-such-profile"}).exit_code, 3);
}

TEST(ProfileNetns, KernelRefusalRestoresEarlierKeysAndNamesKeyAndErrno) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    // Shape-valid, but the kernel refuses a range starting below
    // ip_unprivileged_port_start (1024).
    w.profile("refused",
              "net.core.somaxconn = 9000\nnet.ipv4.tcp_max_tw_buckets = 300000\n"
              "net.ipv4.ip_local_port_range = 500 60999\n");
    set_key("net.core.somaxconn", "4096");
    set_key("net.ipv4.tcp_max_tw_buckets", "131072");
    auto before = snapshot(
        {"net.core.somaxconn", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.ip_local_port_range"});
    auto r = w.doctor({"apply", "refused"});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("net.ipv4.ip_local_port_range = 500 60999: EINVAL"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("restored the 2 key(s) already written"), std::string::npos) << r.err;
    EXPECT_EQ(snapshot({"net.core.somaxconn", "net.ipv4.tcp_max_tw_buckets",
                        "net.ipv4.ip_local_port_range"}),
              before);
    auto backups = json::parse(w.doctor({"backups", "--json"}, false).out);
    ASSERT_EQ(backups["backups"].size(), 1u);
    EXPECT_EQ(backups["backups"][0]["state"], "failed");
}

TEST(ProfileNetns, RollbackAfterAnApplyKilledHalfWay) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    w.profile("three",
              "net.core.somaxconn = 9001\nnet.ipv4.tcp_max_syn_backlog = 9002\n"
              "net.ipv4.tcp_max_tw_buckets = 300003\n");
    std::vector<std::string> keys = {"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
                                     "net.ipv4.tcp_max_tw_buckets"};
    set_key("net.core.somaxconn", "4096");
    set_key("net.ipv4.tcp_max_syn_backlog", "512");
    auto before = snapshot(keys);
    ::setenv("C10K_CRASH_AFTER_WRITES", "2", 1);
    auto argv = w.args({"apply", "three"});
    argv.insert(argv.begin(), C10K_CRASHABLE_DOCTOR_PATH);
    {
        Background apply(argv);
        ::unsetenv("C10K_CRASH_AFTER_WRITES");
        ASSERT_TRUE(apply.ok());
        EXPECT_EQ(apply.ready_line().rfind("stopped after 2 writes", 0), 0u) << apply.ready_line();
        EXPECT_EQ(read_key("net.ipv4.tcp_max_syn_backlog"), "9002");  // half applied
        ::kill(apply.pid(), SIGKILL);
        apply.wait(10);
    }
    auto pending = json::parse(w.doctor({"backups", "--json"}, false).out);
    ASSERT_EQ(pending["backups"].size(), 1u);
    EXPECT_EQ(pending["backups"][0]["state"], "pending");
    auto rb = w.doctor({"rollback"}, false);
    ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
    EXPECT_EQ(snapshot(keys), before);
}

TEST(ProfileNetns, PidRaisesALiveProcessNofileAndRollbackLowersIt) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    w.profile("fds", "# nofile: 4096\n# why\nnet.core.somaxconn = 9100\n");
    Background child(
        {"/usr/bin/prlimit", "--nofile=256:8192", C10K_TESTKIT_PATH, "hold-fds", "5", "60"});
    ASSERT_TRUE(child.ok());
    auto limit = [&] {
        auto p = read_process(SysRoot{}, child.pid(), false);
        return p && p->nofile ? *p->nofile : NofileLimit{};
    };
    ASSERT_EQ(limit().soft, 256u);
    set_key("net.core.somaxconn", "4096");
    auto r = w.doctor({"apply", "fds", "--pid", std::to_string(child.pid())}, false);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(limit().soft, 4096u);
    EXPECT_EQ(limit().hard, 8192u);
    EXPECT_EQ(read_key("net.core.somaxconn"), "9100");
    auto rb = w.doctor({"rollback"}, false);
    ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
    EXPECT_EQ(limit().soft, 256u);
    EXPECT_EQ(limit().hard, 8192u);
}

namespace {

// Four keys the apply raises, in this order, and a port range the kernel takes.
const std::vector<std::pair<std::string, std::string>> kRaised = {
    {"net.core.somaxconn", "9001"},
    {"net.ipv4.tcp_max_syn_backlog", "9002"},
    {"net.ipv4.tcp_max_tw_buckets", "300003"},
    {"net.ipv4.ip_local_port_range", "20000 60999"},
    {"net.ipv4.tcp_keepalive_time", "600"},
};

std::vector<std::string> raised_keys() {
    std::vector<std::string> keys;
    for (const auto& [k, v] : kRaised)
        keys.push_back(k);
    return keys;
}

void lower_raised_keys() {
    set_key("net.core.somaxconn", "4096");
    set_key("net.ipv4.tcp_max_syn_backlog", "512");
    set_key("net.ipv4.tcp_max_tw_buckets", "131072");
    set_key("net.ipv4.ip_local_port_range", "32768 60999");
    set_key("net.ipv4.tcp_keepalive_time", "7200");
}

}  // namespace

// Every position a refusal can come at: key k's value is one the kernel refuses
// (a port range below ip_unprivileged_port_start, EINVAL), and every key before
// it is restored, whichever k. No key, before or after, is left changed.
TEST(ProfileNetns, ARefusalAtEveryPositionLeavesEveryKeyAsBefore) {
    REQUIRE_PRIVATE_NETNS();
    auto keys = raised_keys();
    for (size_t k = 0; k < kRaised.size(); ++k) {
        Workspace w;
        std::string text;
        // The refused range at position k, the other four keys around it.
        std::vector<std::string> lines;
        for (const auto& [key, value] : kRaised)
            if (key != "net.ipv4.ip_local_port_range") lines.push_back(key + " = " + value);
        lines.insert(lines.begin() + static_cast<long>(std::min(k, lines.size())),
                     "net.ipv4.ip_local_port_range = 500 60999");
        for (const auto& l : lines)
            text += l + "\n";
        w.profile("refused", text);
        lower_raised_keys();
        auto before = snapshot(keys);
        auto r = w.doctor({"apply", "refused"});
        EXPECT_EQ(r.exit_code, 1) << "refusal at " << k << ": " << r.out;
        EXPECT_NE(r.err.find("restored the " + std::to_string(k) + " key(s) already written"),
                  std::string::npos)
            << "refusal at " << k << ": " << r.err;
        EXPECT_EQ(snapshot(keys), before) << "refusal at " << k;
    }
}

// Every position a crash can come at: the apply is SIGKILLed after write k, for
// each k, and `rollback` of its pending journal brings every key back.
TEST(ProfileNetns, AKillAfterEveryWriteIsRolledBackExactly) {
    REQUIRE_PRIVATE_NETNS();
    auto keys = raised_keys();
    std::string text;
    for (const auto& [key, value] : kRaised)
        text += key + " = " + value + "\n";
    for (size_t k = 1; k <= kRaised.size(); ++k) {
        Workspace w;
        w.profile("five", text);
        lower_raised_keys();
        auto before = snapshot(keys);
        ::setenv("C10K_CRASH_AFTER_WRITES", std::to_string(k).c_str(), 1);
        auto argv = w.args({"apply", "five"});
        argv.insert(argv.begin(), C10K_CRASHABLE_DOCTOR_PATH);
        {
            Background apply(argv);
            ::unsetenv("C10K_CRASH_AFTER_WRITES");
            ASSERT_TRUE(apply.ok()) << "kill after " << k;
            EXPECT_EQ(read_key(kRaised[k - 1].first), kRaised[k - 1].second);
            ::kill(apply.pid(), SIGKILL);
            apply.wait(10);
        }
        auto rb = w.doctor({"rollback"}, false);
        ASSERT_EQ(rb.exit_code, 0) << "kill after " << k << ": " << rb.out << rb.err;
        EXPECT_EQ(snapshot(keys), before) << "kill after " << k;
    }
}

// Two applies at once never interleave: the second is refused while the first
// holds the lock, and changes nothing; as nobody, an apply is refused before
// anything is written and leaves no journal.
TEST(ProfileNetns, ConcurrentAppliesAndAnUnprivilegedApplyChangeNothing) {
    REQUIRE_PRIVATE_NETNS();
    auto keys = raised_keys();
    Workspace w;
    std::string text;
    for (const auto& [key, value] : kRaised)
        text += key + " = " + value + "\n";
    w.profile("five", text);
    w.profile("other", "net.core.somaxconn = 7777\n");
    lower_raised_keys();
    ::setenv("C10K_CRASH_AFTER_WRITES", "1", 1);
    auto argv = w.args({"apply", "five"});
    argv.insert(argv.begin(), C10K_CRASHABLE_DOCTOR_PATH);
    {
        Background first(argv);
        ::unsetenv("C10K_CRASH_AFTER_WRITES");
        ASSERT_TRUE(first.ok());
        auto second = w.doctor({"apply", "other"});
        EXPECT_EQ(second.exit_code, 1);
        EXPECT_NE(second.err.find("another c10k-doctor apply or rollback holds"), std::string::npos)
            << second.err;
        EXPECT_EQ(read_key("net.core.somaxconn"), "9001");  // the first's, not 7777
        ::kill(first.pid(), SIGKILL);
        first.wait(10);
    }
    ASSERT_EQ(w.doctor({"rollback"}, false).exit_code, 0);

    lower_raised_keys();
    auto before = snapshot(keys);
    auto state = w.dir / "state-nobody";
    auto as_nobody = w.args({"apply", "five"});
    as_nobody.insert(as_nobody.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                         "--clear-groups", C10K_DOCTOR_PATH});
    // Its own state directory, in a place nobody can create one.
    for (size_t i = 0; i + 1 < as_nobody.size(); ++i)
        if (as_nobody[i] == "--state-dir") as_nobody[i + 1] = state.string();
    auto r = run_command(as_nobody, 30);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(snapshot(keys), before);
    EXPECT_FALSE(fs::exists(state));
}

namespace {

// A network namespace of its own, kept by a child that waits in pause(), and
// reachable at `path` only while a bind mount of it is there.
struct SecondNamespace {
    pid_t keeper = -1;
    fs::path path;
    explicit SecondNamespace(const fs::path& at) : path(at) {
        int ready[2];
        if (::pipe(ready) != 0) return;
        keeper = ::fork();
        if (keeper == 0) {
            char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
            (void)!::write(ready[1], &ok, 1);
            ::alarm(120);  // never outlives the test by much, whatever happens
            ::pause();
            ::_exit(0);
        }
        char ok = 'n';
        (void)!::read(ready[0], &ok, 1);
        ::close(ready[0]);
        ::close(ready[1]);
        std::ofstream(path).put('\n');
        if (ok != 'y' || !mount()) {
            ::kill(keeper, SIGKILL);
            keeper = -1;
        }
    }
    ~SecondNamespace() {
        unmount();
        if (keeper > 0) {
            ::kill(keeper, SIGKILL);
            ::waitpid(keeper, nullptr, 0);
        }
    }
    bool mount() const {
        auto src = "/proc/" + std::to_string(keeper) + "/ns/net";
        return ::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) == 0;
    }
    void unmount() const { ::umount2(path.c_str(), MNT_DETACH); }
    std::string somaxconn(const Workspace& w) const {
        auto d =
            json::parse(w.doctor({"diff", "one", "--json", "--netns", path.string()}, false).out);
        for (const auto& k : d["keys"])
            if (k["key"] == "net.core.somaxconn") return k["current"].get<std::string>();
        return "<missing>";
    }
};

json newest_backup(const Workspace& w) {
    auto all = json::parse(w.doctor({"backups", "--json"}, false).out)["backups"];
    return all.empty() ? json{} : all.back();
}

}  // namespace

// A rollback that cannot reach the namespace its profile was applied in keeps
// the journal pending and says so (exit 1); once the namespace is reachable
// again, the same rollback restores it and only then is it rolled back.
TEST(ProfileNetns, ARollbackThatSkippedANamespaceStaysRetryable) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    w.profile("one", "net.core.somaxconn = 9009\n");
    SecondNamespace other(w.dir / "other-ns");
    ASSERT_GT(other.keeper, 0) << "cannot make and bind-mount a second network namespace";
    std::string before = other.somaxconn(w);
    auto applied = w.doctor({"apply", "one", "--netns", other.path.string()}, false);
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    ASSERT_EQ(other.somaxconn(w), "9009");

    other.unmount();  // the recorded path no longer names that namespace
    auto skipped = w.doctor({"rollback"}, false);
    EXPECT_EQ(skipped.exit_code, 1) << skipped.out << skipped.err;
    EXPECT_NE(skipped.out.find("NOT RESTORED: the network namespace"), std::string::npos)
        << skipped.out;
    EXPECT_NE(skipped.err.find("the backup stays pending"), std::string::npos) << skipped.err;
    EXPECT_EQ(newest_backup(w)["state"], "pending");

    ASSERT_TRUE(other.mount());
    EXPECT_EQ(other.somaxconn(w), "9009") << "nothing was restored while out of reach";
    auto retried = w.doctor({"rollback"}, false);
    EXPECT_EQ(retried.exit_code, 0) << retried.out << retried.err;
    EXPECT_EQ(other.somaxconn(w), before);
    EXPECT_EQ(newest_backup(w)["state"], "rolled-back");
}

// A key changed by someone else after the apply is restored all the same and
// said as a note: the undo restored everything, so the rollback succeeds.
TEST(ProfileNetns, AValueChangedSinceTheApplyIsRestoredAndSaidNotAFailure) {
    REQUIRE_PRIVATE_NETNS();
    Workspace w;
    w.profile("one", "net.core.somaxconn = 9009\n");
    set_key("net.core.somaxconn", "4096");
    ASSERT_EQ(w.doctor({"apply", "one"}).exit_code, 0);
    set_key("net.core.somaxconn", "12345");  // someone else's change
    auto rb = w.doctor({"rollback", "--json"}, false);
    EXPECT_EQ(rb.exit_code, 0) << rb.out << rb.err;
    auto doc = json::parse(rb.out);
    EXPECT_TRUE(doc["problems"].empty()) << doc.dump(2);
    ASSERT_EQ(doc["notes"].size(), 1u) << doc.dump(2);
    EXPECT_NE(doc["notes"][0].get<std::string>().find("restored anyway"), std::string::npos);
    EXPECT_EQ(doc["journal"]["state"], "rolled-back");
    EXPECT_EQ(read_key("net.core.somaxconn"), "4096");
}
