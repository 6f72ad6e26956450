// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "c10k/sources/sysctl.hpp"
#include "c10k/text.hpp"

namespace c10k {

std::string netns_path(const std::string& name_or_path) {
    if (name_or_path.find('/') != std::string::npos) return name_or_path;
    return "/run/netns/" + name_or_path;
}

Result<UniqueFd> open_netns(const std::string& name_or_path) {
    auto path = netns_path(name_or_path);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return sys_error("network namespace '" + name_or_path + "': " + path);
    }
    return fd;
}

Status enter_netns(int fd, const std::string& what) {
    if (::setns(fd, CLONE_NEWNET) != 0) {
        int err = errno;
        return make_error("cannot enter the network namespace of " + what + ": " + errno_text(err) +
                          (err == EPERM ? " (needs CAP_SYS_ADMIN; run as root)" : ""));
    }
    return ok_status();
}

HostSysctls read_host_sysctls(const std::vector<std::string>& keys) {
    HostSysctls out;
    // kthreadd (PID 2) lives in the initial namespace on every host and, unlike
    // PID 1, is readable even to a root without every capability; PID 1 is the
    // fallback where /proc shows another PID namespace's processes.
    for (const char* ns : {"/proc/2/ns/net", "/proc/1/ns/net"}) {
        std::string error;
        std::thread reader([&] {
            UniqueFd host(::open(ns, O_RDONLY | O_CLOEXEC));
            if (!host) {
                error = std::string("cannot open ") + ns + ": " + errno_text(errno) +
                        (errno == EACCES || errno == EPERM
                             ? " (entering it needs CAP_SYS_ADMIN; run as root)"
                             : "");
                return;
            }
            if (::setns(host.get(), CLONE_NEWNET) != 0) {
                error = std::string("cannot enter the host's network namespace: ") +
                        errno_text(errno) +
                        (errno == EPERM ? " (needs CAP_SYS_ADMIN; run as root)" : "");
                return;
            }
            SysRoot live;
            for (const auto& k : keys)
                if (auto v = read_sysctl(live, k)) out.values[k] = std::string(trim(*v));
        });
        reader.join();
        if (!out.values.empty()) return out;
        if (out.error.empty()) out.error = error;
    }
    return out;
}

std::optional<uint64_t> netns_inode_of(const std::string& ns_path) {
    struct stat st {};
    if (::stat(ns_path.c_str(), &st) != 0) return std::nullopt;
    return st.st_ino;
}

}  // namespace c10k
