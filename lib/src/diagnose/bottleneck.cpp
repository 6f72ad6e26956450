// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/diagnose/bottleneck.hpp"

#include <algorithm>

#include "c10k/enum_names.hpp"
#include "c10k/probe/syscalls.hpp"

namespace c10k {

namespace {

using B = Bottleneck;
namespace sc = syscalls;

// An app at its cap: accepts that stall, and threads waiting for a slot.
constexpr std::array<std::string_view, 3> kCapWaits = {"accept4", "accept", sc::kFutex};

// What each cause brings along. An fd limit leaves connections unaccepted, so
// the accept queue fills; thread storms and fd scans burn the CPU they are
// seen by; an application at its cap fills its accept queue and parks the
// threads that wait for a slot; TCP memory pressure shrinks every socket's
// buffer. A handshake whose final ACK meets a full accept queue is kept
// half-open and its SYN-ACK sent again, so a queue left full fills the SYN
// queue behind it.
constexpr std::array<Bottleneck, 2> kFdLimitBrings = {B::accept_queue_overflow,
                                                      B::syn_backlog_overflow};
constexpr std::array<Bottleneck, 1> kBurnsCpu = {B::cpu_saturated};
constexpr std::array<Bottleneck, 3> kCapBrings = {B::accept_queue_overflow, B::lock_contention,
                                                  B::syn_backlog_overflow};
constexpr std::array<Bottleneck, 1> kQueueBrings = {B::syn_backlog_overflow};
constexpr std::array<Bottleneck, 1> kPressureBrings = {B::socket_buffer_limited};

using S = Symptom;

constexpr std::array kSymptomNames = {"emfile",           "accept-queue-full", "connection-plateau",
                                      "requests-waiting", "run-queue-wait",    "cpu-busy",
                                      "futex-waits",      "resets-sent",       "time-wait-overflow",
                                      "retransmits",      "requests-unread",   "syn-queue-full",
                                      "conntrack-full"};
static_assert(names_every(kSymptomNames, S::conntrack_full));

// What each mechanism produces. An fd limit fails accepts, leaves the queue
// full and holds the connections flat at the limit; a cap holds a flat count
// with requests and connections waiting behind it, threads parked for a slot,
// and (evicting) resets; a scan or a storm burns the CPU it is seen by, and
// whatever a busy CPU leaves behind (threads in the run queue, requests in
// progress and unread) is theirs too; a slow dependency, a blocking call or a
// lock keeps requests in progress; a full TIME_WAIT table resets late FINs.
// A cause explains at least what each finding it brings along explains (the
// static_assert below): what a consequence shows, its cause produced.
constexpr std::array kFdLimitExplains = {S::emfile, S::accept_queue_full, S::connection_plateau,
                                         S::syn_queue_full};
constexpr std::array kScanExplains = {S::cpu_busy, S::run_queue_wait, S::requests_waiting,
                                      S::requests_unread};
constexpr std::array kStormExplains = kScanExplains;
constexpr std::array kCapExplains = {
    S::connection_plateau, S::accept_queue_full, S::requests_waiting, S::requests_unread,
    S::futex_waits,        S::resets_sent,       S::syn_queue_full};
constexpr std::array kDownstreamExplains = {S::requests_waiting, S::run_queue_wait};
// A connect that stalls, a tail held for an ACK, a sender waiting for a window:
// the request is in progress the whole time.
constexpr std::array kWaitExplains = {S::requests_waiting};
// A blocked loop reads nothing meanwhile: its requests sit unread.
constexpr std::array kBlockingExplains = {S::requests_waiting, S::requests_unread};
constexpr std::array kLockExplains = {S::futex_waits, S::requests_waiting};
constexpr std::array kQueueExplains = {S::accept_queue_full, S::syn_queue_full};
constexpr std::array kSynQueueExplains = {S::syn_queue_full};
constexpr std::array kConntrackExplains = {S::conntrack_full};
constexpr std::array kCpuExplains = {S::cpu_busy, S::run_queue_wait, S::requests_waiting,
                                     S::requests_unread};
constexpr std::array kTimeWaitExplains = {S::time_wait_overflow, S::resets_sent};
constexpr std::array kLossExplains = {S::retransmits};

// In enum order; the static_assert below keeps the two in step.
constexpr BottleneckInfo kTable[] = {
    {B::fd_limit, "fd-limit", 100, Severity::crit,
     "RLIMIT_NOFILE reached: accept()/socket() fail with EMFILE", sc::kAccepts, ExtraHist::none,
     kFdLimitBrings, kFdLimitExplains},
    {B::ephemeral_port_exhaustion,
     "ephemeral-port-exhaustion",
     95,
     Severity::crit,
     "local ports to one destination nearly used up: connect() slow, then EADDRNOTAVAIL",
     sc::kConnects,
     ExtraHist::none,
     {},
     kWaitExplains},
    {B::poll_scaling, "poll-scaling", 93, Severity::crit,
     "readiness found by scanning every fd with select()/poll(): cost grows with idle connections",
     sc::kFdScans, ExtraHist::none, kBurnsCpu, kScanExplains},
    {B::context_switch_storm,
     "context-switch-storm",
     90,
     Severity::crit,
     "thread per connection: the scheduler, not the work, takes the time",
     {},
     ExtraHist::none,
     kBurnsCpu,
     kStormExplains},
    {B::app_connection_limit, "app-connection-limit", 88, Severity::crit,
     "the application's own cap (workers, max clients, a connection pool) is full while the "
     "machine has headroom",
     kCapWaits, ExtraHist::reply_latency, kCapBrings, kCapExplains},
    {B::downstream_bound,
     "downstream-bound",
     86,
     Severity::crit,
     "the process waits for replies from a dependency over its outbound connections",
     {},
     ExtraHist::reply_latency,
     {},
     kDownstreamExplains},
    {B::nagle_delayed_ack,
     "nagle-delayed-ack",
     85,
     Severity::crit,
     "small writes held by Nagle until the peer's delayed ACK: ~40 ms per response",
     {},
     ExtraHist::nagle_stall,
     {},
     kWaitExplains},
    {B::socket_buffer_limited,
     "socket-buffer-limited",
     84,
     Severity::crit,
     "a small socket buffer closes the window: tiny reads, the sender waits",
     sc::kSocketReads,
     ExtraHist::none,
     {},
     kWaitExplains},
    {B::off_cpu_blocking,
     "off-cpu-blocking",
     82,
     Severity::crit,
     "blocking calls (disk, fsync, sleep) where the process should not block",
     sc::kBlocking,
     ExtraHist::none,
     {},
     kBlockingExplains},
    {B::lock_contention,
     "lock-contention",
     80,
     Severity::crit,
     "threads wait for each other on a lock (futex)",
     sc::kFutexes,
     ExtraHist::none,
     {},
     kLockExplains},
    {B::accept_queue_overflow, "accept-queue-overflow", 78, Severity::crit,
     "the accept queue overflows: the process accepts, but not fast enough for the bursts",
     sc::kAccepts, ExtraHist::none, kQueueBrings, kQueueExplains},
    {B::syn_backlog_overflow,
     "syn-backlog-overflow",
     70,
     Severity::crit,
     "the SYN queue is full: SYNs dropped, or answered with cookies",
     {},
     ExtraHist::none,
     {},
     kSynQueueExplains},
    {B::conntrack_full,
     "conntrack-full",
     69,
     Severity::crit,
     "the conntrack table is full: new connections' packets dropped",
     {},
     ExtraHist::none,
     {},
     kConntrackExplains},
    {B::cpu_saturated,
     "cpu-saturated",
     68,
     Severity::crit,
     "the process, or one thread of it such as an event loop, is on the CPU all the time",
     {},
     ExtraHist::none,
     {},
     kCpuExplains},
    {B::tcp_memory_pressure,
     "tcp-memory-pressure",
     65,
     Severity::crit,
     "TCP memory past tcp_mem's pressure mark: every socket's buffers shrink",
     {},
     ExtraHist::none,
     kPressureBrings,
     kWaitExplains},
    {B::time_wait_overflow,
     "time-wait-overflow",
     60,
     Severity::warn,
     "tcp_max_tw_buckets reached: TIME_WAIT sockets destroyed early",
     {},
     ExtraHist::none,
     {},
     kTimeWaitExplains},
    {B::network_loss,
     "network-loss",
     50,
     Severity::warn,
     "segments lost and retransmitted",
     {},
     ExtraHist::none,
     {},
     kLossExplains},
    {B::healthy, "healthy", 0, Severity::ok, "no limit was near during the window",
     sc::kReadinessWaits, ExtraHist::none},
};

static_assert(rows_in_enum_order(kTable, &BottleneckInfo::id, B::healthy),
              "kTable must list every Bottleneck once, in enum order");

constexpr bool explains_all(std::span<const Symptom> outer, std::span<const Symptom> inner) {
    for (auto s : inner)
        if (std::find(outer.begin(), outer.end(), s) == outer.end()) return false;
    return true;
}

// A cause explains every symptom of the findings it accounts for.
constexpr bool causes_explain_their_consequences() {
    for (const auto& row : kTable)
        for (auto brought : row.accounts_for)
            if (!explains_all(row.explains, kTable[static_cast<size_t>(brought)].explains))
                return false;
    return true;
}
static_assert(causes_explain_their_consequences(),
              "a cause must explain what the findings it brings along explain");

}  // namespace

std::span<const BottleneckInfo> bottlenecks() {
    return kTable;
}

const BottleneckInfo& info(Bottleneck b) {
    return kTable[static_cast<size_t>(b)];
}

std::string_view to_string(Bottleneck b) {
    return info(b).name;
}

std::string_view to_string(Symptom s) {
    return enum_name(kSymptomNames, s);
}

std::optional<Bottleneck> bottleneck_from(std::string_view name) {
    for (const auto& i : kTable)
        if (i.name == name) return i.id;
    return std::nullopt;
}

}  // namespace c10k
