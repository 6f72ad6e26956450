// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/profile/key_rules.hpp"
#include "c10k/enum_names.hpp"

#include <algorithm>
#include <array>

#include "c10k/profile/profile.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

// Limits and queue sizes: more is never less safe for these, so a profile
// only ever raises them.
constexpr std::array<std::string_view, 21> kMinimumKeys = {
    "fs.file-max",
    "fs.nr_open",
    "fs.epoll.max_user_watches",
    "fs.aio-max-nr",
    "kernel.pid_max",
    "kernel.threads-max",
    "vm.max_map_count",
    "net.core.somaxconn",
    "net.core.netdev_max_backlog",
    "net.core.netdev_budget",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.core.optmem_max",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.ipfrag_high_thresh",
    "net.netfilter.nf_conntrack_max",
    "net.nf_conntrack_max",
    "net.unix.max_dgram_qlen",
    "net.ipv4.tcp_limit_output_bytes",
};

constexpr std::array<std::string_view, 4> kVectorKeys = {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
                                                         "net.ipv4.tcp_mem", "net.ipv4.udp_mem"};

bool in(std::string_view key, const auto& table) {
    return std::find(table.begin(), table.end(), key) != table.end();
}

std::optional<std::vector<int64_t>> ints(std::string_view v) {
    std::vector<int64_t> out;
    for (auto f : split_ws(v)) {
        auto n = parse_int(f);
        if (!n) return std::nullopt;
        out.push_back(*n);
    }
    return out;
}

std::string join(const std::vector<int64_t>& v) {
    std::string out;
    for (auto n : v) {
        if (!out.empty()) out += ' ';
        out += std::to_string(n);
    }
    return out;
}

}  // namespace

KeyKind key_kind(std::string_view key) {
    if (key == "net.ipv4.ip_local_port_range") return KeyKind::port_range;
    if (in(key, kVectorKeys)) return KeyKind::vector_minimum;
    if (in(key, kMinimumKeys)) return KeyKind::minimum;
    return KeyKind::exact;
}

namespace {
constexpr std::array<const char*, 4> kKindNames = {"exact", "minimum", "minimum per field",
                                                   "widen only"};
static_assert(names_every(kKindNames, KeyKind::port_range));
constexpr std::array<const char*, 6> kActionNames = {
    "raise", "keep", "set", "missing on this kernel", "read-only here", "skip: host-wide"};
static_assert(names_every(kActionNames, Action::host_wide));
}  // namespace

const char* key_kind_name(KeyKind kind) {
    return enum_name(kKindNames, kind);
}

bool is_namespaced_key(std::string_view key) {
    return starts_with(key, "net.");
}

const char* action_name(Action action) {
    return enum_name(kActionNames, action);
}

bool is_write(Action action) {
    return action == Action::raise || action == Action::set;
}

KeyDecision decide_key(std::string_view key, std::string_view current, std::string_view wanted,
                       bool exact) {
    std::string cur = normalize_value(current);
    std::string want = normalize_value(wanted);
    if (cur == want) return {Action::keep, cur};
    if (exact) return {Action::set, want};

    auto c = ints(cur);
    auto w = ints(want);
    if (!c || !w || c->size() != w->size()) return {Action::set, want};
    // Merging keeps the host's fields, so it needs a host value that is itself
    // valid (the fuzzer's "32768 609990" would otherwise widen to an invalid range).
    if (invalid_value_reason(key, cur)) return {Action::set, want};
    switch (key_kind(key)) {
        case KeyKind::exact:
            return {Action::set, want};
        case KeyKind::minimum:
        case KeyKind::vector_minimum: {
            std::vector<int64_t> target(c->size());
            for (size_t i = 0; i < c->size(); ++i)
                target[i] = std::max((*c)[i], (*w)[i]);
            if (target == *c) return {Action::keep, cur};
            return {Action::raise, join(target)};
        }
        case KeyKind::port_range: {
            if (c->size() != 2) return {Action::set, want};
            std::vector<int64_t> target = {std::min((*c)[0], (*w)[0]), std::max((*c)[1], (*w)[1])};
            if (target == *c) return {Action::keep, cur};
            return {Action::raise, join(target)};
        }
    }
    return {Action::set, want};
}

}  // namespace c10k
