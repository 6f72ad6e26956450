// SPDX-License-Identifier: GPL-2.0-or-later
// Sampling mode's on-CPU profile: naming the syscall a kernel sample ran in
// from kallsyms, decoding perf's sample records, and what a sample adds.
#include <gtest/gtest.h>

#include <linux/perf_event.h>

#include <cstring>

#include "c10k/probe/cpu_profile.hpp"
#include "c10k/probe/kernel_symbols.hpp"

using namespace c10k;

namespace {

// The shape of /proc/kallsyms: code (t/T), data (d/D/b), a module's symbol.
constexpr std::string_view kKallsyms =
    "ffffffff81000000 T _stext\n"
    "ffffffff81000100 T entry_SYSCALL_64_after_hwframe\n"
    "ffffffff81000200 T do_syscall_64\n"
    "ffffffff81000300 T pvm_irq_enable\n"
    "ffffffff816dc920 T ksys_read\n"
    "ffffffff816dca20 T __x64_sys_read\n"
    "ffffffff817001f0 t do_select\n"
    "ffffffff81700200 T __x64_sys_select\n"
    "ffffffff81700280 T __x64_sys_pselect6\n"
    "ffffffff81700300 t do_sys_poll\n"
    "ffffffff817003d0 T __x64_sys_poll\n"
    "ffffffff817003d0 T __SCT__x64_sys_poll_alias\n"
    "ffffffff81700400 d poll_data\n"
    "ffffffff81700500 T __x64_sys_ppoll\n"
    "ffffffff81700600 T tcp_poll\n"
    "ffffffff81700700 T do_not_a_call\n"
    "ffffffffc0001000 t my_mod_fn\t[my_mod]\n";

bool known_call(std::string_view n) {
    return n == "read" || n == "select" || n == "pselect6" || n == "poll" || n == "ppoll";
}

// Frames by name, for readable chains.
constexpr uint64_t kEntry = 0xffffffff81000110, kDispatch = 0xffffffff81000220,
                   kIrqEnable = 0xffffffff81000310, kKsysRead = 0xffffffff816dc930,
                   kDoSelect = 0xffffffff817001f8, kSelect = 0xffffffff81700210,
                   kDoSysPoll = 0xffffffff81700310, kPoll = 0xffffffff817003f0,
                   kPpoll = 0xffffffff81700510, kTcpPoll = 0xffffffff81700610,
                   kNotACall = 0xffffffff81700710;

std::vector<uint8_t> sample_record(uint32_t pid, uint32_t tid, std::vector<uint64_t> chain,
                                   std::optional<std::pair<uint64_t, uint64_t>> si_di) {
    std::vector<uint8_t> b;
    auto put = [&](auto v) {
        auto at = b.size();
        b.resize(at + sizeof v);
        std::memcpy(b.data() + at, &v, sizeof v);
    };
    put(uint64_t{0xffffffff81700600});  // ip
    put(pid);
    put(tid);
    put(static_cast<uint64_t>(chain.size() + 1));
    put(static_cast<uint64_t>(PERF_CONTEXT_KERNEL));
    for (auto a : chain)
        put(a);
    put(uint64_t{si_di ? PERF_SAMPLE_REGS_ABI_64 : PERF_SAMPLE_REGS_ABI_NONE});
    if (si_di) {
        put(si_di->first);
        put(si_di->second);
    }
    return b;
}

}  // namespace

TEST(KernelSymbols, TheFrameTheDispatcherCalledNamesTheSyscall) {
    auto k = KernelSymbols::parse(kKallsyms, &known_call);
    using V = std::vector<uint64_t>;
    auto place = [&](V chain) { return k.place_of(chain); };
    // tcp_poll <- do_sys_poll <- __x64_sys_poll <- do_syscall_64 <- entry
    EXPECT_EQ(place(V{kTcpPoll, kDoSysPoll, kPoll, kDispatch, kEntry}).syscall, "poll");
    // ppoll calls do_sys_poll too: the frame under the dispatcher decides.
    EXPECT_EQ(place(V{kDoSysPoll, kPpoll, kDispatch, kEntry}).syscall, "ppoll");
    // __x64_sys_read tail-calls ksys_read: the wrapper leaves no frame.
    EXPECT_EQ(place(V{kKsysRead, kDispatch, kEntry}).syscall, "read");
    EXPECT_EQ(place(V{kDoSelect, kSelect, kDispatch, kEntry}).syscall, "select");
    // In the dispatcher itself (irqs enabled on the way in): a syscall, unnamed.
    auto entering = place(V{kIrqEnable, kDispatch, kEntry});
    EXPECT_TRUE(entering.in_syscall);
    EXPECT_EQ(entering.syscall, "");
    // "do_" + a name that is no syscall names nothing.
    EXPECT_EQ(place(V{kNotACall, kDispatch, kEntry}).syscall, "");
    // No dispatcher: an interrupt or a fault outside any syscall.
    EXPECT_FALSE(place(V{kTcpPoll, kIrqEnable}).in_syscall);
    EXPECT_FALSE(place(V{}).in_syscall);
    EXPECT_FALSE(place(V{0xffffffff80000000}).in_syscall) << "below every symbol";
    EXPECT_EQ(k.size(), 16u) << "code symbols only";
}

TEST(KernelSymbols, HiddenAddressesGiveAnEmptyTable) {
    // kernel.kptr_restrict without CAP_SYSLOG: every address reads 0.
    auto k = KernelSymbols::parse(
        "0000000000000000 T __x64_sys_poll\n0000000000000000 T do_syscall_64\nnot a line\n");
    EXPECT_EQ(k.size(), 0u);
    std::vector<uint64_t> chain{0x10, 0x20};
    EXPECT_FALSE(k.place_of(chain).in_syscall);
}

TEST(CpuProfile, CpuListsOfSysfs) {
    EXPECT_EQ(parse_cpu_list("0-3,5\n"), (std::vector<int>{0, 1, 2, 3, 5}));
    EXPECT_EQ(parse_cpu_list("0"), (std::vector<int>{0}));
    EXPECT_TRUE(parse_cpu_list("3-1").empty());
    EXPECT_TRUE(parse_cpu_list("a-b").empty());
    EXPECT_TRUE(parse_cpu_list("").empty());
}

TEST(CpuProfile, DecodesASampleRecord) {
    std::vector<uint64_t> scratch;
    auto rec = sample_record(42, 43, {0xffffffff81700310, 0xffffffff817003e0}, {{10021, 7}});
    auto s = decode_cpu_sample(rec, PERF_RECORD_MISC_KERNEL, scratch);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->pid, 42u);
    EXPECT_EQ(s->tid, 43u);
    EXPECT_FALSE(s->user);
    ASSERT_EQ(s->chain.size(), 2u) << "the PERF_CONTEXT_KERNEL marker is not a frame";
    EXPECT_EQ(s->chain[1], 0xffffffff817003e0u);
    EXPECT_EQ(s->arg1, 10021u);  // rsi
    EXPECT_EQ(s->arg0, 7u);      // rdi
    // A kernel thread has no user registers; a record cut short is refused.
    auto kthread = sample_record(2, 2, {}, std::nullopt);
    auto k = decode_cpu_sample(kthread, PERF_RECORD_MISC_KERNEL, scratch);
    ASSERT_TRUE(k);
    EXPECT_FALSE(k->arg1);
    rec.resize(rec.size() - 12);
    EXPECT_FALSE(decode_cpu_sample(rec, PERF_RECORD_MISC_KERNEL, scratch));
    auto lying = sample_record(1, 1, {}, std::nullopt);
    uint64_t huge = 1ull << 40;
    std::memcpy(lying.data() + 16, &huge, sizeof huge);  // nr far past the record
    EXPECT_FALSE(decode_cpu_sample(lying, PERF_RECORD_MISC_KERNEL, scratch));
}

TEST(CpuProfile, EachSampleLandsInUserSpaceOrTheSyscallItRanIn) {
    auto k = KernelSymbols::parse(kKallsyms, &known_call);
    OnCpuProfile p;
    std::vector<uint64_t> chain;
    auto add = [&](std::vector<uint64_t> frames, bool user, std::optional<uint64_t> si,
                   std::optional<uint64_t> di) {
        chain = std::move(frames);
        CpuSample s;
        s.user = user;
        s.chain = chain;
        s.arg1 = si;
        s.arg0 = di;
        add_cpu_sample(p, s, k);
    };
    // poll(fds, 10021, ...): the count is the second argument
    add({kTcpPoll, kDoSysPoll, kPoll, kDispatch, kEntry}, false, 10021, 0x7ff0);
    // select(1025, ...): the first
    add({kDoSelect, kSelect, kDispatch, kEntry}, false, 0x7ff0, 1025);
    add({}, true, std::nullopt, std::nullopt);                           // user space
    add({kTcpPoll, kIrqEnable}, false, std::nullopt, std::nullopt);      // no syscall
    add({kIrqEnable, kDispatch, kEntry}, false, 3, 4);                   // entering one
    add({kDoSysPoll, kPpoll, kDispatch, kEntry}, false, 1ull << 40, 3);  // garbage count
    add({kKsysRead, kDispatch, kEntry}, false, 4096, 7);
    EXPECT_EQ(p.samples, 7u);
    EXPECT_EQ(p.user, 1u);
    EXPECT_EQ(p.kernel, 6u);
    EXPECT_EQ(p.in("poll"), 1u);
    EXPECT_EQ(p.in("select"), 1u);
    EXPECT_EQ(p.in("ppoll"), 1u);
    EXPECT_EQ(p.in("read"), 1u);
    EXPECT_EQ(p.in_unnamed_syscall, 1u);
    EXPECT_EQ(p.fd_scan_samples, 2u) << "read is no scan; a count past poll()'s limit is not one";
    EXPECT_EQ(p.fd_scan_nfds_sum, 10021u + 1025u);
    EXPECT_EQ(p.fd_scan_nfds_max, 10021u);
    EXPECT_DOUBLE_EQ(p.share(p.user), 1.0 / 7);
}
