// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/kernel_symbols.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>

#include "c10k/probe/syscalls.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

// The functions that enter a syscall's own code: x86_64's do_syscall_64 and
// its table's x64_sys_call (a tail call on most builds, a frame on some), the
// 32-bit entries, arm64's invoke_syscall.
constexpr std::array<std::string_view, 9> kDispatchers = {
    "do_syscall_64",       "x64_sys_call",       "ia32_sys_call",
    "do_int80_syscall_32", "do_int80_emulation", "__do_fast_syscall_32",
    "do_fast_syscall_32",  "invoke_syscall",     "el0_svc_common"};

// What the function the dispatcher calls is named after: the entry wrappers
// SYSCALL_DEFINE makes, and the helpers they tail-call (ksys_read for read,
// __sys_sendto for sendto, do_epoll_wait for epoll_wait).
constexpr std::array<std::string_view, 9> kServes = {"__x64_sys_", "__ia32_sys_", "__arm64_sys_",
                                                     "__do_sys_",  "__se_sys_",   "ksys_",
                                                     "__sys_",     "do_sys_",     "do_"};

}  // namespace

bool KernelSymbols::is_native_syscall(std::string_view name) {
    return syscall_number(name) >= 0;
}

KernelSymbols KernelSymbols::parse(std::string_view text, bool (*is_syscall)(std::string_view)) {
    KernelSymbols k;
    std::unordered_map<std::string_view, int32_t> index;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        // "ffffffff817003d0 T __x64_sys_poll": hex address, a type, a name.
        size_t sp1 = line.find(' ');
        if (sp1 == std::string_view::npos || sp1 + 3 > line.size()) continue;
        char type = line[sp1 + 1];
        if (type != 't' && type != 'T') continue;  // data symbols bound no function
        uint64_t addr = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + sp1, addr, 16);
        if (ec != std::errc() || p != line.data() + sp1 || addr == 0) continue;
        std::string_view name = line.substr(sp1 + 3);
        if (auto tab = name.find_first_of(" \t"); tab != std::string_view::npos)
            name = name.substr(0, tab);
        int32_t code = kOther;
        if (std::find(kDispatchers.begin(), kDispatchers.end(), name) != kDispatchers.end())
            code = kDispatcher;
        else
            for (auto prefix : kServes)
                if (starts_with(name, prefix) && is_syscall(name.substr(prefix.size()))) {
                    auto call = name.substr(prefix.size());
                    auto [it, added] = index.emplace(call, static_cast<int32_t>(k.names_.size()));
                    if (added) k.names_.emplace_back(call);
                    code = it->second;
                    break;
                }
        k.starts_.push_back({addr, code});
    }
    std::stable_sort(k.starts_.begin(), k.starts_.end(),
                     [](const Start& a, const Start& b) { return a.addr < b.addr; });
    return k;
}

Result<KernelSymbols> KernelSymbols::load(const std::string& path) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto k = parse(*text);
    if (k.starts_.empty())
        return make_error(path + ": no code addresses (hidden by kernel.kptr_restrict?)");
    return k;
}

int32_t KernelSymbols::code_at(uint64_t addr) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), addr,
                               [](uint64_t a, const Start& s) { return a < s.addr; });
    if (it == starts_.begin()) return kOther;
    --it;
    // Aliases share an address: the one that says most wins (a syscall's
    // function, then a dispatcher).
    auto says = [](int32_t code) { return code >= 0 ? 2 : code == kDispatcher ? 1 : 0; };
    int32_t code = it->code;
    for (auto same = it; same != starts_.begin() && (same - 1)->addr == it->addr;) {
        --same;
        if (says(same->code) > says(code)) code = same->code;
    }
    return code;
}

KernelSymbols::Place KernelSymbols::place_of(std::span<const uint64_t> chain) const {
    Place place;
    // From the root: past the entry code to the dispatcher, then the frame it called.
    size_t i = chain.size();
    while (i > 0 && code_at(chain[i - 1]) != kDispatcher)
        --i;
    if (i == 0) return place;  // not in a syscall: a fault, an interrupt from user space
    place.in_syscall = true;
    while (i > 0 && code_at(chain[i - 1]) == kDispatcher)
        --i;
    if (i == 0) return place;  // in the dispatcher itself: entering or leaving the call
    if (int32_t code = code_at(chain[i - 1]); code >= 0)
        place.syscall = names_[static_cast<size_t>(code)];
    return place;
}

}  // namespace c10k
