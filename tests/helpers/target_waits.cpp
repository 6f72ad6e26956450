// SPDX-License-Identifier: GPL-2.0-or-later
// Target servers for what real servers wait on (see target_server.cpp for the
// modes): a dependency, a connection pool, a connection cap, a pegged event
// loop, Nagle's algorithm, poll() scans - and a lookalike of each that must not
// be mistaken for it. Loopback only; every server stops by itself.
#include <linux/futex.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "epoll_echo.hpp"
#include "net_util.hpp"
#include "targets.hpp"

namespace c10k::helpers {

namespace {

using Clock = std::chrono::steady_clock;

// Reads one request (whatever one read returns); false at EOF or error.
bool read_request(int fd, char* buf, size_t len) {
    ssize_t n = ::read(fd, buf, len);
    return n > 0;
}

bool write_all(int fd, const char* p, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// Adds `fd` to the epoll set `ep`, for input.
void watch_input(int ep, int fd) {
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

// A new epoll set watching the listener `l`, made nonblocking to accept in a loop.
int epoll_on_listener(int l) {
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    int ep = ::epoll_create1(0);
    watch_input(ep, l);
    return ep;
}

// Ends every blocking read once the deadline passes, so workers exit by themselves.
void set_read_timeout(int fd, int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A fixed-size set of threads taking connections from a queue.
class WorkQueue {
  public:
    void push(int fd) {
        {
            std::lock_guard<std::mutex> g(m_);
            q_.push_back(fd);
        }
        cv_.notify_one();
    }
    // -1 once `until` passes.
    int pop(Clock::time_point until) {
        std::unique_lock<std::mutex> g(m_);
        if (!cv_.wait_until(g, until, [&] { return !q_.empty(); })) return -1;
        int fd = q_.front();
        q_.pop_front();
        return fd;
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<int> q_;
};

// Connections to the dependency, checked out one at a time by workers.
class ConnPool {
  public:
    ConnPool(uint16_t port, long size) {
        for (long i = 0; i < size; ++i) {
            int fd = connect_to(port, false);
            set_read_timeout(fd, 1000);
            free_.push_back(fd);
        }
    }
    int take(Clock::time_point until) {
        std::unique_lock<std::mutex> g(m_);
        if (!cv_.wait_until(g, until, [&] { return !free_.empty(); })) return -1;
        int fd = free_.back();
        free_.pop_back();
        return fd;
    }
    void give(int fd) {
        {
            std::lock_guard<std::mutex> g(m_);
            free_.push_back(fd);
        }
        cv_.notify_one();
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<int> free_;
};

// A thread per accepted connection, each answering requests with `respond`
// (false closes it) until `end`; `on_accept` sets the new socket up.
template <typename A, typename R>
void thread_per_connection(int listener, Clock::time_point end, A on_accept, R respond) {
    std::vector<std::thread> threads;
    ::fcntl(listener, F_SETFL, O_NONBLOCK);
    while (Clock::now() < end) {
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(listener, nullptr, nullptr);
        if (c < 0) continue;
        on_accept(c);
        set_read_timeout(c, 200);
        threads.emplace_back([c, end, respond] {
            char buf[256];
            while (Clock::now() < end) {
                if (!read_request(c, buf, sizeof buf)) {
                    if (errno == EAGAIN) continue;
                    break;
                }
                if (!respond(c)) break;
            }
            ::close(c);
        });
    }
    for (auto& t : threads)
        t.join();
}

}  // namespace

// The dependency: answers each request after `ms` of sleep (a slow query) or of
// CPU (a busy database), one thread per connection.
void run_db(long ms, bool busy, long secs) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    thread_per_connection(
        l, deadline_after(secs), [](int) {},
        [ms, busy](int c) {
            if (busy)
                burn_cpu(std::chrono::milliseconds(ms));
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            return write_all(c, "reply-from-db-0123456789abcdef!", 32);
        });
}

namespace {

// Waits up to 1 s for `db` to become readable, the way the client waits.
bool wait_readable(int db, PoolWait wait, int epfd) {
    if (wait == PoolWait::poll) {
        pollfd p{db, POLLIN, 0};
        return ::poll(&p, 1, 1000) == 1;
    }
    epoll_event ev{};
    return ::epoll_wait(epfd, &ev, 1, 1000) == 1;
}

// One use of a pooled connection. `read`: the request, then a blocking read.
// `poll` and `epoll`: a two-statement transaction (BEGIN, then the query, sent
// the moment BEGIN's reply lands) on a nonblocking socket, waiting for each
// reply in poll() on the socket (libpq, JDBC) or in epoll_wait() (an async
// driver: the wait names no socket).
bool ask(int db, PoolWait wait, int epfd, char* buf, size_t len) {
    if (wait == PoolWait::read)
        return write_all(db, "SELECT 1;-----------------------", 32) && read_request(db, buf, len);
    for (const char* stmt :
         {"BEGIN;--------------------------", "SELECT 1;-----------------------"}) {
        if (!write_all(db, stmt, 32)) return false;
        ssize_t n = -1;
        while (n < 0) {
            if (!wait_readable(db, wait, epfd)) return false;
            n = ::read(db, buf, len);
            if (n < 0 && errno != EAGAIN) return false;
        }
        if (n == 0) return false;
    }
    return true;
}

}  // namespace

// An application server: WORKERS threads serve keep-alive clients; each request
// takes a connection from a pool of POOL connections to the dependency at
// DBPORT, asks it (as `wait` says), gives the connection back and replies.
void run_pool_app(long db_port, long workers, long pool_size, long secs, PoolWait wait) {
    ConnPool pool(static_cast<uint16_t>(db_port), pool_size);
    int l = make_listener(0, 1024);
    ready(port_of(l));
    auto end = deadline_after(secs);
    WorkQueue queue;
    std::vector<std::thread> threads;
    for (long i = 0; i < workers; ++i)
        threads.emplace_back([&] {
            char buf[256];
            while (Clock::now() < end) {
                int c = queue.pop(end);
                if (c < 0) break;
                set_read_timeout(c, 200);
                while (Clock::now() < end) {
                    if (!read_request(c, buf, sizeof buf)) {
                        if (errno == EAGAIN) continue;
                        break;
                    }
                    int db = pool.take(end);
                    if (db < 0) break;
                    int epfd = -1;
                    if (wait != PoolWait::read) {
                        ::fcntl(db, F_SETFL, O_NONBLOCK);
                        if (wait == PoolWait::epoll) {
                            epfd = ::epoll_create1(0);
                            epoll_event ev{EPOLLIN, {}};
                            ::epoll_ctl(epfd, EPOLL_CTL_ADD, db, &ev);
                        }
                    }
                    bool ok = ask(db, wait, epfd, buf, sizeof buf);
                    if (epfd >= 0) ::close(epfd);
                    pool.give(db);
                    if (!ok || !write_all(c, buf, 32)) break;
                }
                ::close(c);
            }
        });
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    while (Clock::now() < end) {
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(l, nullptr, nullptr);
        if (c >= 0) queue.push(c);
    }
    for (auto& t : threads)
        t.join();
}

// At its own cap: WORKERS threads each serve one keep-alive client to the end;
// the acceptor takes a connection only when a worker is free.
void run_capped(long workers, long secs, long backlog) {
    int l = make_listener(0, static_cast<int>(backlog));
    ready(port_of(l));
    auto end = deadline_after(secs);
    std::mutex m;
    std::condition_variable cv;
    long idle = workers;
    WorkQueue queue;
    std::vector<std::thread> threads;
    for (long i = 0; i < workers; ++i)
        threads.emplace_back([&] {
            char buf[256];
            while (Clock::now() < end) {
                int c = queue.pop(end);
                if (c < 0) break;
                set_read_timeout(c, 200);
                while (Clock::now() < end) {
                    ssize_t n = ::read(c, buf, sizeof buf);
                    if (n < 0 && errno == EAGAIN) continue;
                    if (n <= 0 || !write_all(c, buf, static_cast<size_t>(n))) break;
                }
                ::close(c);
                {
                    std::lock_guard<std::mutex> g(m);
                    ++idle;
                }
                cv.notify_one();
            }
        });
    while (Clock::now() < end) {
        {
            std::unique_lock<std::mutex> g(m);
            if (!cv.wait_until(g, std::min(end, Clock::now() + std::chrono::milliseconds(100)),
                               [&] { return idle > 0; }))
                continue;
        }
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(l, nullptr, nullptr);
        if (c < 0) continue;
        {
            std::lock_guard<std::mutex> g(m);
            --idle;
        }
        queue.push(c);
    }
    for (auto& t : threads)
        t.join();
}

// A fast acceptor with a tiny backlog: accepts in a loop, spends ~0.2 ms of CPU
// per new connection (a handshake's worth), replies once and closes. Bursts of
// connects overflow its queue although it never stops accepting.
void run_burst_accept(long backlog, long secs) {
    int l = make_listener(0, static_cast<int>(backlog));
    ready(port_of(l));
    auto end = deadline_after(secs);
    while (Clock::now() < end) {
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(l, nullptr, nullptr);
        if (c < 0) continue;
        burn_cpu(std::chrono::microseconds(200));
        ::close(c);
    }
}

// An event loop that computes inside its request handler (~1 ms of CPU per
// request), next to HELPERS idle threads (a thread pool for disk work that
// nobody uses, as libuv has).
void run_pegged_loop(long helpers, long secs) {
    auto end = deadline_after(secs);
    std::vector<std::thread> idle;
    for (long i = 0; i < helpers; ++i)
        idle.emplace_back([end] {
            std::mutex m;
            std::condition_variable cv;
            std::unique_lock<std::mutex> g(m);
            cv.wait_until(g, end, [end] { return Clock::now() >= end; });
        });
    int l = make_listener(0, 4096);
    ready(port_of(l));
    epoll_echo_until(l, end, [] { burn_cpu(std::chrono::milliseconds(1)); });
    for (auto& t : idle)
        t.join();
}

namespace {

// A listener on `port` (0: any) that other sockets may share (SO_REUSEPORT):
// the kernel spreads new connections over them by hash.
int reuseport_listener(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    auto a = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0)
        die("listen");
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

}  // namespace

// The same work spread: LOOPS event loops, each on its own SO_REUSEPORT
// listener so the kernel deals the connections out evenly, each doing ~1 ms of
// CPU per request; under the same load none of them is saturated.
void run_spread_cpu(long loops, long secs) {
    int first = reuseport_listener(0);
    uint16_t port = port_of(first);
    std::vector<int> listeners{first};
    for (long i = 1; i < loops; ++i)
        listeners.push_back(reuseport_listener(port));
    ready(port);
    auto end = deadline_after(secs);
    std::vector<std::thread> ts;
    for (int l : listeners)
        ts.emplace_back(
            [l, end] { epoll_echo_until(l, end, [] { burn_cpu(std::chrono::milliseconds(1)); }); });
    for (auto& t : ts)
        t.join();
}

// Keep-alive request/response where each response is written in two pieces
// (headers, then body), as many HTTP servers do; NODELAY says whether
// TCP_NODELAY is set on accepted sockets.
void run_two_writes(bool nodelay, long secs) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    static const char header[] = "HTTP/1.1 200 OK\r\nLength: 16\r\n\r\n";  // 31 bytes
    static const char body[] = "0123456789abcde\n";  // 16: 47 bytes a response
    thread_per_connection(
        l, deadline_after(secs),
        [nodelay](int c) {
            int one = nodelay ? 1 : 0;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        },
        [](int c) {
            return write_all(c, header, sizeof header - 1) && write_all(c, body, sizeof body - 1);
        });
}

// A poll() loop over every connection it holds: echo for the active ones,
// nothing for the idle ones - which it scans on every call all the same.
void run_poll_server(long secs, long timeout_ms) {
    raise_nofile();
    int l = make_listener(0, 4096);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    std::vector<pollfd> fds{{l, POLLIN, 0}};
    char buf[4096];
    while (Clock::now() < end) {
        if (::poll(fds.data(), fds.size(), static_cast<int>(timeout_ms)) <= 0) continue;
        size_t n = fds.size();
        for (size_t i = 0; i < n; ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            if (fds[i].fd == l) {
                for (int k = 0; k < 64; ++k) {
                    int c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
                    if (c < 0) break;
                    fds.push_back({c, POLLIN, 0});
                }
                continue;
            }
            ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                ::close(fds[i].fd);
                fds[i].fd = -fds[i].fd - 1;  // ignored by poll() from now on
                continue;
            }
            (void)!::write(fds[i].fd, buf, static_cast<size_t>(r));
        }
    }
}

// A connection cap enforced by eviction, as nginx does at worker_connections:
// it keeps accepting, and past CAP connections closes the one idle longest
// (ngx_drain_connections reclaims idle keep-alive connections) so the new one
// has a slot. The evicted client's next request meets a closed socket and a
// reset. With `cap` 0, the lookalike: a server that answers one request and
// closes (HTTP/1.0, Connection: close), which ends every connection itself
// but cleanly.
void run_evicting(long cap, long secs) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = epoll_on_listener(l);
    std::unordered_map<int, Clock::time_point> last_active;
    std::vector<epoll_event> events(256);
    char buf[4096];
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == l) {
                int c;
                while ((c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    if (cap > 0 && static_cast<long>(last_active.size()) >= cap) {
                        auto idlest = std::min_element(
                            last_active.begin(), last_active.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; });
                        ::close(idlest->first);
                        last_active.erase(idlest);
                    }
                    watch_input(ep, c);
                    last_active[c] = Clock::now();
                }
                continue;
            }
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                last_active.erase(fd);
                ::close(fd);
                continue;
            }
            (void)!::write(fd, buf, static_cast<size_t>(r));
            if (cap == 0) {
                last_active.erase(fd);
                ::close(fd);
            } else {
                last_active[fd] = Clock::now();
            }
        }
    }
}

// One turn of a keep-alive echo connection that epoll says is readable: the
// request echoed and the connection marked idle from now, or closed when the
// peer has gone (returns true then). Used by the drained cap and its lookalike.
namespace {
bool serve_keep_alive(int fd, std::unordered_map<int, Clock::time_point>& idle_since) {
    char buf[4096];
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EAGAIN) return false;
    idle_since.erase(fd);
    if (r <= 0) {
        ::close(fd);
        return true;
    }
    (void)!::write(fd, buf, static_cast<size_t>(r));
    idle_since[fd] = Clock::now();
    return false;
}
}  // namespace

// A cap drained cleanly, as nginx keeps worker_connections: one accept per
// turn of the loop (multi_accept off); at CAP connections it takes a new one
// only by closing its idlest keep-alive connection - one that has had its
// reply and sent nothing since - with a plain close(): a FIN, no reset. With
// none idle the new connections wait in the accept queue.
void run_draining(long cap, long secs) {
    int l = make_listener(0, 1024);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = epoll_on_listener(l);
    std::unordered_map<int, Clock::time_point> idle_since;  // replied, nothing since
    long held = 0;
    std::vector<epoll_event> events(256);
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        bool want_accept = false;
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == l) {
                want_accept = true;
                continue;
            }
            if (serve_keep_alive(fd, idle_since)) --held;
        }
        if (!want_accept) continue;
        if (held >= cap) {
            if (idle_since.empty()) continue;  // full of requests: they wait in the queue
            auto idlest =
                std::min_element(idle_since.begin(), idle_since.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
            ::close(idlest->first);
            idle_since.erase(idlest);
            --held;
        }
        int c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
        if (c < 0) continue;
        watch_input(ep, c);
        ++held;
    }
}

// A server with room that ends idle keep-alive connections on a timeout
// (nginx's keepalive_timeout): it accepts every connection offered and closes
// one TIMEOUT_MS after its last reply, checking every 10 ms. The drained cap's
// lookalike: clients that pause longer than the timeout reconnect for each
// request, the same churn, but the idle connections reach the timeout's age.
void run_idle_timeout(long timeout_ms, long secs) {
    int l = make_listener(0, 1024);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = epoll_on_listener(l);
    std::unordered_map<int, Clock::time_point> idle_since;  // replied, nothing since
    std::vector<epoll_event> events(256);
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == l) {
                for (int c; (c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;)
                    watch_input(ep, c);
                continue;
            }
            serve_keep_alive(fd, idle_since);
        }
        auto cutoff = Clock::now() - std::chrono::milliseconds(timeout_ms);
        for (auto it = idle_since.begin(); it != idle_since.end();) {
            if (it->second > cutoff) {
                ++it;
                continue;
            }
            ::close(it->first);
            it = idle_since.erase(it);
        }
    }
}

// An event loop that writes an access-log line per request to a pipe, as a
// server logging to stdout under a supervisor does. A child process drains
// the pipe: 512 bytes every DRAIN_DELAY_MS (a slow log shipper: once the
// pipe's 64 KiB fill, every write() blocks the loop), or everything as fast as
// it can with 0 (the lookalike: the same writes, never blocked for long).
void run_pipe_log(long drain_delay_ms, long secs) {
    int p[2];
    if (::pipe(p) != 0) die("pipe");
    pid_t reader = ::fork();
    if (reader == 0) {
        ::close(p[1]);
        ::alarm(static_cast<unsigned>(secs + 5));  // never outlives the test
        // The slow shipper takes 512 bytes at a time; the fast one all there is,
        // so even a reader the scheduler holds back empties the pipe at once.
        static char buf[65536];
        size_t chunk = drain_delay_ms > 0 ? 512 : sizeof buf;
        while (::read(p[0], buf, chunk) > 0)
            if (drain_delay_ms > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(drain_delay_ms));
        ::_exit(0);
    }
    ::close(p[0]);
    int l = make_listener(0, 128);
    ready(port_of(l));
    std::string line(200, 'x');
    line.back() = '\n';
    epoll_echo_until(l, deadline_after(secs), [&] { write_all(p[1], line.data(), line.size()); });
    ::close(p[1]);
    ::kill(reader, SIGKILL);
    ::waitpid(reader, nullptr, 0);
}

// WORKERS threads, each with its own open file description, taking an
// exclusive flock() and holding it across a 5 ms "slow call" (a sleep) per
// job: on one shared lock file they go one at a time (what a pool of workers
// serialised on a lock file does); on a file each (the lookalike) they never
// wait for each other.
void run_flock_workers(long workers, bool shared, long secs) {
    int l = make_listener(0, 128);
    // Every lock file is opened, then removed with its directory, before the
    // workers start: a flock lives on the open file description, not the
    // name, and a target killed at the end of its test leaves nothing in /tmp.
    char dir[] = "/tmp/c10k-flock-XXXXXX";
    if (!::mkdtemp(dir)) die("mkdtemp");
    std::vector<int> fds;
    for (long i = 0; i < workers; ++i) {
        auto path = std::string(dir) + "/lock" + (shared ? "" : std::to_string(i));
        int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) die("open lock file");
        fds.push_back(fd);
    }
    for (long i = 0; i < (shared ? 1 : workers); ++i)
        ::unlink((std::string(dir) + "/lock" + (shared ? "" : std::to_string(i))).c_str());
    ::rmdir(dir);
    ready(port_of(l));
    auto end = deadline_after(secs);
    std::vector<std::thread> threads;
    for (int fd : fds)
        threads.emplace_back([&, fd] {
            while (Clock::now() < end) {
                if (::flock(fd, LOCK_EX) != 0) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                ::flock(fd, LOCK_UN);
            }
            ::close(fd);
        });
    for (auto& t : threads)
        t.join();
}

// A slow pool of application workers behind a shared listener, as PHP-FPM's
// static pool is: WORKERS threads, each accepting one connection, reading its
// request, working MS (a sleep: a slow handler), replying and closing - one
// connection per request, ended by the worker.
void run_worker_pool(long workers, long ms, long secs) {
    int l = make_listener(0, 1024);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    std::vector<std::thread> threads;
    for (long i = 0; i < workers; ++i)
        threads.emplace_back([&] {
            char buf[256];
            while (Clock::now() < end) {
                pollfd p{l, POLLIN, 0};
                if (::poll(&p, 1, 100) <= 0) continue;
                int c = ::accept(l, nullptr, nullptr);
                if (c < 0) continue;
                set_read_timeout(c, 1000);
                if (read_request(c, buf, sizeof buf)) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                    // A whole HTTP response, so a real proxy (nginx) relays it.
                    static const char kReply[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    write_all(c, kReply, sizeof kReply - 1);
                }
                ::close(c);
            }
        });
    for (auto& t : threads)
        t.join();
}

// An event-loop proxy (nginx in front of PHP-FPM): one thread, epoll, and for
// each client request a new nonblocking connection to the upstream at
// UPSTREAM_PORT, the request written once it connects, the reply relayed to
// the client and the upstream connection closed. The loop itself never blocks:
// a slow upstream shows only in its outbound connections.
void run_proxy_per_request(long upstream_port, long secs) {
    int l = make_listener(0, 1024);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = ::epoll_create1(0);
    auto watch = [&](int fd, uint32_t events, int op) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        ::epoll_ctl(ep, op, fd, &ev);
    };
    watch(l, EPOLLIN, EPOLL_CTL_ADD);
    std::unordered_map<int, int> client_of;  // upstream fd -> client fd
    std::unordered_map<int, bool> is_client;
    std::vector<epoll_event> events(256);
    char buf[4096];
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            uint32_t what = events[static_cast<size_t>(i)].events;
            if (fd == l) {
                int c;
                while ((c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    is_client[c] = true;
                    watch(c, EPOLLIN, EPOLL_CTL_ADD);
                }
                continue;
            }
            if (is_client.count(fd)) {
                ssize_t r = ::read(fd, buf, sizeof buf);
                if (r < 0 && errno == EAGAIN) continue;
                if (r <= 0) {
                    is_client.erase(fd);
                    ::close(fd);  // an upstream still out for it finds no client
                    continue;
                }
                int up = connect_to(static_cast<uint16_t>(upstream_port), true);
                client_of[up] = fd;
                watch(up, EPOLLOUT, EPOLL_CTL_ADD);  // connected: then send
                continue;
            }
            auto it = client_of.find(fd);
            if (it == client_of.end()) continue;
            if (what & EPOLLOUT) {
                write_all(fd, "GET /slow-page.php HTTP/1.0\r\n\r\n", 32);
                watch(fd, EPOLLIN, EPOLL_CTL_MOD);
                continue;
            }
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r < 0 && errno == EAGAIN) continue;
            if (r > 0 && is_client.count(it->second))
                (void)!::write(it->second, buf, static_cast<size_t>(r));
            client_of.erase(it);
            ::close(fd);
        }
    }
    ::close(ep);
}

// An event-loop proxy with a cap on its upstream connections, as HAProxy's
// maxconn on a server line: POOL persistent connections to UPSTREAM_PORT,
// each carrying one request at a time; a client's request that finds none
// free waits inside the proxy, in a queue, until a reply frees one.
void run_proxy_pool(long upstream_port, long pool, long secs) {
    int l = make_listener(0, 1024);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    auto end = deadline_after(secs);
    int ep = ::epoll_create1(0);
    auto watch = [&](int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    };
    watch(l);
    std::unordered_map<int, int> client_of;  // upstream fd -> the client it serves (-1: free)
    std::vector<int> free_upstreams;
    for (long i = 0; i < pool; ++i) {
        int up = connect_to(static_cast<uint16_t>(upstream_port), false);
        ::fcntl(up, F_SETFL, O_NONBLOCK);
        client_of[up] = -1;
        free_upstreams.push_back(up);
        watch(up);
    }
    ready(port_of(l));
    std::unordered_map<int, bool> is_client;
    std::deque<std::pair<int, std::string>> queued;  // requests waiting for a connection
    auto send_on = [&](int up, int client, const std::string& request) {
        client_of[up] = client;
        write_all(up, request.data(), request.size());
    };
    std::vector<epoll_event> events(256);
    char buf[4096];
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == l) {
                for (int c; (c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
                    is_client[c] = true;
                    watch(c);
                }
                continue;
            }
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r < 0 && errno == EAGAIN) continue;
            if (is_client.count(fd)) {
                if (r <= 0) {
                    is_client.erase(fd);
                    ::close(fd);  // a reply still out for it finds no client
                    continue;
                }
                std::string request(buf, static_cast<size_t>(r));
                if (free_upstreams.empty()) {
                    queued.emplace_back(fd, std::move(request));
                } else {
                    int up = free_upstreams.back();
                    free_upstreams.pop_back();
                    send_on(up, fd, request);
                }
                continue;
            }
            auto it = client_of.find(fd);
            if (it == client_of.end() || r <= 0) continue;
            if (it->second >= 0 && is_client.count(it->second))
                (void)!::write(it->second, buf, static_cast<size_t>(r));
            // The connection is free: the oldest request waiting takes it.
            while (!queued.empty() && !is_client.count(queued.front().first))
                queued.pop_front();
            if (queued.empty()) {
                it->second = -1;
                free_upstreams.push_back(fd);
            } else {
                send_on(fd, queued.front().first, queued.front().second);
                queued.pop_front();
            }
        }
    }
    ::close(ep);
}

// A cap kept by refusing, as Redis does at maxclients: it accepts every
// connection, keeps the first CAP and serves them (echo), and answers each
// further one with an error line and closes it at once, without reading it.
void run_refusing(long cap, long secs) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = epoll_on_listener(l);
    long held = 0;
    std::vector<epoll_event> events(256);
    char buf[4096];
    static const char kRefusal[] = "-ERR max number of clients reached\r\n";
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == l) {
                int c;
                while ((c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    if (held >= cap) {
                        (void)!::write(c, kRefusal, sizeof kRefusal - 1);
                        ::close(c);
                        continue;
                    }
                    ++held;
                    watch_input(ep, c);
                }
                continue;
            }
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) {
                --held;
                ::close(fd);
                continue;
            }
            (void)!::write(fd, buf, static_cast<size_t>(r));
        }
    }
}

namespace {

// A child forked for connection `c`: echoes each request after
// `on_request()` until its client leaves or `end`, as a backend serves its
// one client.
template <class F>
void serve_connection(int c, Clock::time_point end, F on_request) {
    char buf[4096];
    while (Clock::now() < end) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        ssize_t r = ::read(c, buf, sizeof buf);
        if (r <= 0) break;
        on_request();
        (void)!::write(c, buf, static_cast<size_t>(r));
    }
}

}  // namespace

// A cap kept by refusing in a server that forks per connection, as the
// PostgreSQL postmaster does: each accepted connection gets a child that first
// starts up (STARTUP_MS of CPU, a backend's initialisation), then - when CAP
// children already serve - writes an error and exits ("sorry, too many
// clients already"); otherwise it echoes until its client leaves. The parent
// holds no connection past the fork. With a CAP above the load: the lookalike.
void run_fork_cap(long cap, long startup_ms, long secs, long work_ms) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    auto end = deadline_after(secs);
    long serving = 0;
    std::unordered_map<pid_t, bool> children;  // pid -> serving
    static const char kRefusal[] = "FATAL: sorry, too many clients already\n";
    while (Clock::now() < end) {
        for (pid_t pid; (pid = ::waitpid(-1, nullptr, WNOHANG)) > 0;) {
            if (children[pid]) --serving;
            children.erase(pid);
        }
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        bool serve = serving < cap;
        pid_t pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::close(l);
            burn_cpu(std::chrono::milliseconds(startup_ms));
            if (!serve) {
                (void)!::write(c, kRefusal, sizeof kRefusal - 1);
                ::_exit(0);
            }
            serve_connection(c, end, [work_ms] {
                if (work_ms > 0) burn_cpu(std::chrono::milliseconds(work_ms));
            });
            ::_exit(0);
        }
        ::close(c);
        if (pid > 0) {
            children[pid] = serve;
            if (serve) ++serving;
        }
    }
}

namespace {

// A lock that parks its waiters in user space, as Go's sync.Mutex does: a
// waiter queues itself and sleeps on a condition of its own until the holder
// hands the lock over, so the kernel sees each waiter asleep on a different
// futex - the pattern of idle workers, not of a contended lock.
class HandoffLock {
  public:
    struct Waiter {
        std::mutex m;
        std::condition_variable cv;
        bool go = false;
    };
    void lock(Waiter& w) {
        {
            std::lock_guard<std::mutex> g(m_);
            if (!held_) {
                held_ = true;
                return;
            }
            queue_.push_back(&w);
        }
        std::unique_lock<std::mutex> l(w.m);
        w.cv.wait(l, [&] { return w.go; });
        w.go = false;
    }
    void unlock() {
        Waiter* next = nullptr;
        {
            std::lock_guard<std::mutex> g(m_);
            if (queue_.empty()) {
                held_ = false;
                return;
            }
            next = queue_.front();
            queue_.pop_front();
        }
        {
            std::lock_guard<std::mutex> l(next->m);
            next->go = true;
        }
        next->cv.notify_one();
    }

  private:
    std::mutex m_;
    bool held_ = false;
    std::deque<Waiter*> queue_;
};

}  // namespace

// Handlers serialised on one lock held across CPU work, in a runtime that
// parks waiters in user space: a thread per connection, each request taking
// the HandoffLock, computing MS, releasing it and replying. However many
// requests wait, one core's worth of CPU is all the process can use.
void run_serialised(long ms, long secs) {
    int l = make_listener(0, 1024);
    ready(port_of(l));
    HandoffLock lock;
    thread_per_connection(
        l, deadline_after(secs), [](int) {},
        [&lock, ms](int c) {
            thread_local HandoffLock::Waiter me;
            lock.lock(me);
            burn_cpu(std::chrono::milliseconds(ms));
            lock.unlock();
            return write_all(c, "reply-after-the-lock-0123456789", 32);
        });
}

// A dispatcher in front of a fixed pool (a JDK HttpServer with a fixed
// executor, Tomcat's NIO connector at maxThreads): one epoll thread accepts
// and, when a connection turns readable, hands it to the pool without reading
// it (EPOLLONESHOT). A worker reads the request, waits MS parked on a
// condition variable of its own (a slow call that costs no CPU: Thread.sleep,
// a parked wait on something remote), answers, and re-arms the connection.
void run_dispatch_pool(long workers, long ms, long secs) {
    int l = make_listener(0, 128);
    ready(port_of(l));
    auto end = deadline_after(secs);
    int ep = epoll_on_listener(l);
    WorkQueue queue;
    std::vector<std::thread> threads;
    for (long i = 0; i < workers; ++i)
        threads.emplace_back([&] {
            std::mutex m;
            std::condition_variable cv;
            char buf[4096];
            for (int c; (c = queue.pop(end)) >= 0;) {
                ssize_t n = ::read(c, buf, sizeof buf);
                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                    ::close(c);
                    continue;
                }
                if (n > 0) {
                    std::unique_lock<std::mutex> g(m);
                    cv.wait_until(g, std::min(end, Clock::now() + std::chrono::milliseconds(ms)),
                                  [] { return false; });
                }
                if (n > 0 && !write_all(c, buf, static_cast<size_t>(n))) {
                    ::close(c);
                    continue;
                }
                epoll_event ev{EPOLLIN | EPOLLONESHOT, {}};
                ev.data.fd = c;
                ::epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev);
            }
        });
    std::vector<epoll_event> events(256);
    while (Clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd != l) {
                queue.push(fd);
                continue;
            }
            for (int c; (c = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
                epoll_event ev{EPOLLIN | EPOLLONESHOT, {}};
                ev.data.fd = c;
                ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
            }
        }
    }
    for (auto& t : threads)
        t.join();
    ::close(ep);
}

// An event loop that waits MS per request, in a futex as Node's Atomics.wait
// does (FUTEX_WAIT on a word nobody changes, with a timeout) or in a sleep as
// Redis's DEBUG SLEEP does (clock_nanosleep), beside a runtime's helpers:
// four threads parked on a condvar each and one in an epoll loop of its own
// that never sees a request (Node's platform workers and its delayed-task
// scheduler; Redis's bio threads). MS 0: the same process whose loop never waits.
void run_loop_wait(LoopWait wait, long ms, long secs) {
    int l = make_listener(0, 128);
    ready(port_of(l));
    auto end = deadline_after(secs);
    std::vector<std::thread> helpers;
    for (int i = 0; i < 4; ++i)
        helpers.emplace_back([end] {
            std::mutex m;
            std::condition_variable cv;
            std::unique_lock<std::mutex> g(m);
            cv.wait_until(g, end, [] { return false; });
        });
    helpers.emplace_back([end] {
        int ep = ::epoll_create1(EPOLL_CLOEXEC);
        epoll_event events[4];
        while (Clock::now() < end)
            ::epoll_wait(ep, events, 4, 100);
        ::close(ep);
    });
    static int word = 0;
    epoll_echo_until(l, end, [&] {
        if (ms <= 0) return;
        timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
        if (wait == LoopWait::futex)
            ::syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
        else
            ::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    });
    for (auto& t : helpers)
        t.join();
}

namespace {

// A lock in shared memory whose waiters sleep on latches of their own, as
// PostgreSQL's backends wait for a row lock: each worker's latch is an
// eventfd in an epoll set of its own (no socket in it), waited on with no
// timeout until the holder hands the lock over by writing to it.
struct LatchLock {
    pthread_mutex_t m;
    bool held;
    int queue[64];
    int head, tail;
};

LatchLock* new_shared_lock() {
    void* p = ::mmap(nullptr, sizeof(LatchLock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    if (p == MAP_FAILED) die("mmap");
    auto* l = static_cast<LatchLock*>(p);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&l->m, &a);
    l->held = false;
    l->head = l->tail = 0;
    return l;
}

void wait_latch(int ep, int latch, int timeout_ms) {
    epoll_event ev{};
    while (::epoll_wait(ep, &ev, 1, timeout_ms) < 0 && errno == EINTR) {
    }
    if (timeout_ms < 0) {
        uint64_t n;
        (void)!::read(latch, &n, sizeof n);
    }
}

void take(LatchLock* l, int me, int ep, int latch) {
    pthread_mutex_lock(&l->m);
    if (!l->held) {
        l->held = true;
        pthread_mutex_unlock(&l->m);
        return;
    }
    l->queue[l->tail++ % 64] = me;
    pthread_mutex_unlock(&l->m);
    wait_latch(ep, latch, -1);  // handed over: still held, now by us
}

void hand_over(LatchLock* l, const std::vector<int>& latches) {
    pthread_mutex_lock(&l->m);
    if (l->head == l->tail) {
        l->held = false;
    } else {
        uint64_t one = 1;
        (void)!::write(latches[static_cast<size_t>(l->queue[l->head++ % 64])], &one, sizeof one);
    }
    pthread_mutex_unlock(&l->m);
}

}  // namespace

// A master forking a child per connection, as PostgreSQL's postmaster does
// (at most 64; WORKERS sets how many latches and locks are made), each child
// taking a lock per request and holding it 5 ms - waiting on its own latch
// with a timeout, as pg_sleep does - before replying. `shared`: one lock for
// all (a hot row); otherwise one each (the lookalike: the same waits, no
// queue). A child per connection, not a shared listener: the kernel may give
// one worker of a shared listener every connection, and one worker queues on
// no lock. `flock`: the children take turns on one lock file instead, each
// with an open file description of its own, holding it across a 5 ms sleep
// (PHP's file sessions under concurrent requests of one session).
void run_latch_workers(long workers, bool shared, long secs, bool flock) {
    int l = make_listener(0, 1024);
    char path[] = "/tmp/c10k-flock-XXXXXX";
    int lock_file = flock ? ::mkstemp(path) : -1;
    if (flock) ::unlink(path);  // the children reopen it through /proc/MASTER/fd
    std::vector<int> latches;
    std::vector<LatchLock*> locks;
    for (long i = 0; i < 64; ++i) {
        latches.push_back(::eventfd(0, EFD_CLOEXEC));
        if (!shared ? i < std::max(1L, workers) : locks.empty()) locks.push_back(new_shared_lock());
    }
    ready(port_of(l));
    auto end = deadline_after(secs);
    size_t next = 0;
    while (Clock::now() < end) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        if (next >= latches.size() || ::fork() != 0) {
            ::close(c);
            ++next;
            continue;
        }
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::close(l);
        int ep = ::epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, latches[next], &ev);
        LatchLock* lock = locks[shared ? 0 : next % locks.size()];
        int own_lock = -1;
        if (flock) {
            auto reopen =
                "/proc/" + std::to_string(::getppid()) + "/fd/" + std::to_string(lock_file);
            own_lock = ::open(reopen.c_str(), O_RDWR | O_CLOEXEC);
        }
        serve_connection(c, end, [&] {
            if (own_lock >= 0) {
                ::flock(own_lock, LOCK_EX);
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                ::flock(own_lock, LOCK_UN);
            } else {
                take(lock, static_cast<int>(next), ep, latches[next]);
                wait_latch(ep, latches[next], 5);
                hand_over(lock, latches);
            }
        });
        ::_exit(0);
    }
}

}  // namespace c10k::helpers
