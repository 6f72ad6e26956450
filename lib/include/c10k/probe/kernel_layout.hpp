// SPDX-License-Identifier: GPL-2.0-or-later
// Where the kernel fields the BPF programs read sit in the running kernel, from
// its BTF (/sys/kernel/btf/vmlinux). This replaces libbpf's CO-RE for the ten
// offsets the probe needs: libbpf reads and indexes all of the 5 MB BTF before
// it relocates anything (~100 ms of CPU on these machines, most of what a
// probe cost to start); this maps the file and walks its type records once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/result.hpp"

namespace c10k {

// A read-only view of a BTF blob (the kernel's format: a header, type records,
// a string section), with its type records indexed by id.
class BtfTypes {
  public:
    // Checks the header and that every record lies inside the type section; a
    // kind this reader does not know stops it (its size cannot be known).
    static Result<BtfTypes> parse(std::span<const uint8_t> blob);

    // The id of the struct (or union) named `name` that has a body.
    std::optional<uint32_t> find_struct(std::string_view name) const;
    // Byte offset of `path` ("a.b": member b of member a) from the start of
    // struct `id`, looking through anonymous struct and union members as C
    // does. nullopt when there is no such member or it is a bit-field.
    std::optional<uint32_t> member_offset(uint32_t id, std::string_view path) const;
    size_t types() const { return starts_.size(); }

  private:
    struct Member {
        uint32_t type;
        uint32_t bit_offset;
        bool bitfield;
    };
    std::optional<Member> find_member(uint32_t id, std::string_view name) const;
    uint32_t skip_modifiers(uint32_t id) const;
    uint32_t u32_at(size_t at) const;
    std::string_view name_at(uint32_t off) const;

    std::span<const uint8_t> types_;
    std::string_view strings_;
    std::vector<uint32_t> starts_;  // starts_[id - 1]: the record's offset in types_
};

// The offsets the programs use (bpf/probe_shared.h, struct c10k_kernel_offsets).
struct KernelOffsets {
    uint32_t task_tgid = 0, task_pid = 0, task_state = 0, task_exit_state = 0;
    uint32_t sk_num = 0, sk_dport = 0, inet_sport = 0, tcp_rcv_wnd = 0;
    uint32_t regs_arg1 = 0, regs_arg2 = 0;
    // task_struct.sched_info.run_delay; 0 without CONFIG_SCHED_INFO (the
    // run-queue wait is then not measured, everything else is).
    uint32_t task_run_delay = 0;
    // tcp_sock.rcv_nxt, .rcv_wup, sk_buff.len, .data: all four or all 0 (then
    // no segment is seen closing the window; none of them can sit at 0).
    uint32_t tcp_rcv_nxt = 0, tcp_rcv_wup = 0, skb_len = 0, skb_data = 0;
};

// Pure: the offsets in `btf`, or which one is missing.
Result<KernelOffsets> kernel_offsets(const BtfTypes& btf);

// The running kernel's: `path` mapped read-only (Linux 6.16+ allows mapping
// vmlinux BTF) or, where it cannot be, read.
Result<KernelOffsets> read_kernel_offsets(const std::string& path = "/sys/kernel/btf/vmlinux");

}  // namespace c10k
