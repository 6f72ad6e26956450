// SPDX-License-Identifier: GPL-2.0-or-later
// A fixture tree copied into a private temp dir, optionally overlaid with a
// variant's files and extra processes, so tests can point sources at it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "c10k/sources/sys_root.hpp"

namespace c10k::test {

struct FakeProcess {
    pid_t pid = 0;
    std::string comm;
    uint64_t soft = 1024;
    uint64_t hard = 4096;
    int fds = 0;  // half of them sockets
    int threads = 1;
    std::string unit;  // systemd unit from the cgroup, optional
    std::string unit_limit;
};

class FixtureRoot {
  public:
    explicit FixtureRoot(const std::string& variant);
    ~FixtureRoot();
    FixtureRoot(const FixtureRoot&) = delete;
    FixtureRoot& operator=(const FixtureRoot&) = delete;

    const SysRoot& root() const { return root_; }
    const std::filesystem::path& dir() const { return root_.root; }
    void write(const std::string& rel, const std::string& content) const;
    void add_process(const FakeProcess& p) const;

  private:
    SysRoot root_;
};

// "healthy" alone, or "healthy" overlaid with tests/fixtures/hosts/<variant>.
inline FixtureRoot fixture_root(const std::string& variant) {
    return FixtureRoot(variant);
}

}  // namespace c10k::test
