// SPDX-License-Identifier: GPL-2.0-or-later
// Where well-known servers take a limit from their own configuration, so a fix
// names the setting that survives a reload, not only the kernel-side knob.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c10k {

// The server's own setting for its fd limit, by process name (comm), with
// `want` filled in; nullopt for a process we do not know.
std::optional<std::string> nofile_setting(std::string_view comm, uint64_t want);

// The server's own setting for the backlog it passes to listen(), by process
// name, with `want` filled in; nullopt for a process we do not know.
std::optional<std::string> backlog_setting(std::string_view comm, uint64_t want);

// The server's own setting that keeps connections to its upstreams open for
// reuse, by process name; nullopt for a process we do not know.
std::optional<std::string> upstream_reuse_setting(std::string_view comm);

// The server's own cap on the clients it serves at once, with `want` filled
// in; nullopt for a process we do not know.
std::optional<std::string> max_clients_setting(std::string_view comm, uint64_t want);

// For a server that lowers its cap at start to fit the fd limit it finds
// (Redis's maxclients), the fds it keeps for itself: its cap is then the
// limit less these. nullopt for a server whose cap is its own.
std::optional<uint32_t> cap_fd_reserve(std::string_view comm);

}  // namespace c10k
