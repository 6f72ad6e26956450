// SPDX-License-Identifier: GPL-2.0-or-later
// Every /proc and cgroup text parser over the same bytes: limits, status, stat,
// schedstat, syscall, snmp/netstat, sockstat, softnet_stat, meminfo, loadavg,
// /proc/stat, pressure, cpu.max and cpu.stat, and a unit's LimitNOFILE=. The
// seeds (tests/fixtures/hosts) steer the fuzzer into each one's format.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "c10k/probe/sampler.hpp"
#include "c10k/sources/cgroup_cpu.hpp"
#include "c10k/sources/host_stat.hpp"
#include "c10k/sources/proc_net.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/service_limits.hpp"
#include "c10k/text.hpp"
#include "fuzz_check.hpp"

using namespace c10k;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto l = parse_nofile_limit(text)) (void)(l->soft + l->hard);
    (void)status_field(text, "voluntary_ctxt_switches");
    fuzz::require(fuzz::is_printable_utf8(printable(status_text_field(text, "Name"))),
                  "status Name made printable");
    auto fields = stat_fields(text);
    for (auto f : fields)
        fuzz::require(!f.empty(), "stat fields are never empty");
    (void)parse_task_state(text);
    (void)user_sys_ticks(text);
    fuzz::require(fuzz::is_printable_utf8(stat_comm(text)), "stat comm is printable");
    if (auto s = parse_schedstat(text)) (void)(s->on_cpu_ns + s->wait_ns + s->runs);
    (void)parse_task_syscall(text);
    if (auto sc = parse_task_syscall_args(text)) (void)poll_nfds(*sc);

    (void)parse_snmp_pairs(text);
    (void)parse_sockstat(text);
    (void)parse_softnet(text);
    if (auto ct = parse_nf_conntrack_stat(text))
        fuzz::require(ct->get("Conntrack.drop").value_or(0) >= 0,
                      "summed drops never wrap negative");
    (void)parse_meminfo(text);
    (void)parse_loadavg(text);
    (void)parse_proc_stat(text);
    (void)parse_cpu_pressure(text);

    if (auto c = parse_cpu_max(text)) fuzz::require(*c > 0, "a cpu.max limit is positive");
    auto half = text.substr(0, text.size() / 2);
    if (auto c = parse_cfs_quota(half, text.substr(half.size())))
        fuzz::require(*c > 0, "a CFS quota limit is positive");
    auto t = parse_cpu_stat(text);
    (void)t;
    (void)find_limit_nofile(text);
    (void)parse_nofile_value(text);
    return 0;
}
