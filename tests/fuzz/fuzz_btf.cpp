// SPDX-License-Identifier: GPL-2.0-or-later
// The kernel BTF reader that gives the BPF programs their offsets, over any
// bytes: headers whose sections point anywhere, records cut short, kinds it
// does not know, member chains that loop through typedefs and anonymous
// unions. It reads /sys/kernel/btf/vmlinux, which a kernel bug or a bind mount
// could make anything.
#include <cstddef>
#include <cstdint>
#include <span>

#include "c10k/probe/kernel_layout.hpp"
#include "fuzz_check.hpp"

using namespace c10k;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto btf = BtfTypes::parse(std::span<const uint8_t>(data, size));
    if (!btf) return 0;
    // Every record the index holds lies inside the input: each one counts at
    // least a 12-byte header.
    fuzz::require(btf->types() * 12 <= size, "more types indexed than the input can hold");
    for (const char* name : {"task_struct", "sock", "inet_sock", "tcp_sock", "pt_regs", ""}) {
        auto id = btf->find_struct(name);
        if (!id) continue;
        fuzz::require(*id >= 1 && *id <= btf->types(), "a struct id outside the index");
        for (const char* path : {"tgid", "__sk_common.skc_num", "a.b.c", "", "."})
            (void)btf->member_offset(*id, path);
    }
    (void)kernel_offsets(*btf);
    return 0;
}
