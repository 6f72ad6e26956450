// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/cpu_profile.hpp"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "c10k/probe/syscalls.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

#if defined(__x86_64__)
// perf's x86 register numbering (arch/x86/include/uapi/asm/perf_regs.h): the
// first two syscall arguments travel in rdi and rsi. Samples carry the
// registers in ascending order of their bit.
constexpr uint64_t kRegSi = 4, kRegDi = 5;
constexpr uint64_t kArgRegs = (1ULL << kRegSi) | (1ULL << kRegDi);
#else
constexpr uint64_t kArgRegs = 0;  // no argument registers: fd counts unknown
#endif
constexpr size_t kArgRegCount = static_cast<size_t>(__builtin_popcountll(kArgRegs));

// 64 pages (256 KiB) per CPU: at 99 samples a second of up to ~1 KiB each
// (127 kernel frames at most) that is over two seconds of samples at worst,
// and the sampler drains it every fast sample (a fraction of a second).
constexpr size_t kDataPages = 64;

// An fd count past this is not one poll() accepted (RLIMIT_NOFILE caps nfds,
// and the kernel's own limit on it is 1 << 20): the register held something else.
constexpr uint64_t kMaxNfds = 1 << 20;

template <typename T>
bool take(std::span<const uint8_t>& b, T& out) {
    if (b.size() < sizeof(T)) return false;
    std::memcpy(&out, b.data(), sizeof(T));
    b = b.subspan(sizeof(T));
    return true;
}

}  // namespace

std::vector<int> parse_cpu_list(std::string_view text) {
    std::vector<int> cpus;
    text = trim(text);
    while (!text.empty()) {
        auto comma = text.find(',');
        auto part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        auto dash = part.find('-');
        auto lo = parse_int(part.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : parse_int(part.substr(dash + 1));
        if (!lo || !hi || *lo < 0 || *hi < *lo || *hi >= 1 << 16) return {};  // not a CPU list
        for (auto c = *lo; c <= *hi; ++c)
            cpus.push_back(static_cast<int>(c));
    }
    return cpus;
}

std::optional<CpuSample> decode_cpu_sample(std::span<const uint8_t> b, uint16_t misc,
                                           std::vector<uint64_t>& chain) {
    CpuSample s;
    uint64_t ip = 0, nr = 0;
    if (!take(b, ip) || !take(b, s.pid) || !take(b, s.tid) || !take(b, nr)) return std::nullopt;
    if (nr > b.size() / sizeof(uint64_t)) return std::nullopt;
    s.user = (misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_USER;
    chain.clear();
    for (uint64_t i = 0; i < nr; ++i) {
        uint64_t a = 0;
        take(b, a);
        if (a >= static_cast<uint64_t>(PERF_CONTEXT_MAX)) continue;  // PERF_CONTEXT_KERNEL etc.
        chain.push_back(a);
    }
    s.chain = chain;
    uint64_t abi = 0;
    if (!take(b, abi)) return std::nullopt;
    if (abi != PERF_SAMPLE_REGS_ABI_NONE && kArgRegCount == 2) {
        uint64_t si = 0, di = 0;
        if (!take(b, si) || !take(b, di)) return std::nullopt;
        s.arg0 = di;
        s.arg1 = si;
    }
    return s;
}

void add_cpu_sample(OnCpuProfile& p, const CpuSample& s, const KernelSymbols& k) {
    ++p.samples;
    if (s.user) {
        ++p.user;
        return;
    }
    ++p.kernel;
    auto place = k.place_of(s.chain);
    if (!place.in_syscall) return;
    if (place.syscall.empty()) {
        ++p.in_unnamed_syscall;
        return;
    }
    auto call = place.syscall;
    ++p.in_syscall[std::string(call)];
    if (!syscalls::is_one_of(call, syscalls::kFdScans)) return;
    // poll(fds, nfds, ...) and ppoll pass the count second; select(nfds, ...)
    // and pselect6 first (the highest fd + 1: the bits the kernel walks).
    auto nfds = (call == "select" || call == "pselect6") ? s.arg0 : s.arg1;
    if (!nfds || *nfds > kMaxNfds) return;
    ++p.fd_scan_samples;
    p.fd_scan_nfds_sum += *nfds;
    p.fd_scan_nfds_max = std::max(p.fd_scan_nfds_max, static_cast<uint32_t>(*nfds));
}

Result<std::unique_ptr<CpuProfiler>> CpuProfiler::start(pid_t tgid, double hz) {
    std::unique_ptr<CpuProfiler> p(new CpuProfiler());
    p->tgid_ = tgid;
    p->profile_.hz = hz;
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.freq = 1;
    attr.sample_freq = static_cast<uint64_t>(hz);
    attr.sample_type =
        PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER;
    attr.sample_regs_user = kArgRegs;
    attr.exclude_callchain_user = 1;  // user stacks need the target's symbols: not judged
    attr.exclude_idle = 1;
    attr.disabled = 1;
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    auto online = read_text("/sys/devices/system/cpu/online");
    if (!online) return online.error();
    auto cpus = parse_cpu_list(*online);
    if (cpus.empty())
        return make_error("/sys/devices/system/cpu/online: not a CPU list: '" +
                          printable(trim(*online)) + "'");
    for (int cpu : cpus) {
        int fd = static_cast<int>(
            ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0)
            return sys_error("perf_event_open(cpu-clock, CPU " + std::to_string(cpu) +
                             ") (needs root or CAP_PERFMON, or kernel.perf_event_paranoid <= 0)");
        Ring r;
        r.fd = fd;
        r.mapped = (1 + kDataPages) * page;
        void* m = ::mmap(nullptr, r.mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            return sys_error("mmap of the perf ring buffer, CPU " + std::to_string(cpu), err);
        }
        r.base = static_cast<uint8_t*>(m);
        p->rings_.push_back(r);
    }
    for (auto& r : p->rings_)
        ::ioctl(r.fd, PERF_EVENT_IOC_ENABLE, 0);
    p->profile_.sampled = true;
    return p;
}

CpuProfiler::~CpuProfiler() {
    for (auto& r : rings_) {
        if (r.base) ::munmap(r.base, r.mapped);
        if (r.fd >= 0) ::close(r.fd);
    }
}

void CpuProfiler::drain() {
    for (auto& r : rings_)
        read_ring(r);
}

void CpuProfiler::read_ring(Ring& r) {
    auto* meta = reinterpret_cast<perf_event_mmap_page*>(r.base);
    const uint8_t* data = r.base + meta->data_offset;
    uint64_t size = meta->data_size;
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = meta->data_tail;
    while (tail + sizeof(perf_event_header) <= head) {
        perf_event_header h;
        uint64_t at = tail % size;
        // A record may wrap around the end of the buffer: copy it out whole.
        auto copy = [&](uint8_t* dst, uint64_t from, uint64_t n) {
            uint64_t first = std::min(n, size - from);
            std::memcpy(dst, data + from, first);
            std::memcpy(dst + first, data, n - first);
        };
        copy(reinterpret_cast<uint8_t*>(&h), at, sizeof h);
        if (h.size < sizeof h || tail + h.size > head) break;
        wrap_.resize(h.size);
        copy(wrap_.data(), at, h.size);
        std::span<const uint8_t> body(wrap_.data() + sizeof h, h.size - sizeof h);
        if (h.type == PERF_RECORD_SAMPLE) {
            if (auto s = decode_cpu_sample(body, h.misc, scratch_);
                s && s->pid == static_cast<uint32_t>(tgid_))
                add(*s);
        } else if (h.type == PERF_RECORD_LOST) {
            uint64_t id = 0, lost = 0;
            if (take(body, id) && take(body, lost)) profile_.lost += lost;
        }
        tail += h.size;
    }
    __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

namespace {
const KernelSymbols kNoSymbols;
}

void CpuProfiler::add(const CpuSample& s) {
    if (!symbols_tried_) {
        bool few = profile_.samples + unnamed_.size() + 1 < kMinCpuSamples;
        if (few || (s.user && unnamed_.empty())) {
            if (s.user) {
                add_cpu_sample(profile_, s, kNoSymbols);
            } else {
                auto& u = unnamed_.emplace_back(Unnamed{s, {s.chain.begin(), s.chain.end()}});
                u.sample.chain = u.chain;
            }
            return;
        }
        symbols_tried_ = true;
        if (auto k = KernelSymbols::load())
            symbols_ = std::move(*k);
        else
            profile_.symbols_error = k.error().message();
    }
    const KernelSymbols& names = symbols_ ? *symbols_ : kNoSymbols;
    for (const auto& u : unnamed_)
        add_cpu_sample(profile_, u.sample, names);
    unnamed_.clear();
    add_cpu_sample(profile_, s, names);
}

OnCpuProfile CpuProfiler::profile() const {
    // A window that ended below kMinCpuSamples: its kernel samples counted, unnamed.
    OnCpuProfile p = profile_;
    for (const auto& u : unnamed_)
        add_cpu_sample(p, u.sample, kNoSymbols);
    return p;
}

}  // namespace c10k
