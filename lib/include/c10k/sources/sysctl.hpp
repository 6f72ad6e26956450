// SPDX-License-Identifier: GPL-2.0-or-later
// Reading sysctls by name through /proc/sys (per network namespace for net.*).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

// "net.core.somaxconn" -> "<root>/proc/sys/net/core/somaxconn".
std::filesystem::path sysctl_path(const SysRoot& root, std::string_view key);

Result<std::string> read_sysctl(const SysRoot& root, std::string_view key);

enum class SysctlAccess { missing, read_only, writable };
// Whether this kernel (in this network namespace) has the key, and whether it can
// be written here: some keys exist read-only outside the initial namespace.
SysctlAccess sysctl_access(const SysRoot& root, std::string_view key);

// One write(2) of the whole value, as sysctl(8) does; errors carry the kernel's
// errno name and text ("EINVAL: Invalid argument").
Status write_sysctl(const SysRoot& root, std::string_view key, std::string_view value);

// The values of a set of keys, each read once. A key that cannot be read keeps
// its reason, so a rule can say UNKNOWN and why.
struct SysctlValues {
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, Error, std::less<>> errors;
    // Keys read from the host's initial namespace because the target's has none
    // of its own (they hold for every namespace).
    std::set<std::string, std::less<>> host_wide;

    std::optional<std::string> text(std::string_view key) const;
    std::optional<int64_t> integer(std::string_view key) const;
    // Whitespace-separated integers, e.g. tcp_mem or ip_local_port_range.
    std::optional<std::vector<int64_t>> integers(std::string_view key) const;
    std::string error(std::string_view key) const;
};

SysctlValues read_sysctls(const SysRoot& root, const std::vector<std::string>& keys);

}  // namespace c10k
