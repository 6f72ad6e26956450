// SPDX-License-Identifier: GPL-2.0-or-later
// What the sysctl.d configuration will set at boot, and from which file, so a
// diff can show that /etc/sysctl.d/99-foo.conf will undo a change at the next boot.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct BootSetting {
    std::string file;
    int line = 0;
    std::string value;
};

// Files by name across /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
// /usr/lib/sysctl.d and /lib/sysctl.d (the first directory holding a name wins),
// applied in name order, then /etc/sysctl.conf, the way systemd-sysctl and
// `sysctl --system` do. Per key, every setting in the order applied: the last wins.
using BootSettings = std::map<std::string, std::vector<BootSetting>, std::less<>>;
BootSettings read_boot_settings(const SysRoot& root);

// sysctl.d allows "net/ipv4/tcp_rmem" and keys whose first separator is '/'.
std::string sysctl_d_key(std::string_view key);

inline constexpr const char* kPersistFile = "etc/sysctl.d/90-c10k-doctor.conf";

}  // namespace c10k
