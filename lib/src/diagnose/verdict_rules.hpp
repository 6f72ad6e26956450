// SPDX-License-Identifier: GPL-2.0-or-later
// Internal to the verdict: the rules as methods of one Judge over one
// ProbeEvidence, split by what they look at. The Judge computes the facts more
// than one rule depends on (fd-limited, thread storm, CPU busy) once, so a
// symptom can defer to its cause.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/diagnose/bottleneck.hpp"
#include "c10k/diagnose/probe_keys.hpp"
#include "c10k/diagnose/verdict.hpp"

namespace c10k::verdict {

// Thresholds. Named so they can be argued with; each one is explained where used.
constexpr double kFdPinned = 0.95;           // fds / soft limit that counts as "at the limit"
constexpr uint32_t kStormThreads = 256;      // thread-per-connection starts to hurt
constexpr double kStormSwitchesPerS = 5000;  // all threads together
constexpr double kCpuBusy = 0.85;            // share of the cores the process can use
constexpr double kBlockingShare = 0.5;       // of syscall time, in sleep/fsync/disk
constexpr double kFutexShare = 0.4;          // of syscall time, in futex
// Threads waiting on a held lock at once, on average (Little's law: the lock
// holds up that many threads' work). At one, a whole thread's worth of the
// process is always queued behind a lock; below, the waits add latency here and
// there, and a pool's parked workers (each on its own condvar) add nothing.
constexpr double kContendedWaiters = 1.0;
// A file lock's waiters, as a share of the process's thread-samples: at half,
// its threads wait for the lock more than they do everything else together,
// so the lock (held by a sibling thread or process) sets the pace.
constexpr double kFileLockShare = 0.5;
// Futex calls a second (on the CPU time that was ours) below which futex time
// is workers parked on a condvar between tasks, not a lock changing hands: a
// contended mutex guarding microseconds of work changes hands thousands of
// times a second, one waking a parked worker per task needs hundreds of tasks
// a second before it reaches this.
constexpr double kFutexPerS = 500;
// A lock that guards computation is busy at most the process's CPU demand:
// under half a core it is free most of the time and cannot be the cap ...
constexpr double kLockCanCap = 0.5;
// ... unless its holders block while holding it: this share of syscall time
// (or of working thread samples) in sleeps, fsync or disk waits.
constexpr double kHolderBlocks = 0.1;
// A dropped handshake costs its client the initial retransmission timeout:
// TCP_TIMEOUT_INIT, 1 s (RFC 6298), doubling on each further drop.
constexpr double kSynRetransmitS = 1.0;
// Sockets to one destination / port range: past half, connect() walks the whole
// first-parity half of the range on every call (see checks/ephemeral_ports.cpp).
constexpr double kPortsUsed = 0.5;
// Segments that close a small window: with a sender paced by the window nearly
// every data segment does; requests that fit in it, none.
constexpr double kSmallWindowShare = 0.3;
// Looks at a flowing connection on a small buffer that find its window closed
// (the queue at half the buffer). Requests that fit in the window never close
// it - the reader takes each whole: 0 in 2,300 looks at 20 echo connections on
// a 2 KiB buffer. A sender that waits on the window has it closed at every look
// landing between a fill and the next read: 28% to 95% of looks, by machine and
// load (the reader's share of a core against the sender's). A tenth leaves a
// third of the lowest measured share as margin above the never-closing kind.
constexpr double kClosedWindowShare = 0.1;
constexpr double kSmallRead = 4096;  // bytes per read below which reads are "tiny"
// A process whose kernel time is under this share of its CPU spends most of it
// in its own code: its syscalls (a reader's tiny reads among them) are not
// what holds the CPU.
constexpr double kUserBound = 0.5;
// A thread on the CPU this share of the time is saturated: at utilisation u a
// queue in front of it waits u/(1-u) service times on average (M/M/1), 9x at
// 0.9; and it is almost never back in epoll_wait to pick up new work.
constexpr double kPeggedThread = 0.9;
// ... and does three quarters of the process's CPU: one thread serving every
// connection, not one of several loops sharing them.
constexpr double kPeggedShareOfProcess = 0.75;
// A process starved of CPU by others: the host's CPUs this busy with the
// guest's own work (kCpuBusy), and the process's threads waiting in the run
// queue at least as long as they run (each request's computation takes twice
// its time or more) and at least this share of one thread's time. Below it the
// process is mostly idle: others' load costs it latency, not capacity.
constexpr double kStarvedWait = 0.25;
// Shares of samples are only meaningful over several observations: below this
// many, one or two lucky samples would decide.
constexpr uint64_t kMinSamples = 5;
// The same for segments: a share of windows under a hundred segments is a
// handful of packets, not a flow.
constexpr uint64_t kMinSegments = 100;
// Loss that users see: a request and its reply are two data segments, so with
// 0.5% of segments lost one exchange in a hundred loses one and waits for its
// retransmission (a tail-loss probe of 2 RTTs at best, the 200 ms minimum RTO
// at worst) - the 99th percentile of latency is then the retransmit timer, not
// the round trip. A bulk flow is hurt sooner: at 1%, a Reno/CUBIC window falls
// to about 1.2/sqrt(p) = 12 segments (Mathis).
constexpr double kLossShare = 0.005;
// Run-queue latency p99 at which a thread storm is corroborated by the
// scheduler itself: a millisecond is several timeslices of waiting.
constexpr uint64_t kStormRunqP99Ns = 1'000'000;
// Contention needs threads to contend: below four, a futex wait is one hand-off.
constexpr uint32_t kLockMinThreads = 4;
// A fixed pool: its connection count moves by at most one between looks (one
// being replaced), where a pool that grows with demand swings more.
constexpr uint32_t kPoolSizeSlack = 1;
// Nagle: a sub-MSS tail held back behind an unacked segment in at least this
// many looks, so one retransmission timeout does not decide.
constexpr uint64_t kMinNagleLooks = 3;
// "Most of the time": a majority of the window's instants.
// (An event loop parked in futex most of its looks, with requests unread, is
// blocked there: see Judge::find_stalled_loop.)
constexpr double kMostOfTheTime = 0.5;
// A dependency holds the host's CPU when its processes use at least half of
// the CPU the host's guests are busy with: more than everyone else together,
// so the run-queue wait of the target is mostly its doing.
constexpr double kDependencyCpuShare = 0.5;
// An accept queue at its backlog in this share of the samples is full in the
// steady state, not just during bursts.
constexpr double kQueueFullSteady = 0.5;
// Connections waiting in an accept queue below its backlog mean a cap when
// each waits this long (Little's law: mean queued / accepts per second). A
// process that accepts takes a connection within one turn of its loop or
// acceptor, microseconds to milliseconds even when busy (nginx at 0.94 cores
// under 300 keep-alive clients and 20 connecting ones: about 1 ms); at its
// cap, a connection waits for one to leave: keep-alive lifetimes, seconds.
constexpr double kCapQueueWaitS = 0.1;
// A connection cap holds its count still: at most this share (or one
// connection) of movement between the fewest and the most seen.
constexpr double kPlateau = 0.1;
// A cap kept by eviction (nginx at worker_connections): the process ends at
// least this share of the connections it accepts itself ...
constexpr double kEndsItself = 0.5;
// ... and peers were still using this share of those it ended (data arrived
// after the close, or was left unread). A keep-alive server closing idle
// connections after a timeout races a client's next request only in the
// instant of the close, far under 1%; a quarter is eviction, not a race.
constexpr double kAbortedShare = 0.25;
// ... while it holds about as many as it ever does: on average within this
// share of the most seen in any look but one. Each slot an eviction frees is
// taken by the next accept, so the count sits at its ceiling but for the
// instants between the two (the mean, unlike the fewest seen, is not decided
// by one unlucky look; nor, so, the most seen but one).
// A server that ends every connection after one reply holds a count that
// follows its load, mostly far below the peak of a busy instant.
constexpr double kEvictedPlateau = 0.25;
// A cap drained cleanly keeps idle connections until it needs their slots. A
// server that closes after each reply holds the ones it serves, each with its
// request in progress, and an idle one only in the microseconds between its
// reply and its close, so a look finds almost none; one held connection in
// ten idle is far above that. (nginx at worker_connections: a fifth to a
// third idle, the rest just accepted with their requests still unread.)
constexpr double kIdleHeldShare = 0.1;
// An idle keep-alive connection this old has outlived anything a cap draining
// idle connections leaves (a few ms at thousands of connections a second) and
// is in the range of an idle timeout: the shortest defaults are seconds
// (gunicorn 2 s, Apache and Node 5 s, nginx 75 s), and even one set to 100 ms
// lets connections reach twice this. Read at the 90th percentile of the
// idle connections seen, so a few slow clients do not decide ...
constexpr double kEvictedIdleAgeS = 0.05;
constexpr double kIdleAgePercentile = 0.9;
// ... over at least this many of them (one look's worth at a cap of 50).
constexpr uint64_t kMinIdleAges = 20;
// Connections accepted in the window below which a few aborts would decide.
constexpr double kMinConnections = 100;
// Accepts that went through at the fd limit, with no EMFILE, before the count
// is the process's own cap: more than a few, so a lucky moment between two
// closes does not decide (each accept at a true limit fails).
constexpr uint64_t kMinAccepts = 10;
// A refused connection lives one pass of the server's accept loop: accept, one
// short write (the error), close - microseconds of its time, with nothing to
// wait for from the client. A busy loop takes about a millisecond a turn (see
// kCapQueueWaitS); ten leave room tenfold, and stay far below the life of a
// kept connection, which outlasts a look interval (tens of ms) by definition.
constexpr double kRefusedLifetimeS = 0.01;
// ... and a server that forks per connection refuses in a child it has just
// started (PostgreSQL's backend checks max_connections after fork and its own
// start-up): a process start, 5 to 30 ms of CPU, longer while it waits for a
// core. A hundred milliseconds still sits below a look interval, so a kept
// connection cannot pass for a refused one.
constexpr double kForkedRefusalS = 0.1;
// A server forks per connection when it holds fewer than this share of the
// connections on its own listening ports at the snapshots: its listener holds
// an accepted fd only between accept() and the fork, and a server that keeps
// its connections holds all but those accepted in the instant between reading
// its fd table and dumping the sockets.
constexpr double kForkedOwnShare = 0.1;
// A pool whose connections are out awaiting replies this share of the time,
// with threads parked waiting: exhausted. A pool with headroom hands a
// connection back and finds no taker, so its share sits well below this; one
// at its cap is re-lent at once and only the hand-back gap shows as idle.
constexpr double kPoolBusy = 0.8;
// ... and work waiting for a slot at every instant, on average (Little's law,
// as kUnreadWaiting): threads parked for one, or in an event loop, requests
// its clients sent in progress beyond the pool's connections.
constexpr double kPoolQueued = 1.0;
// Nagle-held connections seen in this share of the samples: without Nagle the
// held state lasts microseconds, so seeing it in a fifth of all instants means
// tens-of-milliseconds stalls are routine.
constexpr double kNagleHeld = 0.2;
// Serialised handlers: the process's CPU must be at least this many cores for
// its plateau to be a cap rather than a light load (kLockCanCap's reasoning).
constexpr double kSerialMinCores = kLockCanCap;
// ... and at least this much of a core idle on the host, so a second handler
// could have run: half a core is a whole request's worth on every other tick.
constexpr double kSerialIdleCores = 0.5;
// A working thread: on the CPU or runnable this share of the time at least.
// Below it a thread is a helper that wakes now and then, not a handler.
constexpr double kWorkingThread = 0.05;
// select() breaks at FD_SETSIZE (1024), and at about a thousand fds one scan
// costs tens of microseconds, as much as serving a small request.
constexpr double kPollScanFds = 1000;
// A request unread across a look interval of at least this long waited ten
// turns of a busy loop (about a millisecond, kCapQueueWaitS): nobody was free
// to read it, where a process that reads on readiness is always back in time.
constexpr double kUnreadLookS = 0.01;
// ... and at least one such request at every instant, on average: work waits
// all the time (Little's law), not in a burst now and then.
constexpr double kUnreadWaiting = 1.0;

namespace key = probe_keys;

// Evidence under its key; `label` when the finding can say more than the key's.
inline void ev(Finding& f, const EvidenceKey& k, double value, std::string label = {}) {
    f.evidence.emplace_back(k, value, std::string_view{}, std::move(label));
}
// A rule lowers its row's CRIT to WARN where its own evidence shows the
// mechanism at work but not capping the server (a cost, or a symptom of a
// cause found elsewhere); nothing raises a row's severity.
inline void lower_to_warn(Finding& f, bool lesser) {
    if (lesser && f.severity == Severity::crit) f.severity = Severity::warn;
}

// `symptom` is `cause`'s consequence: a WARN whose why says so first (with
// `how`, where the rule knows how the cause brings it), listed under what the
// cause accounts for. One wording for the vocabulary's pairs and the rules'.
inline void account_for(Finding& cause, Finding& symptom, std::string_view how = {}) {
    symptom.severity = Severity::warn;
    symptom.why = fmt::format("A consequence of {}{}{}. {}", cause.id.name(),
                              cause.subject.empty() ? "" : " (" + cause.subject + ")",
                              how.empty() ? "" : ": " + std::string(how), symptom.why);
    cause.accounts_for.emplace_back(symptom.id.name());
}

// ... under a key that takes a qualifier (a syscall, a rank).
inline void ev_at(Finding& f, const EvidenceKey& k, std::string_view qualifier, double value,
                  std::string label = {}) {
    f.evidence.emplace_back(k, value, qualifier, std::move(label));
}

// How directly a finding's evidence shows its mechanism; every confidence the
// judge gives is one of these rows, so they are reviewed side by side.
enum class Support {
    caught,        // the failure itself counted (EMFILE, EADDRNOTAVAIL returns) and its cause seen
    corroborated,  // two independent signals of one mechanism agree
    measured,      // timed or counted in the kernel over the window (BPF, perf's CPU samples)
    counted,       // a kernel counter's rate, or the state in most looks at the process
    sampled,       // looks at the process show the mechanism's state, not its cost
    indirect,  // a proxy for the mechanism (poll's nfds from /proc, a queue full without overflows)
    sampled_proxy,  // a proxy seen in looks (D state for disk waits)
    weak,           // one signal that other causes can also give
    idle,           // nothing ran: there was little to judge
};

inline double confidence_of(Support s) {
    constexpr double kConfidence[] = {0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.4};
    static_assert(std::size(kConfidence) == static_cast<size_t>(Support::idle) + 1);
    return kConfidence[static_cast<size_t>(s)];
}

// How far n observations let a share be trusted: a share read from n of them
// has a standard error of at most 0.5/sqrt(n), so the confidence a kind of
// support earns is cut by that much - a half at one look, 15% at 11 (a 3 s
// window's looks at a busy target), 5% at 100, nothing to speak of for the
// thousands of events BPF counts.
inline double weight_of(double observations) {
    return observations >= 1 ? 1.0 - 0.5 / std::sqrt(observations) : 0.5;
}

// Connections wait in the listener's accept queue in most looks (and there
// were enough looks to say so).
inline bool waits_in_most_looks(const ListenerSample& l) {
    return l.samples >= kMinSamples && static_cast<double>(l.waiting_samples) >=
                                           kQueueFullSteady * static_cast<double>(l.samples);
}

// The connections held stay flat across the looks: at most a tenth (or one)
// between the fewest and the most seen.
inline bool holds_plateau(const ConnEvidence& c) {
    uint32_t slack = std::max<uint32_t>(1, static_cast<uint32_t>(kPlateau * c.inbound_max));
    return c.samples >= kMinSamples && c.inbound_min >= 1 && c.inbound_max - c.inbound_min <= slack;
}

inline double rate(const SampledEvidence& s, const char* key) {
    auto it = s.counter_rates.find(key);
    return it == s.counter_rates.end() ? 0 : it->second;
}

// Data segments sent again, per second: what the path lost. SYN and SYN-ACK
// retransmits are left out - a full accept or SYN queue drops handshakes
// (their clients and the server send them again) on a path that loses nothing.
inline double data_retransmits(const SampledEvidence& s) {
    return std::max(0.0, rate(s, "Tcp.RetransSegs") - rate(s, "TcpExt.TCPSynRetrans"));
}

inline double percent(uint64_t n, uint64_t of) {
    return of ? static_cast<double>(n) * 100 / static_cast<double>(of) : 0;
}

// Looks by call ("pread64" -> 109), most first: (count, call) pairs.
inline std::vector<std::pair<uint64_t, std::string>> by_count(
    const std::map<std::string, uint64_t, std::less<>>& looks_in) {
    std::vector<std::pair<uint64_t, std::string>> out;
    for (const auto& [name, n] : looks_in)
        out.emplace_back(n, name);
    std::sort(out.rbegin(), out.rend());
    return out;
}

inline uint64_t count_of(const std::map<std::string, uint64_t, std::less<>>& m,
                         std::span<const std::string_view> keys) {
    uint64_t n = 0;
    for (auto k : keys)
        if (auto it = m.find(k); it != m.end()) n += it->second;
    return n;
}

class Judge {
  public:
    explicit Judge(const ProbeEvidence& evidence);
    Verdict run();
    // The mean share of a pool's connections out awaiting a reply (rules_waits.cpp).
    static double pool_busy(const DestinationWait& d);

  private:
    // A finding of the kind `support`, its confidence weighed by the
    // observations that kind rests on (basis()).
    // A finding of its row's severity (BottleneckInfo::severity); rules only
    // ever lower it (lower_to_warn).
    Finding make(Bottleneck id, Support support, std::string title) const;
    // ... resting on `looks` looks at the process whatever the kind (what the
    // connections' TCP_INFO showed, in either mode).
    Finding make_from_looks(Bottleneck id, Support support, std::string title,
                            uint64_t looks) const;
    std::pair<double, Measure> basis(Support support) const;
    // rules_queues.cpp: fds and the kernel's queues in front of the process.
    void fd_limit();
    void accept_queue();
    void evicting_cap();
    void refusing_cap();
    void syn_backlog();
    // rules_threads.cpp: how the process's threads spend their time.
    void thread_storm();
    void cpu_saturated();
    void blocking_and_locks();
    void blocked_workers();
    void serialised();
    // rules_network.cpp: ports, buffers and the namespace's TCP counters.
    void ephemeral_ports();
    void socket_buffers();
    void tcp_counters();
    void conntrack_table();
    // rules_waits.cpp: what the process waits on: peers, a pool, Nagle, fd scans.
    void downstream();
    void connection_pool();
    void nagle();
    void poll_scaling();
    // rules_unread.cpp: requests left unread behind a full worker pool.
    void unread_requests();
    // Requests sit unread in most looks, at least one at every instant.
    bool requests_wait_unread() const;
    bool requests_sit_queued() const;
    void find_pool();
    void find_stalled_loop();
    void find_poll_scan();
    void note_where_cpu_goes(Finding& f) const;
    void find_starving_dependency();
    bool accepts_at_its_limit() const;
    // accept() calls that returned a connection, while syscalls were traced (BPF).
    uint64_t accepts_ok() const;
    // A finding of this id is already out (a later rule defers to it).
    bool named(Bottleneck id) const;
    void explain_symptoms();
    // The vocabulary's symptoms, each as the window showed it or not.
    bool observed(Symptom symptom) const;
    void name_what_each_explains();

    const ProbeEvidence& e;
    const SampledEvidence& s;
    const BpfEvidence* b;
    double sys_s;         // seconds syscalls were traced
    uint32_t threads;     // at least 1
    double usable_cores;  // min(CPUs, threads)
    uint64_t syscall_ns;  // all of the target's syscall time
    uint64_t emfile;      // EMFILE + ENFILE
    bool fd_limited;
    double switches;     // per second
    double involuntary;  // per second
    uint64_t runq_p99;   // ns
    // The share of the CPU time that was ours: what a hypervisor's steal left
    // (at least a quarter, so a bad steal reading cannot inflate rates 10x).
    double ours;
    bool storm;
    // CPU demand in cores: on a CPU plus waiting for one, of the CPU time that was ours.
    double demand;
    bool cpu_busy;
    const ThreadCpu* pegged = nullptr;  // one thread near a whole core
    // The thread that does the process's work, asleep in one call most of the
    // time while its requests wait unread: parked in futex (an event loop in
    // Atomics.wait or a sync lock), or blocked in another call (a sleep, a
    // disk or pipe wait) - see find_stalled_loop.
    struct StalledLoop {
        const ThreadCpu* thread = nullptr;
        std::string call;    // the call it sat in
        uint64_t looks = 0;  // its looks there
        bool futex = false;
    };
    std::optional<StalledLoop> stalled_loop;
    // A cap kept by refusing that the server sized from its fd limit at start
    // (Redis's maxclients): named as the fd limit, with no EMFILE to show.
    bool limit_sized_cap = false;
    bool throttled = false;    // by its cgroup's CPU quota, most periods
    bool quota_bound = false;  // the cgroup's CPU limit is what binds
    bool starved = false;      // runnable, waiting for CPUs others fill
    double guest_busy = 0;     // host CPUs busy with our guest's work, 0..1
    double runq_wait = 0;      // threads' run-queue wait, s/s of our CPU time
    double starved_run = 0;    // ... and their run time, s/s of our CPU time
    // Its threads, and a forking master's workers, who do its work: starved
    // counts theirs as its own.
    bool workers_starved = false;
    bool cpu_limited;  // the process or one of its threads
    // A master that serves through worker processes, whose workers fill the
    // host's cores (PostgreSQL's backends on slow queries): see the constructor.
    bool workers_hold_cpu = false;
    bool workers_fill_cores = false;        // together, the host's cores
    bool pegged_worker = false;             // one single-threaded worker, a whole core
    const DestinationWait* pool = nullptr;  // an exhausted connection pool
    // Inbound requests in progress beyond those out at the pool's destination:
    // what an event loop holds while it waits for a slot (0 when threads wait).
    double pool_queued = 0;
    // The destination the target waits on whose own processes hold most of the
    // host's busy CPU: the target's starvation is that dependency's doing.
    const DestinationWait* starving_dependency = nullptr;
    double futex_waiters = 0;      // threads in futex per sample
    double contended_waiters = 0;  // of those, waiting on a lock another holds
    double poll_nfds = 0;          // fds per poll-family call
    bool poll_scan = false;
    // The target's connections are held by its children (process per connection).
    bool forks_per_connection = false;
    // ... and those children were looked at, each beside it (worker_states).
    bool workers_looked_at = false;
    // The host's CPU goes mostly to the target's children that came and went
    // in the window: its own process-per-connection churn, not a neighbour.
    bool churn_holds_cpu = false;
    bool refusal_churn = false;  // refusing_cap fired on a CPU its churn holds
    bool drain_churn = false;    // a cap drained cleanly: the CPU goes into reconnects
    double poll_cpu_share =
        -1;  // of the process's on-CPU samples, inside poll/select; -1: not sampled
    // The on-CPU profile, when it has enough samples to read shares from.
    const OnCpuProfile* profile = nullptr;
    std::vector<Finding> out;
};

}  // namespace c10k::verdict
