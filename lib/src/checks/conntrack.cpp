// SPDX-License-Identifier: GPL-2.0-or-later
// Connection tracking: when nf_conntrack is loaded every connection (and every
// TIME_WAIT) takes an entry; when the table is full new packets are dropped.
#include <fmt/format.h>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"

namespace c10k {

namespace key = check_keys;

namespace {
constexpr double kConntrackWarn = 0.75;
constexpr double kConntrackCrit = 0.90;
}  // namespace

std::vector<Finding> check_conntrack(const CheckInput& in) {
    auto max = in.sysctl().integer("net.netfilter.nf_conntrack_max");
    auto count = in.sysctl().integer("net.netfilter.nf_conntrack_count");
    if (!max || !count) {
        auto f = make_finding(CheckId::conntrack_table, Severity::ok,
                              "nf_conntrack not loaded: no connection-tracking table to fill");
        return {f};
    }
    double used = *max > 0 ? static_cast<double>(*count) / static_cast<double>(*max) : 1.0;
    Severity sev = used >= kConntrackCrit   ? Severity::crit
                   : used >= kConntrackWarn ? Severity::warn
                                            : Severity::ok;
    std::string title =
        fmt::format("{} of {} conntrack entries ({:.0f}%)", *count, *max, used * 100);
    uint64_t need = in.target().connections + in.target().connections / 4;
    if (static_cast<uint64_t>(*max) < need) {
        sev = worse(sev, in.shortfall());
        title +=
            fmt::format("; {} connections plus TIME_WAIT need ~{}", in.target().connections, need);
    }
    auto f = make_finding(CheckId::conntrack_table, sev, title);
    f.subject = in.now().netns_label;
    add_evidence(f, key::conntrack_entries, static_cast<double>(*count));
    add_evidence(f, key::conntrack_max, static_cast<double>(*max));
    f.why =
        "When the table is full the kernel drops packets of new connections (dmesg: "
        "'nf_conntrack: table full, dropping packet'), which clients see as timeouts.";
    f.fix = {
        sysctl_fix("net.netfilter.nf_conntrack_max",
                   std::to_string(std::max<uint64_t>(need * 2, static_cast<uint64_t>(*max) * 2))),
        "or exempt the server's port: iptables -t raw -A PREROUTING -p tcp --dport PORT "
        "-j NOTRACK"};
    return {f};
}

}  // namespace c10k
