// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/bpf_session.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <set>
#include <span>
#include <thread>

#include "c10k/probe/kernel_layout.hpp"
#include "c10k/sources/sys_root.hpp"
#include "c10k/text.hpp"

#ifdef C10K_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

// The skeleton's .rodata names the shared structs: they come first.
#include "probe_shared.h"
// clang-format off
#include "probe.skel.h"
// clang-format on

namespace c10k {
constexpr size_t off(c10k_off_state s) {
    return static_cast<size_t>(s);
}
static_assert(off(C10K_OFF_PREEMPTED) == off_preempted && off(C10K_OFF_SLEEP) == off_sleeping &&
                  off(C10K_OFF_DISK) == off_disk && off(C10K_OFF_OTHER) == off_other &&
                  off(C10K_OFF_STATES) == off_states,
              "OffCpu follows enum c10k_off_state");
static_assert(C10K_SMALL_WINDOW_BYTES == kSmallWindowBytes);
static_assert(sizeof(c10k_kernel_offsets) == sizeof(KernelOffsets),
              "KernelOffsets holds every field the programs read");
}  // namespace c10k
#endif

namespace c10k {

#ifndef C10K_HAVE_BPF

struct BpfSession::Impl {};
BpfSession::BpfSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfSession::~BpfSession() = default;
Result<std::unique_ptr<BpfSession>> BpfSession::start(pid_t, bool, const std::string&) {
    return make_error("this c10k-doctor was built without eBPF support");
}
Status BpfSession::attach_syscalls() {
    return make_error("built without eBPF");
}
void BpfSession::detach_syscalls() {}
bool BpfSession::syscalls_attached() const {
    return false;
}
void BpfSession::set_ports(const TargetPorts&) {}
SyscallCounts BpfSession::syscall_counts() const {
    return {};
}
BpfEvidence BpfSession::read() const {
    return {};
}
void BpfSession::read_threads(SchedStat&) const {}

#else

namespace {

bool g_verbose = false;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (!g_verbose && level != LIBBPF_WARN) return 0;
    if (!g_verbose) return 0;  // warnings too: the caller reports failures in one line
    std::fputs("libbpf: ", stderr);
    return std::vfprintf(stderr, fmt, args);
}

std::string err_text(long err) {
    int e = static_cast<int>(err < 0 ? -err : err);
    return errno_text(e);
}

// Classic tracepoints attach through tracefs (libbpf reads each one's id there).
// Where the system has not mounted it, `attach` runs on a short-lived thread
// in a mount namespace of its own with tracefs mounted: the attachment outlives
// the thread, the mount does not, so nothing is left mounted on the host even
// when the probe is killed.
template <typename Attach>
void with_tracefs(Attach attach) {
    struct stat st {};
    if (::stat("/sys/kernel/tracing/events", &st) == 0 ||
        ::stat("/sys/kernel/debug/tracing/events", &st) == 0) {
        attach();
        return;
    }
    int saved = 0;
    std::thread t([&] {
        // A thread may leave its process's mount namespace (it then stops
        // sharing cwd and root with the others, which the probe never changes).
        if (::unshare(CLONE_NEWNS) == 0 &&
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
            ::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr);
        attach();
        saved = errno;
    });
    t.join();
    errno = saved;
}

GroupAttach attached(ProbeGroup g, AttachHow how = AttachHow::raw_tp) {
    GroupAttach a;
    a.group = g;
    a.how = how;
    return a;
}

GroupAttach not_attached(ProbeGroup g, AttachHow how, std::string error) {
    GroupAttach a = attached(g, how);
    a.status = AttachStatus::failed;
    a.error = std::move(error);
    return a;
}

uint64_t map_memlock(int fd) {
    auto text = read_text("/proc/self/fdinfo/" + std::to_string(fd));
    if (!text) return 0;
    for (auto line : split_lines(*text)) {
        if (starts_with(line, "memlock:")) return parse_uint(trim(line.substr(8))).value_or(0);
    }
    return 0;
}

// Calls fn(key, value) for every entry of a (non-per-CPU) hash map.
template <typename K, typename V, typename F>
void for_each_entry(int fd, F fn) {
    K key{}, next{};
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : &key, &next) == 0) {
        first = false;
        key = next;
        V value{};
        if (bpf_map_lookup_elem(fd, &key, &value) == 0) fn(key, value);
    }
}

// Every slot of a per-CPU array, CPU by CPU: slot i's values start at
// [i * ncpu]. One BPF_MAP_LOOKUP_BATCH call where the kernel has it (5.6+):
// a syscall costs ~1 us on these VMs, and the syscall table's 512 slots,
// read one lookup each, were a fifth of the prober's syscalls.
template <typename T>
std::vector<T> read_percpu_array(int fd, uint32_t slots, int ncpu) {
    static_assert(sizeof(T) % 8 == 0, "the kernel lays per-CPU values out at 8-byte strides");
    const auto per_slot = static_cast<size_t>(ncpu);
    std::vector<T> vals(slots * per_slot);
    std::vector<uint32_t> keys(slots);
    uint32_t out_batch = 0;
    uint32_t count = slots;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err =
        bpf_map_lookup_batch(fd, nullptr, &out_batch, keys.data(), vals.data(), &count, &opts);
    // ENOENT: the whole array came back in this batch.
    if ((err == 0 || errno == ENOENT) && count == slots) return vals;
    for (uint32_t k = 0; k < slots; ++k)
        if (bpf_map_lookup_elem(fd, &k, vals.data() + k * per_slot) != 0)
            std::fill_n(vals.begin() + static_cast<ptrdiff_t>(k * per_slot), per_slot, T{});
    return vals;
}

template <typename T>
std::vector<T> read_percpu(int fd, uint32_t key, int ncpu) {
    std::vector<T> vals(static_cast<size_t>(ncpu));
    if (bpf_map_lookup_elem(fd, &key, vals.data()) != 0) return {};
    return vals;
}

}  // namespace

struct BpfSession::Impl {
    c10k_probe* skel = nullptr;
    std::vector<bpf_link*> base_links;
    std::vector<bpf_link*> syscall_links;
    bpf_link* tcp_probe_link = nullptr;  // per segment: duty-cycled with the syscall probes
    bool syscall_via_tracepoint = false;
    bool raw_tp_only = false;
    uint64_t map_bytes = 0;           // left as we found it when the session ends
    std::vector<GroupAttach> attach;  // one entry per group, replaced as it changes
    c10k_port_marks port_marks{};     // what the ports map holds

    void note(GroupAttach a) {
        for (auto& x : attach)
            if (x.group == a.group) {
                merge_attach(x, a);
                return;
            }
        attach.push_back(std::move(a));
    }
    std::string raw_tp_syscalls_error;  // why raw_tp failed, once we fell back
    int stats_fd = -1;                  // BPF_ENABLE_STATS: run times counted while held
    std::string stats_error;
    double attach_ms = 0;
    std::chrono::steady_clock::time_point syscall_since;
    double syscall_seconds = 0;
    int ncpu = 1;

    ~Impl() {
        if (stats_fd >= 0) ::close(stats_fd);
        if (tcp_probe_link) bpf_link__destroy(tcp_probe_link);
        for (auto* l : syscall_links)
            bpf_link__destroy(l);
        for (auto* l : base_links)
            bpf_link__destroy(l);
        if (skel) c10k_probe__destroy(skel);
    }
};

BpfSession::BpfSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfSession::~BpfSession() = default;

Result<std::unique_ptr<BpfSession>> BpfSession::start(pid_t tgid, bool verbose,
                                                      const std::string& syscall_attach) {
    g_verbose = verbose;
    libbpf_set_print(libbpf_log);
    auto t0 = std::chrono::steady_clock::now();
    auto impl = std::make_unique<Impl>();
    impl->syscall_via_tracepoint = syscall_attach == "tracepoint";
    impl->raw_tp_only = syscall_attach == "raw_tp";
    impl->ncpu = libbpf_num_possible_cpus();
    if (impl->ncpu < 1) return make_error("cannot count possible CPUs");
    auto layout = read_kernel_offsets();
    if (!layout) return layout.error();
    impl->skel = c10k_probe__open();
    if (!impl->skel) return make_error("cannot open the BPF object: " + err_text(errno));
    auto& ro = *impl->skel->rodata;
    ro.target_tgid = static_cast<uint32_t>(tgid);
    const KernelOffsets& k = *layout;
    // By name: the two structs hold the same fields, and a field added to one
    // but not the other fails here or at the static_assert below.
    ro.off = c10k_kernel_offsets{.task_tgid = k.task_tgid,
                                 .task_pid = k.task_pid,
                                 .task_state = k.task_state,
                                 .task_exit_state = k.task_exit_state,
                                 .sk_num = k.sk_num,
                                 .sk_dport = k.sk_dport,
                                 .inet_sport = k.inet_sport,
                                 .tcp_rcv_wnd = k.tcp_rcv_wnd,
                                 .regs_arg1 = k.regs_arg1,
                                 .regs_arg2 = k.regs_arg2,
                                 .task_run_delay = k.task_run_delay,
                                 .tcp_rcv_nxt = k.tcp_rcv_nxt,
                                 .tcp_rcv_wup = k.tcp_rcv_wup,
                                 .skb_len = k.skb_len,
                                 .skb_data = k.skb_data};
    if (int err = c10k_probe__load(impl->skel); err != 0) {
        return make_error("cannot load the BPF programs: " + err_text(err) +
                          (err == -EPERM || err == -EACCES
                               ? " (needs root, or CAP_BPF + CAP_PERFMON)"
                               : " (run with -v for the verifier log)"));
    }
    // The programs' run time is what the probe costs in the kernel; the kernel
    // counts it only while some process holds this fd (no sysctl is changed).
    impl->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (impl->stats_fd < 0) impl->stats_error = err_text(errno);

    struct Want {
        ProbeGroup group;
        bpf_program* prog;
        const char* what;
    };
    auto& p = impl->skel->progs;
    Want cheap[] = {
        {ProbeGroup::sched, p.raw_sched_switch, "sched_switch"},
        {ProbeGroup::tcp, p.raw_set_state, "inet_sock_set_state"},
        {ProbeGroup::tcp, p.raw_retransmit, "tcp_retransmit_skb"},
        {ProbeGroup::tcp, p.raw_send_reset, "tcp_send_reset"},
        {ProbeGroup::tcp, p.raw_receive_reset, "tcp_receive_reset"},
        {ProbeGroup::tcp, p.raw_rcvqueue_full, "sock_rcvqueue_full"},
        {ProbeGroup::tcp, p.raw_exceed_buf, "sock_exceed_buf_limit"},
    };
    for (ProbeGroup g : {ProbeGroup::sched, ProbeGroup::tcp}) {
        GroupAttach a = attached(g);
        size_t wanted = 0, failed = 0;
        for (const auto& w : cheap) {
            if (w.group != g) continue;
            ++wanted;
            if (auto* link = bpf_program__attach(w.prog)) {
                impl->base_links.push_back(link);
                continue;
            }
            ++failed;
            a.error +=
                (a.error.empty() ? "" : ", ") + std::string(w.what) + " (" + err_text(errno) + ")";
        }
        a.status = failed == 0        ? AttachStatus::attached
                   : failed == wanted ? AttachStatus::failed
                                      : AttachStatus::partial;
        impl->note(std::move(a));
    }
    if (impl->base_links.empty())
        return make_error("no BPF program could attach: " + impl->attach.front().error);
    // Map memory is fixed once the maps exist (preallocated), so it is read once.
    auto& maps = impl->skel->maps;
    for (auto* m : {maps.syscall_stats, maps.syscall_errors, maps.syscall_starts, maps.sched_stats,
                    maps.threads, maps.tcp_stats, maps.ports, maps.lost, maps.syscall_counts,
                    maps.poll_stats})
        impl->map_bytes += map_memlock(bpf_map__fd(m));
    impl->attach_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return std::unique_ptr<BpfSession>(new BpfSession(std::move(impl)));
}

Status BpfSession::attach_syscalls() {
    auto& im = *impl_;
    if (!im.syscall_links.empty()) return ok_status();
    auto& p = im.skel->progs;
    // tcp_probe fires on every segment received, so it shares the duty cycle;
    // without it socket-buffer-limited cannot be judged, which the verdict says.
    if (!im.tcp_probe_link) {
        im.tcp_probe_link = bpf_program__attach(p.raw_tcp_probe);
        im.note(im.tcp_probe_link
                    ? attached(ProbeGroup::tcp_probe)
                    : not_attached(ProbeGroup::tcp_probe, AttachHow::raw_tp, err_text(errno)));
    }
    if (!im.syscall_via_tracepoint) {
        auto* a = bpf_program__attach(p.raw_sys_enter);
        auto* b = a ? bpf_program__attach(p.raw_sys_exit) : nullptr;
        if (a && b) {
            im.syscall_links = {a, b};
            im.note(attached(ProbeGroup::syscalls));
            im.syscall_since = std::chrono::steady_clock::now();
            return ok_status();
        }
        int err = errno;
        if (a) bpf_link__destroy(a);
        if (im.raw_tp_only) {
            im.note(not_attached(ProbeGroup::syscalls, AttachHow::raw_tp, err_text(err)));
            return make_error("syscall probes (raw_tp): " + err_text(err));
        }
        im.syscall_via_tracepoint = true;
        im.raw_tp_syscalls_error = "raw_tp (" + err_text(err) + ")";
    }
    bpf_link *a = nullptr, *b = nullptr;
    int err = 0;
    with_tracefs([&] {
        a = bpf_program__attach(p.tp_sys_enter);
        err = errno;
        if (a) b = bpf_program__attach(p.tp_sys_exit);
        if (a && !b) err = errno;
    });
    if (!a || !b) {
        if (a) bpf_link__destroy(a);
        auto failed = not_attached(ProbeGroup::syscalls, AttachHow::tracepoint, err_text(err));
        failed.fallbacks.push_back(im.raw_tp_syscalls_error);
        im.note(std::move(failed));
        return make_error("syscall probes: " + err_text(err));
    }
    im.syscall_links = {a, b};
    auto via_tracepoint = attached(ProbeGroup::syscalls, AttachHow::tracepoint);
    via_tracepoint.fallbacks.push_back(im.raw_tp_syscalls_error);
    im.note(std::move(via_tracepoint));
    im.syscall_since = std::chrono::steady_clock::now();
    return ok_status();
}

void BpfSession::detach_syscalls() {
    auto& im = *impl_;
    if (im.tcp_probe_link) {
        bpf_link__destroy(im.tcp_probe_link);
        im.tcp_probe_link = nullptr;
    }
    if (im.syscall_links.empty()) return;
    for (auto* l : im.syscall_links)
        bpf_link__destroy(l);
    im.syscall_links.clear();
    im.syscall_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - im.syscall_since).count();
}

bool BpfSession::syscalls_attached() const {
    return !impl_->syscall_links.empty();
}

SyscallCounts BpfSession::syscall_counts() const {
    SyscallCounts n;
    for (const auto& v : read_percpu<c10k_syscall_counts>(
             bpf_map__fd(impl_->skel->maps.syscall_counts), 0, impl_->ncpu)) {
        n.host += v.host;
        n.target += v.target;
    }
    return n;
}

void BpfSession::set_ports(const TargetPorts& ports) {
    auto& marks = impl_->port_marks;
    // Marks only add up: a port once seen either way stays watched that way.
    bool changed = false;
    auto mark = [&](uint16_t port, uint8_t how) {
        changed = changed || (marks.mark[port] & how) == 0;
        marks.mark[port] |= how;
    };
    for (uint16_t port : ports.listening)
        mark(port, PORT_LISTEN);
    for (uint16_t port : ports.remote)
        mark(port, PORT_REMOTE);
    if (!changed) return;
    uint32_t zero = 0;
    bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.ports), &zero, &marks, BPF_ANY);
}

BpfEvidence BpfSession::read() const {
    const auto& im = *impl_;
    BpfEvidence e;
    e.attach = im.attach;
    e.attach_ms = im.attach_ms;
    e.syscall_seconds = im.syscall_seconds;
    if (!im.syscall_links.empty())
        e.syscall_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - im.syscall_since)
                .count();
    auto& maps = im.skel->maps;

    const auto all = read_percpu_array<c10k_syscall_stats>(bpf_map__fd(maps.syscall_stats),
                                                           C10K_MAX_SYSCALLS, im.ncpu);
    for (uint32_t nr = 0; nr < C10K_MAX_SYSCALLS; ++nr) {
        SyscallStat s;
        s.nr = static_cast<int>(nr);
        for (const auto& c : std::span(all).subspan(nr * static_cast<size_t>(im.ncpu),
                                                    static_cast<size_t>(im.ncpu))) {
            s.count += c.count;
            s.errors += c.errors;
            s.total_ns += c.total_ns;
            s.bytes += c.bytes;
            s.latency.add(c.hist);
        }
        if (s.count == 0) continue;
        s.name = syscall_name(s.nr);
        e.syscalls.push_back(std::move(s));
    }
    for_each_entry<c10k_errno_key, uint64_t>(bpf_map__fd(maps.syscall_errors),
                                             [&](const c10k_errno_key& key, uint64_t n) {
                                                 for (auto& s : e.syscalls)
                                                     if (s.nr == static_cast<int>(key.nr))
                                                         s.errnos[static_cast<int>(key.err)] += n;
                                             });

    for (const auto& c : read_percpu<c10k_sched_stats>(bpf_map__fd(maps.sched_stats), 0, im.ncpu)) {
        auto& s = e.sched;
        s.on_cpu_ns += c.on_cpu_ns;
        for (size_t i = 0; i < 4; ++i)
            s.off_cpu_ns[i] += c.off_cpu_ns[i];
        s.voluntary += c.switches_voluntary;
        s.involuntary += c.switches_involuntary;
        s.runq_count += c.runq_count;
        s.runq_total_ns += c.runq_total_ns;
        s.threads_exited += c.threads_exited;
        s.runq.add(c.runq_hist);
    }
    for (const auto& c : read_percpu<c10k_tcp_stats>(bpf_map__fd(maps.tcp_stats), 0, im.ncpu)) {
        auto& t = e.tcp;
        t.state_changes += c.state_changes;
        t.established += c.established;
        t.closed_first_local += c.closed_first_local;
        t.closed_first_peer += c.closed_first_peer;
        t.time_wait_entered += c.time_wait_entered;
        t.retransmits += c.retransmits;
        t.resets_sent += c.resets_sent;
        t.resets_received += c.resets_received;
        t.rcvqueue_full += c.rcvqueue_full;
        t.exceed_buf_limit += c.exceed_buf_limit;
        t.segments_in += c.segments_in;
        t.segments_closing_window += c.segments_closing_window;
        t.aborted_established += c.aborted_established;
    }
    for (auto v : read_percpu<uint64_t>(bpf_map__fd(maps.lost), 0, im.ncpu))
        e.lost_events += v;
    for (const auto& p : read_percpu<c10k_poll_stats>(bpf_map__fd(maps.poll_stats), 0, im.ncpu)) {
        e.poll_calls += p.calls;
        e.poll_nfds_sum += p.nfds_sum;
    }
    e.host_syscalls = syscall_counts().host;
    e.map_bytes = im.map_bytes;
    if (im.stats_fd >= 0) {
        bpf_program* prog = nullptr;
        bpf_object__for_each_program(prog, im.skel->obj) {
            int fd = bpf_program__fd(prog);
            if (fd < 0) continue;
            bpf_prog_info info{};
            __u32 len = sizeof info;
            if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
            e.prog_run_ns += info.run_time_ns;
            e.prog_runs += info.run_cnt;
        }
    } else {
        e.prog_stats_unavailable = im.stats_error;
    }
    return e;
}

void BpfSession::read_threads(SchedStat& sched) const {
    // Exited threads left the map; they were seen all the same.
    sched.threads_seen = static_cast<uint32_t>(sched.threads_exited);
    sched.busiest_threads.clear();
    for_each_entry<uint32_t, c10k_thread_sched>(
        bpf_map__fd(impl_->skel->maps.threads), [&](uint32_t tid, const c10k_thread_sched& t) {
            ++sched.threads_seen;
            sched.busiest_threads.push_back({tid, t.on_total, t.off_total});
        });
    std::sort(sched.busiest_threads.begin(), sched.busiest_threads.end(),
              [](const ThreadTime& a, const ThreadTime& b) { return a.on_cpu_ns > b.on_cpu_ns; });
    if (sched.busiest_threads.size() > 5) sched.busiest_threads.resize(5);
}

#endif

}  // namespace c10k
