// SPDX-License-Identifier: GPL-2.0-or-later
// The loaded and attached BPF programs for one target process.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "c10k/probe/evidence.hpp"
#include "c10k/result.hpp"

namespace c10k {

class BpfSession {
  public:
    // Loads the programs with the target's tgid and this kernel's field offsets
    // (kernel_layout.hpp) baked in, then attaches the cheap probes (sched, TCP). Fails with the
    // reason (no privilege, no BTF, built without BPF) so the caller can fall back.
    // `syscall_attach`: "auto" (raw_tp, then classic tracepoint), "raw_tp" or "tracepoint".
    static Result<std::unique_ptr<BpfSession>> start(pid_t tgid, bool verbose,
                                                     const std::string& syscall_attach = "auto");
    ~BpfSession();
    BpfSession(const BpfSession&) = delete;
    BpfSession& operator=(const BpfSession&) = delete;

    // Syscall tracing puts every syscall on the host on the slow path, so it is
    // attached only for part of each interval (duty cycle).
    Status attach_syscalls();
    void detach_syscalls();
    bool syscalls_attached() const;

    // Syscalls counted while syscall tracing was attached, every process's and
    // the target's, since the session started. One map read.
    SyscallCounts syscall_counts() const;

    // Which sockets' TCP events count as the target's: those with a local port
    // it listens on, and those with a remote port it connects to.
    void set_ports(const TargetPorts& ports);

    // Cumulative since start; cheap enough for every interval.
    BpfEvidence read() const;
    // Threads seen and the busiest ones: a walk of the whole threads map, so once, at the end.
    void read_threads(SchedStat& sched) const;

  private:
    struct Impl;
    explicit BpfSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace c10k
