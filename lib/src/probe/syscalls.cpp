// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/syscalls.hpp"

#include <algorithm>
#include <vector>

namespace c10k {

namespace {

struct SyscallRow {
    int nr;
    const char* name;
};

constexpr SyscallRow kTable[] = {
#include "syscall_table.inc"
};

// Indexed by number, built once: the sampler names a syscall per thread per look.
const std::vector<const char*>& by_number() {
    static const std::vector<const char*> names = [] {
        int top = 0;
        for (const auto& r : kTable)
            top = std::max(top, r.nr);
        std::vector<const char*> v(static_cast<size_t>(top) + 1, nullptr);
        for (const auto& r : kTable)
            v[static_cast<size_t>(r.nr)] = r.name;
        return v;
    }();
    return names;
}

}  // namespace

std::string syscall_name(int nr) {
    const auto& names = by_number();
    if (nr >= 0 && static_cast<size_t>(nr) < names.size() && names[static_cast<size_t>(nr)])
        return names[static_cast<size_t>(nr)];
    return "syscall_" + std::to_string(nr);
}

int syscall_number(std::string_view name) {
    for (const auto& r : kTable)
        if (name == r.name) return r.nr;
    return -1;
}

}  // namespace c10k
