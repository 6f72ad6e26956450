// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/socket_owner.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>

#include "c10k/sources/netns.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

bool holds_socket(const std::string& fd_dir, const std::string& want) {
    DIR* d = ::opendir(fd_dir.c_str());
    if (!d) return false;
    bool found = false;
    char link[64];
    while (dirent* ent = ::readdir(d)) {
        if (ent->d_name[0] == '.') continue;
        ssize_t n = ::readlinkat(::dirfd(d), ent->d_name, link, sizeof link - 1);
        if (n > 0 && std::string_view(link, static_cast<size_t>(n)) == want) {
            found = true;
            break;
        }
    }
    ::closedir(d);
    return found;
}

}  // namespace

std::optional<SocketOwner> find_socket_owner(uint64_t inode, std::optional<uint64_t> netns_inode) {
    if (inode == 0) return std::nullopt;
    std::string want = "socket:[" + std::to_string(inode) + "]";
    DIR* proc = ::opendir("/proc");
    if (!proc) return std::nullopt;
    std::optional<SocketOwner> best;
    while (dirent* ent = ::readdir(proc)) {
        auto pid = parse_uint(ent->d_name);
        if (!pid) continue;
        std::string base = std::string("/proc/") + ent->d_name;
        if (netns_inode && netns_inode_of(base + "/ns/net") != netns_inode) continue;
        if (best && static_cast<pid_t>(*pid) > best->pid) continue;
        if (!holds_socket(base + "/fd", want)) continue;
        SocketOwner o;
        o.pid = static_cast<pid_t>(*pid);
        if (auto comm = read_text(base + "/comm")) o.comm = printable(trim(*comm));
        best = o;
    }
    ::closedir(proc);
    return best;
}

}  // namespace c10k
