#include "c10k/probe/sampler.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "c10k/collect.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

char parse_task_state(std::string_view stat_text) {
    auto fields = stat_fields(stat_text);
    return fields.empty() ? '?' : fields[0][0];
}

std::optional<int> parse_task_syscall(std::string_view syscall_text) {
    auto fields = split_ws(syscall_text);
    if (fields.empty()) return std::nullopt;  // "running" or empty
    auto nr = parse_int(fields[0]);
    if (!nr || *nr < 0) return std::nullopt;
    return static_cast<int>(*nr);
}

namespace {

std::optional<double> process_cpu_seconds(pid_t pid) {
    auto text = read_text("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    auto f = stat_fields(*text);
    if (f.size() < 13) return std::nullopt;
    // Fields 14 and 15: utime and stime.
    auto ut = parse_uint(f[11]), st = parse_uint(f[12]);
    if (!ut || !st) return std::nullopt;
    return static_cast<double>(*ut + *st) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

constexpr const char* kRateCounters[] = {
    "TcpExt.ListenOverflows",
    "TcpExt.ListenDrops",
    "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.TCPTimeWaitOverflow",
    "TcpExt.TCPMemoryPressures",
    "Tcp.RetransSegs",
    "Tcp.OutSegs",
    "Tcp.ActiveOpens",
    "Tcp.PassiveOpens",
    "Tcp.AttemptFails",
    "TcpExt.TCPAbortOnMemory",
};

constexpr size_t kMaxThreadsToWalk = 8192;

}  // namespace

void Sampler::sample_threads() {
    std::error_code ec;
    auto dir = "/proc/" + std::to_string(pid_) + "/task";
    size_t walked = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end && walked < kMaxThreadsToWalk;
         it.increment(ec), ++walked) {
        auto stat = read_text(it->path() / "stat");
        if (!stat) continue;
        char state = parse_task_state(*stat);
        ++acc_.thread_samples;
        if (state == 'R') {
            ++acc_.running;
            continue;
        }
        if (state == 'D')
            ++acc_.disk;
        else
            ++acc_.sleeping;
        if (auto sc = read_text(it->path() / "syscall"))
            if (auto nr = parse_task_syscall(*sc)) ++acc_.blocked_in[syscall_name(*nr)];
    }
}

bool process_gone(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie has exited; only its parent has not reaped it yet.
    auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    char state = parse_task_state(*stat);
    return state == 'Z' || state == 'X';
}

Result<bool> Sampler::sample() {
    if (process_gone(pid_)) return false;
    CollectOptions o;
    o.pid = pid_;
    o.interval_s = 0;
    auto c = collect(o);
    if (!c) {
        if (process_gone(pid_)) return false;
        return c.error();
    }
    auto& snap = c->now;
    auto cpu = process_cpu_seconds(pid_);
    if (cpu) {
        ProcTimes t{snap.sample.taken, *cpu};
        if (!first_times_) first_times_ = t;
        last_times_ = t;
    }
    if (snap.process) {
        comm_ = snap.process->comm;
        if (snap.process->nofile) acc_.nofile_soft = snap.process->nofile->soft;
        if (snap.process->fds) acc_.fds_max = std::max(acc_.fds_max, snap.process->fds->open);
    }
    if (snap.sample.threads && *snap.sample.threads)
        acc_.threads_max = std::max(acc_.threads_max, (*snap.sample.threads)->threads);
    if (snap.sockets) {
        acc_.connections_max = std::max(acc_.connections_max, snap.sockets->owned_connections);
        for (const auto& l : snap.sockets->listeners) {
            if (!l.owned) continue;
            auto it = std::find_if(acc_.listeners.begin(), acc_.listeners.end(),
                                   [&](const ListenerSample& s) { return s.local == l.local; });
            if (it == acc_.listeners.end()) {
                acc_.listeners.push_back({l.local, l.backlog, l.queued});
            } else {
                it->backlog = l.backlog;
                it->queued_max = std::max(it->queued_max, l.queued);
            }
        }
        if (!snap.sockets->destinations.empty()) {
            const auto& d = snap.sockets->destinations.front();
            if (!acc_.busiest_destination || d.sockets > acc_.busiest_destination->sockets)
                acc_.busiest_destination = d;
        }
    }
    sample_threads();
    ++acc_.samples;
    if (!first_) first_ = snap;
    last_ = std::move(snap);
    return true;
}

SampledEvidence Sampler::evidence() const {
    SampledEvidence e = acc_;
    if (!first_ || !last_) return e;
    const auto& a = first_->sample;
    const auto& b = last_->sample;
    double dt = std::chrono::duration<double>(b.taken - a.taken).count();
    e.seconds = dt;
    if (b.cpu) e.cpus = std::max<uint32_t>(1, b.cpu->cpus);
    if (auto v = last_->sysctls.integer("net.core.somaxconn")) e.somaxconn = *v;
    if (auto r = last_->sysctls.integers("net.ipv4.ip_local_port_range"); r && r->size() == 2)
        e.port_range = static_cast<uint32_t>((*r)[1] - (*r)[0] + 1);
    if (dt <= 0) return e;
    if (first_times_ && last_times_) {
        double wall = std::chrono::duration<double>(last_times_->at - first_times_->at).count();
        if (wall > 0) e.cpu_cores = (last_times_->cpu_s - first_times_->cpu_s) / wall;
    }
    if (a.cpu && b.cpu && b.cpu->total_ticks > a.cpu->total_ticks)
        e.host_busy = static_cast<double>(b.cpu->busy_ticks - a.cpu->busy_ticks) /
                      static_cast<double>(b.cpu->total_ticks - a.cpu->total_ticks);
    if (a.threads && b.threads && *a.threads && *b.threads) {
        const auto& ta = **a.threads;
        const auto& tb = **b.threads;
        auto delta = [](uint64_t x, uint64_t y) {
            return y > x ? static_cast<double>(y - x) : 0.0;
        };
        e.switches_per_s = (delta(ta.voluntary_switches, tb.voluntary_switches) +
                            delta(ta.involuntary_switches, tb.involuntary_switches)) /
                           dt;
        e.involuntary_per_s = delta(ta.involuntary_switches, tb.involuntary_switches) / dt;
        e.runq_wait_share = delta(ta.runqueue_wait_ns, tb.runqueue_wait_ns) / 1e9 / dt;
    }
    if (a.net && b.net) {
        for (const char* k : kRateCounters) {
            auto x = a.net->get(k), y = b.net->get(k);
            if (x && y) e.counter_rates[k] = static_cast<double>(*y - *x) / dt;
        }
    }
    return e;
}

std::vector<uint16_t> Sampler::ports() const {
    std::vector<uint16_t> out;
    for (const auto& l : acc_.listeners)
        out.push_back(l.local.port);
    if (last_ && last_->sockets) {
        size_t n = 0;
        for (const auto& d : last_->sockets->destinations) {
            if (n++ >= 8) break;
            out.push_back(d.remote.port);
        }
    }
    return out;
}

}  // namespace c10k
