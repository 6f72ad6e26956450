// SPDX-License-Identifier: GPL-2.0-or-later
// `profile` end to end against a fixture sysctl root: fs.* keys and the
// --persist files are exercised here without touching the host.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/run_command.hpp"
#include "c10k/profile/journal.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"
#include "fixture_root.hpp"

using namespace c10k;
using namespace c10k::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
    auto t = read_text(p);
    return t ? *t : "<" + t.error().message() + ">";
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

// A fixture host with a profile directory and a state directory inside it.
struct ProfileHost {
    FixtureRoot root{"healthy"};
    fs::path profiles = root.dir() / "etc/c10k-doctor/profiles";
    fs::path state = root.dir() / "var/lib/c10k-doctor";

    void profile(const std::string& name, const std::string& text) const {
        root.write("etc/c10k-doctor/profiles/" + name + ".conf", text);
    }
    CommandResult doctor(std::vector<std::string> args) const {
        args.insert(args.begin(), "profile");
        args.insert(args.end(), {"--root", root.dir().string()});
        if (args[1] == "apply" || args[1] == "rollback" || args[1] == "backups")
            args.insert(args.end(), {"--state-dir", state.string()});
        return run_doctor(args);
    }
    std::string sysctl(const std::string& rel) const {
        return std::string(trim(slurp(root.dir() / "proc/sys" / rel)));
    }
};

const char* kFsProfile =
    "# description: fs keys\n# nofile: 65536\n"
    "# why\nfs.nr_open = 2097152\n# why\nfs.file-max = 1048576\n"
    "# why\nnet.core.somaxconn = 8192\n";

}  // namespace

TEST(ProfileCli, ListsShippedProfilesAndLocalOverrides) {
    ProfileHost h;
    h.profile("c10k", "# description: my own c10k\n");
    auto r = h.doctor({"list"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("c100k"), std::string::npos);
    EXPECT_NE(r.out.find("my own c10k"), std::string::npos) << r.out;
    auto j = json::parse(h.doctor({"list", "--json"}).out);
    EXPECT_GE(j["profiles"].size(), 5u);
}

TEST(ProfileCli, ShowExpandsIncludesAndIsLoadableSysctlSyntax) {
    ProfileHost h;
    auto r = h.doctor({"show", "c1m"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("resolved from: c10k -> c100k -> c1m"), std::string::npos) << r.out;
    for (auto line : split_lines(r.out)) {
        auto t = trim(line);
        if (t.empty() || t.front() == '#') continue;
        EXPECT_NE(t.find(" = "), std::string_view::npos) << t;
    }
    auto j = json::parse(h.doctor({"show", "c1m", "--json"}).out);
    EXPECT_EQ(j["chain"].size(), 3u);
}

TEST(ProfileCli, DiffShowsActionsAndTheFileThatSetsAKeyAtBoot) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    h.root.write("etc/sysctl.d/99-tuning.conf", "fs.nr_open = 1048576\n");
    auto j = json::parse(h.doctor({"diff", "t", "--json"}).out);
    std::map<std::string, json> by_key;
    for (const auto& k : j["keys"])
        by_key[k["key"]] = k;
    EXPECT_EQ(by_key["fs.nr_open"]["action"], "raise");
    EXPECT_EQ(by_key["fs.nr_open"]["boot"][0]["file"], "/etc/sysctl.d/99-tuning.conf");
    EXPECT_EQ(by_key["fs.file-max"]["action"], "keep");  // fixture: 9223372036854775807
    EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");        // diff writes nothing
    auto text = h.doctor({"diff", "t"});
    EXPECT_NE(text.out.find("/etc/sysctl.d/99-tuning.conf:1 = 1048576"), std::string::npos)
        << text.out;
}

TEST(ProfileCli, DryRunChangesNothing) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    auto r = h.doctor({"apply", "t", "--dry-run", "--persist"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("nothing was changed"), std::string::npos);
    EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");
    EXPECT_FALSE(fs::exists(h.root.dir() / "etc/sysctl.d/90-c10k-doctor.conf"));
    EXPECT_FALSE(fs::exists(h.state));
}

TEST(ProfileCli, PersistWritesSysctlDAtomicallyAndRollbackRemovesIt) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    auto r = h.doctor({"apply", "t", "--persist", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto out = json::parse(r.out);
    std::string id = out["journal"];
    EXPECT_EQ(h.sysctl("fs/nr_open"), "2097152");
    EXPECT_EQ(h.sysctl("net/core/somaxconn"), "8192");
    auto persisted = h.root.dir() / "etc/sysctl.d/90-c10k-doctor.conf";
    auto text = slurp(persisted);
    EXPECT_NE(text.find("fs.nr_open = 2097152\n"), std::string::npos) << text;
    // Kept keys are persisted at the host's (higher) value, so a reboot keeps them too.
    EXPECT_NE(text.find("fs.file-max = 9223372036854775807\n"), std::string::npos) << text;
    EXPECT_EQ(mode_of(persisted), 0644u);
    for (const auto& e : fs::directory_iterator(persisted.parent_path()))
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);  // no leftovers
    EXPECT_EQ(mode_of(h.state), 0700u);
    EXPECT_EQ(mode_of(h.state / (id + ".json")), 0600u);

    auto rb = h.doctor({"rollback"});
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");
    EXPECT_EQ(h.sysctl("net/core/somaxconn"), "4096");
    EXPECT_FALSE(fs::exists(persisted));
    auto backups = json::parse(h.doctor({"backups", "--json"}).out);
    ASSERT_EQ(backups["backups"].size(), 1u);
    EXPECT_EQ(backups["backups"][0]["state"], "rolled-back");
    EXPECT_NE(h.doctor({"rollback"}).exit_code, 0);  // nothing left to roll back
}

TEST(ProfileCli, PersistWarnsWhenALaterBootFileWouldUndoAKey) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    h.root.write("etc/sysctl.d/99-local.conf", "fs.nr_open = 1048576\n");
    h.root.write("etc/sysctl.d/10-early.conf", "net.core.somaxconn = 1024\n");
    auto r = h.doctor({"apply", "t", "--persist", "--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("at boot /etc/sysctl.d/99-local.conf:1 sets fs.nr_open = 1048576 after "
                         "90-c10k-doctor.conf"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("10-early.conf:1 sets"), std::string::npos) << "an earlier file loses";
}

TEST(ProfileCli, RollbackRestoresAPersistedFileThatExistedBefore) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    h.root.write("etc/sysctl.d/90-c10k-doctor.conf", "fs.nr_open = 1500000\n");
    ::chmod((h.root.dir() / "etc/sysctl.d/90-c10k-doctor.conf").c_str(), 0640);
    ASSERT_EQ(h.doctor({"apply", "t", "--persist"}).exit_code, 0);
    ASSERT_EQ(h.doctor({"rollback"}).exit_code, 0);
    auto persisted = h.root.dir() / "etc/sysctl.d/90-c10k-doctor.conf";
    EXPECT_EQ(slurp(persisted), "fs.nr_open = 1500000\n");
    EXPECT_EQ(mode_of(persisted), 0640u);
}

TEST(ProfileCli, UnitDropInCarriesNofile) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    auto r = h.doctor({"apply", "t", "--persist", "--unit", "nginx"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto dropin = h.root.dir() / "etc/systemd/system/nginx.service.d/90-c10k-doctor.conf";
    EXPECT_NE(slurp(dropin).find("[Service]\nLimitNOFILE=65536\n"), std::string::npos);
    EXPECT_NE(r.out.find("systemctl daemon-reload"), std::string::npos) << r.out;
    ASSERT_EQ(h.doctor({"rollback"}).exit_code, 0);
    EXPECT_FALSE(fs::exists(dropin.parent_path()));
    EXPECT_NE(h.doctor({"apply", "t", "--unit", "nginx"}).exit_code, 0);  // needs --persist
}

TEST(ProfileCli, HostileProfilesFailWithFileAndLineAndWriteNothing) {
    ProfileHost h;
    struct Case {
        std::string text, expect;
    } cases[] = {
        {"fs.nr_open = 2097152\nnet/../../../etc/passwd = x\n", "bad.conf:2: key"},
        {"fs.nr_open = 2097152\nfs.nr_open = 3000000\n", "bad.conf:2: duplicate key fs.nr_open"},
        {"fs.nr_open = 2097152\nfs.file-max\n", "bad.conf:2: expected 'key = value'"},
        {"# include: bad\nfs.nr_open = 2097152\n", "bad.conf:1: include cycle: bad -> bad"},
        {"# include: ghost\nfs.nr_open = 2097152\n", "bad.conf:1: include of 'ghost'"},
        {"fs.nr_open = 2097152\n" + std::string(1 << 20, 'k') + " = 1\n",
         "bad.conf:2: line is 1048580 bytes long"},
    };
    for (const auto& c : cases) {
        h.profile("bad", c.text);
        auto r = h.doctor({"apply", "bad"});
        EXPECT_EQ(r.exit_code, 1) << c.expect;
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
        EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");
        EXPECT_FALSE(fs::exists(h.state)) << "a journal was written for " << c.expect;
    }
}

TEST(ProfileCli, RefusesUnsafeStateDirectories) {
    ProfileHost h;
    h.profile("t", kFsProfile);
    fs::create_directories(h.root.dir() / "real");
    fs::create_symlink(h.root.dir() / "real", h.root.dir() / "link");
    auto r = run_doctor({"profile", "apply", "t", "--root", h.root.dir().string(), "--state-dir",
                         (h.root.dir() / "link").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
    fs::create_directories(h.root.dir() / "open");
    ::chmod((h.root.dir() / "open").c_str(), 0777);
    r = run_doctor({"profile", "apply", "t", "--root", h.root.dir().string(), "--state-dir",
                    (h.root.dir() / "open").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("mode 0777"), std::string::npos) << r.err;
    EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");
}

TEST(ProfileCli, StrictRefusesKeysThisKernelLacks) {
    ProfileHost h;
    h.profile("t", "net.ipv4.tcp_no_such_key = 1\nfs.nr_open = 2097152\n");
    auto lenient = h.doctor({"apply", "t", "--dry-run"});
    EXPECT_EQ(lenient.exit_code, 0) << lenient.err;
    EXPECT_NE(lenient.out.find("missing on this kernel"), std::string::npos);
    auto strict = h.doctor({"apply", "t", "--strict"});
    EXPECT_EQ(strict.exit_code, 1);
    EXPECT_NE(strict.err.find("t.conf:1: net.ipv4.tcp_no_such_key"), std::string::npos)
        << strict.err;
    EXPECT_EQ(h.sysctl("fs/nr_open"), "1048576");
}

TEST(Journal, RoundTripsThroughJson) {
    Journal j;
    j.id = "20261122T000000000Z-1";
    j.profile = "c10k";
    j.state = JournalState::applied;
    j.netns_path = "/proc/1/ns/net";
    j.netns_inode = 4026531840;
    j.sysctls = {{"net.core.somaxconn", "4096", "65535"}};
    j.files = {{"/etc/sysctl.d/90-c10k-doctor.conf", true, "old\n", 0640, "new\n"}};
    j.rlimits = {{42, 12345, 1024, 4096, 65536, 65536}};
    auto back = journal_from_json(journal_to_json(j), "j");
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(journal_to_json(*back), journal_to_json(j));
    EXPECT_FALSE(journal_from_json("{\"schema\": 99}", "j").ok());
    EXPECT_FALSE(journal_from_json("not json", "j").ok());
}

// A later round's journal folds into the first: what it changed again keeps
// the first round's value before (what an undo restores) and takes the later
// value after; what only it changed is added.
TEST(ProfileJournal, MergingKeepsTheFirstBeforeAndTheLatestAfter) {
    Journal first;
    first.sysctls = {{"net.core.somaxconn", "128", "4096"}};
    first.rlimits = {{42, 7, 1024, 4096, 8192, 8192}};
    first.files = {{"/etc/sysctl.d/90-c10k.conf", false, "", 0644, "a = 1\n"}};
    Journal later;
    later.sysctls = {{"net.core.somaxconn", "4096", "8192"},
                     {"net.ipv4.tcp_max_syn_backlog", "512", "8192"}};
    later.rlimits = {{42, 7, 8192, 8192, 65536, 65536}, {42, 9, 1024, 1024, 2048, 2048}};
    later.files = {{"/etc/sysctl.d/90-c10k.conf", true, "a = 1\n", 0644, "a = 2\n"}};
    merge_journal(first, later);
    ASSERT_EQ(first.sysctls.size(), 2u);
    EXPECT_EQ(first.sysctls[0].before, "128");
    EXPECT_EQ(first.sysctls[0].after, "8192");
    EXPECT_EQ(first.sysctls[1].key, "net.ipv4.tcp_max_syn_backlog");
    ASSERT_EQ(first.rlimits.size(), 2u) << "a reused PID (another start time) is another process";
    EXPECT_EQ(first.rlimits[0].before_soft, 1024u);
    EXPECT_EQ(first.rlimits[0].after_soft, 65536u);
    EXPECT_EQ(first.rlimits[0].after_hard, 65536u);
    ASSERT_EQ(first.files.size(), 1u);
    EXPECT_FALSE(first.files[0].existed) << "it did not exist before the first round";
    EXPECT_EQ(first.files[0].after, "a = 2\n");
}
