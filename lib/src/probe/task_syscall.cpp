// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/task_syscall.hpp"

#include <poll.h>

#include <algorithm>
#include <bit>
#include <map>
#include <string>

#include "c10k/probe/syscalls.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/text.hpp"

namespace c10k {

char parse_task_state(std::string_view stat_text) {
    auto fields = stat_fields(stat_text);
    return fields.empty() ? '?' : fields[0][0];
}

std::optional<int> parse_task_syscall(std::string_view syscall_text) {
    auto fields = split_ws(syscall_text);
    if (fields.empty()) return std::nullopt;  // "running" or empty
    auto nr = parse_int(fields[0]);
    if (!nr || *nr < 0) return std::nullopt;
    return static_cast<int>(*nr);
}

std::optional<TaskSyscall> parse_task_syscall_args(std::string_view syscall_text) {
    auto fields = split_ws(syscall_text);
    if (fields.size() < 7) return std::nullopt;  // "running", "-1 sp pc" (not in a syscall)
    auto nr = parse_int(fields[0]);
    if (!nr || *nr < 0) return std::nullopt;
    TaskSyscall sc;
    sc.nr = static_cast<int>(*nr);
    for (size_t i = 0; i < 6; ++i) {
        auto f = fields[i + 1];
        if (starts_with(f, "0x")) f.remove_prefix(2);
        auto v = parse_uint(f, 16);
        if (!v) return std::nullopt;
        sc.args[i] = *v;
    }
    return sc;
}

std::optional<uint64_t> poll_nfds(const TaskSyscall& sc) {
    // poll(fds, nfds, ...) and ppoll(fds, nfds, ...) scan nfds entries;
    // select(nfds, ...) and pselect6(nfds, ...) scan fds 0..nfds-1.
    static const int poll = syscall_number("poll"), ppoll = syscall_number("ppoll"),
                     select = syscall_number("select"), pselect6 = syscall_number("pselect6");
    if (sc.nr < 0) return std::nullopt;
    if (sc.nr == poll || sc.nr == ppoll) return sc.args[1];
    if (sc.nr == select || sc.nr == pselect6) return sc.args[0];
    return std::nullopt;
}

std::vector<int> fds_awaiting_input(const TaskSyscall& sc, const ReadMemory& read_mem) {
    static const int read = syscall_number("read"), recvfrom = syscall_number("recvfrom"),
                     recvmsg = syscall_number("recvmsg"), readv = syscall_number("readv"),
                     poll = syscall_number("poll"), ppoll = syscall_number("ppoll"),
                     select = syscall_number("select"), pselect6 = syscall_number("pselect6");
    std::vector<int> fds;
    if (sc.nr < 0) return fds;
    if (sc.nr == read || sc.nr == recvfrom || sc.nr == recvmsg || sc.nr == readv) {
        if (sc.args[0] <= static_cast<uint64_t>(INT32_MAX))
            fds.push_back(static_cast<int>(sc.args[0]));
        return fds;
    }
    if (sc.nr == poll || sc.nr == ppoll) {
        uint64_t n = sc.args[1];
        if (n == 0 || n > kMaxPolledFds || sc.args[0] == 0) return fds;
        pollfd set[kMaxPolledFds];
        if (!read_mem(sc.args[0], set, n * sizeof(pollfd))) return fds;
        for (uint64_t i = 0; i < n; ++i)
            if (set[i].fd >= 0 && (set[i].events & (POLLIN | POLLRDNORM))) fds.push_back(set[i].fd);
        return fds;
    }
    if (sc.nr == select || sc.nr == pselect6) {
        // select(nfds, readfds, ...): the read set is a bitmap of nfds bits. A small
        // nfds still means a few low fds; 64 covers one word of it.
        uint64_t n = sc.args[0];
        if (n == 0 || n > 64 || sc.args[1] == 0) return fds;
        uint64_t bits = 0;
        if (!read_mem(sc.args[1], &bits, sizeof bits)) return fds;
        if (n < 64) bits &= (uint64_t{1} << n) - 1;
        if (static_cast<uint64_t>(std::popcount(bits)) > kMaxPolledFds) return fds;
        for (uint64_t fd = 0; fd < n; ++fd)
            if (bits & (uint64_t{1} << fd)) fds.push_back(static_cast<int>(fd));
    }
    return fds;
}

std::optional<FutexWait> futex_wait_of(const TaskSyscall& sc) {
    static const int futex = syscall_number(syscalls::kFutex);
    if (sc.nr < 0 || sc.nr != futex) return std::nullopt;
    // The op without FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256):
    // FUTEX_WAIT is 0, FUTEX_WAIT_BITSET 9 (linux/futex.h).
    uint64_t cmd = sc.args[1] & 127;
    if (cmd != 0 && cmd != 9) return std::nullopt;
    return FutexWait{sc.args[0], static_cast<uint32_t>(sc.args[2])};
}

std::vector<bool> contended_waits(const std::vector<FutexWait>& waits, bool any_running) {
    // A lowlevel lock's word: 0 free, 1 locked, 2 locked with waiters. Only a
    // waiter of a held lock sleeps expecting 2.
    constexpr uint32_t kLockedWithWaiters = 2;
    std::map<uint64_t, int> per_addr;
    for (const auto& w : waits)
        ++per_addr[w.addr];
    std::vector<bool> out;
    out.reserve(waits.size());
    // A waiter that expects 0 sleeps "while nothing is there": glibc's condvar
    // (its signal count), sem_wait, Go's notes. Several of those on one address
    // are idle threads parked on one queue, not a lock: a lock's waiter sleeps
    // expecting the word to say "held". (Measured: a JDK 17 HttpServer with 32
    // workers had two pairs of threads each on one address, expecting 0, in
    // every look, which read as two threads on a held lock and, with its
    // 1,000 futex calls a second, gave it lock-contention.)
    for (const auto& w : waits)
        out.push_back(w.expected == kLockedWithWaiters ||
                      (any_running && w.expected != 0 && per_addr[w.addr] >= 2));
    return out;
}

bool waits_for_file_lock(const TaskSyscall& sc) {
    static const int flock = syscall_number("flock"), fcntl = syscall_number("fcntl");
    // F_SETLKW is 7 and F_OFD_SETLKW 38 (asm-generic/fcntl.h); F_SETLK never sleeps.
    constexpr uint64_t kSetLkWait = 7, kOfdSetLkWait = 38;
    if (sc.nr < 0) return false;
    if (sc.nr == flock) return (sc.args[1] & 4) == 0;  // LOCK_NB (4) never sleeps
    return sc.nr == fcntl && (sc.args[1] == kSetLkWait || sc.args[1] == kOfdSetLkWait);
}

SleepKind sleep_kind(const TaskSyscall& sc, std::string_view name, char state) {
    using namespace syscalls;
    if (is_one_of(name, kReadinessWaits)) return SleepKind::readiness;
    if (waits_for_file_lock(sc)) return SleepKind::file_lock;
    if (is_one_of(name, kWorkWaits)) return SleepKind::work;
    if (name == kFutex) return SleepKind::futex;
    if (is_one_of(name, kSocketReads) && state != 'D') return SleepKind::peer;
    return SleepKind::blocked;
}

std::vector<int> epoll_watched_fds(std::string_view fdinfo_text) {
    std::vector<int> fds;
    for (auto line : split_lines(fdinfo_text)) {
        if (!starts_with(line, "tfd:")) continue;
        auto fields = split_ws(line.substr(4));
        if (fields.empty()) continue;
        if (auto fd = parse_uint(fields[0]); fd && *fd <= static_cast<uint64_t>(INT32_MAX))
            fds.push_back(static_cast<int>(*fd));
    }
    return fds;
}

std::optional<EpollWait> epoll_wait_of(const TaskSyscall& sc) {
    static const int wait = syscall_number("epoll_wait"), pwait = syscall_number("epoll_pwait"),
                     pwait2 = syscall_number("epoll_pwait2");
    if (sc.nr < 0 || (sc.nr != wait && sc.nr != pwait && sc.nr != pwait2)) return std::nullopt;
    EpollWait w;
    w.epfd = static_cast<int>(static_cast<int32_t>(sc.args[0]));
    // epoll_wait and epoll_pwait take an int of milliseconds (negative: none);
    // epoll_pwait2 a timespec pointer (NULL: none).
    w.timed = sc.nr == pwait2 ? sc.args[3] != 0 : static_cast<int32_t>(sc.args[3]) >= 0;
    return w;
}

}  // namespace c10k
