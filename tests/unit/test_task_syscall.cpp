// SPDX-License-Identifier: GPL-2.0-or-later
// What a sleeping thread's /proc/PID/task/TID/syscall says it waits for: the
// syscall and its arguments, the fds it polls or reads, read from (here, fake)
// target memory.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/syscall.h>

#include <cstring>
#include <map>

#include "c10k/probe/sampler.hpp"

using namespace c10k;

namespace {

// A target address space of a few blocks; any other read fails, as
// process_vm_readv does on an unmapped address.
struct FakeMemory {
    std::map<uint64_t, std::vector<uint8_t>> blocks;
    bool operator()(uint64_t addr, void* buf, size_t len) const {
        auto it = blocks.find(addr);
        if (it == blocks.end() || it->second.size() < len) return false;
        std::memcpy(buf, it->second.data(), len);
        return true;
    }
    void put_pollfds(uint64_t addr, std::vector<pollfd> set) {
        std::vector<uint8_t> bytes(set.size() * sizeof(pollfd));
        std::memcpy(bytes.data(), set.data(), bytes.size());
        blocks[addr] = bytes;
    }
};

TaskSyscall call(long nr, std::array<uint64_t, 6> args) {
    TaskSyscall sc;
    sc.nr = static_cast<int>(nr);
    sc.args = args;
    return sc;
}

}  // namespace

TEST(TaskSyscall, ParsesTheNumberAndSixArguments) {
    auto sc = parse_task_syscall_args("7 0x7ffd1000 0x1 0x2710 0x0 0x0 0x0 0x7ffd0ff8 0x7f01\n");
    ASSERT_TRUE(sc);
    EXPECT_EQ(sc->nr, 7);
    EXPECT_EQ(sc->args[0], 0x7ffd1000u);
    EXPECT_EQ(sc->args[1], 1u);
    EXPECT_EQ(sc->args[2], 10000u);
    EXPECT_FALSE(parse_task_syscall_args("running\n"));
    EXPECT_FALSE(parse_task_syscall_args("-1 0x7ffd0ff8 0x7f01\n"));  // not in a syscall
    EXPECT_FALSE(parse_task_syscall_args("7 0xzz 0x1 0x2 0x3 0x4 0x5 0x6 0x7\n"));
}

TEST(TaskSyscall, AReadWaitsOnItsFd) {
    FakeMemory mem;
    EXPECT_EQ(fds_awaiting_input(call(SYS_read, {9, 0x1000, 4096}), mem), std::vector<int>{9});
    EXPECT_EQ(fds_awaiting_input(call(SYS_recvfrom, {12, 0x1000, 4096}), mem),
              std::vector<int>{12});
    EXPECT_TRUE(fds_awaiting_input(call(SYS_write, {9, 0x1000, 4096}), mem).empty());
    EXPECT_TRUE(fds_awaiting_input(call(SYS_futex, {0x1000, 0, 0}), mem).empty());
}

// libpq and JDBC wait for a reply in poll() on the one socket, to honour a timeout.
TEST(TaskSyscall, ASmallPollWaitsOnTheFdsItWantsToRead) {
    FakeMemory mem;
    mem.put_pollfds(0x5000, {{7, POLLIN | POLLERR, 0}});
    EXPECT_EQ(fds_awaiting_input(call(SYS_poll, {0x5000, 1, 30000}), mem), std::vector<int>{7});
    EXPECT_EQ(fds_awaiting_input(call(SYS_ppoll, {0x5000, 1, 0, 0, 8}), mem), std::vector<int>{7});
    // Waiting to write is not waiting for a reply; a negative fd is ignored by poll.
    mem.put_pollfds(0x6000, {{7, POLLOUT, 0}, {-1, POLLIN, 0}, {11, POLLIN, 0}});
    EXPECT_EQ(fds_awaiting_input(call(SYS_poll, {0x6000, 3, -1ull}), mem), std::vector<int>{11});
}

TEST(TaskSyscall, AnEventLoopsPollOrAnUnreadableSetNamesNoFd) {
    FakeMemory mem;
    std::vector<pollfd> many;
    for (int fd = 3; fd < 3 + static_cast<int>(kMaxPolledFds) + 1; ++fd)
        many.push_back({fd, POLLIN, 0});
    mem.put_pollfds(0x7000, many);
    EXPECT_TRUE(fds_awaiting_input(call(SYS_poll, {0x7000, many.size(), 1000}), mem).empty());
    EXPECT_TRUE(fds_awaiting_input(call(SYS_poll, {0x9999, 1, 1000}), mem).empty());  // unmapped
    EXPECT_TRUE(fds_awaiting_input(call(SYS_poll, {0, 1, 1000}), mem).empty());
}

TEST(TaskSyscall, ASmallSelectWaitsOnItsReadSet) {
    FakeMemory mem;
    uint64_t bits = (1u << 5) | (1u << 9) | (1ull << 40);  // fd 40 is past nfds: ignored
    mem.blocks[0x8000].resize(8);
    std::memcpy(mem.blocks[0x8000].data(), &bits, 8);
    EXPECT_EQ(fds_awaiting_input(call(SYS_select, {10, 0x8000, 0, 0, 0x9000}), mem),
              (std::vector<int>{5, 9}));
    EXPECT_TRUE(
        fds_awaiting_input(call(SYS_select, {10, 0, 0x8000, 0, 0}), mem).empty());  // writes only
    EXPECT_TRUE(fds_awaiting_input(call(SYS_select, {1000, 0x8000, 0, 0, 0}), mem).empty());
    EXPECT_EQ(poll_nfds(call(SYS_select, {1000, 0x8000, 0, 0, 0})), 1000u);
    EXPECT_EQ(poll_nfds(call(SYS_poll, {0x7000, 10000, 0})), 10000u);
    EXPECT_FALSE(poll_nfds(call(SYS_read, {3, 0, 0})));
}

// What a futex waiter's own arguments say: several on one "held" word while a
// thread runs, or a lock word of 2, is a held lock; each on its own address,
// or on a shared condvar, is a parked pool.
TEST(TaskSyscall, ContendedFutexWaitsAreTheOnesOnAHeldLock) {
    auto futex = [](uint64_t addr, uint64_t op, uint64_t val) {
        TaskSyscall sc;
        sc.nr = syscall_number("futex");
        sc.args = {addr, op, val, 0, 0, 0};
        return sc;
    };
    ASSERT_TRUE(futex_wait_of(futex(0x1000, 128, 0)));  // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
    ASSERT_TRUE(futex_wait_of(futex(0x1000, 393, 0)));  // WAIT_BITSET | PRIVATE | CLOCK_REALTIME
    EXPECT_FALSE(futex_wait_of(futex(0x1000, 129, 1))) << "FUTEX_WAKE waits for nothing";
    TaskSyscall read_call;
    read_call.nr = syscall_number("read");
    EXPECT_FALSE(futex_wait_of(read_call));

    std::vector<FutexWait> parked = {{0x1000, 0}, {0x2000, 0}, {0x3000, 0}};
    EXPECT_EQ(contended_waits(parked, true), (std::vector<bool>{false, false, false}));
    // A lock word whose waiters expect 1 (a lock that does not count waiters).
    std::vector<FutexWait> shared = {{0x1000, 1}, {0x1000, 1}, {0x3000, 1}};
    EXPECT_EQ(contended_waits(shared, true), (std::vector<bool>{true, true, false}));
    EXPECT_EQ(contended_waits(shared, false), (std::vector<bool>{false, false, false}))
        << "nothing runs: nobody holds it";
    std::vector<FutexWait> queue = {{0x1000, 0}, {0x1000, 0}, {0x1000, 0}};
    EXPECT_EQ(contended_waits(queue, true), (std::vector<bool>{false, false, false}))
        << "idle workers on a pool's one condvar (glibc waits for its signal count to leave 0)";
    std::vector<FutexWait> lock_word = {{0x1000, 2}};
    EXPECT_EQ(contended_waits(lock_word, false), (std::vector<bool>{true}));
}

// flock() without LOCK_NB and fcntl(F_SETLKW / F_OFD_SETLKW) sleep only while
// another holds the lock; the non-blocking forms and other fcntl commands never.
TEST(TaskSyscall, FileLockWaitsAreFlockAndFcntlSetLkWait) {
    auto call = [](const char* name, uint64_t arg1) {
        TaskSyscall sc;
        sc.nr = syscall_number(name);
        sc.args = {3, arg1, 0, 0, 0, 0};
        return sc;
    };
    EXPECT_TRUE(waits_for_file_lock(call("flock", 2)));       // LOCK_EX
    EXPECT_FALSE(waits_for_file_lock(call("flock", 2 | 4)));  // LOCK_EX | LOCK_NB
    EXPECT_TRUE(waits_for_file_lock(call("fcntl", 7)));       // F_SETLKW
    EXPECT_TRUE(waits_for_file_lock(call("fcntl", 38)));      // F_OFD_SETLKW
    EXPECT_FALSE(waits_for_file_lock(call("fcntl", 6)));      // F_SETLK
    EXPECT_FALSE(waits_for_file_lock(call("read", 7)));
}

// Where a sleeping thread waits decides whose the wait is: its own work's,
// a peer's, a lock's, or a blocking call's that holds its connections up.
TEST(TaskSyscall, SleepKindsTellWaitsForWorkFromBlockingCalls) {
    auto call = [](std::string_view name, uint64_t arg1 = 0) {
        TaskSyscall sc;
        sc.nr = syscall_number(name);
        sc.args = {3, arg1, 0, 0, 0, 0};
        return sc;
    };
    auto kind = [&](std::string_view name, char state, uint64_t arg1 = 0) {
        return sleep_kind(call(name, arg1), name, state);
    };
    EXPECT_EQ(kind("epoll_wait", 'S'), SleepKind::readiness);
    EXPECT_EQ(kind("accept4", 'S'), SleepKind::work);
    EXPECT_EQ(kind("rt_sigsuspend", 'S'), SleepKind::work);
    EXPECT_EQ(kind("futex", 'S'), SleepKind::futex);
    EXPECT_EQ(kind("flock", 'S', 2), SleepKind::file_lock);
    EXPECT_EQ(kind("read", 'S'), SleepKind::peer);
    EXPECT_EQ(kind("read", 'D'), SleepKind::blocked);  // a file read waits for the disk
    EXPECT_EQ(kind("pread64", 'D'), SleepKind::blocked);
    EXPECT_EQ(kind("write", 'S'), SleepKind::blocked);  // a pipe, unless the caller knows better
    EXPECT_EQ(kind("clock_nanosleep", 'S'), SleepKind::blocked);
    EXPECT_EQ(kind("fdatasync", 'D'), SleepKind::blocked);
}

// An epoll instance's set, from its fdinfo, and whether a wait on it has a
// timeout: a worker waiting with none on a set with no socket in it can only
// be woken by another process (PostgreSQL's latch waits).
TEST(TaskSyscall, EpollWaitsTellTheirSetAndTimeout) {
    constexpr std::string_view fdinfo =
        "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n"
        "tfd:        5 events:       19 data:                5  pos:0 ino:5b2 sdev:c\n"
        "tfd:       12 events: 80000019 data:     7f3a00000000  pos:0 ino:9f31 sdev:8\n";
    EXPECT_EQ(epoll_watched_fds(fdinfo), (std::vector<int>{5, 12}));
    EXPECT_TRUE(epoll_watched_fds("pos:\t0\nflags:\t02\n").empty());

    auto call = [](std::string_view name, uint64_t timeout) {
        TaskSyscall sc;
        sc.nr = syscall_number(name);
        sc.args = {7, 0x7ffd0000, 1, timeout, 0, 8};
        return sc;
    };
    auto untimed = epoll_wait_of(call("epoll_wait", 0xffffffffffffffffULL));
    ASSERT_TRUE(untimed);
    EXPECT_EQ(untimed->epfd, 7);
    EXPECT_FALSE(untimed->timed);
    EXPECT_TRUE(epoll_wait_of(call("epoll_pwait", 5))->timed);
    EXPECT_TRUE(epoll_wait_of(call("epoll_wait", 0))->timed);     // a poll that returns at once
    EXPECT_FALSE(epoll_wait_of(call("epoll_pwait2", 0))->timed);  // NULL timespec
    EXPECT_TRUE(epoll_wait_of(call("epoll_pwait2", 0x7ffd1000))->timed);
    EXPECT_FALSE(epoll_wait_of(call("poll", 5)));
}
