// SPDX-License-Identifier: GPL-2.0-or-later
// A process's context switches from taskstats: the answer's parser on built
// buffers, and the reader against this very process.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>

#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "c10k/sources/taskstats.hpp"

using namespace c10k;

namespace {

void put_attr(std::vector<uint8_t>& out, uint16_t type, const void* data, size_t len) {
    nlattr a{};
    a.nla_type = type;
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
    size_t at = out.size();
    out.resize(at + NLA_ALIGN(a.nla_len));
    std::memcpy(out.data() + at, &a, sizeof a);
    std::memcpy(out.data() + at + NLA_HDRLEN, data, len);
}

// What the kernel sends for TASKSTATS_CMD_GET with a TGID: a nest holding the
// TGID and the summed struct, cut to `stats_len` bytes.
std::vector<uint8_t> answer(uint64_t nvcsw, uint64_t nivcsw, size_t stats_len = sizeof(taskstats)) {
    taskstats ts{};
    ts.version = TASKSTATS_VERSION;
    ts.nvcsw = nvcsw;
    ts.nivcsw = nivcsw;
    std::vector<uint8_t> nest;
    uint32_t tgid = 42;
    put_attr(nest, TASKSTATS_TYPE_TGID, &tgid, sizeof tgid);
    put_attr(nest, TASKSTATS_TYPE_STATS, &ts, stats_len);
    std::vector<uint8_t> out;
    put_attr(out, TASKSTATS_TYPE_AGGR_TGID, nest.data(), nest.size());
    return out;
}

}  // namespace

TEST(Taskstats, ReadsTheSwitchesOfTheGroup) {
    auto a = answer(1234, 56);
    auto g = parse_taskstats_tgid(a);
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->voluntary, 1234u);
    EXPECT_EQ(g->involuntary, 56u);
}

TEST(Taskstats, AnOlderShorterStructStillHoldingTheSwitchesIsRead) {
    size_t upto = offsetof(taskstats, nivcsw) + sizeof(uint64_t);
    auto g = parse_taskstats_tgid(answer(9, 8, upto));
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->voluntary, 9u);
    EXPECT_EQ(g->involuntary, 8u);
}

TEST(Taskstats, MalformedAnswersAreRefusedWithWhatIsWrong) {
    auto cut = parse_taskstats_tgid(answer(1, 1, offsetof(taskstats, nvcsw)));
    ASSERT_FALSE(cut);
    EXPECT_NE(cut.error().message().find("end before the context switches"), std::string::npos)
        << cut.error().message();

    std::vector<uint8_t> none;
    uint32_t pid = 7;
    put_attr(none, TASKSTATS_TYPE_PID, &pid, sizeof pid);
    auto missing = parse_taskstats_tgid(none);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("no thread-group statistics"), std::string::npos);

    auto a = answer(1, 1);
    a.resize(a.size() - 16);  // the nest says more than the buffer holds
    auto past = parse_taskstats_tgid(a);
    ASSERT_FALSE(past);
    EXPECT_NE(past.error().message().find("runs past"), std::string::npos)
        << past.error().message();

    EXPECT_FALSE(parse_taskstats_tgid({}));
}

// The kernel's count against what this process does: a thread that sleeps n
// times gives the CPU up at least n times, each a voluntary switch.
TEST(Taskstats, CountsTheVoluntarySwitchesOfSleepingThreads) {
    auto r = TaskstatsReader::open();
    if (!r) GTEST_SKIP() << "taskstats unavailable here: " << r.error().message();
    auto before = r->read(::getpid());
    if (!before && before.error().code == EPERM)
        GTEST_SKIP() << "taskstats needs CAP_NET_ADMIN: " << before.error().message();
    ASSERT_TRUE(before) << before.error().message();
    constexpr int kSleeps = 50;
    std::atomic<bool> done{false};
    std::thread sleeper([&] {
        for (int i = 0; i < kSleeps; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        done = true;
        // Alive when read: taskstats sums live threads only.
        while (done.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    while (!done.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto after = r->read(::getpid());
    done = false;
    sleeper.join();
    ASSERT_TRUE(after) << after.error().message();
    EXPECT_GE(after->voluntary - before->voluntary, static_cast<uint64_t>(kSleeps));

    auto gone = r->read(0x3fffffff);  // above any pid_max
    ASSERT_FALSE(gone);
    EXPECT_NE(gone.error().code, 0) << gone.error().message();
}
