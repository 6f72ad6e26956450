// SPDX-License-Identifier: GPL-2.0-or-later
// Syscalls by name and number (every syscall of this architecture, from the
// kernel headers at build time), and what the rules know about them: which
// calls are a thread waiting for work, which block it, which wait on a lock.
// Declared once here; rules and the sampler use these lists, never their own.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace c10k {

// "futex" for 202 on x86_64; "syscall_N" only for a number the headers lack.
std::string syscall_name(int nr);
// -1 for a name this architecture does not have (poll and select on arm64).
int syscall_number(std::string_view name);

namespace syscalls {

// Readiness waits: an event loop's thread idle until an fd has work.
inline constexpr std::array<std::string_view, 7> kReadinessWaits = {
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6"};
// Readiness found by scanning each fd given (the kernel walks all of them per call).
inline constexpr std::array<std::string_view, 4> kFdScans = {"poll", "ppoll", "select", "pselect6"};
// Other waits for work: a new connection, a signal, a child. (A master such as
// nginx's waits for signals in rt_sigsuspend while its workers serve: read as
// a blocked loop, it was off-cpu-blocking "in rt_sigsuspend() 100% of the time".)
inline constexpr std::array<std::string_view, 7> kWorkWaits = {
    "accept", "accept4", "rt_sigtimedwait", "rt_sigsuspend", "wait4", "waitid", "pause"};
// Calls that block a thread that should be serving: sleeps and waits for the
// disk to make data durable.
inline constexpr std::array<std::string_view, 5> kBlocking = {
    "nanosleep", "clock_nanosleep", "fsync", "fdatasync", "sync_file_range"};
// Of those, the sleeps: a timer thread's pacing as much as a handler's blocking.
inline constexpr std::array<std::string_view, 2> kSleeps = {"nanosleep", "clock_nanosleep"};
// Taking a new connection; making one.
inline constexpr std::array<std::string_view, 2> kAccepts = {"accept4", "accept"};
inline constexpr std::array<std::string_view, 1> kConnects = {"connect"};
// Waits for a lock held by another thread or process.
inline constexpr std::string_view kFutex = "futex";
inline constexpr std::array<std::string_view, 1> kFutexes = {kFutex};
// Reads that wait for a peer's bytes on the fd they name (argument 0).
inline constexpr std::array<std::string_view, 4> kSocketReads = {"read", "recvfrom", "recvmsg",
                                                                 "readv"};

template <size_t N>
bool is_one_of(std::string_view name, const std::array<std::string_view, N>& list) {
    for (auto n : list)
        if (n == name) return true;
    return false;
}

}  // namespace syscalls
}  // namespace c10k
