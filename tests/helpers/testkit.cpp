// SPDX-License-Identifier: GPL-2.0-or-later
// c10k-testkit: holds sockets and fds in known shapes for the integration tests
// and benchmarks. Loopback only; every mode ends by itself after SECONDS.
//
//   c10k-testkit hold-fds N SECONDS           open N fds, hold them
//   c10k-testkit listen BACKLOG SECONDS       listen on 127.0.0.1:0, never accept
//   c10k-testkit burst PORT N SECONDS         N non-blocking connects to 127.0.0.1:PORT, held
//   c10k-testkit pairs N SECONDS [PORT]       N established loopback pairs, both ends held
//   c10k-testkit time-wait N [PORT]           N connections closed client-first, then exit
//   c10k-testkit serve ADDR N SECONDS         listen on ADDR:0, accept N connections, hold
//   c10k-testkit connect ADDR PORT N SECONDS  N connections to ADDR:PORT, held
//   c10k-testkit named NAME SECONDS           renames itself NAME (any bytes, \xNN
//                                             escapes), listens, holds a connection
//   c10k-testkit conntrack-fill N             adds N established, assured conntrack
//                                             entries to this namespace's table, prints
//                                             "filled K" (K: those the table took), exits
//
// Each mode prints "ready PORT" (or "ready 0") on stdout once its shape exists.
#include "conntrack_fill.hpp"
#include "net_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace c10k::helpers;

int main(int argc, char** argv) {
    g_program = "c10k-testkit";
    if (argc < 2) {
        std::fprintf(
            stderr,
            "usage: c10k-testkit hold-fds|listen|burst|pairs|time-wait|serve|connect|named|"
            "conntrack-fill ...\n");
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "hold-fds") {
        long n = arg(argv, 2, argc), secs = arg(argv, 3, argc);
        ::close_range(3, ~0u, 0);  // drop whatever was inherited, so the count is exact
        for (long i = 0; i < n; ++i)
            if (::open("/dev/null", O_RDONLY) < 0) die("open fd " + std::to_string(i));
        ready(0);
        hold(secs);
    } else if (mode == "listen") {
        long backlog = arg(argv, 2, argc), secs = arg(argv, 3, argc);
        int l = make_listener(0, static_cast<int>(backlog));
        ready(port_of(l));
        hold(secs);
    } else if (mode == "burst") {
        long port = arg(argv, 2, argc), n = arg(argv, 3, argc), secs = arg(argv, 4, argc);
        raise_nofile();
        for (long i = 0; i < n; ++i)
            connect_to(static_cast<uint16_t>(port), true);
        ready(static_cast<uint16_t>(port));
        hold(secs);
    } else if (mode == "pairs") {
        long n = arg(argv, 2, argc), secs = arg(argv, 3, argc), port = arg(argv, 4, argc, 0);
        raise_nofile();
        int l = make_listener(static_cast<uint16_t>(port), 4096);
        uint16_t p = port_of(l);
        // Connect and accept in steps so the accept queue never overflows.
        for (long i = 0; i < n; ++i) {
            connect_to(p, false);
            if (::accept(l, nullptr, nullptr) < 0) die("accept");
        }
        ready(p);
        hold(secs);
    } else if (mode == "time-wait") {
        long n = arg(argv, 2, argc), port = arg(argv, 3, argc, 0);
        raise_nofile();
        int l = make_listener(static_cast<uint16_t>(port), 4096);
        uint16_t p = port_of(l);
        std::vector<int> servers;
        for (long i = 0; i < n; ++i) {
            int c = connect_to(p, false);
            int s = ::accept(l, nullptr, nullptr);
            if (s < 0) die("accept");
            ::close(c);  // the client closes first: TIME_WAIT lands on its side
            servers.push_back(s);
        }
        ::usleep(100000);  // let the FINs cross before the server side closes
        for (int s : servers)
            ::close(s);
        ::usleep(100000);
        ready(p);
    } else if (mode == "serve") {
        // The server half of two hosts (namespaces joined by a veth pair):
        // "ready PORT" first, so the client side can start connecting.
        if (argc < 5) die("usage: serve ADDR N SECONDS");
        long n = arg(argv, 3, argc), secs = arg(argv, 4, argc);
        raise_nofile();
        int l = make_listener(address(argv[2], 0), 4096);
        ready(port_of(l));
        for (long i = 0; i < n; ++i)
            if (::accept(l, nullptr, nullptr) < 0) die("accept");
        hold(secs);
    } else if (mode == "connect") {
        if (argc < 6) die("usage: connect ADDR PORT N SECONDS");
        long port = arg(argv, 3, argc), n = arg(argv, 4, argc), secs = arg(argv, 5, argc);
        raise_nofile();
        auto to = address(argv[2], static_cast<uint16_t>(port));
        for (long i = 0; i < n; ++i)
            connect_to(to, false);
        ready(0);
        hold(secs);
    } else if (mode == "conntrack-fill") {
        long took = fill_conntrack(arg(argv, 2, argc));
        std::printf("filled %ld\n", took);
    } else if (mode == "named") {
        // A name any local user can give their own process: bytes that are
        // not UTF-8, a newline, a terminal escape.
        if (argc < 4) die("usage: named NAME SECONDS");
        std::string name;
        for (const char* p = argv[2]; *p; ++p) {
            if (p[0] == '\\' && p[1] == 'x' && std::isxdigit(p[2]) && std::isxdigit(p[3])) {
                name += static_cast<char>(std::stoi(std::string(p + 2, 2), nullptr, 16));
                p += 3;
            } else {
                name += *p;
            }
        }
        ::prctl(PR_SET_NAME, name.c_str());
        long secs = arg(argv, 3, argc);
        int l = make_listener(0, 16);
        uint16_t port = port_of(l);
        connect_to(port, false);
        if (::accept(l, nullptr, nullptr) < 0) die("accept");
        ready(port);
        hold(secs);
    } else {
        std::fprintf(stderr, "c10k-testkit: unknown mode '%s'\n", mode.c_str());
        return 2;
    }
    return 0;
}
