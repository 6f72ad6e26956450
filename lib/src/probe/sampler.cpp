// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/sampler.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <filesystem>
#include <map>

#include "c10k/collect.hpp"
#include "c10k/probe/thread_clock.hpp"
#include "c10k/sources/cpu_users.hpp"
#include "c10k/sources/proc_net.hpp"
#include "c10k/sources/socket_owner.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

namespace {

// The target's memory, by process_vm_readv: the same permission reading its
// /proc/PID/task/TID/syscall already needed (ptrace attach).
bool read_target_memory(pid_t pid, uint64_t addr, void* buf, size_t len) {
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

const double kTick = static_cast<double>(::sysconf(_SC_CLK_TCK));

// A process's run-queue wait so far, in ns: its main thread's schedstat. A
// worker of a forking server (nginx, PostgreSQL, Apache prefork, PHP-FPM) is
// one thread; the other threads of a threaded worker go uncounted, so its
// wait can only read low, never high.
std::optional<uint64_t> runq_wait_ns(pid_t pid) {
    auto text = read_text("/proc/" + std::to_string(pid) + "/schedstat");
    if (!text) return std::nullopt;
    auto s = parse_schedstat(*text);
    if (!s) return std::nullopt;
    return s->wait_ns;
}

constexpr const char* kRateCounters[] = {
    "TcpExt.ListenOverflows",
    "TcpExt.ListenDrops",
    "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.TCPTimeWaitOverflow",
    "TcpExt.TCPMemoryPressures",
    "Tcp.RetransSegs",
    // The handshake's share of them: SYNs a full queue dropped, SYN-ACKs whose
    // ACK it dropped - the queue's doing, not the path's.
    "TcpExt.TCPSynRetrans",
    "Tcp.OutSegs",
    "Tcp.ActiveOpens",
    "Tcp.PassiveOpens",
    "Tcp.AttemptFails",
    "TcpExt.TCPAbortOnMemory",
    // A full conntrack table: packets of new connections dropped when no
    // unreplied entry could be evicted, and the evictions that made room.
    "Conntrack.drop",
    "Conntrack.early_drop",
    // Connections reset because data came after the application closed them, or
    // because it closed them with data unread: a peer that still had requests.
    "TcpExt.TCPAbortOnData",
    "TcpExt.TCPAbortOnClose",
    // Every reset the namespace sent, for whatever reason (the two above, a
    // close with SO_LINGER 0, data for a socket already gone): sampling mode's
    // stand-in for the resets BPF sees the target's own sockets send.
    "Tcp.OutRsts",
};

constexpr size_t kMaxThreadsToWalk = 8192;

}  // namespace

void Sampler::sample_threads(Clock::time_point at) {
    read_blocked_.clear();
    std::vector<FutexWait> futex_waits;
    std::vector<ThreadTrack*> futex_waiters;
    bool any_running = false;
    std::error_code ec;
    auto dir = "/proc/" + std::to_string(pid_) + "/task";
    size_t walked = 0;
    std::unordered_set<uint32_t> alive;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end && walked < kMaxThreadsToWalk;
         it.increment(ec), ++walked) {
        auto tid_parsed = parse_uint(it->path().filename().string());
        if (!tid_parsed) continue;
        auto tid = static_cast<uint32_t>(*tid_parsed);
        alive.insert(tid);
        // A thread that has neither run nor been scheduled in since the last
        // look (schedstat's CPU time and run count unchanged) is where it was:
        // the same ticks, state and call, so its stat is not read, which is most
        // of what a look at a big, mostly idle target costs. (A thread woken
        // but not run for a whole look keeps its old state here; its run-queue
        // wait shows in schedstat once it runs.)
        std::optional<TaskSchedStat> sched;
        if (auto known = thread_cpu_.find(tid);
            known != thread_cpu_.end() && known->second.schedstat) {
            auto& tr = known->second;
            if (auto ss = files_.read(pid_, tid, TaskFiles::schedstat))
                sched = parse_schedstat(*ss);
            if (sched && tr.last_state != 0 && sched->runs == tr.last_runs &&
                sched->on_cpu_ns == tr.last_ns) {
                tr.last_at = at;
                tr.last_wait_ns = sched->wait_ns;
                ++acc_.unchanged_looks;
                look_at_thread(tid, &tr, tr.last_state, futex_waits, futex_waiters, any_running);
                continue;
            }
        }
        auto stat_view = files_.read(pid_, tid, TaskFiles::stat);
        if (!stat_view) continue;
        std::string stat(*stat_view);
        char state = parse_task_state(stat);
        ThreadTrack* track = nullptr;
        if (auto ticks = user_sys_ticks(stat)) {
            auto [t, fresh] = thread_cpu_.try_emplace(tid);
            track = &t->second;
            uint64_t total = ticks->first + ticks->second;
            if (!sched)
                if (auto ss = files_.read(pid_, tid, TaskFiles::schedstat))
                    sched = parse_schedstat(*ss);
            auto& tr = t->second;
            if (fresh) {
                tr.comm = stat_comm(stat);
                tr.first_ticks = total;
                tr.first_at = at;
                tr.schedstat = sched.has_value();
                if (sched) {
                    tr.first_ns = sched->on_cpu_ns;
                    tr.first_wait_ns = sched->wait_ns;
                    tr.window_wait_base_ns = threads_looked_ ? 0 : sched->wait_ns;
                    tr.first_runs = sched->runs;
                }
            }
            tr.last_ticks = total;
            tr.last_at = at;
            tr.last_state = state;
            if (tr.schedstat && sched) {
                tr.last_ns = sched->on_cpu_ns;
                tr.last_wait_ns = sched->wait_ns;
                tr.last_runs = sched->runs;
            }
        }
        look_at_thread(tid, track, state, futex_waits, futex_waiters, any_running);
    }
    workers_.look(files_, alive);
    files_.keep_only(alive);
    threads_looked_ = threads_looked_ || walked < kMaxThreadsToWalk;
    // Between the snapshots that sum the threads' totals, the count comes from here.
    acc_.threads_max = std::max(acc_.threads_max, static_cast<uint32_t>(alive.size()));
    auto contended = contended_waits(futex_waits, any_running);
    for (size_t i = 0; i < contended.size(); ++i)
        if (contended[i]) ++futex_waiters[i]->futex_contended_samples;
}

// One look at a thread in `state`: running, or asleep in a call (read, or
// replayed when the thread has not moved since its last look).
void Sampler::look_at_thread(uint32_t tid, ThreadTrack* track, char state,
                             std::vector<FutexWait>& futex_waits,
                             std::vector<ThreadTrack*>& futex_waiters, bool& any_running) {
    ++acc_.thread_samples;
    if (track) ++track->looks;
    if (state == 'R') {
        ++acc_.running;
        any_running = true;
        if (track) ++track->running;
        return;
    }
    if (state == 'D')
        ++acc_.disk;
    else
        ++acc_.sleeping;
    // Not scheduled in since the last look and in the same sleep: the same
    // call, the same arguments (a woken thread is 'R' even before it runs).
    if (track && track->schedstat && track->seen_call && track->seen_state == state &&
        track->seen_runs == track->last_runs) {
        ++acc_.reused_looks;
        note_sleeping_call(track, *track->seen_call, state, futex_waits, futex_waiters, false);
        return;
    }
    if (auto text = files_.read(pid_, tid, TaskFiles::syscall)) {
        if (auto sc = parse_task_syscall_args(*text)) {
            if (track) {
                track->seen_state = state;
                track->seen_runs = track->last_runs;
                track->seen_call = *sc;
            }
            note_sleeping_call(track, *sc, state, futex_waits, futex_waiters, true);
        }
    }
}

void Sampler::note_sleeping_call(ThreadTrack* track, const TaskSyscall& sc, char state,
                                 std::vector<FutexWait>& futex_waits,
                                 std::vector<ThreadTrack*>& futex_waiters, bool fresh_read) {
    auto name = syscall_name(sc.nr);
    ++acc_.blocked_in[name];
    if (track) note_wait(*track, sc, name, state);
    if (auto fw = futex_wait_of(sc); fw && track) {
        ++track->futex_samples;
        futex_waits.push_back(*fw);
        futex_waiters.push_back(track);
    }
    // A thread asleep reading a socket, or polling a few, waits for their peers.
    if (fresh_read) {
        std::vector<uint64_t> inodes;
        if (read_blocked_.size() < kMaxThreadsToWalk) {
            auto mem = [this](uint64_t addr, void* buf, size_t len) {
                return read_target_memory(pid_, addr, buf, len);
            };
            for (int fd : fds_awaiting_input(sc, mem))
                if (auto ino = socket_inode_of(pid_, static_cast<uint64_t>(fd)))
                    inodes.push_back(*ino);
        }
        if (track) track->seen_read_blocked = inodes;
        read_blocked_.insert(inodes.begin(), inodes.end());
    } else if (track) {
        read_blocked_.insert(track->seen_read_blocked.begin(), track->seen_read_blocked.end());
    }
    if (auto n = poll_nfds(sc)) {
        ++acc_.poll_samples;
        acc_.poll_nfds_sum += *n;
        acc_.poll_nfds_max = std::max<uint32_t>(
            acc_.poll_nfds_max, static_cast<uint32_t>(std::min<uint64_t>(*n, 1u << 30)));
    }
}

// Where a sleeping thread is, for an event loop's account: waiting for work,
// or blocked in a call an event loop should never block in.
void Sampler::note_wait(ThreadTrack& t, const TaskSyscall& sc, std::string_view name, char state) {
    switch (sleep_kind(sc, name, state)) {
        case SleepKind::readiness:
            ++t.in_readiness;
            return;
        case SleepKind::file_lock:  // a lock wait, judged with the others
            ++t.file_lock;
            return;
        case SleepKind::blocked:
            ++t.blocked;
            ++t.blocked_by_nr[sc.nr];
            return;
        case SleepKind::work:  // parked, or waiting on a peer: judged elsewhere
        case SleepKind::futex:
        case SleepKind::peer:
        case SleepKind::wakeup:  // never from sleep_kind
            return;
    }
}

void Sampler::note_listener(const Endpoint& local, uint32_t backlog, uint32_t queued) {
    auto it = std::find_if(acc_.listeners.begin(), acc_.listeners.end(),
                           [&](const ListenerSample& s) { return s.local == local; });
    if (it == acc_.listeners.end()) {
        acc_.listeners.push_back({local, backlog, 0, 0, 0, 0, 0});
        it = acc_.listeners.end() - 1;
    }
    it->backlog = backlog;
    it->queued_max = std::max(it->queued_max, queued);
    ++it->samples;
    // The kernel refuses a new connection once the queue holds more than the backlog
    // (sk_acceptq_is_full), so "at the backlog" is full.
    if (backlog > 0 && queued >= backlog) ++it->full_samples;
    if (queued > 0) ++it->waiting_samples;
    it->queued_sum += queued;
}

namespace {
constexpr uint64_t kRefreshFdsMax = 1024;
// A timer thread: asleep in a sleep call in at least this share of the looks
// it is not running. The rest allows a look that caught it between its wake
// and its next sleep in some other short call.
constexpr double kTimerSleepShare = 0.9;
}  // namespace

void Sampler::sample_conns(Clock::time_point at) {
    if (!reader_) {
        auto r = TcpConnReader::open();  // in the namespace sample() entered
        if (!r) return;
        reader_.emplace(std::move(*r));
    }
    // A target that opens connections per request (an event loop's FastCGI or
    // upstream HTTP/1.0) makes sockets between two full samples that only its
    // fd table can call its own: re-read it in each look once such a socket has
    // been seen. readlink costs ~1.5 us an fd, so at kRefreshFdsMax a look's
    // refresh costs about what its sock_diag dump does; past it, per-request
    // connections show only at full samples and their waits are undercounted.
    // The look after a full sample reads it again too: the snapshot read it
    // before its sysctls, its full dump and the threads (10-20 ms on a target
    // of 200 threads), longer than a fast backend's connection lives (Varnish
    // to a 2 ms backend), so without this no such connection is ever seen as
    // the target's and the refresh above never starts.
    bool fresh = fds_fresh_;  // owned_inodes_ read in this look
    if ((fds_fresh_ || conns_.outbound_opened() > 0) && acc_.fds_max <= kRefreshFdsMax)
        if (auto fds = read_fd_table(SysRoot{}, pid_)) {
            own_sockets(std::move(fds->socket_inodes));
            fresh = true;
        }
    fds_fresh_ = false;
    scratch_.clear();
    others_.clear();
    std::vector<TcpConn> known;
    auto keep = [&](const TcpConn& c) {
        if (c.state == static_cast<uint8_t>(TcpState::listen))
            return owned_inodes_.count(c.inode) > 0;
        // The target's accepted connections by port (new ones appear between
        // snapshots), the rest by inode.
        // Inode 0: still in the accept queue, nobody's yet.
        bool on_our_port = listening_.count(c.local.port) > 0;
        bool ours = c.inode != 0 && (on_our_port || owned_inodes_.count(c.inode) > 0);
        bool other = !ours && c.state == static_cast<uint8_t>(TcpState::established) &&
                     conns_.is_destination_port(c.remote.port);
        if (other) others_.emplace_back(c.remote, c.inode);
        // What the next look may look up instead of walking: every socket this
        // filter can take, the queued ones on our ports (accepted by then) too.
        if (ours || other || on_our_port) known.push_back(c);
        return ours;
    };
    // Connections opened in the namespace since the last enumeration began:
    // none, and the sockets it found are all there can be, so the next look
    // asks for each of them instead of walking the established table - as
    // long as that costs less than the walk did, and the filter knows nothing
    // the last walk's did not: no new destination (other processes' sockets to
    // it were not kept), no new listening port, and no socket in an fd table
    // read since that the walk's did not hold (one passed over a unix socket,
    // or inherited, opens nothing). Every look at a target that opens
    // connections per request walks (ActiveOpens moves anyway).
    std::optional<uint64_t> opened;
    if (conns_.outbound_opened() == 0)
        if (auto snmp = read_text("/proc/" + std::to_string(pid_) + "/net/snmp"))
            opened = parse_tcp_opens(*snmp);
    bool by_lookup = opened && opened_before_ && *opened == *opened_before_ &&
                     static_cast<double>(known_.size()) * lookup_cost_s_ < walk_cost_s_ &&
                     conns_.destination_port_count() == walk_knew_.destination_ports &&
                     listening_.size() == walk_knew_.listening_ports && !new_inodes_since_walk_;
    double t0 = thread_cpu_now();
    bool enumerated = false;
    if (by_lookup) {
        auto r = reader_->read_known(known_, keep, scratch_, want_v4_, want_v6_);
        if (!r) return;
        enumerated = *r;
        if (enumerated) {
            ++acc_.samples_by_lookup;
            if (!known_.empty())
                lookup_cost_s_ = (thread_cpu_now() - t0) / static_cast<double>(known_.size());
        } else {  // some answer was lost: walk after all
            scratch_.clear();
            others_.clear();
            known.clear();
        }
    }
    if (!enumerated) {
        walk_knew_ = {conns_.destination_port_count(), listening_.size()};
        new_inodes_since_walk_ = false;
        auto st = reader_->read(keep, scratch_, want_v4_, want_v6_);
        if (!st) return;
        walk_cost_s_ = thread_cpu_now() - t0;
    }
    known_ = std::move(known);
    opened_before_ = opened;
    want_v4_ = want_v6_ = false;
    for (const auto& c : scratch_) {
        want_v4_ = want_v4_ || c.local.family == AF_INET;
        want_v6_ = want_v6_ || c.local.family == AF_INET6;
    }
    std::vector<TcpConn> conns;
    conns.reserve(scratch_.size());
    if (fresh) port_inodes_.clear();
    for (const auto& c : scratch_) {
        if (fresh && listening_.count(c.local.port) > 0 &&
            (c.state == static_cast<uint8_t>(TcpState::listen) ||
             c.state == static_cast<uint8_t>(TcpState::established)))
            port_inodes_.insert(c.inode);
        if (c.state == static_cast<uint8_t>(TcpState::listen)) {
            note_listener(c.local, c.wqueue, c.rqueue);
            continue;
        }
        conns.push_back(c);
        // Whose the accepted connections are, where the fd table is this look's.
        if (fresh && c.state == static_cast<uint8_t>(TcpState::established) &&
            listening_.count(c.local.port) > 0) {
            ++acc_.inbound_at_snapshots;
            acc_.inbound_own_at_snapshots += owned_inodes_.count(c.inode);
        }
    }
    conns_.add(conns, listening_, read_blocked_, at);
    // A socket the target made after its fd table was read looks like another
    // process's: read the table again, after the dump, before counting any
    // (past kRefreshFdsMax, none are counted: the share stays the target's).
    if (others_.empty() || acc_.fds_max > kRefreshFdsMax) return;
    auto fds = read_fd_table(SysRoot{}, pid_);
    if (!fds) return;
    own_sockets(std::move(fds->socket_inodes));
    for (const auto& [remote, inode] : others_)
        if (owned_inodes_.count(inode) == 0) conns_.add_other(remote);
}

void Sampler::own_sockets(std::unordered_set<uint64_t> inodes) {
    if (!new_inodes_since_walk_ || !new_inodes_since_summary_) {
        bool fresh = std::any_of(inodes.begin(), inodes.end(),
                                 [&](uint64_t i) { return owned_inodes_.count(i) == 0; });
        new_inodes_since_walk_ = new_inodes_since_walk_ || fresh;
        new_inodes_since_summary_ = new_inodes_since_summary_ || fresh;
    }
    owned_inodes_ = std::move(inodes);
}

double Sampler::sample_fast() {
    double t0 = thread_cpu_now();
    auto at = Clock::now();
    sample_threads(at);
    sample_conns(at);
    if (profiler_) profiler_->drain();
    ++acc_.samples;
    double cost = thread_cpu_now() - t0;
    acc_.sampler_cpu_s += cost;
    last_fast_cost_ = cost;
    return cost;
}

void Sampler::profile_cpu() {
    auto p = CpuProfiler::start(pid_);
    if (p)
        profiler_ = std::move(*p);
    else
        acc_.on_cpu.unavailable = p.error().message();
}

bool process_gone(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie has exited; only its parent has not reaped it yet.
    auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    char state = parse_task_state(*stat);
    return state == 'Z' || state == 'X';
}

Result<bool> Sampler::sample(bool thread_totals) {
    if (process_gone(pid_)) return false;
    CollectOptions o;
    o.pid = pid_;
    o.interval_s = 0;
    auto group = group_switches();
    o.thread_stats = !group && (thread_totals || !first_totals_);
    if (last_) o.sysctls = last_->sysctls;  // read once a window
    // The last summary of the namespace's sockets serves again while nothing
    // connected since it was read: closes only shrink what it counts, and the
    // probe keeps maxima of it. Read first: one opened meanwhile makes the
    // next snapshot read them.
    std::optional<uint64_t> opened;
    if (auto snmp = read_text("/proc/" + std::to_string(pid_) + "/net/snmp"))
        opened = parse_tcp_opens(*snmp);
    bool summary_holds = last_ && last_->sockets && opened && opened == opened_at_summary_ &&
                         !new_inodes_since_summary_;
    if (summary_holds) o.sockets = *last_->sockets;
    auto c = collect(o);
    if (!c) {
        if (process_gone(pid_)) return false;
        return c.error();
    }
    auto& snap = c->now;
    if (auto text = read_text("/proc/" + std::to_string(pid_) + "/stat"))
        if (auto ticks = user_sys_ticks(*text)) {
            ProcTimes t{snap.sample.taken,
                        static_cast<double>(ticks->first + ticks->second) / kTick,
                        static_cast<double>(ticks->second) / kTick,
                        static_cast<double>(reaped_children_ticks(*text).value_or(0)) / kTick};
            if (!first_times_) {
                first_times_ = t;
                // Who else uses the CPUs, for a target starved of them: once, at the start.
                host_ticks_before_ = read_process_ticks();
                for (const auto& p : host_ticks_before_)
                    if (p.ppid == pid_)
                        if (auto w = runq_wait_ns(p.pid)) worker_waits_before_[p.pid] = *w;
            }
            last_times_ = t;
        }
    if (snap.process) {
        comm_ = snap.process->comm;
        if (snap.process->fds) {
            own_sockets(snap.process->fds->socket_inodes);
            fds_fresh_ = true;
        }
        if (snap.process->nofile) acc_.nofile_soft = snap.process->nofile->soft;
        if (snap.process->fds) acc_.fds_max = std::max(acc_.fds_max, snap.process->fds->open);
    }
    if (summary_holds) {
        ++acc_.summaries_reused;
    } else if (snap.sockets) {  // its fd table was read before its dump: both are current
        opened_at_summary_ = opened;
        new_inodes_since_summary_ = false;
    }
    thread_totals_current_ = group || (snap.sample.threads && *snap.sample.threads);
    if (thread_totals_current_) {
        const ThreadStats& t = group ? *group : **snap.sample.threads;
        acc_.threads_max = std::max(acc_.threads_max, t.threads);
        if (!first_totals_) {
            first_totals_.emplace(snap.sample.taken, t);
            totals_from_taskstats_ = group.has_value();
        }
        // Sums of the same kind only: taskstats has no run-queue wait to subtract.
        if (group.has_value() == totals_from_taskstats_) last_totals_.emplace(snap.sample.taken, t);
    }
    if (snap.sockets) {
        acc_.connections_max = std::max(acc_.connections_max, snap.sockets->owned_connections);
        for (const auto& l : snap.sockets->listeners) {
            if (l.owned) listening_.insert(l.local.port);
            acc_.foreign_listeners = acc_.foreign_listeners || !l.owned;
        }
        if (!snap.sockets->destinations.empty()) {
            const auto& d = snap.sockets->destinations.front();
            if (!acc_.busiest_destination || d.sockets > acc_.busiest_destination->sockets)
                acc_.busiest_destination = d;
        }
    }
    if (!cpu_limit_)
        if (auto l = read_cgroup_cpu_limit(SysRoot{}, pid_)) cpu_limit_ = std::move(*l);
    if (cpu_limit_ && cpu_limit_->limit_cores > 0)
        if (auto t = read_cpu_throttling(*cpu_limit_)) {
            if (!first_throttle_) first_throttle_.emplace(snap.sample.taken, *t);
            last_throttle_.emplace(snap.sample.taken, *t);
        }
    ++acc_.full_samples;
    want_v4_ = want_v6_ = true;  // new sockets may be of either family
    sample_fast();
    // Its ports' sockets were read in that look: who of its children hold them.
    workers_.refresh(pid_, [this](pid_t child) { return serves_ports(child); });
    if (last_ && last_->sample.net && snap.sample.net) {
        const auto& x = *last_->sample.net;
        const auto& y = *snap.sample.net;
        double dt = std::chrono::duration<double>(snap.sample.taken - last_->sample.taken).count();
        auto rate = [&](const char* k) {
            auto a = x.get(k), b = y.get(k);
            return a && b && *b >= *a ? static_cast<double>(*b - *a) / dt : 0.0;
        };
        if (dt > 0) acc_.throughput.push_back({dt, rate("Tcp.PassiveOpens"), rate("Tcp.OutSegs")});
    }
    if (!first_) first_ = snap;
    last_ = std::move(snap);
    return true;
}

std::optional<ThreadStats> Sampler::group_switches() {
    if (!taskstats_tried_) {
        taskstats_tried_ = true;
        if (auto r = TaskstatsReader::open()) taskstats_.emplace(std::move(*r));
    }
    if (!taskstats_) return std::nullopt;
    auto g = taskstats_->read(pid_);
    if (!g) {
        // EPERM without CAP_NET_ADMIN: /proc it is, from now on.
        taskstats_.reset();
        return std::nullopt;
    }
    ThreadStats t;
    t.voluntary_switches = g->voluntary;
    t.involuntary_switches = g->involuntary;
    return t;
}

double Sampler::runq_wait_share_of_looks() const {
    uint64_t waited = 0;
    std::optional<Clock::time_point> from, to;
    for (const auto& [tid, t] : thread_cpu_) {
        if (!t.schedstat) continue;
        waited += t.last_wait_ns - std::min(t.last_wait_ns, t.window_wait_base_ns);
        from = from ? std::min(*from, t.first_at) : t.first_at;
        to = to ? std::max(*to, t.last_at) : t.last_at;
    }
    double span = from ? std::chrono::duration<double>(*to - *from).count() : 0;
    return span > 0 ? static_cast<double>(waited) / 1e9 / span : 0;
}

void Sampler::finish() {
    if (process_gone(pid_)) return;
    if (totals_from_taskstats_) {
        if (auto t = group_switches()) last_totals_.emplace(Clock::now(), *t);
        return;
    }
    if (thread_totals_current_) return;
    if (auto t = read_thread_stats(SysRoot{}, pid_)) {
        acc_.threads_max = std::max(acc_.threads_max, t->threads);
        last_totals_.emplace(Clock::now(), *t);
        thread_totals_current_ = true;
    }
}

SampledEvidence Sampler::evidence() const {
    SampledEvidence e = acc_;
    e.conns = conns_.evidence();
    if (profiler_) e.on_cpu = profiler_->profile();
    if (!first_ || !last_) return e;
    const auto& a = first_->sample;
    const auto& b = last_->sample;
    double dt = std::chrono::duration<double>(b.taken - a.taken).count();
    e.seconds = dt;
    if (b.cpu) e.cpus = std::max<uint32_t>(1, b.cpu->cpus);
    if (auto v = last_->sysctls.integer("net.core.somaxconn")) e.somaxconn = *v;
    if (auto r = last_->sysctls.integers("net.ipv4.ip_local_port_range"); r && r->size() == 2)
        e.port_range = static_cast<uint32_t>((*r)[1] - (*r)[0] + 1);
    if (auto v = last_->sysctls.integer("net.netfilter.nf_conntrack_max"); v && *v >= 0)
        e.conntrack_max = static_cast<uint64_t>(*v);
    if (b.net)
        if (auto n = b.net->get("Conntrack.entries"); n && *n >= 0)
            e.conntrack_entries = static_cast<uint64_t>(*n);
    if (dt <= 0) return e;
    if (first_times_ && last_times_) {
        double wall = std::chrono::duration<double>(last_times_->at - first_times_->at).count();
        if (wall > 0) {
            e.cpu_cores = (last_times_->cpu_s - first_times_->cpu_s) / wall;
            e.sys_cores = (last_times_->sys_s - first_times_->sys_s) / wall;
            e.reaped_children_cores =
                std::max(0.0, last_times_->children_s - first_times_->children_s) / wall;
        }
    }
    if (cpu_limit_ && cpu_limit_->limit_cores > 0) {
        e.cpu_limit_cores = cpu_limit_->limit_cores;
        e.cpu_limit_cgroup = cpu_limit_->cgroup;
    }
    if (first_throttle_ && last_throttle_) {
        const auto& [t0, x] = *first_throttle_;
        const auto& [t1, y] = *last_throttle_;
        double wall = std::chrono::duration<double>(t1 - t0).count();
        if (y.periods > x.periods && y.throttled >= x.throttled)
            e.throttled_share = static_cast<double>(y.throttled - x.throttled) /
                                static_cast<double>(y.periods - x.periods);
        if (wall > 0 && y.throttled_ns >= x.throttled_ns)
            e.throttled_s_per_s = static_cast<double>(y.throttled_ns - x.throttled_ns) / 1e9 / wall;
    }
    if (a.cpu && b.cpu && b.cpu->total_ticks > a.cpu->total_ticks) {
        double total = static_cast<double>(b.cpu->total_ticks - a.cpu->total_ticks);
        e.host_busy = static_cast<double>(b.cpu->busy_ticks - a.cpu->busy_ticks) / total;
        if (b.cpu->steal_ticks >= a.cpu->steal_ticks)
            e.steal_share = static_cast<double>(b.cpu->steal_ticks - a.cpu->steal_ticks) / total;
    }
    // A thread counts once it was seen over at least half the window: a short-lived
    // one's few ticks over a short span would read as a pegged core.
    double threads_cpu_s = 0;
    for (const auto& [tid, t] : thread_cpu_) {
        threads_cpu_s += t.schedstat ? static_cast<double>(t.last_ns - t.first_ns) * 1e-9
                                     : static_cast<double>(t.last_ticks - t.first_ticks) / kTick;
        // A thread "ran" when it was scheduled in during the window (or, without
        // schedstat, used at least one clock tick).
        bool ran = t.schedstat ? t.last_runs > t.first_runs : t.last_ticks > t.first_ticks;
        if (ran) {
            e.futex_active += t.futex_samples;
            e.futex_contended += t.futex_contended_samples;
        }
        // A loop thread: seen waiting for readiness at least once - or the
        // process's only thread, which serves whatever it serves, though a loop
        // blocked nearly all the time may never be caught in its epoll_wait.
        e.file_lock_waits += t.file_lock;
        uint64_t sleeps = 0, other_blocked = 0;
        for (const auto& [nr, n] : t.blocked_by_nr)
            (syscalls::is_one_of(syscall_name(nr), syscalls::kSleeps) ? sleeps : other_blocked) +=
                n;
        uint64_t asleep = t.looks - std::min(t.looks, t.running);
        if (t.in_readiness == 0 && t.futex_samples == 0 && t.file_lock == 0 && other_blocked == 0 &&
            sleeps > 0 &&
            static_cast<double>(sleeps) >= kTimerSleepShare * static_cast<double>(asleep))
            e.timer_sleeps += sleeps;
        if (t.in_readiness > 0 || thread_cpu_.size() == 1) {
            e.loop_looks += t.looks;
            e.loop_idle += t.in_readiness;
            e.loop_running += t.running;
            e.loop_blocked += t.blocked;
            for (const auto& [nr, n] : t.blocked_by_nr)
                e.loop_blocked_in[syscall_name(nr)] += n;
        }
        double span = std::chrono::duration<double>(t.last_at - t.first_at).count();
        if (span < 0.5 * dt) continue;
        double cpu_s = t.schedstat ? static_cast<double>(t.last_ns - t.first_ns) * 1e-9
                                   : static_cast<double>(t.last_ticks - t.first_ticks) / kTick;
        double wait_s =
            t.schedstat ? static_cast<double>(t.last_wait_ns - t.first_wait_ns) * 1e-9 : 0;
        // Busy: on the CPU or runnable, as a share of the time the CPUs were ours
        // (what a hypervisor steals is neither run time nor run-queue wait).
        double ours = std::max(0.25, 1.0 - e.steal_share);
        auto most_blocked_in =
            std::max_element(t.blocked_by_nr.begin(), t.blocked_by_nr.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        e.busiest_threads.push_back(
            {tid, t.comm, cpu_s / span, std::min(1.0, (cpu_s + wait_s) / span / ours), t.looks,
             t.running, t.in_readiness, t.futex_samples, t.blocked,
             most_blocked_in == t.blocked_by_nr.end() ? std::string()
                                                      : syscall_name(most_blocked_in->first)});
    }
    e.threads_cores = threads_cpu_s / dt;
    e.worker_states = workers_.states();
    std::sort(e.busiest_threads.begin(), e.busiest_threads.end(),
              [](const ThreadCpu& x, const ThreadCpu& y) { return x.busy > y.busy; });
    if (e.busiest_threads.size() > 5) e.busiest_threads.resize(5);

    if (first_totals_ && last_totals_) {
        const auto& [t0, ta] = *first_totals_;
        const auto& [t1, tb] = *last_totals_;
        double span = std::chrono::duration<double>(t1 - t0).count();
        auto delta = [](uint64_t x, uint64_t y) {
            return y > x ? static_cast<double>(y - x) : 0.0;
        };
        if (span > 0) {
            e.switches_per_s = (delta(ta.voluntary_switches, tb.voluntary_switches) +
                                delta(ta.involuntary_switches, tb.involuntary_switches)) /
                               span;
            e.involuntary_per_s = delta(ta.involuntary_switches, tb.involuntary_switches) / span;
            e.runq_wait_share = totals_from_taskstats_
                                    ? runq_wait_share_of_looks()
                                    : delta(ta.runqueue_wait_ns, tb.runqueue_wait_ns) / 1e9 / span;
        }
    }
    if (a.net && b.net) {
        for (const char* k : kRateCounters) {
            auto x = a.net->get(k), y = b.net->get(k);
            if (x && y) e.counter_rates[k] = static_cast<double>(*y - *x) / dt;
        }
    }
    return e;
}

namespace {

bool is_any(const Endpoint& e) {
    for (auto b : e.addr)
        if (b) return false;
    return true;
}

bool is_loopback(const Endpoint& e) {
    if (e.family == AF_INET) return e.addr[0] == 127;
    static constexpr std::array<uint8_t, 16> v6_loopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
    return e.addr == v6_loopback ||
           (e.addr[10] == 0xff && e.addr[11] == 0xff && e.addr[12] == 127);  // v4-mapped
}

}  // namespace

void Sampler::name_servers(ConnEvidence& c) {
    if (!last_ || !last_->sockets) return;
    std::optional<uint64_t> netns;
    if (last_->process) netns = last_->process->netns_inode;
    size_t asked = 0;
    for (auto& d : c.destinations) {
        if (asked++ >= 4) break;
        // A listener on this port takes the connection if it is bound to the
        // destination's address, or to the wildcard and the address is ours.
        bool ours = is_loopback(d.remote) || d.remote.addr == d.local.addr;
        for (const auto& l : last_->sockets->listeners) {
            if (l.local.port != d.remote.port) continue;
            if (!(l.local.addr == d.remote.addr || (ours && is_any(l.local)))) continue;
            if (auto owner = find_socket_owner(l.inode, netns)) {
                d.server_pid = d.listener_pid = owner->pid;
                d.server_comm = owner->comm;
            }
            break;
        }
        if (!d.server_pid || d.busiest_waits == 0) continue;
        // The far end of the busiest connection, and who holds it.
        if (!reader_) continue;
        std::vector<TcpConn> peer;
        auto st = reader_->read(
            [&](const TcpConn& c) {
                return c.state == static_cast<uint8_t>(TcpState::established) &&
                       c.local == d.remote && c.remote == d.busiest_local;
            },
            peer, d.remote.family == AF_INET, d.remote.family == AF_INET6);
        if (!st || peer.empty()) continue;
        if (auto owner = find_socket_owner(peer.front().inode, netns)) {
            d.server_pid = owner->pid;
            d.server_comm = owner->comm;
        }
    }
}

void Sampler::count_closed(ConnEvidence& c) {
    bool any = std::any_of(c.destinations.begin(), c.destinations.end(),
                           [](const DestinationWait& d) { return d.per_request; });
    auto first_look = conns_.first_at();
    if (!any || !reader_ || !first_look) return;
    std::vector<TcpConn> time_wait;
    auto st = reader_->read_time_wait(
        [&](const TcpConn& t) {
            for (const auto& d : c.destinations)
                if (d.per_request && (t.remote == d.remote || t.local == d.remote)) return true;
            return false;
        },
        time_wait);
    if (!st) return;
    double window = std::chrono::duration<double>(Clock::now() - *first_look).count();
    for (auto& d : c.destinations) {
        if (!d.per_request) continue;
        d.closed = closed_within(d, time_wait, window);
        // Over the same stretch the closed count covers (the first look to now,
        // a look longer than c.seconds).
        set_reply_mean(d, c.samples, window);
    }
}

void Sampler::count_host_cpu(SampledEvidence& e) const {
    if (!first_times_) return;
    double wall = std::chrono::duration<double>(Clock::now() - first_times_->at).count();
    auto now = read_process_ticks();
    e.host_cpu_users = host_cpu_users(e.conns, now, wall);
    count_workers(e, now, wall);
}

std::vector<CpuUser> Sampler::host_cpu_users(ConnEvidence& c, const std::vector<ProcessTicks>& now,
                                             double wall, size_t n) const {
    for (auto& d : c.destinations) {
        if (!d.server_pid) continue;
        d.server_cores = cores_of(host_ticks_before_, now, wall, kTick, [&](const ProcessTicks& p) {
            return p.pid == d.server_pid ||
                   (d.listener_pid && (p.pid == d.listener_pid || p.ppid == d.listener_pid));
        });
    }
    return top_cpu_users(host_ticks_before_, now, wall, kTick, n);
}

bool Sampler::serves_ports(pid_t child) const {
    auto fds = read_fd_table(SysRoot{}, child);
    if (!fds) return false;
    return std::any_of(fds->socket_inodes.begin(), fds->socket_inodes.end(),
                       [&](uint64_t inode) { return port_inodes_.count(inode) > 0; });
}

void Sampler::count_workers(SampledEvidence& e, const std::vector<ProcessTicks>& now,
                            double wall) const {
    if (wall <= 0) return;
    double busiest = 0;
    for (const auto& p : now) {
        if (p.ppid != pid_) continue;
        // Both reads are sorted by PID; a child born in the window counts from zero.
        auto b = std::lower_bound(host_ticks_before_.begin(), host_ticks_before_.end(), p.pid,
                                  [](const ProcessTicks& x, pid_t pid) { return x.pid < pid; });
        uint64_t start =
            b != host_ticks_before_.end() && b->pid == p.pid && b->ticks <= p.ticks ? b->ticks : 0;
        double cores = static_cast<double>(p.ticks - start) / kTick / wall;
        // Idle children first: a master of hundreds (PostgreSQL's backends, a
        // prefork Apache) has its fd tables read only for those that ran.
        if (cores <= 0 || !serves_ports(p.pid)) continue;
        double wait = 0;
        if (auto w = runq_wait_ns(p.pid)) {
            auto before = worker_waits_before_.find(p.pid);
            uint64_t from =
                before != worker_waits_before_.end() && before->second <= *w ? before->second : 0;
            wait = static_cast<double>(*w - from) * 1e-9 / wall;
        }
        e.workers_cores += cores;
        e.workers_runq_wait += wait;
        ++e.workers_running;
        if (cores > busiest) {
            busiest = cores;
            e.busiest_worker_pid = static_cast<uint32_t>(p.pid);
            e.busiest_worker_runq_wait = wait;
        }
    }
    e.busiest_worker_cores = busiest;
    if (e.busiest_worker_pid == 0) return;
    std::error_code ec;
    uint32_t threads = 0;
    for (std::filesystem::directory_iterator
             it("/proc/" + std::to_string(e.busiest_worker_pid) + "/task", ec),
         end;
         !ec && it != end; it.increment(ec))
        ++threads;
    e.busiest_worker_threads = threads;
}

TargetPorts Sampler::ports() const {
    TargetPorts out;
    for (const auto& l : acc_.listeners)
        out.listening.push_back(l.local.port);
    // The target's own outbound connections (the namespace's busiest
    // destinations may be its clients' connections to it). The map holds 1024.
    out.remote = conns_.destination_ports();
    if (out.remote.size() > 512) out.remote.resize(512);
    return out;
}

}  // namespace c10k
