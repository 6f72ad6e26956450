// Entering another network namespace, so that /proc/net, /proc/sys/net and
// netlink all answer for it (a container's view rather than the host's).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "c10k/result.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

// NAME (as `ip netns add NAME` makes, under /run/netns) or a path such as /proc/PID/ns/net.
std::string netns_path(const std::string& name_or_path);

Result<UniqueFd> open_netns(const std::string& name_or_path);

// setns(2) for the calling thread. Needs CAP_SYS_ADMIN.
Status enter_netns(int fd, const std::string& what);

std::optional<uint64_t> netns_inode_of(const std::string& ns_path);

}  // namespace c10k
