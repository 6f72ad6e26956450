// SPDX-License-Identifier: GPL-2.0-or-later
// Which process holds a socket: the way to name the local server behind a
// destination the target waits on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace c10k {

struct SocketOwner {
    pid_t pid = 0;
    std::string comm;
};

// Scans /proc/PID/fd of every process (only those in the network namespace
// `netns_inode`, when given) for "socket:[inode]". O(fds on the host): call it
// once per question, not per sample. The lowest PID wins when several hold it
// (a master and its workers share listeners).
std::optional<SocketOwner> find_socket_owner(uint64_t inode,
                                             std::optional<uint64_t> netns_inode = std::nullopt);

}  // namespace c10k
