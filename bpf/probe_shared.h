// SPDX-License-Identifier: GPL-2.0-or-later
/* Map layouts shared by bpf/probe.bpf.c and the user-space loader. Everything
 * is aggregated in the kernel; user space reads the maps once per interval. */
#ifndef C10K_PROBE_SHARED_H
#define C10K_PROBE_SHARED_H

#include <linux/types.h>
#ifdef __cplusplus
#define C10K_STATIC_ASSERT static_assert
#else
#define C10K_STATIC_ASSERT _Static_assert
#endif

#define C10K_HIST_SLOTS 32 /* log2 buckets of nanoseconds: slot i holds [2^i, 2^(i+1)) */
#define C10K_MAX_SYSCALLS 512
/* A receive window under this many bytes is "small": a sixteenth of Linux's
 * default tcp_rmem[1] (128 KiB): under six full segments at a 1500-byte MTU. */
#define C10K_SMALL_WINDOW_BYTES 8192

struct c10k_syscall_stats {
    __u64 count;
    __u64 errors;
    __u64 total_ns;
    __u64 bytes; /* sum of positive return values: bytes for read/write families */
    __u64 hist[C10K_HIST_SLOTS];
};

struct c10k_errno_key {
    __u32 nr;
    __u32 err;
};

enum c10k_off_state {
    C10K_OFF_PREEMPTED = 0,
    C10K_OFF_SLEEP = 1,
    C10K_OFF_DISK = 2,
    C10K_OFF_OTHER = 3,
    C10K_OFF_STATES = 4
};

struct c10k_sched_stats {
    __u64 on_cpu_ns;
    __u64 off_cpu_ns[C10K_OFF_STATES]; /* by enum c10k_off_state */
    __u64 switches_voluntary;
    __u64 switches_involuntary;
    __u64 runq_count;
    __u64 runq_total_ns;
    __u64 runq_hist[C10K_HIST_SLOTS];
    __u64 threads_exited; /* target threads that exited, their map entries freed */
};

/* Values of the ports map: how a port marks a socket as the target's. */
#define PORT_LISTEN 1 /* the socket's local port: it was accepted from the target's listener */
#define PORT_REMOTE 2 /* the socket's remote port: the target connected out to it */

/* The ports map's one value: a mark for every port. */
struct c10k_port_marks {
    __u8 mark[65536];
};

/* Where the fields the programs read sit in the running kernel's structs, in
 * bytes from the struct's start: user space finds them in the kernel's BTF. */
struct c10k_kernel_offsets {
    __u32 task_tgid;       /* task_struct.tgid */
    __u32 task_pid;        /* task_struct.pid */
    __u32 task_state;      /* task_struct.__state (.state before 5.14) */
    __u32 task_exit_state; /* task_struct.exit_state */
    __u32 sk_num;          /* sock.__sk_common.skc_num: local port, host order */
    __u32 sk_dport;        /* sock.__sk_common.skc_dport: remote port, network order */
    __u32 inet_sport;      /* inet_sock.inet_sport: local port, network order */
    __u32 tcp_rcv_wnd;     /* tcp_sock.rcv_wnd */
    __u32 regs_arg1;       /* pt_regs: a syscall's first argument (x86-64 di) */
    __u32 regs_arg2;       /* pt_regs: its second (x86-64 si) */
    /* task_struct.sched_info.run_delay: the thread's run-queue wait so far, as
     * /proc/PID/task/TID/schedstat's second field; 0 when the kernel has no
     * CONFIG_SCHED_INFO (nothing at offset 0 is it). */
    __u32 task_run_delay;
    /* tcp_sock.rcv_nxt and .rcv_wup, sk_buff.len and .data: what a segment
     * leaves of the window. 0 when the BTF lacks one: then no segment is
     * counted as closing it. */
    __u32 tcp_rcv_nxt;
    __u32 tcp_rcv_wup;
    __u32 skb_len;
    __u32 skb_data;
};

struct c10k_tcp_stats {
    __u64 state_changes;
    __u64 established;
    __u64 closed_first_local; /* ESTABLISHED -> FIN_WAIT1: this side ends in TIME_WAIT */
    __u64 closed_first_peer;  /* ESTABLISHED -> CLOSE_WAIT */
    __u64 time_wait_entered;  /* FIN_WAIT2/CLOSING -> CLOSE: a TIME_WAIT socket takes its place */
    __u64 retransmits;
    __u64 resets_sent;
    __u64 resets_received;
    __u64 rcvqueue_full;
    __u64 exceed_buf_limit;
    __u64 segments_in;
    /* data segments arriving in a window under small_window bytes that leave
     * less of it than they carried: the sender waits on our window */
    __u64 segments_closing_window;
    /* ESTABLISHED -> CLOSE: ended by a reset, sent (close() with data unread,
     * SO_LINGER 0 - no tcp_send_reset event for these) or received. */
    __u64 aborted_established;
};

/* poll()/ppoll()/select()/pselect6() calls of the target and the fds each was
 * given: the kernel scans every one of them on every call. */
struct c10k_poll_stats {
    __u64 calls;
    __u64 nfds_sum;
};

/* Syscalls counted while syscall tracing is attached: every process's (what
 * tracing costs the host is proportional to them) and the target's own (the
 * evidence a tracing cycle has gathered). */
struct c10k_syscall_counts {
    __u64 host;
    __u64 target;
};

/* Per thread, in the `threads` map: timestamps for the next switch, and totals. */
struct c10k_thread_sched {
    __u64 on_ts;
    __u64 off_ts;
    __u64 run_delay; /* sched_info.run_delay when last read */
    __u32 off_state;
    __u32 run_delay_known; /* run_delay holds a reading */
    __u64 on_total;
    __u64 off_total;
};

/* Every map value is whole __u64s (or pairs of __u32): no padding that the
 * two compilers could lay out differently. */
C10K_STATIC_ASSERT(sizeof(struct c10k_syscall_stats) == 8 * (4 + C10K_HIST_SLOTS), "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_errno_key) == 8, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_sched_stats) ==
                       8 * (1 + C10K_OFF_STATES + 4 + C10K_HIST_SLOTS + 1),
                   "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_tcp_stats) == 8 * 13, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_poll_stats) == 8 * 2, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_syscall_counts) == 8 * 2, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_thread_sched) == 8 * 6, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_port_marks) == 65536, "layout");
C10K_STATIC_ASSERT(sizeof(struct c10k_kernel_offsets) == 4 * 15, "layout");

#endif
