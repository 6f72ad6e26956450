// SPDX-License-Identifier: GPL-2.0-or-later
// In-kernel aggregation for `c10k-doctor probe`: syscalls, scheduling and TCP of
// one process, filtered by its tgid (and TCP events by its ports) so every
// other process pays a compare and a return.
//
// No CO-RE: the few kernel fields read here are read at offsets that user space
// finds in the running kernel's BTF (lib/src/probe/kernel_layout.cpp) and sets
// in .rodata before loading. With no CO-RE relocation libbpf never parses the
// 5 MB vmlinux BTF, which was most of what starting a probe cost (~100 ms of
// CPU), and the object builds on a machine without kernel BTF.
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "probe_shared.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
const volatile __u32 small_window = C10K_SMALL_WINDOW_BYTES;
/* Byte offsets of the kernel fields read, from the running kernel's BTF. */
const volatile struct c10k_kernel_offsets off = {};

/* Opaque: only ever read through bpf_probe_read_kernel at an offset above. */
struct task_struct;
struct sock;
struct sk_buff;

static __always_inline __u32 read_u32(const void* base, __u32 offset) {
    __u32 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const char*)base + offset);
    return v;
}

static __always_inline __u16 read_u16(const void* base, __u32 offset) {
    __u16 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const char*)base + offset);
    return v;
}

static __always_inline __u64 read_u64(const void* base, __u32 offset) {
    __u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const char*)base + offset);
    return v;
}

struct syscall_start {
    __u64 ts;
    __u64 nr;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, C10K_MAX_SYSCALLS);
    __type(key, __u32);
    __type(value, struct c10k_syscall_stats);
} syscall_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct c10k_errno_key);
    __type(value, __u64);
} syscall_errors SEC(".maps");

/* Per-thread maps are plain hash maps, not LRU: an LRU map makes room by
 * evicting an entry nobody counts, so "lost events: 0" could be false. Here a
 * full map refuses the insert, which is counted as lost, and entries leave when
 * their thread switches out for the last time (raw_sched_switch), so 16,384 is
 * a bound on threads alive at once, not on threads seen over the window. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct syscall_start);
} syscall_starts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct c10k_sched_stats);
} sched_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct c10k_thread_sched);
} threads SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct c10k_tcp_stats);
} tcp_stats SEC(".maps");

/* The target's listening ports (PORT_LISTEN: its sockets have them as the local
 * port) and the remote ports it connects to (PORT_REMOTE: as the remote port).
 * A socket counts only from the target's side: on loopback the peer's socket
 * of every connection has the same two ports the other way round. One array
 * value indexed by port: a load instead of a hash lookup, on every segment. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct c10k_port_marks);
} ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct c10k_poll_stats);
} poll_stats SEC(".maps");

/* Syscalls while syscall tracing is attached, the host's and the target's:
 * user space sizes the duty cycle by the first and its floor by the second. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct c10k_syscall_counts);
} syscall_counts SEC(".maps");

/* Events dropped because a map was full: reported, never silent. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

static __always_inline __u32 log2_slot(__u64 v) {
    __u32 slot = 0;
#pragma unroll
    for (int i = 5; i >= 0; i--) {
        __u32 shift = 1u << i;
        if (v >> shift) {
            v >>= shift;
            slot += shift;
        }
    }
    return slot < C10K_HIST_SLOTS ? slot : C10K_HIST_SLOTS - 1;
}

static __always_inline void count_lost(void) {
    __u32 zero = 0;
    __u64* n = bpf_map_lookup_elem(&lost, &zero);
    if (n) (*n)++;
}

static __always_inline bool is_target(void) {
    return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* Counts the syscall as the host's, and as the target's when it is; returns
 * whether it is the target's. */
static __always_inline bool count_syscall(void) {
    __u32 zero = 0;
    struct c10k_syscall_counts* n = bpf_map_lookup_elem(&syscall_counts, &zero);
    if (n) n->host++;
    if (!is_target()) return false;
    if (n) n->target++;
    return true;
}

/* x86-64 numbers: poll 7, select 23, pselect6 270, ppoll 271. poll and ppoll
 * take the count second, select and pselect6 first. */
static __always_inline int poll_nfds_arg(__u64 nr) {
    if (nr == 7 || nr == 271) return 2;
    if (nr == 23 || nr == 270) return 1;
    return 0;
}

static __always_inline void count_poll(__u64 nfds) {
    __u32 zero = 0;
    struct c10k_poll_stats* p = bpf_map_lookup_elem(&poll_stats, &zero);
    if (!p) return;
    p->calls++;
    p->nfds_sum += nfds;
}

static __always_inline void syscall_enter(__u64 nr) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct syscall_start s = {.ts = bpf_ktime_get_ns(), .nr = nr};
    if (bpf_map_update_elem(&syscall_starts, &tid, &s, BPF_ANY)) count_lost();
}

static __always_inline void syscall_exit(long ret) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct syscall_start* s = bpf_map_lookup_elem(&syscall_starts, &tid);
    if (!s) return; /* entered before the probe attached */
    __u64 lat = bpf_ktime_get_ns() - s->ts;
    __u32 nr = (__u32)s->nr;
    bpf_map_delete_elem(&syscall_starts, &tid);
    if (nr >= C10K_MAX_SYSCALLS) return;
    struct c10k_syscall_stats* st = bpf_map_lookup_elem(&syscall_stats, &nr);
    if (!st) return;
    st->count++;
    st->total_ns += lat;
    st->hist[log2_slot(lat)]++;
    if (ret < 0) {
        st->errors++;
        struct c10k_errno_key k = {.nr = nr, .err = (__u32)-ret};
        __u64* n = bpf_map_lookup_elem(&syscall_errors, &k);
        if (n) {
            __sync_fetch_and_add(n, 1);
        } else {
            __u64 one = 1;
            if (bpf_map_update_elem(&syscall_errors, &k, &one, BPF_NOEXIST)) {
                n = bpf_map_lookup_elem(&syscall_errors, &k);
                if (n)
                    __sync_fetch_and_add(n, 1);
                else
                    count_lost();
            }
        }
    } else {
        st->bytes += ret;
    }
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, const void* regs, long id) {
    if (!count_syscall()) return 0;
    syscall_enter(id);
    int arg = poll_nfds_arg(id);
    if (arg == 1) count_poll(read_u64(regs, off.regs_arg1));
    if (arg == 2) count_poll(read_u64(regs, off.regs_arg2));
    return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, const void* regs, long ret) {
    if (is_target()) syscall_exit(ret);
    return 0;
}

/* Classic tracepoint fallbacks: need tracefs, cost a little more per event.
 * Their records are the tracefs formats of raw_syscalls/sys_enter and sys_exit:
 * an 8-byte common header, then the fields; stable since 2.6.33. */
struct sys_enter_record {
    __u64 common;
    long id;
    unsigned long args[6];
};

struct sys_exit_record {
    __u64 common;
    long id;
    long ret;
};

SEC("tracepoint/raw_syscalls/sys_enter")
int tp_sys_enter(struct sys_enter_record* ctx) {
    if (!count_syscall()) return 0;
    syscall_enter(ctx->id);
    int arg = poll_nfds_arg(ctx->id);
    /* Constant offsets only: the verifier refuses a ctx access at a variable one. */
    if (arg == 1) count_poll(ctx->args[0]);
    if (arg == 2) count_poll(ctx->args[1]);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int tp_sys_exit(struct sys_exit_record* ctx) {
    if (is_target()) syscall_exit(ctx->ret);
    return 0;
}

/* task_struct's __state (unsigned int; `long state` before 5.14, whose low half
 * on these little-endian machines holds the same bits). */
static __always_inline __u32 off_state_of(const struct task_struct* t) {
    __u32 state = read_u32(t, off.task_state);
    if (state == 0) return C10K_OFF_PREEMPTED;
    if (state & 1) return C10K_OFF_SLEEP; /* TASK_INTERRUPTIBLE */
    if (state & 2) return C10K_OFF_DISK;  /* TASK_UNINTERRUPTIBLE */
    return C10K_OFF_OTHER;
}

/* The run-queue wait before the run that is ending: sched_info.run_delay grows
 * by each wait when its thread is switched in (after this tracepoint), so
 * between two of the thread's switch-outs it grew by exactly one wait - the
 * kernel's own measure, from wakeup or preemption to running, which
 * /proc/PID/task/TID/schedstat also shows. Reading it here costs the target's
 * switches one read and spares a program on every wakeup of the host. */
static __always_inline void count_runq_wait(struct c10k_sched_stats* st,
                                            struct c10k_thread_sched* t,
                                            const struct task_struct* task) {
    if (!off.task_run_delay) return;
    __u64 rd = read_u64(task, off.task_run_delay);
    if (t->run_delay_known && rd >= t->run_delay) {
        __u64 wait = rd - t->run_delay;
        st->runq_count++;
        st->runq_total_ns += wait;
        st->runq_hist[log2_slot(wait)]++;
    }
    t->run_delay = rd;
    t->run_delay_known = 1;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_sched_switch, bool preempt, struct task_struct* prev, struct task_struct* next) {
    /* The tracepoint fires before the switch: prev is still the current task,
     * whose ids need no read of its task_struct. */
    __u64 prev_id = bpf_get_current_pid_tgid();
    __u32 prev_tgid = (__u32)(prev_id >> 32);
    __u32 next_tgid, next_tid;
    if (off.task_tgid == off.task_pid + 4) {
        /* Side by side (pid_t pid; pid_t tgid; in every kernel so far): one
         * read instead of two, on every switch of the host. */
        __u64 ids = read_u64(next, off.task_pid);
        next_tid = (__u32)ids;
        next_tgid = (__u32)(ids >> 32);
    } else {
        next_tgid = read_u32(next, off.task_tgid);
        next_tid = read_u32(next, off.task_pid);
    }
    if (prev_tgid != target_tgid && next_tgid != target_tgid) return 0;
    __u32 zero = 0;
    struct c10k_sched_stats* st = bpf_map_lookup_elem(&sched_stats, &zero);
    if (!st) return 0;
    __u64 now = bpf_ktime_get_ns();

    if (prev_tgid == target_tgid) {
        __u32 tid = (__u32)prev_id;
        struct c10k_thread_sched* t = bpf_map_lookup_elem(&threads, &tid);
        if (read_u32(prev, off.task_exit_state)) {
            /* Its last switch: exit_notify() has run (EXIT_ZOMBIE or EXIT_DEAD), so
             * it never runs again. Its time goes into the sums and its entries go,
             * which keeps the maps to live threads (sched_process_exit fires before
             * this switch, so freeing there would be undone by the insert below). */
            if (t) {
                if (t->on_ts) st->on_cpu_ns += now - t->on_ts;
                count_runq_wait(st, t, prev);
            }
            bpf_map_delete_elem(&threads, &tid);
            bpf_map_delete_elem(&syscall_starts, &tid);
            st->threads_exited++;
        } else {
            struct c10k_thread_sched fresh = {};
            if (!t) {
                bpf_map_update_elem(&threads, &tid, &fresh, BPF_NOEXIST);
                t = bpf_map_lookup_elem(&threads, &tid);
            }
            if (t) {
                if (t->on_ts) {
                    st->on_cpu_ns += now - t->on_ts;
                    t->on_total += now - t->on_ts;
                }
                count_runq_wait(st, t, prev);
                __u32 off = off_state_of(prev);
                if (off == C10K_OFF_PREEMPTED)
                    st->switches_involuntary++;
                else
                    st->switches_voluntary++;
                t->on_ts = 0;
                t->off_ts = now;
                t->off_state = off;
            } else {
                count_lost();
            }
        }
    }
    if (next_tgid == target_tgid) {
        __u32 tid = next_tid;
        struct c10k_thread_sched* t = bpf_map_lookup_elem(&threads, &tid);
        if (t) {
            if (t->off_ts) {
                __u32 off = t->off_state & 3;
                st->off_cpu_ns[off] += now - t->off_ts;
                t->off_total += now - t->off_ts;
            }
            t->on_ts = now;
            t->off_ts = 0;
        } else {
            /* First seen switching in: its run_delay does not hold this wait
             * yet, so it is the baseline the wait is measured from. */
            struct c10k_thread_sched fresh = {.on_ts = now};
            if (off.task_run_delay) {
                fresh.run_delay = read_u64(next, off.task_run_delay);
                fresh.run_delay_known = 1;
            }
            if (bpf_map_update_elem(&threads, &tid, &fresh, BPF_ANY)) count_lost();
        }
    }
    return 0;
}

static __always_inline bool watched(const struct sock* sk) {
    if (!sk) return false;
    __u32 zero = 0;
    struct c10k_port_marks* marks = bpf_map_lookup_elem(&ports, &zero);
    if (!marks) return false;
    __u16 local = read_u16(sk, off.sk_num);
    /* A socket going to CLOSE has given its port back (inet_put_port zeroes
     * skc_num) before inet_sk_state_store fires the event; inet_sport stays. */
    if (local == 0) local = bpf_ntohs(read_u16(sk, off.inet_sport));
    if (marks->mark[local] & PORT_LISTEN) return true;
    __u16 remote = bpf_ntohs(read_u16(sk, off.sk_dport));
    return marks->mark[remote] & PORT_REMOTE;
}

static __always_inline struct c10k_tcp_stats* tcp(void) {
    __u32 zero = 0;
    return bpf_map_lookup_elem(&tcp_stats, &zero);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_set_state, const struct sock* sk, int oldstate, int newstate) {
    if (!watched(sk)) return 0;
    struct c10k_tcp_stats* st = tcp();
    if (!st) return 0;
    st->state_changes++;
    if (newstate == 1 /* TCP_ESTABLISHED */) st->established++;
    if (oldstate == 1 && newstate == 4 /* TCP_FIN_WAIT1 */) st->closed_first_local++;
    if (oldstate == 1 && newstate == 8 /* TCP_CLOSE_WAIT */) st->closed_first_peer++;
    if (oldstate == 1 && newstate == 7 /* TCP_CLOSE */) st->aborted_established++;
    /* No event fires for the TIME_WAIT socket itself: the full socket it replaces
     * goes FIN_WAIT2 (or CLOSING) -> CLOSE at that moment. */
    if ((oldstate == 5 || oldstate == 11) && newstate == 7) st->time_wait_entered++;
    return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(raw_retransmit, const struct sock* sk) {
    struct c10k_tcp_stats* st = watched(sk) ? tcp() : 0;
    if (st) st->retransmits++;
    return 0;
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(raw_send_reset, const struct sock* sk) {
    struct c10k_tcp_stats* st = watched(sk) ? tcp() : 0;
    if (st) st->resets_sent++;
    return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(raw_receive_reset, struct sock* sk) {
    struct c10k_tcp_stats* st = watched(sk) ? tcp() : 0;
    if (st) st->resets_received++;
    return 0;
}

SEC("raw_tp/sock_rcvqueue_full")
int BPF_PROG(raw_rcvqueue_full, struct sock* sk) {
    struct c10k_tcp_stats* st = watched(sk) ? tcp() : 0;
    if (st) st->rcvqueue_full++;
    return 0;
}

SEC("raw_tp/sock_exceed_buf_limit")
int BPF_PROG(raw_exceed_buf, struct sock* sk) {
    struct c10k_tcp_stats* st = watched(sk) ? tcp() : 0;
    if (st) st->exceed_buf_limit++;
    return 0;
}

/* Every segment arriving on an established socket (before it is queued): does
 * it close a small window? A small window alone limits nothing - requests that
 * fit in it leave most of it open; a sender that has more than the window holds
 * sends all that is left of it, and waits. */
SEC("raw_tp/tcp_probe")
int BPF_PROG(raw_tcp_probe, struct sock* sk, struct sk_buff* skb) {
    if (!watched(sk)) return 0;
    struct c10k_tcp_stats* st = tcp();
    if (!st) return 0;
    st->segments_in++;
    __u32 wnd = read_u32(sk, off.tcp_rcv_wnd);
    if (wnd >= small_window || !off.tcp_rcv_nxt || !off.skb_len) return 0;
    /* skb->data is at the TCP header here; its data offset is the header length. */
    const __u8* th = (const __u8*)read_u64(skb, off.skb_data);
    __u8 doff = 0;
    bpf_probe_read_kernel(&doff, sizeof(doff), th + 12);
    __u32 len = read_u32(skb, off.skb_len), hdr = (__u32)(doff >> 4) * 4;
    if (len <= hdr) return 0; /* a bare ACK */
    __u32 payload = len - hdr;
    /* tcp_receive_window(): rcv_wup + rcv_wnd - rcv_nxt; signed, as a shrunk
     * window can leave it below zero. Room for less than another segment like
     * this one: the sender was paced by the window (a window scale rounds it
     * down by under one scale unit, far below a segment). */
    __s32 left =
        (__s32)(read_u32(sk, off.tcp_rcv_wup) + wnd - read_u32(sk, off.tcp_rcv_nxt) - payload);
    if (left < (__s32)payload) st->segments_closing_window++;
    return 0;
}
