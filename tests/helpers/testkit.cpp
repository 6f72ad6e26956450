// c10k-testkit: holds sockets and fds in known shapes for the integration tests
// and benchmarks. Loopback only; every mode ends by itself after SECONDS.
//
//   c10k-testkit hold-fds N SECONDS           open N fds, hold them
//   c10k-testkit listen BACKLOG SECONDS       listen on 127.0.0.1:0, never accept
//   c10k-testkit burst PORT N SECONDS         N non-blocking connects to 127.0.0.1:PORT, held
//   c10k-testkit pairs N SECONDS [PORT]       N established loopback pairs, both ends held
//   c10k-testkit time-wait N [PORT]           N connections closed client-first, then exit
//
// Each mode prints "ready PORT" (or "ready 0") on stdout once its shape exists.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "c10k-testkit: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

long arg(char** argv, int i, int argc, long fallback = -1) {
    if (i >= argc) {
        if (fallback >= 0) return fallback;
        std::fprintf(stderr, "c10k-testkit: missing argument %d\n", i);
        std::exit(2);
    }
    return std::strtol(argv[i], nullptr, 10);
}

void raise_nofile() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int make_listener(uint16_t port, int backlog) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
    if (::listen(fd, backlog) != 0) die("listen");
    return fd;
}

uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

void ready(uint16_t port) {
    std::printf("ready %u\n", port);
    std::fflush(stdout);
}

void hold(long seconds) {
    for (long i = 0; i < seconds * 10; ++i)
        ::usleep(100000);
}

int connect_to(uint16_t port, bool nonblocking) {
    int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    auto a = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: c10k-testkit hold-fds|listen|burst|pairs|time-wait ...\n");
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
    } else {
        std::fprintf(stderr, "c10k-testkit: unknown mode '%s'\n", mode.c_str());
        return 2;
    }
    return 0;
}
