// SPDX-License-Identifier: GPL-2.0-or-later
// Profiles: parsing, validation of hostile input, include resolution, key rules.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace std::string_literals;

#include "c10k/profile/boot_settings.hpp"
#include "c10k/profile/key_rules.hpp"
#include "c10k/profile/profile.hpp"
#include "c10k/profile/profile_store.hpp"
#include "fixture_root.hpp"

using namespace c10k;
namespace fs = std::filesystem;

namespace {

std::string parse_error(const std::string& text) {
    auto r = parse_profile(text, "p.conf", "p");
    EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text.substr(0, 200);
    return r ? "" : r.error().message();
}

// A directory of profiles for one test, removed afterwards.
struct ProfileDir {
    fs::path dir;
    ProfileDir() {
        char tmpl[] = "/tmp/c10k-profiles-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~ProfileDir() { fs::remove_all(dir); }
    void add(const std::string& name, const std::string& text) const {
        std::ofstream(dir / (name + ".conf")) << text;
    }
};

}  // namespace

TEST(ProfileParse, ReadsMetadataEntriesAndTheirReasons) {
    auto r = parse_profile(
        "# description: test profile\n# include: base, other\n# nofile: 65536\n\n"
        "# why one\n# and more\nnet.core.somaxconn=4096\n"
        "-net.netfilter.nf_conntrack_max = 1000\n\n"
        "net.ipv4.tcp_rmem = 4096\t131072   6291456\r\n",
        "p.conf", "p");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->description, "test profile");
    ASSERT_EQ(r->includes.size(), 2u);
    EXPECT_EQ(r->includes[1].first, "other");
    EXPECT_EQ(r->nofile, 65536u);
    ASSERT_EQ(r->entries.size(), 3u);
    EXPECT_EQ(r->entries[0].key, "net.core.somaxconn");
    EXPECT_EQ(r->entries[0].why, "why one and more");
    EXPECT_EQ(r->entries[0].origin.line, 7);
    EXPECT_TRUE(r->entries[1].optional);
    EXPECT_EQ(r->entries[1].why, "why one and more");  // same paragraph, same reason
    EXPECT_EQ(r->entries[2].why, "");
    EXPECT_EQ(r->entries[2].value, "4096 131072 6291456");
}

TEST(ProfileParse, RejectsKeysThatAreNotSysctlNames) {
    EXPECT_EQ(parse_error("net/../../etc/shadow = 1\n"),
              "p.conf:1: key 'net/../../etc/shadow' contains '/': keys are dotted sysctl names, "
              "not paths");
    EXPECT_NE(parse_error("\n\nnet..core.somaxconn = 1\n").find("p.conf:3: "), std::string::npos);
    EXPECT_NE(parse_error("net.core.some\x01thing = 1\n").find("control character"),
              std::string::npos);
    EXPECT_NE(parse_error(".net.core = 1\n").find("empty component"), std::string::npos);
    EXPECT_NE(parse_error("net.ipv4.conf.*.rp_filter = 1\n").find("glob"), std::string::npos);
    EXPECT_NE(parse_error("somaxconn = 1\n").find("no '.'"), std::string::npos);
    EXPECT_NE(parse_error("net.core." + std::string(300, 'a') + " = 1\n").find("bytes long"),
              std::string::npos);
    EXPECT_NE(parse_error("net.core.somaxconn = 1\nnet.core.x\0y = 2\n"s).find("p.conf:2: NUL"),
              std::string::npos);
}

TEST(ProfileParse, RejectsMalformedLinesWithTheirLineNumber) {
    EXPECT_EQ(parse_error("# ok\nnet.core.somaxconn 4096\n"),
              "p.conf:2: expected 'key = value', found 'net.core.somaxconn 4096'");
    EXPECT_EQ(parse_error("net.core.somaxconn = 1\nnet.ipv4.tcp_syncookies = 1\n"
                          "net.core.somaxconn = 2\n"),
              "p.conf:3: duplicate key net.core.somaxconn (first set at line 1)");
    EXPECT_EQ(parse_error("net.core.somaxconn =\n"),
              "p.conf:1: empty value for net.core.somaxconn");
    EXPECT_EQ(parse_error("# nofile: lots\n"),
              "p.conf:1: nofile: needs an integer between 1024 and 1073741824, got 'lots'");
    EXPECT_NE(parse_error("# include: ../etc/passwd\n").find("p.conf:1: include:"),
              std::string::npos);
    std::string huge = "net.core.somaxconn = 1\n# " + std::string(1 << 20, 'x') + "\n";
    EXPECT_EQ(parse_error(huge), "p.conf:2: line is 1048578 bytes long (limit 4096)");
}

TEST(ProfileParse, ChecksValueShapes) {
    EXPECT_NE(parse_error("net.ipv4.ip_local_port_range = 60000 1024\n").find("LOW < HIGH"),
              std::string::npos);
    EXPECT_NE(parse_error("net.ipv4.ip_local_port_range = 1024\n").find("two port numbers"),
              std::string::npos);
    EXPECT_NE(parse_error("net.ipv4.ip_local_port_range = 1024 70000\n").find("1-65535"),
              std::string::npos);
    EXPECT_NE(parse_error("net.ipv4.tcp_rmem = 4096 131072 8192\n").find("ascending"),
              std::string::npos);
    EXPECT_NE(parse_error("net.ipv4.tcp_wmem = 4096 16384\n").find("three integers"),
              std::string::npos);
    EXPECT_NE(parse_error("net.core.somaxconn = lots\n").find("one non-negative integer"),
              std::string::npos);
    EXPECT_TRUE(parse_profile("net.ipv4.tcp_congestion_control = bbr\n", "p", "p").ok());
}

TEST(ProfileStore, ResolvesIncludesLaterDefinitionsWin) {
    ProfileDir d;
    d.add("base",
          "# description: base\n# nofile: 4096\n# why base\nnet.core.somaxconn = 1024\n"
          "net.ipv4.tcp_syncookies = 1\n");
    d.add("big",
          "# description: big\n# include: base\n# nofile: 8192\nnet.core.somaxconn = 8192\n");
    ProfileStore store({d.dir});
    auto p = store.resolve("big");
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(p->chain, (std::vector<std::string>{"base", "big"}));
    EXPECT_EQ(p->nofile, 8192u);
    ASSERT_EQ(p->entries.size(), 2u);
    EXPECT_EQ(p->entries[0].value, "8192");
    EXPECT_EQ(p->entries[0].why, "why base");  // an override keeps the reason
    EXPECT_EQ(p->entries[0].overrides, (d.dir / "base.conf").string() + ":4");
}

TEST(ProfileStore, IncludeCyclesAndMissingIncludesNameTheLine) {
    ProfileDir d;
    d.add("a", "# include: b\n");
    d.add("b", "\n# include: a\n");
    d.add("c", "# description: c\n\n# include: nosuch\n");
    ProfileStore store({d.dir});
    auto cyc = store.resolve("a");
    ASSERT_FALSE(cyc.ok());
    EXPECT_EQ(cyc.error().message(),
              (d.dir / "b.conf").string() + ":2: include cycle: a -> b -> a");
    auto missing = store.resolve("c");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(
        missing.error().message().find((d.dir / "c.conf").string() + ":3: include of 'nosuch'"), 0u)
        << missing.error().message();
    EXPECT_FALSE(store.resolve("../etc/passwd").ok());
}

TEST(ProfileStore, OverrideDirectoryWinsOverShipped) {
    ProfileDir etc, shipped;
    shipped.add("web", "# description: shipped\n");
    shipped.add("db", "# description: db\n");
    etc.add("web", "# description: local\n");
    etc.add("broken", "oops\n");
    auto list = ProfileStore({etc.dir, shipped.dir}).list();
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].name, "broken");
    EXPECT_NE(list[0].error.find("broken.conf:1"), std::string::npos);
    EXPECT_EQ(list[2].name, "web");
    EXPECT_EQ(list[2].description, "local");
    EXPECT_TRUE(list[2].overrides_shipped);
}

TEST(ShippedProfiles, AllParseResolveAndExplainEveryKey) {
    ProfileStore store({shipped_profile_dir()});
    auto list = store.list();
    std::set<std::string> names;
    for (const auto& l : list) {
        names.insert(l.name);
        EXPECT_EQ(l.error, "") << l.name;
        EXPECT_FALSE(l.description.empty()) << l.name;
        auto p = store.resolve(l.name);
        ASSERT_TRUE(p.ok()) << p.error().message();
        for (const auto& e : p->entries) {
            EXPECT_FALSE(e.why.empty()) << l.name << ": " << e.key << " has no reason";
            EXPECT_NE(e.key, "net.ipv4.tcp_tw_recycle");   // gone since 4.12
            EXPECT_NE(e.key, "net.ipv4.tcp_fin_timeout");  // does not shorten TIME_WAIT
        }
    }
    for (const char* want : {"c10k", "c100k", "c1m", "loadgen", "low-latency"})
        EXPECT_TRUE(names.count(want)) << want;
}

TEST(KeyRules, CapacityKeysAreMinimums) {
    EXPECT_EQ(decide_key("net.core.somaxconn", "4096", "65535", false).action, Action::raise);
    auto keep = decide_key("net.core.somaxconn", "100000", "65535", false);
    EXPECT_EQ(keep.action, Action::keep);
    EXPECT_EQ(keep.target, "100000");
    EXPECT_EQ(decide_key("net.core.somaxconn", "100000", "65535", true).action, Action::set);
}

// Found by the fuzzer: widening keeps the host's fields, so a host value that is
// not a valid range itself is replaced, never merged into an invalid one.
TEST(KeyRules, AnInvalidHostRangeIsReplacedNotWidened) {
    auto d = decide_key("net.ipv4.ip_local_port_range", "32768 609990", "124 65535", false);
    EXPECT_EQ(d.action, Action::set);
    EXPECT_EQ(d.target, "124 65535");
}

TEST(KeyRules, VectorsRisePerFieldAndRangesOnlyWiden) {
    auto mem =
        decide_key("net.ipv4.tcp_mem", "287898\t383867\t575796", "262144 524288 786432", false);
    EXPECT_EQ(mem.action, Action::raise);
    EXPECT_EQ(mem.target, "287898 524288 786432");
    auto range = decide_key("net.ipv4.ip_local_port_range", "20000 60999", "15000 50000", false);
    EXPECT_EQ(range.action, Action::raise);
    EXPECT_EQ(range.target, "15000 60999");
    EXPECT_EQ(decide_key("net.ipv4.ip_local_port_range", "1024 65535", "15000 65000", false).action,
              Action::keep);
    EXPECT_EQ(
        decide_key("net.ipv4.tcp_rmem", "4096 131072 6291456", "4096 131072 6291456", false).action,
        Action::keep);
}

TEST(KeyRules, OtherKeysAreSetExactly) {
    auto d = decide_key("net.ipv4.tcp_slow_start_after_idle", "1", "0", false);
    EXPECT_EQ(d.action, Action::set);
    EXPECT_EQ(d.target, "0");
    EXPECT_EQ(decide_key("net.ipv4.tcp_congestion_control", "cubic", "bbr", false).action,
              Action::set);
    EXPECT_FALSE(is_namespaced_key("fs.file-max"));
    EXPECT_TRUE(is_namespaced_key("net.core.somaxconn"));
}

TEST(BootSettings, FollowSystemdSysctlOrderAndShadowing) {
    auto root = test::fixture_root("healthy");
    root.write("usr/lib/sysctl.d/50-default.conf", "net.core.somaxconn = 128\n");
    root.write("usr/lib/sysctl.d/60-vendor.conf", "net.core.somaxconn = 256\n");
    root.write("etc/sysctl.d/60-vendor.conf", "# local copy wins by name\nfs.file-max = 5\n");
    root.write("etc/sysctl.d/99-late.conf", "net/core/somaxconn=512\n-net.ipv4.tcp_tw_reuse=1\n");
    root.write("etc/sysctl.conf", "net.core.somaxconn = 1024\n");
    auto boot = read_boot_settings(root.root());
    const auto& s = boot["net.core.somaxconn"];
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].file, "/usr/lib/sysctl.d/50-default.conf");
    EXPECT_EQ(s[1].file, "/etc/sysctl.d/99-late.conf");
    EXPECT_EQ(s[1].value, "512");
    EXPECT_EQ(s[2].file, "/etc/sysctl.conf");
    EXPECT_EQ(boot["fs.file-max"].at(0).line, 2);
    EXPECT_EQ(boot["net.ipv4.tcp_tw_reuse"].size(), 1u);
}
