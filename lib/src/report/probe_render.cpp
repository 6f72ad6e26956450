// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/report/probe_render.hpp"
#include "c10k/report/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "c10k/diagnose/bottleneck.hpp"
#include "c10k/probe/probe.hpp"
#include "c10k/report/report.hpp"

namespace c10k {

using nlohmann::json;

namespace {

// The histograms that back up each verdict, as the vocabulary table names them.
std::vector<std::pair<std::string, const Log2Hist*>> histograms_for(const FindingId& id,
                                                                    const ProbeEvidence& e) {
    std::vector<std::pair<std::string, const Log2Hist*>> out;
    auto which = id.bottleneck();
    if (!which) return out;
    const auto& row = info(*which);
    if (e.bpf)
        for (auto name : row.syscalls)
            if (!name.empty())
                if (auto* s = e.bpf->syscall(name))
                    out.emplace_back(fmt::format("{}() latency", name), &s->latency);
    if (row.extra == ExtraHist::reply_latency)
        if (auto* d = e.sampled.conns.top_destination(); d && d->reply_latency.count())
            out.emplace_back(
                fmt::format("replies from {} (clock-tick resolution)", d->remote.to_string()),
                &d->reply_latency);
    if (row.extra == ExtraHist::nagle_stall && e.sampled.conns.nagle_stall.count())
        out.emplace_back("small segment waiting for its ACK", &e.sampled.conns.nagle_stall);
    if (e.bpf && e.bpf->sched.runq.count() > 0)
        out.emplace_back("run-queue latency", &e.bpf->sched.runq);
    return out;
}

// What syscall tracing cost the host, as a share of all its CPU time over the
// window: the host's syscalls while attached times the measured per-syscall cost.
double estimated_overhead(const ProbeEvidence& e) {
    if (!e.bpf || e.sampled.seconds <= 0) return 0;
    return static_cast<double>(e.bpf->host_syscalls) * kSyscallTraceCostNs * 1e-9 /
           (std::max(1u, e.sampled.cpus) * e.sampled.seconds);
}

json hist_json(const Log2Hist& h) {
    json slots = json::array();
    for (size_t i = 0; i < h.slots.size(); ++i)
        if (h.slots[i])
            slots.push_back({{"low_ns", uint64_t{1} << i},
                             {"high_ns", uint64_t{1} << (i + 1)},
                             {"count", h.slots[i]}});
    return {{"unit", "ns"},
            {"count", h.count()},
            {"p50_ns", h.percentile_ns(0.5)},
            {"p99_ns", h.percentile_ns(0.99)},
            {"slots", slots}};
}

json conns_json(const ConnEvidence& c) {
    json dests = json::array();
    for (const auto& d : c.destinations) {
        json server = nullptr;
        if (d.server_pid) {
            server = {{"pid", d.server_pid}, {"comm", d.server_comm}, {"cores", d.server_cores}};
            if (d.listener_pid && d.listener_pid != d.server_pid)
                server["listener_pid"] = d.listener_pid;
        }
        dests.push_back({{"remote", d.remote.to_string()},
                         {"connections_min", d.conns_min},
                         {"connections_max", d.conns_max},
                         {"samples", d.samples_seen},
                         {"samples_waiting", d.samples_waiting},
                         {"samples_all_busy", d.samples_all_busy},
                         {"connections_sum", d.conns_sum},
                         {"waiting_sum", d.waiting_sum},
                         {"waiting_max", d.waiting_max},
                         {"opened", d.opened},
                         {"per_request", d.per_request},
                         {"reply_latency", hist_json(d.reply_latency)},
                         {"replies", d.replies},
                         {"closed", d.closed},
                         {"reply_mean_s", d.reply_mean_s},
                         {"server", server}});
    }
    return {{"samples", c.samples},
            {"inbound_min", c.inbound_min},
            {"inbound_max", c.inbound_max},
            {"inbound_max_but_one", c.inbound_max_but_one},
            {"inbound_mean",
             c.samples ? static_cast<double>(c.inbound_sum) / static_cast<double>(c.samples) : 0.0},
            {"inbound_pending_mean", c.mean_inbound_pending()},
            {"accepted", c.accepted},
            {"inbound_kept_mean", c.mean_inbound_kept()},
            {"inbound_kept_new", c.inbound_kept_new},
            {"inbound_kept_max", c.inbound_kept_max},
            {"inbound_transient_sum", c.inbound_transient_sum},
            {"inbound_unread_mean", c.mean_inbound_unread()},
            {"inbound_unread_samples", c.samples_inbound_unread},
            {"inbound_unread_wait", hist_json(c.inbound_unread_wait)},
            {"inbound_queued_mean", c.mean_inbound_queued()},
            {"inbound_queued_samples", c.samples_inbound_queued},
            {"destinations", dests},
            {"nagle_held_samples", c.samples_nagle_held},
            {"nagle_held_sum", c.nagle_held_sum},
            {"nagle_stall", hist_json(c.nagle_stall)},
            {"inbound_idle_age", hist_json(c.inbound_idle_age)},
            {"receive_queue_half_full", c.rcv_full_observations},
            {"receive_queue_half_small_buffer", c.rcv_small_full_observations},
            {"receive_observations", c.rcv_observations},
            {"receive_observations_small_buffer", c.rcv_small_observations},
            {"rcvbuf_min", c.rcvbuf_min},
            {"rwnd_limited_us", c.rwnd_limited_us},
            {"busy_us", c.busy_us}};
}

json on_cpu_json(const OnCpuProfile& p) {
    if (!p.sampled) return {{"sampled", false}, {"unavailable", p.unavailable}};
    return {{"sampled", true},
            {"hz", p.hz},
            {"samples", p.samples},
            {"user", p.user},
            {"kernel", p.kernel},
            {"lost", p.lost},
            {"in_syscall", p.in_syscall},
            {"in_unnamed_syscall", p.in_unnamed_syscall},
            {"symbols_error", p.symbols_error},
            {"fd_scan",
             {{"samples", p.fd_scan_samples},
              {"nfds_sum", p.fd_scan_nfds_sum},
              {"nfds_max", p.fd_scan_nfds_max}}}};
}

json worker_account_json(const WorkerAccount& a) {
    return {{"looks", a.looks},     {"running", a.running}, {"idle", a.idle},
            {"peer", a.peer},       {"futex", a.futex},     {"file_lock", a.file_lock},
            {"blocked", a.blocked}, {"wakeup", a.wakeup},   {"blocked_in", a.blocked_in}};
}

json sampled_json(const SampledEvidence& s) {
    json listeners = json::array();
    for (const auto& l : s.listeners)
        listeners.push_back({{"local", l.local.to_string()},
                             {"backlog", l.backlog},
                             {"queued_max", l.queued_max},
                             {"samples", l.samples},
                             {"full_samples", l.full_samples},
                             {"waiting_samples", l.waiting_samples},
                             {"queued_sum", l.queued_sum}});
    json dest = nullptr;
    if (s.busiest_destination)
        dest = {{"remote", s.busiest_destination->remote.to_string()},
                {"sockets", s.busiest_destination->sockets},
                {"time_wait", s.busiest_destination->time_wait}};
    json threads = json::array();
    for (const auto& t : s.busiest_threads)
        threads.push_back({{"tid", t.tid},
                           {"comm", t.comm},
                           {"cores", t.cores},
                           {"busy", t.busy},
                           {"looks", t.looks},
                           {"running_looks", t.running_looks},
                           {"readiness_looks", t.readiness_looks},
                           {"futex_looks", t.futex_looks},
                           {"blocked_looks", t.blocked_looks},
                           {"blocked_in", t.blocked_in}});
    json cpu_users = json::array();
    for (const auto& u : s.host_cpu_users)
        cpu_users.push_back({{"comm", u.comm}, {"processes", u.processes}, {"cores", u.cores}});
    return {{"samples", s.samples},
            {"full_samples", s.full_samples},
            {"sample_period_s", s.sample_period_s},
            {"sampler_cpu_s", s.sampler_cpu_s},
            {"samples_by_lookup", s.samples_by_lookup},
            {"summaries_reused", s.summaries_reused},
            {"sys_cores", s.sys_cores},
            {"reaped_children_cores", s.reaped_children_cores},
            {"workers_cores", s.workers_cores},
            {"workers_runq_wait", s.workers_runq_wait},
            {"workers_running", s.workers_running},
            {"busiest_worker_pid", s.busiest_worker_pid},
            {"busiest_worker_cores", s.busiest_worker_cores},
            {"busiest_worker_runq_wait", s.busiest_worker_runq_wait},
            {"busiest_worker_threads", s.busiest_worker_threads},
            {"inbound_at_snapshots", s.inbound_at_snapshots},
            {"inbound_own_at_snapshots", s.inbound_own_at_snapshots},
            {"busiest_threads", threads},
            {"poll",
             {{"samples", s.poll_samples},
              {"nfds_sum", s.poll_nfds_sum},
              {"nfds_max", s.poll_nfds_max}}},
            {"on_cpu", on_cpu_json(s.on_cpu)},
            {"connections", conns_json(s.conns)},
            {"seconds", s.seconds},
            {"cpus", s.cpus},
            {"cpu_cores", s.cpu_cores},
            {"threads_cores", s.threads_cores},
            {"host_busy", s.host_busy},
            {"host_cpu_users", cpu_users},
            {"steal_share", s.steal_share},
            {"cpu_limit", s.cpu_limit_cores > 0
                              ? json{{"cores", s.cpu_limit_cores},
                                     {"cgroup", s.cpu_limit_cgroup},
                                     {"throttled_share", s.throttled_share},
                                     {"throttled_seconds_per_second", s.throttled_s_per_s}}
                              : json(nullptr)},
            {"fds_max", s.fds_max},
            {"nofile_soft", s.nofile_soft},
            {"threads_max", s.threads_max},
            {"connections_max", s.connections_max},
            {"switches_per_second", s.switches_per_s},
            {"runq_wait_share", s.runq_wait_share},
            {"involuntary_per_second", s.involuntary_per_s},
            {"thread_states",
             {{"samples", s.thread_samples},
              {"running", s.running},
              {"sleeping", s.sleeping},
              {"disk", s.disk},
              {"futex_samples", s.futex_active},
              {"futex_contended", s.futex_contended},
              {"loop_looks", s.loop_looks},
              {"loop_idle", s.loop_idle},
              {"loop_running", s.loop_running},
              {"loop_blocked", s.loop_blocked}}},
            {"blocked_in", s.blocked_in},
            {"worker_states",
             {{"workers", s.worker_states.workers},
              {"all", worker_account_json(s.worker_states.all)},
              {"most_blocked_pid", s.worker_states.most_blocked_pid},
              {"most_blocked", worker_account_json(s.worker_states.most_blocked)},
              {"blocked_most", s.worker_states.blocked_most}}},
            {"listeners", listeners},
            {"somaxconn", s.somaxconn},
            {"counter_rates", s.counter_rates},
            {"foreign_listeners", s.foreign_listeners},
            {"timer_sleeps", s.timer_sleeps},
            {"port_range", s.port_range},
            {"conntrack", s.conntrack_entries ? json{{"entries", *s.conntrack_entries},
                                                     {"max", s.conntrack_max.value_or(0)}}
                                              : json(nullptr)},
            {"busiest_destination", dest}};
}

}  // namespace

std::string render_log2_hist(const Log2Hist& h, const std::string& title) {
    size_t lo = h.slots.size(), hi = 0;
    uint64_t max = 0;
    for (size_t i = 0; i < h.slots.size(); ++i)
        if (h.slots[i]) {
            lo = std::min(lo, i);
            hi = i;
            max = std::max(max, h.slots[i]);
        }
    if (max == 0) return "";
    std::string out =
        fmt::format("  {} (count {}, p50 < {}, p99 < {})\n", title, h.count(),
                    duration_text(h.percentile_ns(0.5)), duration_text(h.percentile_ns(0.99)));
    out += fmt::format("  {:>21} : {:<9} {}\n", "latency", "count", "distribution");
    for (size_t i = lo; i <= hi; ++i) {
        int bar = static_cast<int>(40 * h.slots[i] / max);
        // Slot 0 holds 0 and 1: a run-queue wait of 0 is the kernel's own
        // (run_delay did not grow: a thread put back without waiting).
        out += fmt::format("  {:>8} -> {:<8} : {:<9} |{:<40}|\n",
                           i == 0 ? std::string("0") : duration_text(uint64_t{1} << i),
                           duration_text(uint64_t{1} << (i + 1)), h.slots[i],
                           std::string(static_cast<size_t>(bar), '*'));
    }
    return out;
}

std::string render_probe_text(const ProbeEvidence& e, const Verdict& v, bool colour) {
    auto bold = [&](const std::string& s) {
        return colour ? fmt::format("\033[1m{}\033[0m", s) : s;
    };
    std::string out = fmt::format("c10k-doctor probe: PID {} ({}), {:.1f} s observed, mode {}\n",
                                  e.pid, e.comm, e.sampled.seconds, e.mode);
    if (e.bpf) {
        std::string attach, missing;
        for (const auto& a : e.bpf->attach) {
            auto& list = a.status == AttachStatus::failed ? missing : attach;
            list += (list.empty() ? "" : "; ") + describe(a);
        }
        out += fmt::format("attached: {} ({:.0f} ms after start)\n", attach.empty() ? "-" : attach,
                           e.bpf->attached_after_ms);
        if (!missing.empty()) out += fmt::format("not attached: {}\n", missing);
        out += fmt::format("syscalls traced {:.0f}% of the window\n", e.bpf->syscall_duty * 100);
        out += fmt::format("BPF maps: {}; lost events: {}\n",
                           bytes_text(static_cast<double>(e.bpf->map_bytes)), e.bpf->lost_events);
    }
    if (e.sampled.samples > 0 && e.sampled.seconds > 0)
        out += fmt::format("sampled threads and sockets {} times (every {:.0f} ms)\n",
                           e.sampled.samples, e.sampled.sample_period_s * 1e3);
    if (e.cost.window_s > 0) {
        double own = e.cost.own_cpu_s * 1e3 / e.cost.window_s;
        double progs = e.cost.bpf_run_s * 1e3 / e.cost.window_s;
        out += e.bpf ? fmt::format(
                           "cost, measured: {:.1f} ms of CPU per second of window (the "
                           "prober {:.1f}, its BPF programs {:.1f} over {} runs)\n",
                           e.cost.ms_per_s(), own, progs, e.cost.bpf_runs)
                     : fmt::format(
                           "cost, measured: {:.1f} ms of CPU per second of window (the "
                           "prober; no BPF programs)\n",
                           e.cost.ms_per_s());
    }
    const auto& top = v.findings.front();
    out += fmt::format(
        "\n{}\n  {}\n\n",
        bold(top.basis > 0
                 ? fmt::format("VERDICT: {} (confidence {:.0f}%, from {:.0f} {})", top.id,
                               top.confidence * 100, top.basis, top.basis_unit.name())
                 : fmt::format("VERDICT: {} (confidence {:.0f}%)", top.id, top.confidence * 100)),
        top.title);
    if (!v.chain.empty()) out += "  chain: " + v.chain + "\n\n";
    int rank = 0;
    for (const auto& f : v.findings) {
        out += fmt::format("{}. {:<4} {}  ({:.0f}%)  {}\n", ++rank, to_string(f.severity), f.id,
                           f.confidence * 100, f.title);
        for (const auto& ev : f.evidence)
            out += fmt::format("     {:<44} {}\n", ev.label, evidence_text(ev));
        if (!f.why.empty()) out += "     why: " + f.why + "\n";
        if (!f.explains.empty())
            out += fmt::format("     explains: {}\n", fmt::join(f.explains, ", "));
        if (!f.accounts_for.empty())
            out += fmt::format("     accounts for: {}\n", fmt::join(f.accounts_for, ", "));
        for (const auto& fix : f.fix)
            out += "     fix: " + fix + "\n";
        out += "\n";
    }
    const auto& sm = e.sampled;
    out +=
        fmt::format("seen: {:.2f} cores, {} threads, {} fds (soft limit {}), {} connections",
                    sm.cpu_cores, sm.threads_max, sm.fds_max, sm.nofile_soft, sm.connections_max);
    if (e.bpf) {
        const auto& t = e.bpf->tcp;
        out += fmt::format(
            "; TCP on its ports: {} established, closed first by it {} / by peers {}, {} ended "
            "by a reset, {} retransmits, {} resets sent, {} received",
            t.established, t.closed_first_local, t.closed_first_peer, t.aborted_established,
            t.retransmits, t.resets_sent, t.resets_received);
    }
    out += "\n\n";
    std::string hists;
    for (const auto& [title, h] : histograms_for(top.id, e))
        hists += render_log2_hist(*h, title) + "\n";
    if (!hists.empty()) out += "histograms behind the verdict:\n" + hists;
    if (e.bpf) {
        std::string errs;
        for (const auto& s : e.bpf->syscalls)
            for (const auto& [err, n] : s.errnos)
                errs += fmt::format("  {}() {}: {}\n", s.name, errno_name(err), n);
        if (!errs.empty()) out += "syscall errors:\n" + errs + "\n";
    }
    for (const auto& u : v.unobserved)
        out += "could not observe: " + u + "\n";
    for (const auto& n : e.notes)
        out += "note: " + n + "\n";
    return out;
}

std::string render_probe_json(const ProbeEvidence& e, const Verdict& v) {
    json findings = json::array();
    for (const auto& f : v.findings) {
        auto j = finding_json(f);
        j["confidence"] = f.confidence;
        j["basis"] = {{"count", f.basis}, {"unit", f.basis_unit.name()}};
        j["accounts_for"] = f.accounts_for;
        j["explains"] = f.explains;
        findings.push_back(j);
    }
    const auto& top = v.findings.front();
    json doc = json_header("probe", kProbeSchemaVersion);
    doc.update({
        {"target",
         {{"pid", e.pid}, {"comm", e.comm}, {"unit", e.unit}, {"exited", e.target_exited}}},
        {"mode", e.mode},
        {"window",
         {{"requested_s", e.window_s},
          {"observed_s", e.sampled.seconds},
          {"interval_s", e.interval_s},
          {"interrupted", e.interrupted}}},
        {"verdict", {{"id", top.id.name()}, {"confidence", top.confidence}, {"title", top.title}}},
        {"findings", findings},
        {"attach", json::array()},
        {"lost_events", 0},
        {"bpf_map_bytes", 0},
        {"syscall_duty", 0},
        {"syscall_seconds", 0},
        {"attach_ms", 0},
        {"attached_after_ms", 0},
        {"estimated_overhead", 0},
        {"cost",
         {{"cpu_ms_per_second", e.cost.ms_per_s()},
          {"prober_cpu_s", e.cost.own_cpu_s},
          {"bpf_run_time_s", e.cost.bpf_run_s},
          {"bpf_runs", e.cost.bpf_runs},
          {"window_s", e.cost.window_s}}},
        {"histograms", json::object()},
        {"syscalls", json::array()},
        {"sched", nullptr},
        {"tcp", nullptr},
        {"sampled", sampled_json(e.sampled)},
        {"unobserved", v.unobserved},
        {"notes", e.notes},
        {"chain", v.chain.empty() ? json(nullptr) : json(v.chain)},
        {"poll", nullptr},
        {"follow", nullptr},
    });
    if (e.followed) {
        const auto& f = *e.followed;
        json fj = {{"destination", f.destination.to_string()},
                   {"pid", f.pid},
                   {"comm", f.comm},
                   {"error", f.error.empty() ? json(nullptr) : json(f.error)},
                   {"verdict", nullptr},
                   {"findings", json::array()}};
        if (v.followed) {
            const auto& t = v.followed->findings.front();
            fj["verdict"] = {{"id", t.id.name()}, {"confidence", t.confidence}, {"title", t.title}};
            for (const auto& x : v.followed->findings) {
                auto j = finding_json(x);
                j["confidence"] = x.confidence;
                j["accounts_for"] = x.accounts_for;
                fj["findings"].push_back(j);
            }
        }
        doc["follow"] = fj;
    }
    if (e.bpf) {
        const auto& b = *e.bpf;
        json attach = json::array();
        for (const auto& a : b.attach) {
            json j = {{"group", probe_group_name(a.group)},
                      {"how", attach_how_name(a.how)},
                      {"status", attach_status_name(a.status)},
                      {"duty_cycled", a.duty_cycled}};
            if (!a.error.empty()) j["error"] = a.error;
            if (!a.fallbacks.empty()) j["fallbacks"] = a.fallbacks;
            attach.push_back(std::move(j));
        }
        doc["attach"] = std::move(attach);
        doc["lost_events"] = b.lost_events;
        doc["bpf_map_bytes"] = b.map_bytes;
        doc["syscall_duty"] = b.syscall_duty;
        doc["syscall_seconds"] = b.syscall_seconds;
        doc["attach_ms"] = b.attach_ms;
        doc["attached_after_ms"] = b.attached_after_ms;
        doc["estimated_overhead"] = estimated_overhead(e);
        doc["poll"] = {{"calls", b.poll_calls}, {"nfds_sum", b.poll_nfds_sum}};
        doc["histograms"]["runq"] = hist_json(b.sched.runq);
        const auto& sc = b.sched;
        json threads = json::array();
        for (const auto& t : sc.busiest_threads)
            threads.push_back(
                {{"tid", t.tid}, {"on_cpu_ns", t.on_cpu_ns}, {"off_cpu_ns", t.off_cpu_ns}});
        doc["sched"] = {{"on_cpu_ns", sc.on_cpu_ns},
                        {"off_cpu_ns",
                         {{"runnable", sc.off_cpu_ns[off_preempted]},
                          {"sleeping", sc.off_cpu_ns[off_sleeping]},
                          {"disk", sc.off_cpu_ns[off_disk]},
                          {"other", sc.off_cpu_ns[off_other]}}},
                        {"voluntary_switches", sc.voluntary},
                        {"involuntary_switches", sc.involuntary},
                        {"runq_wait_ns", sc.runq_total_ns},
                        {"threads_seen", sc.threads_seen},
                        {"busiest_threads", threads}};
        const auto& t = b.tcp;
        doc["tcp"] = {{"state_changes", t.state_changes},
                      {"established", t.established},
                      {"closed_first_by_target", t.closed_first_local},
                      {"closed_first_by_peer", t.closed_first_peer},
                      {"aborted_established", t.aborted_established},
                      {"time_wait_entered", t.time_wait_entered},
                      {"retransmits", t.retransmits},
                      {"resets_sent", t.resets_sent},
                      {"resets_received", t.resets_received},
                      {"rcvqueue_full", t.rcvqueue_full},
                      {"exceed_buf_limit", t.exceed_buf_limit},
                      {"segments_in", t.segments_in},
                      {"segments_closing_window", t.segments_closing_window}};
        for (const auto& s : b.syscalls) {
            json errnos = json::object();
            for (const auto& [err, n] : s.errnos)
                errnos[errno_name(err)] = n;
            doc["syscalls"].push_back({{"name", s.name},
                                       {"nr", s.nr},
                                       {"count", s.count},
                                       {"errors", s.errors},
                                       {"errnos", errnos},
                                       {"total_ns", s.total_ns},
                                       {"bytes", s.bytes},
                                       {"latency", hist_json(s.latency)}});
        }
    }
    return json_text(doc);
}

}  // namespace c10k
