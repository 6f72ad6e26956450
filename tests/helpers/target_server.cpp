// SPDX-License-Identifier: GPL-2.0-or-later
// c10k-target: small servers, each with one known bottleneck, for the probe
// tests and bench/. Loopback only; every mode exits by itself after SECONDS.
//
//   c10k-target fd-limit SECONDS        accepts and keeps every connection; on EMFILE backs
//                                       off 2 ms and retries (run it under prlimit --nofile)
//   c10k-target fd-limit-soft SECONDS   the same, keeping the soft limit it was started with
//                                       (a server that never raises its own: most do not)
//   c10k-target slow-accept BACKLOG SECONDS   listen(BACKLOG); accepts one connection per 100 ms
//   c10k-target thread-per-conn SECONDS  a thread per connection, echoing
//   c10k-target cpu-burn SECONDS        epoll echo; burns ~1 ms of CPU per request
//   c10k-target sleepy SECONDS          epoll echo; sleeps 3 ms and fdatasyncs per request
//   c10k-target lock SECONDS            8 threads fighting over one mutex (also listens)
//   c10k-target parked-pool THREADS SECONDS   epoll echo beside THREADS idle workers, each
//                                       parked on a condvar of its own and waking every
//                                       millisecond (a JVM or Go pool: many futex calls,
//                                       no lock held)
//   c10k-target slow-reader SECONDS     SO_RCVBUF 1024; reads 512 bytes at a time
//   c10k-target busy-reader SECONDS     SO_RCVBUF 8192 (16 KiB); reads 8 KiB at a time and spends
//                                       0.5 ms of CPU on each (a lookalike of slow-reader: the
//                                       reader, not the buffer, is the limit)
//   c10k-target healthy SECONDS         epoll echo, nothing else
//   c10k-target small-buffers SECONDS   epoll echo on SO_RCVBUF 1024 (a lookalike of slow-reader:
//                                       requests that fit in the window never close it)
//   c10k-target accept-close SECONDS    accepts and closes at once (a peer for churn)
//   c10k-target hog THREADS SECONDS     THREADS threads spinning, named c10k-hog (a neighbour)
//   c10k-target churn PORT SECONDS      a client: connect to PORT, close, repeat
//
// What real servers wait on (target_waits.cpp), each with a lookalike:
//   c10k-target db MS SECONDS           a dependency: replies after sleeping MS ms
//   c10k-target busy-db MS SECONDS      a dependency: replies after MS ms of CPU
//   c10k-target pool-app DBPORT WORKERS POOL SECONDS [read|poll|epoll]
//                                       WORKERS threads, a pool of POOL connections to DBPORT;
//                                       each use a request and a blocking read (read), or a
//                                       two-statement transaction waited for in poll() on the
//                                       socket (poll: libpq, JDBC) or in epoll_wait (epoll)
//   c10k-target capped WORKERS SECONDS [BACKLOG]  accepts only while one of WORKERS is free
//                                       (backlog 64 unless given)
//   c10k-target evict-cap CAP SECONDS   epoll echo that keeps accepting, and past CAP
//                                       connections closes the one idle longest (nginx at
//                                       worker_connections)
//   c10k-target close-after-reply SECONDS     epoll echo that closes after each reply
//   c10k-target burst-accept BACKLOG SECONDS  accepts in a loop, ~0.2 ms of CPU each
//   c10k-target pegged-loop HELPERS SECONDS   epoll loop, ~1 ms of CPU per request, HELPERS
//                                       idle threads beside it
//   c10k-target spread-cpu LOOPS SECONDS      LOOPS epoll loops, each on its own
//                                       SO_REUSEPORT listener, ~1 ms of CPU per request
//   c10k-target two-writes SECONDS      keep-alive; each response in two writes, Nagle on
//   c10k-target two-writes-nodelay SECONDS    the same with TCP_NODELAY
//   c10k-target poll-server SECONDS [TIMEOUT_MS]   a poll() loop over every connection it
//                                       holds; TIMEOUT_MS 0 never sleeps (a busy poll)
//   c10k-target flock-workers N SECONDS N threads taking turns on one lock file with
//                                       flock(), each holding it 5 ms per job
//   c10k-target flock-apart N SECONDS   the same, each on a lock file of its own (lookalike)
//   c10k-target latch-workers N SECONDS  a master forking a child per connection (up to 64)
//                                       that takes one lock in shared memory per request and
//                                       holds it 5 ms, waiters sleeping on latches of their
//                                       own (an eventfd in epoll, no timeout): PostgreSQL's
//                                       backends on a hot row
//   c10k-target latch-apart N SECONDS   the same, N locks, a child on each (lookalike)
//   c10k-target flock-children N SECONDS   the same children taking turns on one lock file
//                                       with flock(), each holding it across a 5 ms sleep
//   c10k-target pipe-log DELAY_MS SECONDS   epoll echo writing a log line per request to a
//                                       pipe that a child drains 512 bytes every DELAY_MS
//                                       (0: as fast as it can, the lookalike)
//   c10k-target drain-cap CAP SECONDS   epoll echo accepting one connection a turn; at CAP it
//                                       closes its idlest keep-alive connection (a FIN) to take
//                                       a new one, or leaves it queued (nginx at
//                                       worker_connections)
//   c10k-target idle-timeout TIMEOUT_MS SECONDS   epoll echo with room, closing each
//                                       keep-alive connection TIMEOUT_MS after its last reply
//                                       (nginx's keepalive_timeout)
//   c10k-target fork-cap CAP STARTUP_MS SECONDS [WORK_MS]   a child per connection
//                                       (PostgreSQL's postmaster): each starts up (STARTUP_MS of
//                                       CPU), then refuses with an error when CAP children
//                                       already serve; a serving child computes WORK_MS of CPU
//                                       per request (a backend's query; 0 unless given)
//   c10k-target refuse-cap CAP SECONDS  epoll echo keeping CAP connections; each one past
//                                       them gets an error line and is closed at once (Redis
//                                       at maxclients)
//   c10k-target serialised MS SECONDS  a thread per connection, each request computing MS
//                                       under one lock whose waiters park on conditions of
//                                       their own (Go's sync.Mutex, as the kernel sees it)
//   c10k-target worker-pool N MS SECONDS  N threads on one listener, each taking a
//                                       connection, answering its request after MS and
//                                       closing it (a PHP-FPM static pool)
//   c10k-target dispatch-pool WORKERS MS SECONDS  an epoll dispatcher handing each readable
//                                       connection, unread, to WORKERS threads that answer
//                                       after MS parked on a condvar (a JDK HttpServer's
//                                       fixed executor, Tomcat at maxThreads)
//   c10k-target loop-futex MS SECONDS   epoll echo waiting MS in a futex per request (Node's
//                                       Atomics.wait), beside parked helper threads and an
//                                       idle epoll thread of their own; MS 0: never waits
//   c10k-target loop-sleep MS SECONDS   the same, sleeping MS per request (clock_nanosleep, as
//                                       Redis's DEBUG SLEEP)
//   c10k-target proxy-pool UPSTREAM_PORT POOL SECONDS   an epoll proxy keeping POOL
//                                       connections to UPSTREAM_PORT, one request on each at a
//                                       time; the rest wait inside it (HAProxy's server maxconn)
//   c10k-target proxy-per-request UPSTREAM_PORT SECONDS   an epoll proxy opening a new
//                                       connection to UPSTREAM_PORT per client request
//                                       (nginx to FastCGI)
//   c10k-target thread-spawn N SECONDS  epoll echo; on SIGUSR1 starts and joins N short-lived
//                                       threads (100 at a time), then names itself
//                                       "c10k-spawned" (tests watch /proc/PID/comm)
//   c10k-target prefork WORKERS SECONDS [WORK_MS]  a master that listens and forks WORKERS
//                                       children, each an epoll echo on the inherited listener
//                                       computing WORK_MS per request (0 unless given); the
//                                       master only waits for signals (nginx, gunicorn, apache)
//   c10k-target prefork-sleepy WORKERS SECONDS   the same, each worker blocking per request
//                                       as sleepy does (fdatasync, then a 3 ms sleep)
//   c10k-target exec-on-usr1 SECONDS    epoll echo and 4 idle threads; on SIGUSR1 execs
//                                       itself as "healthy SECONDS" (same PID, new image)
//
// Prints "ready PORT" once listening (churn, hog: "ready 0").
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "epoll_echo.hpp"
#include "net_util.hpp"
#include "targets.hpp"

using namespace c10k::helpers;
using Clock = std::chrono::steady_clock;

namespace {

// A nonblocking epoll echo server; `on_request` runs before each reply.
template <typename F>
void serve_epoll(int listener, long secs, F on_request) {
    epoll_echo_until(listener, deadline_after(secs), on_request);
}

void fd_limit(long secs, bool raise_soft) {
    if (raise_soft) raise_nofile();  // no-op under prlimit with soft == hard
    int l = make_listener(0, 64);
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    ready(port_of(l));
    auto end = deadline_after(secs);
    while (Clock::now() < end) {
        int c = ::accept4(l, nullptr, nullptr, 0);
        if (c >= 0) continue;  // kept open: this server never lets a client go
        if (errno == EMFILE || errno == ENFILE) {
            ::usleep(2000);  // back off like nginx does, then try again
        } else {
            pollfd p{l, POLLIN, 0};
            ::poll(&p, 1, 100);
        }
    }
}

void slow_accept(long backlog, long secs) {
    int l = make_listener(0, static_cast<int>(backlog));
    ready(port_of(l));
    auto end = deadline_after(secs);
    while (Clock::now() < end) {
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
            int c = ::accept(l, nullptr, nullptr);
            if (c >= 0) ::close(c);
        }
        ::usleep(100000);
    }
}

void thread_per_conn(long secs) {
    raise_nofile();
    int l = make_listener(0, 4096);
    ready(port_of(l));
    auto end = deadline_after(secs);
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    ::pthread_attr_setstacksize(&attr, 64 * 1024);
    ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (Clock::now() < end) {
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(l, nullptr, nullptr);
        if (c < 0) continue;
        pthread_t t;
        auto* fdp = new int(c);
        ::pthread_create(
            &t, &attr,
            [](void* arg) -> void* {
                int fd = *static_cast<int*>(arg);
                delete static_cast<int*>(arg);
                char buf[256];
                ssize_t n;
                while ((n = ::read(fd, buf, sizeof buf)) > 0)
                    if (::write(fd, buf, static_cast<size_t>(n)) < 0) break;
                ::close(fd);
                return nullptr;
            },
            fdp);
    }
}

void lock_contention(long secs) {
    int l = make_listener(0, 128);
    ready(port_of(l));
    std::mutex m;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            while (!stop.load()) {
                std::lock_guard<std::mutex> g(m);
                burn_cpu(std::chrono::microseconds(20));
            }
        });
    std::this_thread::sleep_until(deadline_after(secs));
    stop = true;
    for (auto& t : threads)
        t.join();
}

// Workers that wait for work that never comes, each on its own condition
// variable with a 1 ms timeout, as a managed runtime's pool parks its threads:
// thousands of futex calls a second, all of them parking.
void parked_pool(long threads, long secs) {
    int l = make_listener(0, 128);
    struct Slot {
        std::mutex m;
        std::condition_variable cv;
    };
    std::vector<Slot> slots(static_cast<size_t>(threads));
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (auto& slot : slots)
        workers.emplace_back([&stop, &slot] {
            std::unique_lock<std::mutex> g(slot.m);
            while (!stop.load())
                slot.cv.wait_for(g, std::chrono::milliseconds(1));
        });
    ready(port_of(l));
    ::fcntl(l, F_SETFL, O_NONBLOCK);
    serve_epoll(l, secs, [] {});
    stop = true;
    for (auto& w : workers)
        w.join();
}

// A reader on small receive buffers: `rcvbuf` bytes, read `chunk` at a time,
// with `work` of CPU spent on each chunk read.
void small_buffer_reader(long secs, int rcvbuf, size_t chunk, std::chrono::microseconds work) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = rcvbuf;  // set before listen(): accepted sockets inherit it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0)
        die("listen");
    ready(port_of(fd));
    auto end = deadline_after(secs);
    std::vector<pollfd> fds{{fd, POLLIN, 0}};
    std::vector<char> buf(chunk);
    while (Clock::now() < end) {
        if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            if (fds[i].fd == fd) {
                int c = ::accept(fd, nullptr, nullptr);
                if (c >= 0) fds.push_back({c, POLLIN, 0});
            } else if (::read(fds[i].fd, buf.data(), buf.size()) <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
            } else if (work.count() > 0) {
                burn_cpu(work);
            }
        }
    }
}

void accept_close(long secs) {
    int l = make_listener(0, 4096);
    ready(port_of(l));
    auto end = deadline_after(secs);
    while (Clock::now() < end) {
        pollfd p{l, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int c = ::accept(l, nullptr, nullptr);
        if (c >= 0) ::close(c);
    }
}

void churn(long port, long secs) {
    ready(0);
    auto end = deadline_after(secs);
    auto a = loopback(static_cast<uint16_t>(port));
    while (Clock::now() < end) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == EADDRNOTAVAIL)
            ::usleep(1000);
        ::close(fd);  // client closes first: TIME_WAIT lands here
    }
}

}  // namespace

// Threads that come and go mid-window: more in total than the probe's per-thread
// maps hold at once, so an evicting map would lose them without a word.
void thread_spawn(long n, long secs) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);  // the threads below inherit the mask
    int l = make_listener(0, 4096);
    ready(port_of(l));
    auto until = deadline_after(secs);
    pthread_t main_thread = pthread_self();
    std::thread spawner([&] {
        timespec left{std::max<long>(1, secs), 0};
        if (sigtimedwait(&usr1, nullptr, &left) != SIGUSR1) return;
        long started = 0;
        while (started < n && Clock::now() < until) {
            std::vector<std::thread> batch;
            for (int i = 0; i < 100 && started < n; ++i, ++started)
                batch.emplace_back([] { burn_cpu(std::chrono::microseconds(20)); });
            for (auto& t : batch)
                t.join();
        }
        std::fprintf(stderr, "spawned %ld\n", started);
        pthread_setname_np(main_thread, "c10k-spawned");
    });
    serve_epoll(l, secs, [] {});
    spawner.join();
}

// A server that replaces its image mid-window (a restart by exec, as nginx's
// binary upgrade or a shell wrapper's `exec` do): same PID, new threads.
void exec_on_usr1(const char* self, long secs) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    int l = make_listener(0, 4096);
    ready(port_of(l));
    std::vector<std::thread> idle;
    for (int i = 0; i < 4; ++i)
        idle.emplace_back([secs] { std::this_thread::sleep_for(std::chrono::seconds(secs)); });
    std::thread waiter([self, secs, usr1] {
        timespec left{std::max<long>(1, secs), 0};
        if (sigtimedwait(&usr1, nullptr, &left) != SIGUSR1) std::_Exit(0);
        std::string s = std::to_string(secs);
        execl(self, self, "healthy", s.c_str(), static_cast<char*>(nullptr));
        std::_Exit(1);
    });
    serve_epoll(l, secs, [] {});
    std::_Exit(0);
}

// What a request costs the sleepy servers' thread: a write made durable and a
// short sleep, both off the CPU (a handler that logs with fsync, then waits).
void block_per_request(int file) {
    (void)!::write(file, "x", 1);
    ::fdatasync(file);
    timespec ts{0, 3'000'000};
    ::nanosleep(&ts, nullptr);
}

int unlinked_temp_file() {
    char path[] = "/tmp/c10k-target-XXXXXX";
    int f = ::mkstemp(path);
    ::unlink(path);
    return f;
}

// A master that never accepts and workers that do, all holding the listener.
// A worker computes WORK_MS per request, or with `sleepy` blocks instead.
void prefork(long workers, long secs, long work_ms, bool sleepy) {
    raise_nofile();
    int l = make_listener(0, 4096);
    // The master waits for signals in sigsuspend, as nginx's does: SIGCHLD
    // blocked but for that call, and handled, so each child's exit wakes it.
    sigset_t chld, none;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigemptyset(&none);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGCHLD, &sa, nullptr);
    long alive = 0;
    for (long i = 0; i < workers; ++i) {
        pid_t child = ::fork();
        if (child == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed master takes its workers along
            int file = sleepy ? unlinked_temp_file() : -1;
            serve_epoll(l, secs, [work_ms, file] {
                if (file >= 0) block_per_request(file);
                if (work_ms > 0) burn_cpu(std::chrono::milliseconds(work_ms));
            });
            std::_Exit(0);
        }
        if (child > 0) ++alive;
    }
    ready(port_of(l));
    while (alive > 0) {
        ::sigsuspend(&none);
        while (::waitpid(-1, nullptr, WNOHANG) > 0)
            --alive;
    }
    std::_Exit(0);
}

int main(int argc, char** argv) {
    g_program = "c10k-target";
    if (argc < 3) {
        std::fprintf(stderr, "usage: c10k-target MODE [ARGS] SECONDS (see the source header)\n");
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "fd-limit" || mode == "fd-limit-soft") {
        fd_limit(arg(argv, 2, argc), mode == "fd-limit");
    } else if (mode == "slow-accept") {
        slow_accept(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "thread-per-conn") {
        thread_per_conn(arg(argv, 2, argc));
    } else if (mode == "cpu-burn" || mode == "sleepy" || mode == "healthy" ||
               mode == "small-buffers") {
        raise_nofile();
        int l = make_listener(0, 4096);
        if (mode == "small-buffers") {
            // Connections accepted from now on are cloned from the listener's buffer size.
            int small = 1024;
            ::setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        ready(port_of(l));
        long secs = arg(argv, 2, argc);
        if (mode == "cpu-burn") {
            serve_epoll(l, secs, [] { burn_cpu(std::chrono::milliseconds(1)); });
        } else if (mode == "sleepy") {
            int f = unlinked_temp_file();
            serve_epoll(l, secs, [f] { block_per_request(f); });
        } else {
            serve_epoll(l, secs, [] {});
        }
    } else if (mode == "hog") {
        // Another tenant's CPU load: THREADS threads spinning, named c10k-hog so
        // the probe's list of CPU users tells it from the target. Prints "ready 0".
        long threads = arg(argv, 2, argc);
        auto end = deadline_after(arg(argv, 3, argc));
        ::prctl(PR_SET_NAME, "c10k-hog");
        std::vector<std::thread> spinners;
        for (long i = 0; i < threads; ++i)
            spinners.emplace_back([end] {
                while (Clock::now() < end)
                    burn_cpu(std::chrono::milliseconds(10));
            });
        ready(0);
        for (auto& t : spinners)
            t.join();
    } else if (mode == "lock") {
        lock_contention(arg(argv, 2, argc));
    } else if (mode == "parked-pool") {
        parked_pool(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "slow-reader") {
        small_buffer_reader(arg(argv, 2, argc), 1024, 512, {});
    } else if (mode == "busy-reader") {
        small_buffer_reader(arg(argv, 2, argc), 8192, 8192, std::chrono::microseconds(500));
    } else if (mode == "accept-close") {
        accept_close(arg(argv, 2, argc));
    } else if (mode == "churn") {
        churn(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "db" || mode == "busy-db") {
        run_db(arg(argv, 2, argc), mode == "busy-db", arg(argv, 3, argc));
    } else if (mode == "pool-app") {
        std::string wait = argc > 6 ? argv[6] : "read";
        if (wait != "read" && wait != "poll" && wait != "epoll") {
            std::fprintf(stderr, "c10k-target: pool-app WAIT is read, poll or epoll, not %s\n",
                         wait.c_str());
            return 2;
        }
        run_pool_app(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc), arg(argv, 5, argc),
                     wait == "poll"    ? PoolWait::poll
                     : wait == "epoll" ? PoolWait::epoll
                                       : PoolWait::read);
    } else if (mode == "evict-cap") {
        run_evicting(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "serialised") {
        run_serialised(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "drain-cap") {
        run_draining(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "idle-timeout") {
        run_idle_timeout(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "fork-cap") {
        run_fork_cap(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc),
                     arg(argv, 5, argc, 0));
    } else if (mode == "refuse-cap") {
        run_refusing(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "close-after-reply") {
        run_evicting(0, arg(argv, 2, argc));
    } else if (mode == "loop-futex" || mode == "loop-sleep") {
        run_loop_wait(mode == "loop-futex" ? LoopWait::futex : LoopWait::sleep, arg(argv, 2, argc),
                      arg(argv, 3, argc));
    } else if (mode == "proxy-pool") {
        run_proxy_pool(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc));
    } else if (mode == "dispatch-pool") {
        run_dispatch_pool(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc));
    } else if (mode == "capped") {
        run_capped(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc, 64));
    } else if (mode == "burst-accept") {
        run_burst_accept(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "pegged-loop") {
        run_pegged_loop(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "spread-cpu") {
        run_spread_cpu(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "two-writes" || mode == "two-writes-nodelay") {
        run_two_writes(mode == "two-writes-nodelay", arg(argv, 2, argc));
    } else if (mode == "latch-workers" || mode == "latch-apart" || mode == "flock-children") {
        run_latch_workers(arg(argv, 2, argc), mode != "latch-apart", arg(argv, 3, argc),
                          mode == "flock-children");
    } else if (mode == "flock-workers" || mode == "flock-apart") {
        run_flock_workers(arg(argv, 2, argc), mode == "flock-workers", arg(argv, 3, argc));
    } else if (mode == "pipe-log") {
        run_pipe_log(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "worker-pool") {
        run_worker_pool(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc));
    } else if (mode == "proxy-per-request") {
        run_proxy_per_request(arg(argv, 2, argc), arg(argv, 3, argc));
    } else if (mode == "poll-server") {
        run_poll_server(arg(argv, 2, argc), argc > 3 ? arg(argv, 3, argc) : 100);
    } else if (mode == "prefork" || mode == "prefork-sleepy") {
        prefork(arg(argv, 2, argc), arg(argv, 3, argc), arg(argv, 4, argc, 0),
                mode == "prefork-sleepy");
    } else if (mode == "exec-on-usr1") {
        exec_on_usr1("/proc/self/exe", arg(argv, 2, argc));
    } else if (mode == "thread-spawn") {
        thread_spawn(arg(argv, 2, argc), arg(argv, 3, argc));
    } else {
        std::fprintf(stderr, "c10k-target: unknown mode '%s'\n", mode.c_str());
        return 2;
    }
    return 0;
}
