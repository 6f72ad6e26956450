// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/worker_looks.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "c10k/probe/syscalls.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

// Writes that can wait on a socket: a worker asleep in one waits for its
// client to read (a slow client, as a socket read waits for its request).
constexpr std::array<std::string_view, 4> kWrites = {"write", "writev", "sendto", "sendmsg"};

std::vector<pid_t> children_of(pid_t master) {
    std::vector<pid_t> out;
    auto id = std::to_string(master);
    auto text = read_text("/proc/" + id + "/task/" + id + "/children");
    if (!text) return out;
    for (auto f : split_ws(*text))
        if (auto v = parse_uint(f)) out.push_back(static_cast<pid_t>(*v));
    return out;
}

// A worker's epoll wait that watches no socket waits for no client and no
// dependency. With no timeout only another process can end it: PostgreSQL's
// backends wait so on their latch (a pipe or signalfd) for a lock another
// backend holds. With a timeout it is a sleep (pg_sleep waits on the same
// latch, timed). Its set is read from the worker's fdinfo, its fds' kinds
// from their links, up to the first socket.
SleepKind epoll_kind(pid_t pid, const EpollWait& w) {
    auto text = read_text("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(w.epfd));
    if (!text) return SleepKind::readiness;
    for (int fd : epoll_watched_fds(*text))
        if (socket_inode_of(pid, static_cast<uint64_t>(fd))) return SleepKind::readiness;
    return w.timed ? SleepKind::blocked : SleepKind::wakeup;
}

}  // namespace

void WorkerLooks::refresh(pid_t master, const std::function<bool(pid_t)>& serves) {
    auto children = children_of(master);
    std::unordered_map<pid_t, Track> kept;
    size_t asked = 0;
    for (pid_t c : children) {
        auto it = tracks_.find(c);
        Track t;
        if (it != tracks_.end()) {
            t = std::move(it->second);
            tracks_.erase(it);
        }
        if (!t.serves && asked < kMaxChecks) {
            ++asked;
            t.serves = serves(c);
        }
        kept.emplace(c, std::move(t));
    }
    for (auto& [pid, t] : tracks_)  // exited
        if (t.account.blocked > gone_blocked_.blocked) {
            gone_blocked_pid_ = static_cast<uint32_t>(pid);
            gone_blocked_ = std::move(t.account);
        }
    tracks_ = std::move(kept);
}

void WorkerLooks::look(TaskFiles& files, std::unordered_set<uint32_t>& alive) {
    uint32_t looked = 0;
    for (auto& [pid, t] : tracks_) {
        if (!t.serves || looked >= kMaxWorkers) continue;
        auto tid = static_cast<uint32_t>(pid);
        auto text = files.read(pid, tid, TaskFiles::schedstat);
        if (!text) continue;  // exited: the next refresh drops it
        auto sched = parse_schedstat(*text);
        alive.insert(tid);
        // Not scheduled in since the last look and on no CPU since: in the
        // same sleep, or still waiting for a CPU (as for the target's threads).
        bool moved = !t.seen || !sched || sched->runs != t.runs || sched->on_cpu_ns != t.on_cpu_ns;
        if (moved) {
            auto stat = files.read(pid, tid, TaskFiles::stat);
            if (!stat) continue;
            read_state(pid, t, files, parse_task_state(*stat));
            t.seen = true;
            if (sched) {
                t.runs = sched->runs;
                t.on_cpu_ns = sched->on_cpu_ns;
            }
        }
        ++looked;
        count(t, all_);
        count(t, t.account);
    }
    workers_max_ = std::max(workers_max_, looked);
}

WorkerStates WorkerLooks::states() const {
    WorkerStates s{workers_max_, all_, gone_blocked_pid_, gone_blocked_, 0};
    for (const auto& [pid, t] : tracks_) {
        const auto& a = t.account;
        s.blocked_most +=
            a.blocked > 0 && a.blocked >= a.idle && a.blocked >= a.peer && a.blocked >= a.running;
        if (a.blocked > s.most_blocked.blocked) {
            s.most_blocked_pid = static_cast<uint32_t>(pid);
            s.most_blocked = t.account;
        }
    }
    return s;
}

void WorkerLooks::read_state(pid_t pid, Track& t, TaskFiles& files, char state) {
    t.asleep.reset();
    t.call.clear();
    if (state == 'R') return;
    auto text = files.read(pid, static_cast<uint32_t>(pid), TaskFiles::syscall);
    auto sc = text ? parse_task_syscall_args(*text) : std::nullopt;
    if (!sc) return;  // woken between the two reads: running
    auto name = syscall_name(sc->nr);
    auto kind = sleep_kind(*sc, name, state);
    if (auto ew = kind == SleepKind::readiness ? epoll_wait_of(*sc) : std::nullopt)
        kind = epoll_kind(pid, *ew);
    if (kind == SleepKind::blocked && state != 'D' && syscalls::is_one_of(name, kWrites) &&
        socket_inode_of(pid, sc->args[0]))
        kind = SleepKind::peer;
    t.asleep = kind;
    if (kind == SleepKind::blocked) t.call = std::move(name);
}

void WorkerLooks::count(const Track& t, WorkerAccount& into) {
    ++into.looks;
    if (!t.asleep) {
        ++into.running;
        return;
    }
    switch (*t.asleep) {
        case SleepKind::readiness:
        case SleepKind::work:
            ++into.idle;
            return;
        case SleepKind::peer:
            ++into.peer;
            return;
        case SleepKind::futex:
            ++into.futex;
            return;
        case SleepKind::file_lock:
            ++into.file_lock;
            return;
        case SleepKind::blocked:
            ++into.blocked;
            ++into.blocked_in[t.call];
            return;
        case SleepKind::wakeup:
            ++into.wakeup;
            return;
    }
}

}  // namespace c10k
