// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/kernel_layout.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "c10k/unique_fd.hpp"

namespace c10k {

namespace {

// BTF kinds (include/uapi/linux/btf.h); their records' sizes are all this
// reader needs of most of them.
enum : uint32_t {
    kInt = 1,
    kPtr = 2,
    kArray = 3,
    kStruct = 4,
    kUnion = 5,
    kEnum = 6,
    kFwd = 7,
    kTypedef = 8,
    kVolatile = 9,
    kConst = 10,
    kRestrict = 11,
    kFunc = 12,
    kFuncProto = 13,
    kVar = 14,
    kDatasec = 15,
    kFloat = 16,
    kDeclTag = 17,
    kTypeTag = 18,
    kEnum64 = 19,
};

constexpr uint16_t kMagic = 0xeb9f;
constexpr size_t kHeaderMin = 24;   // magic..str_len: the fields every version has
constexpr size_t kTypeRecord = 12;  // name_off, info, size/type

uint32_t kind_of(uint32_t info) {
    return (info >> 24) & 0x1f;
}
uint32_t vlen_of(uint32_t info) {
    return info & 0xffff;
}
bool kind_flag(uint32_t info) {
    return (info >> 31) != 0;
}

// Bytes that follow a record's 12, by kind; nullopt for a kind not known here.
std::optional<size_t> trailing_bytes(uint32_t kind, uint32_t vlen) {
    switch (kind) {
        case kInt:
        case kVar:
        case kDeclTag:
            return 4;
        case kArray:
            return 12;
        case kStruct:
        case kUnion:
        case kDatasec:
        case kEnum64:
            return 12 * size_t{vlen};
        case kEnum:
        case kFuncProto:
            return 8 * size_t{vlen};
        case kPtr:
        case kFwd:
        case kTypedef:
        case kVolatile:
        case kConst:
        case kRestrict:
        case kFunc:
        case kFloat:
        case kTypeTag:
            return 0;
        default:
            return std::nullopt;
    }
}

uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

Result<BtfTypes> BtfTypes::parse(std::span<const uint8_t> blob) {
    if (blob.size() < kHeaderMin) return make_error("BTF: shorter than its header");
    uint16_t magic;
    std::memcpy(&magic, blob.data(), sizeof magic);
    if (magic != kMagic)
        return make_error(magic == 0x9feb ? "BTF: of the other byte order" : "BTF: bad magic");
    uint32_t hdr_len = load_u32(blob.data() + 4);
    uint32_t type_off = load_u32(blob.data() + 8), type_len = load_u32(blob.data() + 12);
    uint32_t str_off = load_u32(blob.data() + 16), str_len = load_u32(blob.data() + 20);
    auto inside = [&](uint64_t off, uint64_t len) {
        return hdr_len >= kHeaderMin && uint64_t{hdr_len} + off + len <= blob.size();
    };
    if (!inside(type_off, type_len) || !inside(str_off, str_len))
        return make_error("BTF: a section runs past the end");
    BtfTypes t;
    t.types_ = blob.subspan(hdr_len + type_off, type_len);
    t.strings_ =
        std::string_view(reinterpret_cast<const char*>(blob.data()) + hdr_len + str_off, str_len);
    for (size_t at = 0; at < t.types_.size();) {
        if (t.types_.size() - at < kTypeRecord)
            return make_error("BTF: type " + std::to_string(t.starts_.size() + 1) + " is cut off");
        uint32_t info = t.u32_at(at + 4);
        auto extra = trailing_bytes(kind_of(info), vlen_of(info));
        if (!extra)
            return make_error("BTF: type " + std::to_string(t.starts_.size() + 1) + " is of kind " +
                              std::to_string(kind_of(info)) + ", unknown to this reader");
        if (t.types_.size() - at - kTypeRecord < *extra)
            return make_error("BTF: type " + std::to_string(t.starts_.size() + 1) + " is cut off");
        t.starts_.push_back(static_cast<uint32_t>(at));
        at += kTypeRecord + *extra;
    }
    return t;
}

uint32_t BtfTypes::u32_at(size_t at) const {
    return load_u32(types_.data() + at);
}

std::string_view BtfTypes::name_at(uint32_t off) const {
    if (off >= strings_.size()) return {};
    auto rest = strings_.substr(off);
    return rest.substr(0, rest.find('\0'));
}

std::optional<uint32_t> BtfTypes::find_struct(std::string_view name) const {
    for (size_t i = 0; i < starts_.size(); ++i) {
        uint32_t info = u32_at(starts_[i] + 4);
        uint32_t kind = kind_of(info);
        if ((kind == kStruct || kind == kUnion) && vlen_of(info) > 0 &&
            name_at(u32_at(starts_[i])) == name)
            return static_cast<uint32_t>(i + 1);
    }
    return std::nullopt;
}

uint32_t BtfTypes::skip_modifiers(uint32_t id) const {
    // Bounded: a malformed blob could make the chain a loop.
    for (int hops = 0; hops < 32 && id >= 1 && id <= starts_.size(); ++hops) {
        uint32_t kind = kind_of(u32_at(starts_[id - 1] + 4));
        if (kind != kTypedef && kind != kVolatile && kind != kConst && kind != kRestrict &&
            kind != kTypeTag)
            return id;
        id = u32_at(starts_[id - 1] + 8);
    }
    return id;
}

std::optional<BtfTypes::Member> BtfTypes::find_member(uint32_t id, std::string_view name) const {
    // Anonymous members nest a few levels in practice; the bound stops a loop.
    struct Walk {
        const BtfTypes& b;
        std::string_view name;
        std::optional<Member> in(uint32_t id, int depth) const {
            if (depth > 8 || id < 1 || id > b.starts_.size()) return std::nullopt;
            size_t at = b.starts_[id - 1];
            uint32_t info = b.u32_at(at + 4);
            if (kind_of(info) != kStruct && kind_of(info) != kUnion) return std::nullopt;
            for (uint32_t i = 0; i < vlen_of(info); ++i) {
                size_t m = at + kTypeRecord + 12 * size_t{i};
                uint32_t name_off = b.u32_at(m), type = b.u32_at(m + 4), off = b.u32_at(m + 8);
                // With the kind flag, the offset's top byte is a bit-field's width.
                uint32_t bits = kind_flag(info) ? off & 0xffffff : off;
                bool bitfield = kind_flag(info) && (off >> 24) != 0;
                if (name_off != 0) {
                    if (b.name_at(name_off) == name) return Member{type, bits, bitfield};
                    continue;
                }
                if (auto inner = in(b.skip_modifiers(type), depth + 1))
                    return Member{inner->type, bits + inner->bit_offset, inner->bitfield};
            }
            return std::nullopt;
        }
    };
    return Walk{*this, name}.in(id, 0);
}

std::optional<uint32_t> BtfTypes::member_offset(uint32_t id, std::string_view path) const {
    uint64_t bits = 0;
    while (!path.empty()) {
        auto dot = path.find('.');
        auto m = find_member(id, path.substr(0, dot));
        if (!m || m->bitfield) return std::nullopt;
        bits += m->bit_offset;
        id = skip_modifiers(m->type);
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    }
    if (bits % 8 != 0) return std::nullopt;
    return static_cast<uint32_t>(bits / 8);
}

Result<KernelOffsets> kernel_offsets(const BtfTypes& btf) {
    KernelOffsets k;
    std::string missing;
    // Each struct is found once: a lookup is a pass over every type record.
    struct Struct {
        const char* name;
        std::optional<uint32_t> id;
    };
    auto in = [&](const char* name) { return Struct{name, btf.find_struct(name)}; };
    auto need = [&](const Struct& type, std::initializer_list<const char*> paths, uint32_t& out) {
        for (const char* path : paths) {
            if (!type.id) break;
            if (auto o = btf.member_offset(*type.id, path)) {
                out = *o;
                return;
            }
        }
        missing += (missing.empty() ? "" : ", ") + std::string(type.name) + "." + *paths.begin();
    };
    auto task = in("task_struct"), sock = in("sock"), regs = in("pt_regs");
    need(task, {"tgid"}, k.task_tgid);
    need(task, {"pid"}, k.task_pid);
    need(task, {"__state", "state"}, k.task_state);  // renamed in 5.14
    need(task, {"exit_state"}, k.task_exit_state);
    if (task.id)
        if (auto o = btf.member_offset(*task.id, "sched_info.run_delay")) k.task_run_delay = *o;
    need(sock, {"__sk_common.skc_num"}, k.sk_num);
    need(sock, {"__sk_common.skc_dport"}, k.sk_dport);
    need(in("inet_sock"), {"inet_sport"}, k.inet_sport);
    auto tcp = in("tcp_sock");
    need(tcp, {"rcv_wnd"}, k.tcp_rcv_wnd);
    // Optional: without them only the closing of the window goes unmeasured.
    auto skb = in("sk_buff");
    auto rcv_nxt = tcp.id ? btf.member_offset(*tcp.id, "rcv_nxt") : std::nullopt;
    auto rcv_wup = tcp.id ? btf.member_offset(*tcp.id, "rcv_wup") : std::nullopt;
    auto len = skb.id ? btf.member_offset(*skb.id, "len") : std::nullopt;
    auto data = skb.id ? btf.member_offset(*skb.id, "data") : std::nullopt;
    if (rcv_nxt && rcv_wup && len && data) {
        k.tcp_rcv_nxt = *rcv_nxt;
        k.tcp_rcv_wup = *rcv_wup;
        k.skb_len = *len;
        k.skb_data = *data;
    }
    // A syscall's arguments as the raw sys_enter tracepoint's pt_regs holds them.
#if defined(__x86_64__)
    need(regs, {"di"}, k.regs_arg1);
    need(regs, {"si"}, k.regs_arg2);
#elif defined(__aarch64__)
    need(regs, {"orig_x0"}, k.regs_arg1);  // x0 is the return value by then
    need(regs, {"regs"}, k.regs_arg2);
    k.regs_arg2 += 8;  // regs[1]
#else
#error "the syscall argument registers of this architecture are not known"
#endif
    if (!missing.empty()) return make_error("the kernel's BTF has no " + missing);
    return k;
}

Result<KernelOffsets> read_kernel_offsets(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return sys_error("cannot stat " + path);
    auto size = static_cast<size_t>(st.st_size);
    std::vector<uint8_t> copy;
    void* map = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0) : MAP_FAILED;
    if (map == MAP_FAILED) {
        // Before Linux 6.16 the vmlinux BTF cannot be mapped: read it, 4 KiB at a
        // time as sysfs gives it.
        copy.resize(size > 0 ? size : 1 << 20);
        size_t got = 0;
        for (;;) {
            if (got == copy.size()) copy.resize(copy.size() * 2);
            ssize_t n = ::read(fd.get(), copy.data() + got, copy.size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return sys_error("cannot read " + path);
            if (n == 0) break;
            got += static_cast<size_t>(n);
        }
        copy.resize(got);
    }
    fd.reset();
    std::span<const uint8_t> blob =
        map != MAP_FAILED ? std::span<const uint8_t>(static_cast<const uint8_t*>(map), size)
                          : std::span<const uint8_t>(copy);
    auto offsets = [&]() -> Result<KernelOffsets> {
        auto btf = BtfTypes::parse(blob);
        if (!btf) return make_error(path + ": " + btf.error().message());
        auto k = kernel_offsets(*btf);
        if (!k) return make_error(path + ": " + k.error().message());
        return k;
    }();
    if (map != MAP_FAILED) ::munmap(map, size);
    return offsets;
}

}  // namespace c10k
