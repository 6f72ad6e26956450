// SPDX-License-Identifier: GPL-2.0-or-later
#include "fixture_root.hpp"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace c10k::test {

FixtureRoot::FixtureRoot(const std::string& variant) {
    fs::path base = fs::path(C10K_FIXTURES_DIR) / "hosts";
    std::string tmpl = (fs::temp_directory_path() / "c10k-fixture-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    root_.root = tmpl;
    fs::copy(base / "healthy", root_.root, fs::copy_options::recursive);
    if (variant != "healthy") {
        fs::copy(base / variant, root_.root,
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    }
}

FixtureRoot::~FixtureRoot() {
    std::error_code ec;
    fs::remove_all(root_.root, ec);
}

void FixtureRoot::write(const std::string& rel, const std::string& content) const {
    auto p = root_.root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
}

void FixtureRoot::add_process(const FakeProcess& p) const {
    auto dir = "proc/" + std::to_string(p.pid);
    write(dir + "/status",
          "Name:\t" + p.comm + "\nPPid:\t1\nThreads:\t" + std::to_string(p.threads) + "\n");
    write(dir + "/limits", "Limit Soft Limit Hard Limit Units\nMax open files            " +
                               std::to_string(p.soft) + "                 " +
                               std::to_string(p.hard) + "                 files\n");
    write(dir + "/cgroup",
          p.unit.empty() ? "0::/user.slice\n" : "0::/system.slice/" + p.unit + "\n");
    if (!p.unit.empty() && !p.unit_limit.empty())
        write("etc/systemd/system/" + p.unit + ".d/limits.conf",
              "[Service]\nLimitNOFILE=" + p.unit_limit + "\n");
    fs::create_directories(root_.root / dir / "fd");
    for (int i = 0; i < p.fds; ++i) {
        std::string target = i % 2 ? "socket:[" + std::to_string(100000 + i) + "]" : "/dev/null";
        fs::create_symlink(target, root_.root / dir / "fd" / std::to_string(i));
    }
    for (int t = 0; t < p.threads; ++t) {
        auto tdir = dir + "/task/" + std::to_string(p.pid + t);
        write(tdir + "/status",
              "Name:\t" + p.comm +
                  "\nvoluntary_ctxt_switches:\t100\nnonvoluntary_ctxt_switches:\t5\n");
        write(tdir + "/schedstat", "1000000 2000000 10\n");
    }
    // PPid 1's limits, so the "inherited" logic has a parent to compare with.
    write("proc/1/limits", "Max open files 1024 4096 files\n");
}

}  // namespace c10k::test
