// SPDX-License-Identifier: GPL-2.0-or-later
// Loopback socket plumbing shared by the test helper programs (testkit,
// target servers, load driver). Helpers die with a message instead of
// returning errors: they are test fixtures, and a failed fixture must be loud.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace c10k::helpers {

inline const char* g_program = "c10k-helper";

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "%s: %s: %s\n", g_program, what.c_str(), std::strerror(errno));
    std::exit(1);
}

inline long arg(char** argv, int i, int argc, long fallback = -1) {
    if (i >= argc) {
        if (fallback >= 0) return fallback;
        std::fprintf(stderr, "%s: missing argument %d\n", g_program, i);
        std::exit(2);
    }
    return std::strtol(argv[i], nullptr, 10);
}

inline void raise_nofile() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}

inline sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// An IPv4 address and port; dies on a malformed address.
inline sockaddr_in address(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip, &a.sin_addr) != 1) die(std::string("bad address ") + ip);
    return a;
}

inline int make_listener(const sockaddr_in& a, int backlog) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("bind");
    if (::listen(fd, backlog) != 0) die("listen");
    return fd;
}

inline int make_listener(uint16_t port, int backlog) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
    if (::listen(fd, backlog) != 0) die("listen");
    return fd;
}

inline uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

inline void ready(uint16_t port) {
    std::printf("ready %u\n", port);
    std::fflush(stdout);
}

inline std::chrono::steady_clock::time_point deadline_after(long secs) {
    return std::chrono::steady_clock::now() + std::chrono::seconds(secs);
}

// Spends `d` of CPU, as request handlers that compute do.
inline void burn_cpu(std::chrono::microseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    volatile uint64_t x = 0;
    while (std::chrono::steady_clock::now() < until)
        for (int i = 0; i < 1000; ++i)
            x = x + static_cast<uint64_t>(i);
}

inline void hold(long seconds) {
    for (long i = 0; i < seconds * 10; ++i)
        ::usleep(100000);
}

inline int connect_to(const sockaddr_in& a, bool nonblocking) {
    int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

inline int connect_to(uint16_t port, bool nonblocking) {
    return connect_to(loopback(port), nonblocking);
}

}  // namespace c10k::helpers
