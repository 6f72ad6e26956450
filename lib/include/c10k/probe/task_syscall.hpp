// SPDX-License-Identifier: GPL-2.0-or-later
// What a sleeping thread is doing, read from /proc/PID/task/TID/{stat,syscall}:
// its state, its syscall and arguments, and what they say - the fds it waits
// to read, the fds a poll scans, the futex or file lock it waits on. Pure
// functions over the text (and the target's memory, through a callback), so
// the sampler's judgements are testable on fixtures.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace c10k {

// A sleeping thread's syscall and its six arguments (/proc/PID/task/TID/syscall).
struct TaskSyscall {
    int nr = -1;
    std::array<uint64_t, 6> args{};
};

// "S"/"D"/"R" and the syscall a thread sleeps in, from /proc/PID/task/TID/{stat,syscall}.
char parse_task_state(std::string_view stat_text);
std::optional<int> parse_task_syscall(std::string_view syscall_text);

// The syscall number and its six arguments ("7 0x55d0 0x2710 0x3e8 ..."), or nothing
// when the thread is running or the text is malformed.
std::optional<TaskSyscall> parse_task_syscall_args(std::string_view syscall_text);
// How many fds a poll-family call scans, from its arguments; nothing for other syscalls.
std::optional<uint64_t> poll_nfds(const TaskSyscall& sc);

// A thread asleep in futex(FUTEX_WAIT or FUTEX_WAIT_BITSET): the address it waits
// on, and the value it expected there. Nothing for other calls and futex ops.
struct FutexWait {
    uint64_t addr = 0;
    uint32_t expected = 0;
};
std::optional<FutexWait> futex_wait_of(const TaskSyscall& sc);

// Of one look's futex waiters, which wait on a lock another thread holds:
// several on one address, expecting a non-zero ("held") word, while a thread
// of the process runs (the holder), or one that expected 2 - the "locked, and
// others wait" word of glibc's lowlevel lock, Rust's futex mutex and Go's
// runtime lock. A pool's idle workers each wait on a condition variable of
// their own, or on a shared one (expecting 0: nothing signalled yet): parked,
// not contended. Returns one flag per waiter.
std::vector<bool> contended_waits(const std::vector<FutexWait>& waits, bool any_running);

// A thread asleep waiting for a file lock another process or thread holds:
// flock(), or fcntl() with F_SETLKW / F_OFD_SETLKW.
bool waits_for_file_lock(const TaskSyscall& sc);

// Where a sleeping thread waits, for an account of its time: for work (a
// readiness wait, or another wait for a connection, a signal, a child), for a
// peer's bytes (a socket read in S), on a futex, on a file lock - or blocked in
// any other call (a disk or pipe write, a pread, a sleep, fsync; any call in D
// state), where a thread that serves connections holds them up. `wakeup` is
// never returned here: it is a readiness wait that watches no socket and has
// no timeout (see epoll_waits_for_wakeup), known only with the epoll set.
enum class SleepKind { readiness, work, peer, futex, file_lock, blocked, wakeup };
SleepKind sleep_kind(const TaskSyscall& sc, std::string_view name, char state);

// The fds an epoll instance watches, from its /proc/PID/fdinfo/EPFD text
// (a "tfd: N events: ..." line each).
std::vector<int> epoll_watched_fds(std::string_view fdinfo_text);
// An epoll wait (epoll_wait, epoll_pwait, epoll_pwait2) and whether it has a
// timeout: its epoll fd, and false for one that waits until an fd is ready.
struct EpollWait {
    int epfd = -1;
    bool timed = false;
};
std::optional<EpollWait> epoll_wait_of(const TaskSyscall& sc);

// The fds a thread asleep in read()/recv*() or in a small poll()/select() waits
// to read from. A client library waiting for its server's reply sits in one of
// these: libpq, libmysqlclient and JDBC poll() the one socket (to honour a
// timeout) and read() after. The poll and select sets live in the target's
// memory, read through `read_mem(addr, buf, len)` (false: unreadable). Sets over
// kMaxPolledFds are an event loop's readiness wait, which names no one peer.
inline constexpr uint64_t kMaxPolledFds = 8;
using ReadMemory = std::function<bool(uint64_t addr, void* buf, size_t len)>;
std::vector<int> fds_awaiting_input(const TaskSyscall& sc, const ReadMemory& read_mem);

}  // namespace c10k
