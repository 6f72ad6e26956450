// SPDX-License-Identifier: GPL-2.0-or-later
// Which system call a sampled kernel call chain runs in, from /proc/kallsyms.
// The arch's syscall dispatcher (do_syscall_64) calls the call's own function:
// its entry wrapper (__x64_sys_poll), or, when the wrapper tail-calls, the
// function it jumps to (ksys_read, __sys_sendto, do_epoll_wait). That frame
// names the call a running thread is in, which /proc/PID/task/TID/syscall
// cannot ("running").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/result.hpp"

namespace c10k {

class KernelSymbols {
  public:
    // From kallsyms text ("ADDR TYPE NAME [MODULE]" per line). Only code
    // symbols are kept; every one of them bounds the function before it.
    // `is_syscall` says whether a name is a syscall of this architecture.
    static KernelSymbols parse(std::string_view kallsyms,
                               bool (*is_syscall)(std::string_view) = &is_native_syscall);
    // /proc/kallsyms; an error when the addresses are hidden (kernel.kptr_restrict
    // and no CAP_SYSLOG: every address reads 0).
    static Result<KernelSymbols> load(const std::string& path = "/proc/kallsyms");
    static bool is_native_syscall(std::string_view name);

    struct Place {
        bool in_syscall = false;  // the chain passes through the syscall dispatcher
        // The call's name; empty inside the dispatcher itself (entering or leaving
        // a call) or in a function no syscall name can be read from.
        std::string_view syscall;
    };
    // Where a kernel call chain (leaf first, as perf gives it) is.
    Place place_of(std::span<const uint64_t> chain) const;
    size_t size() const { return starts_.size(); }

  private:
    static constexpr int32_t kOther = -1, kDispatcher = -2;
    struct Start {
        uint64_t addr;
        int32_t
            code;  // an index into names_ (the syscall this function serves), or kOther/kDispatcher
    };
    int32_t code_at(uint64_t addr) const;
    std::vector<Start> starts_;  // by address
    std::vector<std::string> names_;
};

}  // namespace c10k
