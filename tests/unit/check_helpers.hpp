// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "c10k/checks/checks.hpp"
#include "c10k/collect.hpp"
#include "fixture_root.hpp"

namespace c10k::test {

// One snapshot of a fixture: no rates, no sockets (netlink has no fixture).
inline Result<Collected> collect_fixture(const FixtureRoot& root,
                                         std::optional<pid_t> pid = std::nullopt,
                                         bool interactive = true) {
    CollectOptions o;
    o.interactive = interactive;
    o.root = root.root();
    o.interval_s = 0;
    o.read_sockets = false;
    o.pid = pid;
    return collect(o);
}

// Collect a fixture and run every rule.
inline std::vector<Finding> check_fixture(const FixtureRoot& root, Target target = {},
                                          std::optional<pid_t> pid = std::nullopt,
                                          bool interactive = true) {
    auto c = collect_fixture(root, pid, interactive);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    if (!c) return {};
    return run_all_checks(CheckInput(c->now, nullptr, target));
}

inline const Finding* find(const std::vector<Finding>& fs, const std::string& id,
                           const std::string& subject = "") {
    for (const auto& f : fs)
        if (f.id == id && (subject.empty() || f.subject == subject)) return &f;
    return nullptr;
}

inline std::optional<double> evidence(const Finding& f, const std::string& key) {
    for (const auto& e : f.evidence)
        if (e.key == key) return e.value;
    return std::nullopt;
}

}  // namespace c10k::test
