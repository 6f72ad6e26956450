// SPDX-License-Identifier: GPL-2.0-or-later
// Every privileged test process runs in a private network namespace of its own,
// so sockets and net.* sysctls never touch the host. Without the privilege to
// create one, the tests skip with the reason printed.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <cerrno>
#include <cstring>

#include "netns_env.hpp"

namespace c10k::test {
std::string g_netns_unavailable;
}

namespace {
std::string enter_private_netns() {
    if (::unshare(CLONE_NEWNET) != 0)
        return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno) +
               " (needs root / CAP_SYS_ADMIN)";
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ::ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ::ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    ::close(fd);
    if (rc != 0) return std::string("cannot bring lo up: ") + std::strerror(err);
    return {};
}
}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    c10k::test::g_netns_unavailable = enter_private_netns();
    if (!c10k::test::g_netns_unavailable.empty())
        std::fprintf(stderr, "privileged tests skip: %s\n",
                     c10k::test::g_netns_unavailable.c_str());
    return RUN_ALL_TESTS();
}
