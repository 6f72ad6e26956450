// SPDX-License-Identifier: GPL-2.0-or-later
// TIME_WAIT: the side that closes first keeps the connection for 60 s (fixed in
// the kernel as TCP_TIMEWAIT_LEN; tcp_fin_timeout does not shorten it). Beyond
// tcp_max_tw_buckets the kernel destroys them early and logs an overflow.
#include <fmt/format.h>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"

namespace c10k {

namespace key = check_keys;

namespace {
constexpr double kTwWarn = 0.70;
constexpr double kTwCrit = 0.90;
constexpr double kTimeWaitSeconds = 60;
}  // namespace

std::vector<Finding> check_time_wait(const CheckInput& in) {
    auto buckets = in.sysctl().integer("net.ipv4.tcp_max_tw_buckets");
    if (!buckets) {
        return {unknown_finding(CheckId::timewait_buckets, "tcp_max_tw_buckets unreadable",
                                in.sysctl().error("net.ipv4.tcp_max_tw_buckets"))};
    }
    // sockstat counts the namespace's TIME_WAIT sockets, IPv4 and IPv6, without a dump.
    std::optional<double> tw;
    if (auto s = in.counter("TCP.tw")) tw = static_cast<double>(*s);
    if (!tw) {
        return {unknown_finding(CheckId::timewait_buckets, "TIME_WAIT count unreadable",
                                "no 'TCP: tw' in /proc/net/sockstat")};
    }
    double used = *buckets > 0 ? *tw / static_cast<double>(*buckets) : 1.0;
    auto overflow = in.rate("TcpExt.TCPTimeWaitOverflow");
    // Every closed connection leaves one TIME_WAIT on the side that closed first;
    // opens per second approximate closes per second in a steady state.
    std::optional<double> churn;
    if (auto a = in.rate("Tcp.ActiveOpens"), p = in.rate("Tcp.PassiveOpens"); a && p)
        churn = *a + *p;

    Severity sev = used >= kTwCrit   ? Severity::crit
                   : used >= kTwWarn ? Severity::warn
                                     : Severity::ok;
    std::string title = fmt::format("{} TIME_WAIT sockets of {} buckets ({:.0f}%)",
                                    static_cast<int64_t>(*tw), *buckets, used * 100);
    if (overflow && *overflow > 0) {
        sev = Severity::crit;
        title += fmt::format("; overflowing {:.1f}/s", *overflow);
    } else if (churn && *churn * kTimeWaitSeconds > static_cast<double>(*buckets)) {
        sev = worse(sev, Severity::warn);
        title += fmt::format("; at {:.0f} connections/s, {:.0f} would be in TIME_WAIT", *churn,
                             *churn * kTimeWaitSeconds);
    } else if (static_cast<uint64_t>(*buckets) < in.target().connections) {
        sev = worse(sev, Severity::warn);
        title +=
            fmt::format("; closing {} connections at once would overflow", in.target().connections);
    }
    auto f = make_finding(CheckId::timewait_buckets, sev, title);
    f.subject = in.now().netns_label;
    add_evidence(f, key::time_wait_sockets, *tw);
    add_evidence(f, key::tcp_max_tw_buckets, static_cast<double>(*buckets));
    if (overflow) add_evidence(f, key::time_wait_overflow_per_second, *overflow);
    if (auto t = in.counter("TcpExt.TCPTimeWaitOverflow"))
        add_evidence(f, key::time_wait_overflow_total, static_cast<double>(*t));
    if (churn) add_evidence(f, key::connections_opened_per_second, *churn);
    f.why =
        "TIME_WAIT lasts 60 s whatever tcp_fin_timeout says (that knob is for FIN_WAIT_2). "
        "Past tcp_max_tw_buckets the kernel kills them early, so late segments of old "
        "connections can reach new ones; requests still succeed but RSTs appear.";
    f.fix.push_back(sysctl_fix(
        "net.ipv4.tcp_max_tw_buckets",
        std::to_string(std::max<int64_t>(
            scaled(*buckets, 2), scaled(static_cast<int64_t>(in.target().connections), 2)))));
    f.fix.push_back(profile_fix(in.target()));
    f.fix.push_back("let clients close first (or use keep-alive) so TIME_WAIT lands on them");
    return {f};
}

}  // namespace c10k
