// SPDX-License-Identifier: GPL-2.0-or-later
// The fd limit services get from systemd when their unit sets none: what
// `check` judges when it is run by a timer, cron or an agent, whose own limit
// belongs to no server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "c10k/sources/process.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

struct ServiceNofile {
    NofileLimit limit;
    std::string origin;  // the file that set it, or systemd's built-in default
};

// "1024:524288", "65536" or "infinity" (DefaultLimitNOFILE= / LimitNOFILE= values).
std::optional<NofileLimit> parse_nofile_value(std::string_view value);

// DefaultLimitNOFILE= from system.conf and its drop-ins (later files win), or
// systemd's built-in 1024:524288 (v240 and later) when systemd runs and sets
// none; nothing on a host without systemd.
std::optional<ServiceNofile> read_service_default_nofile(const SysRoot& root);

}  // namespace c10k
