// SPDX-License-Identifier: GPL-2.0-or-later
// The evidence catalogues: every key's name is unique and says its unit the
// way the renderers read it (Prometheus turns `_percent` into a 0..1 `_ratio`
// and `_ms`/`_us` into seconds, and wants a counter's name to end in `_total`).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <set>
#include <span>
#include <string>

#include "c10k/checks/check_keys.hpp"
#include "c10k/diagnose/probe_keys.hpp"

using namespace c10k;

namespace {

using Catalogue = std::span<const EvidenceKey* const>;

// The suffix a key of this unit must carry, where the renderers rely on one.
std::string_view suffix_of(Dim d) {
    switch (d) {
        case Dim::percent:
            return "_percent";
        case Dim::per_second:
            return "_per_second";
        case Dim::since_boot:
            return "_total";
        case Dim::milliseconds:
            return "_ms";
        case Dim::microseconds:
            return "_us";
        case Dim::cores:
            return "_cores";
        default:
            return "";
    }
}

bool snake_case(std::string_view name) {
    if (name.empty() || name.front() == '_' || name.back() == '_') return false;
    for (char c : name)
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

void expect_well_named(Catalogue keys, std::string_view which) {
    std::set<std::string> names;
    for (const auto* k : keys) {
        SCOPED_TRACE(fmt::format("{} key {}", which, k->name));
        // A qualified key is checked as the name it makes.
        std::string name = Evidence(*k, 0, "x").key;
        EXPECT_TRUE(snake_case(name));
        EXPECT_TRUE(names.insert(std::string(k->name)).second) << "declared twice";
        EXPECT_FALSE(k->label.empty());
        if (auto sfx = suffix_of(k->unit.dim); !sfx.empty()) {
            EXPECT_TRUE(name.ends_with(sfx));
        }
        if (name.ends_with("_percent")) {
            EXPECT_EQ(k->unit.dim, Dim::percent);
        }
        if (name.ends_with("_total")) {
            EXPECT_EQ(k->unit.dim, Dim::since_boot);
        }
        if (k->unit.dim == Dim::count) {
            EXPECT_FALSE(k->unit.noun.empty());
        }
    }
}

}  // namespace

TEST(EvidenceKeys, ProbeKeysAreUniqueAndNamedForTheirUnit) {
    expect_well_named(probe_keys::all, "probe");
    EXPECT_GT(probe_keys::all.size(), 100u);
}

TEST(EvidenceKeys, CheckKeysAreUniqueAndNamedForTheirUnit) {
    expect_well_named(check_keys::all, "check");
    EXPECT_GT(check_keys::all.size(), 50u);
}

TEST(EvidenceKeys, AQualifierFillsTheNameAndTheLabel) {
    Evidence e(probe_keys::loop_in, 7, "write");
    EXPECT_EQ(e.key, "loop_in_write");
    EXPECT_EQ(e.label, "event-loop looks blocked in write()");
    EXPECT_EQ(e.value, 7);
    EXPECT_EQ(e.unit, units::looks);
}

TEST(EvidenceKeys, ALabelGivenReplacesTheKeys) {
    Evidence plain(check_keys::somaxconn, 4096);
    EXPECT_EQ(plain.key, "somaxconn");
    EXPECT_EQ(plain.label, "net.core.somaxconn");
    Evidence told(check_keys::counter_total, 12, "listen_overflows", "ListenOverflows since boot");
    EXPECT_EQ(told.key, "listen_overflows_total");
    EXPECT_EQ(told.label, "ListenOverflows since boot");
    EXPECT_EQ(told.unit.dim, Dim::since_boot);
}
