// SPDX-License-Identifier: GPL-2.0-or-later
// The BTF reader that gives the BPF programs their kernel offsets: on blobs
// built here (each shape the kernel's structs use: anonymous unions, bit-fields,
// typedefs), on malformed ones, and on this machine's own kernel BTF against
// layout facts that hold on every kernel.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "c10k/probe/kernel_layout.hpp"

#ifdef C10K_HAVE_BPF
#include <bpf/btf.h>

#include "probe_shared.h"
// clang-format off
#include "probe.skel.h"
// clang-format on
#endif

using namespace c10k;

namespace {

// Writes a BTF blob: types are added in order (ids from 1), members name types by id.
class BtfBuilder {
  public:
    struct Member {
        std::string name;  // empty: anonymous
        uint32_t type;
        uint32_t bit_offset;
        uint32_t bitfield_size = 0;
    };

    uint32_t add_int(const std::string& name, uint32_t bytes) {
        record(name, kind(1), bytes);
        u32(bytes * 8);  // encoding, offset, bits
        return ++count_;
    }
    uint32_t add_struct(const std::string& name, uint32_t bytes, const std::vector<Member>& ms,
                        bool union_ = false) {
        bool flag = false;
        for (const auto& m : ms)
            flag = flag || m.bitfield_size != 0;
        record(name, kind(union_ ? 5 : 4, static_cast<uint32_t>(ms.size()), flag), bytes);
        for (const auto& m : ms) {
            u32(str(m.name));
            u32(m.type);
            u32(flag ? (m.bitfield_size << 24) | m.bit_offset : m.bit_offset);
        }
        return ++count_;
    }
    uint32_t add_typedef(const std::string& name, uint32_t type) {
        record(name, kind(8), type);
        return ++count_;
    }
    uint32_t add_raw(uint32_t info) {  // a record of any kind, with nothing after it
        record("", info, 0);
        return ++count_;
    }

    std::vector<uint8_t> blob() const {
        uint32_t header[6] = {0,
                              24,
                              0,
                              static_cast<uint32_t>(types_.size()),
                              static_cast<uint32_t>(types_.size()),
                              static_cast<uint32_t>(strings_.size())};
        header[0] = 0xeb9f | (1u << 16);  // magic, then version 1, flags 0 (little-endian)
        std::vector<uint8_t> out(sizeof header + types_.size() + strings_.size());
        std::memcpy(out.data(), header, sizeof header);
        std::memcpy(out.data() + sizeof header, types_.data(), types_.size());
        std::memcpy(out.data() + sizeof header + types_.size(), strings_.data(), strings_.size());
        return out;
    }

  private:
    static uint32_t kind(uint32_t k, uint32_t vlen = 0, bool flag = false) {
        return (flag ? 1u << 31 : 0) | (k << 24) | vlen;
    }
    uint32_t str(const std::string& s) {
        if (s.empty()) return 0;
        auto at = static_cast<uint32_t>(strings_.size());
        strings_.insert(strings_.end(), s.begin(), s.end());
        strings_.push_back('\0');
        return at;
    }
    void record(const std::string& name, uint32_t info, uint32_t size_or_type) {
        u32(str(name));
        u32(info);
        u32(size_or_type);
    }
    void u32(uint32_t v) {
        auto* p = reinterpret_cast<const uint8_t*>(&v);
        types_.insert(types_.end(), p, p + 4);
    }

    std::vector<uint8_t> types_;
    std::vector<char> strings_ = {'\0'};
    uint32_t count_ = 0;
};

// The shapes of the kernel's own: sock_common's ports sit in an anonymous
// struct inside an anonymous union; task_struct has bit-fields and typedefs.
BtfBuilder kernel_like() {
    BtfBuilder b;
    uint32_t u16 = b.add_int("u16", 2), u32 = b.add_int("u32", 4), u64 = b.add_int("u64", 8);
    uint32_t pid_t_ = b.add_typedef("pid_t", u32);
    uint32_t ports = b.add_struct("", 4, {{"skc_dport", u16, 0}, {"skc_num", u16, 16}});
    uint32_t portpair = b.add_struct("", 4, {{"skc_portpair", u32, 0}, {"", ports, 0}}, true);
    uint32_t common = b.add_struct("sock_common", 16, {{"skc_hash", u32, 0}, {"", portpair, 96}});
    uint32_t sock = b.add_struct("sock", 32, {{"__sk_common", common, 0}, {"sk_x", u64, 128}});
    uint32_t inet = b.add_struct("inet_sock", 48, {{"sk", sock, 0}, {"inet_sport", u16, 320}});
    b.add_struct(
        "tcp_sock", 72,
        {{"inet", inet, 0}, {"rcv_nxt", u32, 416}, {"rcv_wnd", u32, 448}, {"rcv_wup", u32, 544}});
    b.add_struct("sk_buff", 24, {{"next", u64, 0}, {"len", u32, 64}, {"data", u64, 128}});
    uint32_t sched_info =
        b.add_struct("sched_info", 16, {{"pcount", u64, 0}, {"run_delay", u64, 64}});
    b.add_struct("task_struct", 64,
                 {{"flag_a", u32, 0, 1},
                  {"__state", u32, 32},
                  {"exit_state", u32, 64},
                  {"pid", pid_t_, 96},
                  {"tgid", pid_t_, 128},
                  {"sched_info", sched_info, 192}});
    b.add_struct(
        "pt_regs", 168,
        {{"si", u64, 13 * 64}, {"di", u64, 14 * 64}, {"orig_x0", u64, 0}, {"regs", u64, 64}});
    return b;
}

}  // namespace

TEST(KernelLayout, FindsMembersThroughAnonymousUnionsAndNamedPaths) {
    auto blob = kernel_like().blob();
    auto btf = BtfTypes::parse(blob);
    ASSERT_TRUE(btf) << btf.error().message();
    auto sock = btf->find_struct("sock");
    ASSERT_TRUE(sock);
    EXPECT_EQ(btf->member_offset(*sock, "__sk_common.skc_dport"), 12u);
    EXPECT_EQ(btf->member_offset(*sock, "__sk_common.skc_num"), 14u);
    EXPECT_EQ(btf->member_offset(*sock, "__sk_common.skc_portpair"), 12u);
    EXPECT_EQ(btf->member_offset(*sock, "sk_x"), 16u);
    EXPECT_FALSE(btf->member_offset(*sock, "__sk_common.nope"));
    EXPECT_FALSE(btf->member_offset(*sock, "sk_x.deeper"));  // not a struct
    auto task = btf->find_struct("task_struct");
    ASSERT_TRUE(task);
    EXPECT_EQ(btf->member_offset(*task, "tgid"), 16u);    // through the pid_t typedef
    EXPECT_FALSE(btf->member_offset(*task, "flag_a"));    // a bit-field has no byte offset
    EXPECT_EQ(btf->member_offset(*task, "__state"), 4u);  // kind_flag offsets decoded
    EXPECT_FALSE(btf->find_struct("no_such_struct"));
}

TEST(KernelLayout, GivesEveryOffsetTheProgramsRead) {
    auto blob = kernel_like().blob();
    auto btf = BtfTypes::parse(blob);
    ASSERT_TRUE(btf);
    auto k = kernel_offsets(*btf);
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(k->task_tgid, 16u);
    EXPECT_EQ(k->task_pid, 12u);
    EXPECT_EQ(k->task_state, 4u);
    EXPECT_EQ(k->task_exit_state, 8u);
    EXPECT_EQ(k->task_run_delay, 32u);  // sched_info at 24, run_delay 8 into it
    EXPECT_EQ(k->sk_num, 14u);
    EXPECT_EQ(k->sk_dport, 12u);
    EXPECT_EQ(k->inet_sport, 40u);
    EXPECT_EQ(k->tcp_rcv_wnd, 56u);
    EXPECT_EQ(k->tcp_rcv_nxt, 52u);
    EXPECT_EQ(k->tcp_rcv_wup, 68u);
    EXPECT_EQ(k->skb_len, 8u);
    EXPECT_EQ(k->skb_data, 16u);
#if defined(__x86_64__)
    EXPECT_EQ(k->regs_arg1, 112u);
    EXPECT_EQ(k->regs_arg2, 104u);
#endif
}

TEST(KernelLayout, FallsBackToTheOldNameOfTaskState) {
    // A kernel before 5.14: `long state`, no `__state`.
    BtfBuilder old;
    uint32_t u32 = old.add_int("u32", 4), l = old.add_int("long", 8), u16 = old.add_int("u16", 2);
    old.add_struct(
        "task_struct", 64,
        {{"state", l, 0}, {"exit_state", u32, 64}, {"pid", u32, 96}, {"tgid", u32, 128}});
    uint32_t ports = old.add_struct("", 4, {{"skc_dport", u16, 0}, {"skc_num", u16, 16}});
    uint32_t common = old.add_struct("sock_common", 16, {{"", ports, 96}});
    uint32_t sock = old.add_struct("sock", 32, {{"__sk_common", common, 0}});
    uint32_t inet = old.add_struct("inet_sock", 48, {{"sk", sock, 0}, {"inet_sport", u16, 320}});
    old.add_struct("tcp_sock", 64, {{"inet", inet, 0}, {"rcv_wnd", u32, 448}});
    old.add_struct("pt_regs", 168,
                   {{"si", l, 13 * 64}, {"di", l, 14 * 64}, {"orig_x0", l, 0}, {"regs", l, 64}});
    auto blob = old.blob();
    auto btf = BtfTypes::parse(blob);
    ASSERT_TRUE(btf);
    auto k = kernel_offsets(*btf);
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(k->task_state, 0u);
    // No sched_info (a kernel without CONFIG_SCHED_INFO): everything else is
    // found, and the run-queue wait is left unmeasured.
    EXPECT_EQ(k->task_run_delay, 0u);
    // No sk_buff: no segment is seen closing the window; nothing else is lost.
    EXPECT_EQ(k->skb_len, 0u);
    EXPECT_EQ(k->tcp_rcv_nxt, 0u);
    EXPECT_NE(k->tcp_rcv_wnd, 0u);
}

TEST(KernelLayout, NamesEveryFieldTheKernelLacks) {
    BtfBuilder b;
    uint32_t u32 = b.add_int("u32", 4);
    b.add_struct("task_struct", 8, {{"pid", u32, 0}, {"__state", u32, 32}});
    auto blob = b.blob();
    auto btf = BtfTypes::parse(blob);
    ASSERT_TRUE(btf);
    auto k = kernel_offsets(*btf);
    ASSERT_FALSE(k);
    EXPECT_NE(k.error().message().find("task_struct.tgid"), std::string::npos)
        << k.error().message();
    EXPECT_NE(k.error().message().find("sock.__sk_common.skc_num"), std::string::npos);
    EXPECT_EQ(k.error().message().find("task_struct.pid"), std::string::npos);
}

TEST(KernelLayout, RefusesMalformedBlobsWithWhatIsWrong) {
    auto good = kernel_like().blob();
    EXPECT_FALSE(BtfTypes::parse(std::span<const uint8_t>(good.data(), 10)));

    auto bad_magic = good;
    bad_magic[0] = 0;
    auto m = BtfTypes::parse(bad_magic);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message().find("magic"), std::string::npos);

    // The string section said to run past the end of the blob.
    auto past = good;
    uint32_t huge = 1u << 30;
    std::memcpy(past.data() + 20, &huge, 4);
    auto p = BtfTypes::parse(past);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find("past the end"), std::string::npos);

    // A kind this reader does not know: its record's size cannot be known.
    BtfBuilder b;
    b.add_int("u32", 4);
    b.add_raw(30u << 24);
    auto unknown = b.blob();
    auto u = BtfTypes::parse(unknown);
    ASSERT_FALSE(u);
    EXPECT_NE(u.error().message().find("type 2 is of kind 30"), std::string::npos)
        << u.error().message();

    // A struct whose members run past the type section.
    BtfBuilder c;
    c.add_raw((4u << 24) | 5);  // a struct of 5 members, none written
    auto cut = c.blob();
    auto t = BtfTypes::parse(cut);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message().find("type 1 is cut off"), std::string::npos);
}

// This machine's kernel: facts of the layout that hold on every kernel, so the
// reader is checked without another implementation to trust.
TEST(KernelLayout, ReadsThisKernelsOffsets) {
    const char* path = "/sys/kernel/btf/vmlinux";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "this kernel has no BTF at " << path;
    auto k = read_kernel_offsets(path);
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(k->task_tgid, k->task_pid + 4);  // pid_t pid; pid_t tgid;
    EXPECT_EQ(k->sk_num, k->sk_dport + 2);     // the two halves of skc_portpair
    EXPECT_GT(k->inet_sport, k->sk_num);       // inet_sock begins with its sock
    EXPECT_GT(k->tcp_rcv_wnd, k->inet_sport);  // tcp_sock begins with its inet_sock
#if defined(__x86_64__)
    EXPECT_EQ(k->regs_arg1, 112u);  // struct pt_regs is the entry code's frame layout
    EXPECT_EQ(k->regs_arg2, 104u);
#endif
#ifdef C10K_HAVE_BPF
    // And the direct members, against libbpf's own reading of the same BTF.
    btf* kernel = btf__parse(path, nullptr);
    ASSERT_NE(kernel, nullptr);
    auto direct = [&](const char* type, const char* member) -> long {
        int id = btf__find_by_name_kind(kernel, type, BTF_KIND_STRUCT);
        if (id < 0) return -1;
        const btf_type* t = btf__type_by_id(kernel, id);
        const btf_member* m = btf_members(t);
        for (int i = 0; i < btf_vlen(t); ++i, ++m)
            if (std::strcmp(btf__name_by_offset(kernel, m->name_off), member) == 0)
                return btf_member_bit_offset(t, i) / 8;
        return -1;
    };
    EXPECT_EQ(k->task_tgid, direct("task_struct", "tgid"));
    EXPECT_EQ(k->task_exit_state, direct("task_struct", "exit_state"));
    EXPECT_EQ(k->inet_sport, direct("inet_sock", "inet_sport"));
    EXPECT_EQ(k->tcp_rcv_wnd, direct("tcp_sock", "rcv_wnd"));
    btf__free(kernel);
#endif
}

// Before Linux 6.16 the vmlinux BTF cannot be mapped: the reader reads it. A
// FIFO cannot be mapped either (and has no size), so it takes the same path.
TEST(KernelLayout, ReadsTheBtfWhereItCannotBeMapped) {
    const char* path = "/sys/kernel/btf/vmlinux";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "this kernel has no BTF at " << path;
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 1u << 20);  // more than the first read buffer
    std::string dir = ::testing::TempDir() + "c10k-btf-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    std::string fifo = dir + "/vmlinux";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] {
        int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return;
        for (size_t off = 0; off < bytes.size();) {
            ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
        ::close(fd);
    });
    auto from_fifo = read_kernel_offsets(fifo);
    writer.join();
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(from_fifo) << from_fifo.error().message();
    auto mapped = read_kernel_offsets(path);
    ASSERT_TRUE(mapped);
    EXPECT_EQ(from_fifo->task_tgid, mapped->task_tgid);
    EXPECT_EQ(from_fifo->sk_num, mapped->sk_num);
    EXPECT_EQ(from_fifo->tcp_rcv_wnd, mapped->tcp_rcv_wnd);
}

TEST(KernelLayout, SaysWhichFileItCouldNotOpen) {
    auto k = read_kernel_offsets("/nonexistent/vmlinux");
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, ENOENT);
    EXPECT_NE(k.error().message().find("/nonexistent/vmlinux"), std::string::npos);
}

#ifdef C10K_HAVE_BPF
// The object must need no CO-RE relocation: with one, libbpf would parse the
// whole vmlinux BTF again at every start (what this reader replaced).
TEST(KernelLayout, TheBpfObjectHasNoCoreRelocations) {
    size_t size = 0;
    const auto* elf = static_cast<const uint8_t*>(c10k_probe::elf_bytes(&size));
    ASSERT_GE(size, sizeof(Elf64_Ehdr));
    Elf64_Ehdr eh;
    std::memcpy(&eh, elf, sizeof eh);
    ASSERT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
    auto section = [&](int i) {
        Elf64_Shdr sh;
        std::memcpy(&sh, elf + eh.e_shoff + static_cast<size_t>(i) * eh.e_shentsize, sizeof sh);
        return sh;
    };
    Elf64_Shdr names = section(eh.e_shstrndx);
    bool found = false;
    for (int i = 0; i < eh.e_shnum; ++i) {
        Elf64_Shdr sh = section(i);
        const char* name = reinterpret_cast<const char*>(elf + names.sh_offset + sh.sh_name);
        if (std::strcmp(name, ".BTF.ext") != 0) continue;
        found = true;
        // struct btf_ext_header: magic, version, flags, hdr_len, then offset and
        // length of func_info, line_info and (when hdr_len reaches it) core_relo.
        uint32_t hdr_len, core_relo_len = 0;
        std::memcpy(&hdr_len, elf + sh.sh_offset + 4, 4);
        if (hdr_len >= 32) std::memcpy(&core_relo_len, elf + sh.sh_offset + 28, 4);
        EXPECT_EQ(core_relo_len, 0u) << "bpf/probe.bpf.c reads a kernel field through CO-RE";
    }
    EXPECT_TRUE(found) << "no .BTF.ext in the object";
}
#endif
