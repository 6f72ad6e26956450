// SPDX-License-Identifier: GPL-2.0-or-later
// fd limits: every connection is a file descriptor, and four limits stand in
// line: the process's RLIMIT_NOFILE (soft, then hard), fs.nr_open (the most any
// hard limit may be raised to) and fs.file-max (all open files on the host).
#include <fmt/format.h>

#include <limits>

#include "c10k/checks/check_keys.hpp"
#include "c10k/checks/checks.hpp"
#include "c10k/server_settings.hpp"

namespace c10k {

namespace key = check_keys;

namespace {

constexpr double kUsageWarn = 0.75;
constexpr double kUsageCrit = 0.90;

// One fd per connection plus 10% (at least 100) for listeners, logs, upstreams and libraries.
uint64_t fds_needed(uint64_t connections) {
    return connections + std::max<uint64_t>(connections / 10, 100);
}

std::string limit_text(uint64_t v) {
    return v == kUnlimited ? "unlimited" : std::to_string(v);
}
// Unlimited is +inf: JSON shows null, Prometheus +Inf, text "unlimited".
double limit_value(uint64_t v) {
    return v == kUnlimited ? std::numeric_limits<double>::infinity() : static_cast<double>(v);
}

// Run from a timer, cron or an agent, our own limit is nobody's: judge the one
// services get from systemd instead. Most servers raise their soft limit to the
// hard one (Go, Java, nginx worker_rlimit_nofile), so there the hard limit
// decides and a low soft one is only mentioned; a server that does not raise it
// shows up under --pid (fd.process-nofile).
Finding service_nofile(const CheckInput& in, uint64_t need) {
    const auto& svc = in.now().service_nofile;
    if (!svc) {
        auto f = make_finding(CheckId::fd_shell_nofile, Severity::ok,
                              "not judged: run without a terminal (a timer, cron, an agent), "
                              "whose own fd limit is no server's, on a host without systemd");
        f.why =
            "Run it from a login shell to judge the limit servers started there inherit, "
            "or with --pid to judge a running server's.";
        return f;
    }
    const auto& lim = svc->limit;
    Severity sev = Severity::ok;
    std::string title;
    if (lim.hard < need) {
        sev = in.shortfall();
        title = fmt::format("services get a hard fd limit of {}, below the {} fds needed ({})",
                            limit_text(lim.hard), need, svc->origin);
    } else {
        title = fmt::format(
            "services get an fd limit of {}/{} (soft/hard; {}): the hard limit "
            "covers {} fds{}",
            limit_text(lim.soft), limit_text(lim.hard), svc->origin, need,
            lim.soft < need ? ", for servers that raise their soft limit" : "");
    }
    auto f = make_finding(CheckId::fd_shell_nofile, sev, title);
    add_evidence(f, key::nofile_soft, limit_value(lim.soft), "services' soft RLIMIT_NOFILE");
    add_evidence(f, key::nofile_hard, limit_value(lim.hard), "services' hard RLIMIT_NOFILE");
    add_evidence(f, key::fds_needed, static_cast<double>(need));
    f.why =
        "Run without a terminal, this judges what systemd gives a service whose unit sets no "
        "LimitNOFILE=, not its own limit. Servers that raise soft to hard (Go, Java, nginx "
        "worker_rlimit_nofile) stop at the hard limit; others at the soft one (check them "
        "with --pid).";
    f.fix = {fmt::format("[Service] LimitNOFILE={} in each server's unit (systemctl edit "
                         "UNIT)",
                         need),
             fmt::format("or DefaultLimitNOFILE=1024:{} in a drop-in under "
                         "/etc/systemd/system.conf.d/, then systemctl daemon-reexec",
                         std::max<uint64_t>(need, 524288))};
    return f;
}

Finding own_nofile(const CheckInput& in, uint64_t need) {
    if (!in.now().interactive) return service_nofile(in, need);
    const auto& lim = in.now().own_nofile;
    if (!lim) {
        return unknown_finding(CheckId::fd_shell_nofile, "RLIMIT_NOFILE of this shell unreadable",
                               lim.error().message());
    }
    Severity sev = Severity::ok;
    std::string title;
    if (lim->hard < need) {
        sev = in.shortfall();
        title =
            fmt::format("hard fd limit {} is below the {} fds needed", limit_text(lim->hard), need);
    } else if (lim->soft < need) {
        sev = Severity::warn;
        title = fmt::format("soft fd limit {} is below the {} fds needed (hard {} would do)",
                            limit_text(lim->soft), need, limit_text(lim->hard));
    } else {
        title = fmt::format("fd limit {}/{} (soft/hard) covers {} fds", limit_text(lim->soft),
                            limit_text(lim->hard), need);
    }
    auto f = make_finding(CheckId::fd_shell_nofile, sev, title);
    add_evidence(f, key::nofile_soft, limit_value(lim->soft));
    add_evidence(f, key::nofile_hard, limit_value(lim->hard));
    add_evidence(f, key::fds_needed, static_cast<double>(need));
    f.why =
        "Servers started from this shell inherit its RLIMIT_NOFILE; each connection uses one fd, "
        "and at the soft limit accept() fails with EMFILE. Servers that raise soft to hard "
        "themselves (Go, Java, nginx worker_rlimit_nofile) stop at the hard limit instead.";
    if (lim->hard >= need) f.fix.push_back(fmt::format("ulimit -n {}   # this shell", need));
    f.fix.insert(
        f.fix.end(),
        {fmt::format("systemd service: [Service] LimitNOFILE={}   (systemctl edit UNIT)", need),
         fmt::format("/etc/security/limits.d/90-nofile.conf: '*  -  nofile  {}' (new logins)",
                     need)});
    return f;
}

Finding nr_open(const CheckInput& in, uint64_t need) {
    auto v = in.sysctl().integer("fs.nr_open");
    if (!v)
        return unknown_finding(CheckId::fd_nr_open, "fs.nr_open unreadable",
                               in.sysctl().error("fs.nr_open"));
    bool short_ = static_cast<uint64_t>(*v) < need;
    auto f = make_finding(
        CheckId::fd_nr_open, short_ ? in.shortfall() : Severity::ok,
        short_ ? fmt::format("fs.nr_open {} caps every process below the {} fds needed", *v, need)
               : fmt::format("fs.nr_open {} lets a process hold {} fds", *v, need));
    add_evidence(f, key::nr_open, static_cast<double>(*v));
    add_evidence(f, key::fds_needed, static_cast<double>(need));
    f.why =
        "No process can have a hard RLIMIT_NOFILE above fs.nr_open; raising LimitNOFILE past it "
        "fails.";
    if (short_)
        f.fix = {sysctl_fix("fs.nr_open", std::to_string(std::max<uint64_t>(need, 1048576)))};
    return f;
}

Finding file_max(const CheckInput& in, uint64_t need) {
    auto max = in.sysctl().integer("fs.file-max");
    auto nr = in.sysctl().integers("fs.file-nr");  // allocated, unused (always 0), max
    if (!max || !nr || nr->size() < 1)
        return unknown_finding(CheckId::fd_file_max, "fs.file-max / fs.file-nr unreadable",
                               in.sysctl().error("fs.file-max"));
    double allocated = static_cast<double>((*nr)[0]);
    double used = *max > 0 ? allocated / static_cast<double>(*max) : 0;
    double headroom = static_cast<double>(*max) - allocated;
    Severity sev = Severity::ok;
    std::string title = fmt::format("{} of {} host-wide file handles in use ({:.0f}%)",
                                    static_cast<int64_t>(allocated), *max, used * 100);
    if (used >= kUsageCrit) {
        sev = Severity::crit;
    } else if (used >= kUsageWarn) {
        sev = Severity::warn;
    }
    if (headroom < static_cast<double>(need)) {
        sev = worse(sev, in.shortfall());
        title = fmt::format("only {} file handles left host-wide, {} needed",
                            static_cast<int64_t>(headroom), need);
    }
    auto f = make_finding(CheckId::fd_file_max, sev, title);
    add_evidence(f, key::file_max, static_cast<double>(*max));
    add_evidence(f, key::files_allocated, allocated);
    add_evidence(f, key::fds_needed, static_cast<double>(need));
    f.why =
        "fs.file-max caps open files across all processes; at the cap every open(), socket() "
        "and accept() on the host fails with ENFILE.";
    f.fix = {sysctl_fix(
        "fs.file-max",
        std::to_string(std::max<int64_t>(scaled(*max, 2), scaled(static_cast<int64_t>(need), 2))))};
    return f;
}

Finding process_nofile(const CheckInput& in, const ProcessSnapshot& p, uint64_t need) {
    auto subject = fmt::format("pid {} ({})", p.pid, p.comm);
    if (!p.nofile || !p.fds) {
        auto f = unknown_finding(CheckId::fd_process_nofile, "fd use of the process unreadable",
                                 !p.nofile ? p.nofile.error().message() : p.fds.error().message());
        f.subject = subject;
        return f;
    }
    double open = static_cast<double>(p.fds->open);
    double soft = static_cast<double>(p.nofile->soft);
    double used = p.nofile->soft == kUnlimited ? 0 : open / soft;
    Severity sev = used >= kUsageCrit   ? Severity::crit
                   : used >= kUsageWarn ? Severity::warn
                                        : Severity::ok;
    std::string title = fmt::format("{} of {} fds open ({:.0f}% of the soft limit)", p.fds->open,
                                    limit_text(p.nofile->soft), used * 100);
    if (in.target().from_flag && p.nofile->soft < need) {
        sev = worse(sev, Severity::crit);
        title += fmt::format("; the limit is below the {} fds needed", need);
    }
    auto f = make_finding(CheckId::fd_process_nofile, sev, title);
    f.subject = subject;
    add_evidence(f, key::fds_open, open);
    add_evidence(f, key::nofile_soft, limit_value(p.nofile->soft));
    add_evidence(f, key::nofile_hard, limit_value(p.nofile->hard));
    add_evidence(f, key::fd_usage_ratio, used);
    if (in.now().sockets) {
        add_evidence(f, key::connections, in.now().sockets->owned_connections);
    }
    f.why =
        "At the soft limit accept(), socket() and open() fail with EMFILE: new clients wait "
        "in the accept queue or are dropped while the CPU is idle.";
    if (!p.nofile_origin.empty()) f.why += " The limit comes from: " + p.nofile_origin + ".";
    uint64_t want =
        std::max<uint64_t>(need, p.nofile->soft == kUnlimited ? need : p.nofile->soft * 4);
    f.fix.push_back(fmt::format(
        "prlimit --pid {} --nofile={}:{}   # live, no restart", p.pid, want,
        std::max<uint64_t>(want, p.nofile->hard == kUnlimited ? want : p.nofile->hard)));
    if (auto own = nofile_setting(p.comm, want)) f.fix.push_back(*own);
    f.fix.push_back(
        fmt::format("systemd: [Service] LimitNOFILE={} in a drop-in, then restart", want));
    return f;
}

}  // namespace

std::vector<Finding> check_fd_limits(const CheckInput& in) {
    uint64_t need = fds_needed(in.target().connections);
    std::vector<Finding> out;
    out.push_back(own_nofile(in, need));
    out.push_back(nr_open(in, need));
    out.push_back(file_max(in, need));
    if (in.now().process) out.push_back(process_nofile(in, *in.now().process, need));
    return out;
}

}  // namespace c10k
