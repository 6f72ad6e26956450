// SPDX-License-Identifier: GPL-2.0-or-later
// c10k-load: drives the target servers over loopback. Every mode is bounded by
// SECONDS and exits by itself.
//
//   c10k-load pingpong PORT CONNS SECONDS [PAUSE_MS] [RESPONSE_BYTES]  CONNS connections,
//                                  each sending 32 bytes and waiting for the reply (the
//                                  first bytes back, or RESPONSE_BYTES of them); PAUSE_MS
//                                  between rounds; prints "done ROUND_TRIPS" at the end
//   c10k-load pingpong-reconnect PORT CONNS SECONDS [PAUSE_MS] [RESPONSE_BYTES] [BACKOFF_MS]
//                                  the same, opening a new connection (and sending again)
//                                  whenever one is closed or reset by the server: at once,
//                                  or BACKOFF_MS later (a client pool's retry delay)
//   c10k-load connect-rate PORT PER_SECOND SECONDS [FROM_ADDR]   new connections at a steady
//                                  rate, each closed after 2 s; from FROM_ADDR (a loopback
//                                  address such as 127.0.0.3) when given, so that a test's
//                                  nftables rule can drop their ACKs and leave them half-open
//                                  at the server (a SYN flood)
//   c10k-load blast PORT SECONDS   one connection, writing as fast as the peer lets it
//   c10k-load bursts PORT N EVERY_MS SECONDS   N non-blocking connects at once every
//                                  EVERY_MS, each burst closed when the next one starts
//
// Prints "ready 0" once its connections are open.
#include <sys/epoll.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net_util.hpp"

using namespace c10k::helpers;
using Clock = std::chrono::steady_clock;

namespace {

void pingpong(long port, long conns, long secs, long pause_ms, long response_bytes, bool reconnect,
              long backoff_ms) {
    raise_nofile();
    int ep = ::epoll_create1(0);
    std::vector<int> fds;
    // C10K_LOAD_REQUEST: the request to send instead (a real server's protocol,
    // such as "version\r\n" for memcached), at most 32 bytes.
    std::string msg("ping-ping-ping-ping-ping-ping-p", 32);  // with its NUL, as ever
    if (const char* req = std::getenv("C10K_LOAD_REQUEST")) msg = std::string(req).substr(0, 32);
    auto open_one = [&] {
        int fd = connect_to(static_cast<uint16_t>(port), false);
        ::fcntl(fd, F_SETFL, O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        return fd;
    };
    for (long i = 0; i < conns; ++i)
        fds.push_back(open_one());
    ready(0);
    // Connections waiting out their pause, by fd and the fd's generation: a
    // closed fd's number comes back for the next connection, which must not
    // get the old one's request.
    struct Due {
        Clock::time_point at;
        int fd;
        uint64_t generation;
    };
    std::deque<Due> due;
    std::deque<Clock::time_point> reconnects;  // clients backing off before they reconnect
    std::unordered_map<int, uint64_t> generation;
    for (int fd : fds)
        (void)!::write(fd, msg.data(), msg.size());
    auto end = Clock::now() + std::chrono::seconds(secs);
    std::vector<epoll_event> events(1024);
    char buf[4096];
    uint64_t round_trips = 0;
    std::unordered_map<int, long> received;
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1);
        auto now = Clock::now();
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN && reconnect)) {
                // Closed or reset by the server: as a keep-alive client does
                // (wrk, a browser), open a new connection and send again.
                ::close(fd);
                received.erase(fd);
                ++generation[fd];
                if (reconnect && backoff_ms > 0)
                    reconnects.push_back(now + std::chrono::milliseconds(backoff_ms));
                else if (reconnect)
                    (void)!::write(open_one(), msg.data(), msg.size());
                continue;
            }
            if (r < 0) continue;
            if (response_bytes > 0) {
                // A response in several segments is one round trip, counted when whole.
                auto& got = received[fd];
                got += r;
                if (got < response_bytes) continue;
                got = 0;
            }
            ++round_trips;
            if (pause_ms > 0)
                due.push_back({now + std::chrono::milliseconds(pause_ms), fd, generation[fd]});
            else
                (void)!::write(fd, msg.data(), msg.size());
        }
        while (!reconnects.empty() && reconnects.front() <= now) {
            (void)!::write(open_one(), msg.data(), msg.size());
            reconnects.pop_front();
        }
        while (!due.empty() && due.front().at <= now) {
            if (generation[due.front().fd] == due.front().generation)
                (void)!::write(due.front().fd, msg.data(), msg.size());
            due.pop_front();
        }
    }
    std::printf("done %llu\n", static_cast<unsigned long long>(round_trips));
    std::fflush(stdout);
}

int connect_from(const char* from, uint16_t port) {
    if (!from) return connect_to(port, true);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    auto local = address(from, 0);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) die("bind");
    auto to = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
        errno != EINPROGRESS)
        die("connect");
    return fd;
}

void connect_rate(long port, long per_second, long secs, const char* from) {
    raise_nofile();
    ready(0);
    auto end = Clock::now() + std::chrono::seconds(secs);
    auto gap = std::chrono::microseconds(1'000'000 / std::max(1L, per_second));
    std::deque<std::pair<Clock::time_point, int>> open;
    auto next = Clock::now();
    while (Clock::now() < end) {
        open.emplace_back(Clock::now(), connect_from(from, static_cast<uint16_t>(port)));
        while (!open.empty() && Clock::now() - open.front().first > std::chrono::seconds(2)) {
            ::close(open.front().second);
            open.pop_front();
        }
        next += gap;
        std::this_thread::sleep_until(next);
    }
}

void bursts(long port, long n, long every_ms, long secs) {
    raise_nofile();
    ready(0);
    auto end = Clock::now() + std::chrono::seconds(secs);
    std::vector<int> open;
    while (Clock::now() < end) {
        for (int fd : open)
            ::close(fd);
        open.clear();
        for (long i = 0; i < n; ++i)
            open.push_back(connect_to(static_cast<uint16_t>(port), true));
        std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
    }
}

void blast(long port, long secs) {
    int fd = connect_to(static_cast<uint16_t>(port), false);
    ready(0);
    std::vector<char> chunk(65536, 'x');
    timeval tv{0, 200000};  // bounded writes, so the deadline is honoured
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto end = Clock::now() + std::chrono::seconds(secs);
    while (Clock::now() < end)
        if (::write(fd, chunk.data(), chunk.size()) < 0 && errno != EAGAIN) break;
}

}  // namespace

int main(int argc, char** argv) {
    g_program = "c10k-load";
    if (argc < 3) {
        std::fprintf(stderr, "usage: c10k-load MODE ARGS (see the source header)\n");
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "pingpong" || mode == "pingpong-reconnect")
        pingpong(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc), arg(argv, 5, argc, 0),
                 arg(argv, 6, argc, 0), mode == "pingpong-reconnect", arg(argv, 7, argc, 0));
    else if (mode == "connect-rate")
        connect_rate(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc),
                     argc > 5 ? argv[5] : nullptr);
    else if (mode == "bursts")
        bursts(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc), arg(argv, 5, argc));
    else if (mode == "blast")
        blast(arg(argv, 2, argc), arg(argv, 3, argc));
    else {
        std::fprintf(stderr, "c10k-load: unknown mode '%s'\n", mode.c_str());
        return 2;
    }
    return 0;
}
