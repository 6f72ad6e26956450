#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What `c10k-doctor probe` costs the server it watches, against bpftrace doing
comparable in-kernel aggregation on the same tracepoints.

A loopback epoll echo server (tests' c10k-target healthy) is saturated by
c10k-load pingpong (many connections, no pauses) for SECONDS per run, with:
  none        nothing attached
  probe       c10k-doctor probe --pid SERVER (defaults: syscall and tcp_probe tracing duty-cycled
              to a budget of ~0.5% of one CPU, sized by the host's syscall rate)
  probe-full  c10k-doctor probe --syscall-duty 100 (every probe on all the time)
  probe-sample  c10k-doctor probe --mode sample (no BPF: /proc and sock_diag samples only)
  bpftrace    raw_syscalls enter/exit per-syscall latency hist, count and errno,
              sched_switch off-CPU hist, tcp/sock tracepoint counts
  probe-follow  c10k-doctor probe --follow (with --chain: the dependency probed too)
Runs alternate (none, probe, probe-full, bpftrace, none, ...) and the medians
are printed with each condition's loss against `none`. Also: time from start
until attached, peak RSS of the tool, BPF map memory, lost events, and
`probe CPU`: what the tool cost as CPU, in ms per second of its window: its
process's user + sys (GNU time, from its start to its exit, loading included)
plus its BPF programs' run time (the kernel's run_time_ns, counted while a
BPF_ENABLE_STATS fd is held: probe holds its own, this script holds one for
bpftrace). Throughput loss is within the run-to-run noise on a 2-core VM;
the CPU is not.

Everything runs in a private network namespace and mount namespace (bpftrace's
classic tracepoints need tracefs; it is mounted there only). Needs root,
bpftrace (apt-get install bpftrace) and a build (cmake --build build).

With --chain the server is an application in front of a local dependency
(c10k-target pool-app, 16 workers and 16 pooled connections, to c10k-target db
answering after 1 ms): what --follow adds, by default none,probe,probe-follow.

With --ehash N the namespace gets an established-connection hash of its own
with N buckets: what a look costs on a host with a bigger or smaller one.

The probe's window is SECONDS + 2 (attached a second before the load starts,
ended after it): 10 s by default, the probe's own default, so `probe CPU`
spreads starting over the window a default run has.

usage: sudo bench/probe_overhead.py [--build build] [--runs 5] [--seconds 8] [--conns 64]
                                    [--chain] [--ehash N]
"""
import argparse
import shutil
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BPFTRACE = r"""
BEGIN { printf("attached\n"); }
tracepoint:raw_syscalls:sys_enter /pid == $1/ { @start[tid] = nsecs; @nr[tid] = args->id; }
tracepoint:raw_syscalls:sys_exit /pid == $1 && @start[tid]/ {
  @lat[@nr[tid]] = hist(nsecs - @start[tid]);
  @calls[@nr[tid]] = count();
  if (args->ret < 0) { @errors[@nr[tid], -args->ret] = count(); }
  delete(@start[tid]); delete(@nr[tid]);
}
tracepoint:sched:sched_switch /pid == $1/ { @switches = count(); @off[args->prev_pid] = nsecs; }
tracepoint:sched:sched_switch /@off[args->next_pid]/ {
  @offcpu = hist(nsecs - @off[args->next_pid]); delete(@off[args->next_pid]);
}
tracepoint:sock:inet_sock_set_state /args->sport == $2 || args->dport == $2/ { @states[args->oldstate, args->newstate] = count(); }
tracepoint:tcp:tcp_retransmit_skb /args->sport == $2 || args->dport == $2/ { @retransmits = count(); }
tracepoint:tcp:tcp_probe /args->sport == $2 || args->dport == $2/ { @segments = count(); }
"""


def enable_bpf_stats():
    """An fd that keeps the kernel counting BPF programs' run time while it is
    open (bpf(BPF_ENABLE_STATS, BPF_STATS_RUN_TIME)), as kernel.bpf_stats_enabled
    would without changing a sysctl. None when the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_bpf, BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 321, 32, 0  # x86_64
    attr = (ctypes.c_uint32 * 16)(BPF_STATS_RUN_TIME)
    fd = libc.syscall(SYS_bpf, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    return fd if fd >= 0 else None


def bpf_run_ns_of(pid):
    """Run time of the BPF programs the process `pid` holds (bpftool prog show)."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    total = 0
    for prog in json.loads(r.stdout or "[]"):
        if any(p.get("pid") == pid for p in prog.get("pids", [])):
            total += prog.get("run_time_ns", 0)
    return total


def ehash_buckets():
    """The established-connection hash this namespace's dumps walk (negative in
    /proc: shared with the host's, of that many buckets)."""
    try:
        n = int(open("/proc/sys/net/ipv4/tcp_ehash_entries").read())
    except (OSError, ValueError):
        return "established hash of unknown size"
    shared = " (the host's)" if n < 0 else ""
    return f"established hash of {abs(n)} buckets{shared}"


def time_fields(err):
    """GNU time -f '%M %U %S' as its last stderr line: peak RSS KiB, user s, sys s."""
    rss, user, sys_s = err.strip().split("\n")[-1].split()
    return int(rss), float(user) + float(sys_s)


def start_ready(argv, **kw):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **kw)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        sys.exit(f"{argv[0]} did not start")
    return p, int(line[1])


def one_run(args, cond, server_pid, port, script):
    """Returns (round trips per second, tool stats dict)."""
    tool, stats = None, {}
    secs = args.seconds
    if cond.startswith("probe"):
        # probe: auto duty; probe-full: 100%; probe-N: N% (for calibration)
        if cond == "probe-sample":
            extra = ["--mode", "sample"]
        elif cond == "probe-follow":
            extra = ["--follow"]
        else:
            extra = ["--syscall-duty", "100" if cond == "probe-full" else
                     cond[6:] if cond.startswith("probe-") else "auto"]
        tool = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M %U %S", args.doctor, "probe", "--pid", str(server_pid),
             "--duration", f"{secs + 2}s", "--json"] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # attached well before the load starts (attach takes ~30 ms)
    elif cond == "bpftrace":
        t0 = time.perf_counter()
        tool = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "bpftrace", script, str(server_pid),
                                 str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        while True:
            line = tool.stdout.readline()
            if not line:
                sys.exit("bpftrace failed: " + tool.stderr.read())
            if line.strip() == "attached":
                break
        stats["attached_after_ms"] = (time.perf_counter() - t0) * 1000
        t_started = t0
    load = subprocess.run([args.load, "pingpong", str(port), str(args.conns), str(secs)],
                          capture_output=True, text=True, check=True)
    done = [l for l in load.stdout.split("\n") if l.startswith("done ")]
    rps = int(done[0].split()[1]) / secs
    if cond.startswith("probe"):
        out, err = tool.communicate(timeout=60)
        doc = json.loads(out)
        rss, cpu_s = time_fields(err)
        cost = doc["cost"]
        stats.update(attached_after_ms=doc["attached_after_ms"], map_bytes=doc["bpf_map_bytes"],
                     lost=doc["lost_events"], rss_kib=rss,
                     cpu_ms_per_s=(cpu_s + cost["bpf_run_time_s"]) * 1000 /
                     max(cost["window_s"], 1e-3),
                     duty=doc["syscall_duty"] * 100,
                     sampler_ms_per_s=doc["sampled"]["sampler_cpu_s"] * 1000 /
                     max(doc["sampled"]["seconds"], 1e-3),
                     samples=doc["sampled"]["samples"],
                     followed=1 if doc.get("follow") else 0)
    elif cond == "bpftrace":
        # GNU time does not forward signals: stop bpftrace itself, it then prints its maps.
        children = open(f"/proc/{tool.pid}/task/{tool.pid}/children").read().split()
        run_ns = sum(bpf_run_ns_of(int(c)) or 0 for c in children)
        window = time.perf_counter() - t_started
        for child in children:
            os.kill(int(child), 2)
        out, err = tool.communicate(timeout=60)
        stats["rss_kib"], cpu_s = time_fields(err)
        stats["cpu_ms_per_s"] = (cpu_s + run_ns / 1e9) * 1000 / window
    return rps, stats


def thread_cost(args, target):
    """What looking costs on a target with many threads: an idle epoll server
    with args.threads helper threads, probed in each mode; prints samples per
    second and the prober's own CPU per second of window (medians)."""
    secs = args.seconds
    server, _ = start_ready([target, "pegged-loop", str(args.threads),
                             str(args.runs * 2 * (secs + 3) + 30)])
    rows = {"sample": [], "bpf": []}
    try:
        for r in range(args.runs):
            for mode in rows:
                t0 = time.perf_counter()
                p = subprocess.Popen([args.doctor, "probe", "--pid", str(server.pid), "--duration",
                                      f"{secs}s", "--mode", mode, "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                out = p.stdout.read()
                _, _, ru = os.wait4(p.pid, 0)
                wall = time.perf_counter() - t0
                doc = json.loads(out)
                sm = doc["sampled"]
                window = max(sm["seconds"], 1e-3)
                bpf_s = doc["cost"]["bpf_run_time_s"]
                rows[mode].append((sm["samples"] / window, sm["sampler_cpu_s"] * 1000 / window,
                                   (ru.ru_utime + ru.ru_stime + bpf_s) * 1000 / wall,
                                   sm["threads_max"]))
                print(f"run {r + 1}/{args.runs} {mode:<6} {rows[mode][-1][0]:5.1f} samples/s",
                      file=sys.stderr)
    finally:
        server.kill()
    print(f"\nidle target with {args.threads} helper threads, {secs} s x {args.runs} runs, "
          f"{ehash_buckets()}, medians:\n")
    # probe CPU: the process's user + sys over its whole run, plus its BPF run time.
    print(f"{'mode':<7} {'threads':>8} {'samples/s':>10} {'sampling CPU':>13} {'probe CPU':>11}")
    for mode, xs in rows.items():
        med = lambda i: statistics.median(x[i] for x in xs)  # noqa: E731
        print(f"{mode:<7} {med(3):8.0f} {med(0):10.1f} {med(1):10.1f} ms/s {med(2):8.1f} ms/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--chain", action="store_true",
                    help="an application in front of a local dependency (for probe-follow)")
    ap.add_argument("--conditions", default=None,
                    help="also: probe-N, syscall tracing fixed at N%% (probe-0: none)")
    ap.add_argument("--threads", type=int, default=0,
                    help="instead: the cost of probing an idle target with this many threads")
    ap.add_argument("--ehash", type=int, default=0,
                    help="run in a namespace whose established-connection hash has this many "
                         "buckets (every sock_diag dump walks all of them; the host's is sized "
                         "by its memory, up to 524288 unless thash_entries= is set)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.conditions is None:
        args.conditions = ("none,probe,probe-follow" if args.chain else
                           "none,probe,probe-full,probe-sample,bpftrace")
    conds = args.conditions.split(",")
    if "none" not in conds:
        # Every loss is read against the unprobed server in the same invocation.
        args.conditions = ",".join(["none"] + conds)
        conds = args.conditions.split(",")
    if "bpftrace" in conds and shutil.which("bpftrace") is None:
        # The peer is what the numbers are read against: say so before an hour of runs.
        sys.exit("the bpftrace condition needs bpftrace: apt-get install bpftrace "
                 "(or leave it out: --conditions none,probe,probe-full,probe-sample)")
    if not args.inner:
        if os.geteuid() != 0:
            sys.exit("needs root (BPF, namespaces)")
        # Re-run inside fresh network and mount namespaces.
        cmd = ["unshare", "-n", "-m", "--propagation", "private", sys.executable,
               os.path.abspath(__file__), "--inner", *sys.argv[1:]]
        if args.ehash:
            # A namespace's own hash is sized by its parent's tcp_child_ehash_entries:
            # set it in an intermediate namespace, so the host's is never touched.
            cmd = ["unshare", "-n", "sh", "-c",
                   f'echo {args.ehash} > /proc/sys/net/ipv4/tcp_child_ehash_entries && exec "$@"',
                   "sh", *cmd]
        sys.exit(subprocess.call(cmd))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=False)
    stats_fd = enable_bpf_stats()  # held until exit: bpftrace's run time is counted too
    if stats_fd is None:
        print("note: the kernel would not count BPF run time; probe CPU is process CPU only",
              file=sys.stderr)
    b = os.path.abspath(args.build)
    args.doctor = f"{b}/tools/c10k-doctor"
    args.load = f"{b}/tests/c10k-load"
    target = f"{b}/tests/c10k-target"
    if args.threads:
        thread_cost(args, target)
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".bt", delete=False) as f:
        f.write(BPFTRACE)
        script = f.name
    total = args.runs * len(args.conditions.split(",")) * (args.seconds + 3) + 30
    db = None
    if args.chain:
        db, db_port = start_ready([target, "db", "1", str(total)])
        server, port = start_ready([target, "pool-app", str(db_port), "16", "16", str(total)])
    else:
        server, port = start_ready([target, "healthy", str(total)])
    conds = args.conditions.split(",")
    rps = {c: [] for c in conds}
    stats = {c: [] for c in conds}
    try:
        for r in range(args.runs):
            for c in conds:
                v, s = one_run(args, c, server.pid, port, script)
                rps[c].append(v)
                stats[c].append(s)
                print(f"run {r + 1}/{args.runs} {c:<10} {v:10.0f} round trips/s", file=sys.stderr)
    finally:
        server.kill()
        if db:
            db.kill()
        os.unlink(script)
    base = statistics.median(rps["none"])
    what = ("application in front of a local dependency (1 ms replies)" if args.chain
            else "epoll echo server")
    print(f"\nloopback {what}, {args.conns} connections, {args.seconds} s x "
          f"{args.runs} alternating runs, {ehash_buckets()}, medians:\n")
    print(f"{'condition':<12} {'round trips/s':>14} {'loss':>7} {'probe CPU':>11} "
          f"{'attached after':>15} {'peak RSS':>9} {'BPF maps':>9} {'lost':>5} {'traced':>7} "
          f"{'sampler CPU':>12}")
    for c in conds:
        m = statistics.median(rps[c])
        loss = (base - m) / base * 100
        st = stats[c]
        def med(k, scale=1.0):
            vals = [s[k] for s in st if k in s]
            return statistics.median(vals) * scale if vals else None
        att, rss, maps = med("attached_after_ms"), med("rss_kib", 1 / 1024), med("map_bytes", 1 / 2**20)
        lost = max((s.get("lost", 0) for s in st), default=0)
        duty = med("duty")
        sampler = med("sampler_ms_per_s")
        cpu = med("cpu_ms_per_s")
        print(f"{c:<12} {m:14.0f} {loss:6.1f}% {cpu is not None and f'{cpu:.1f} ms/s' or '-':>11} "
              f"{att and f'{att:.0f} ms' or '-':>15} "
              f"{rss and f'{rss:.1f} MB' or '-':>9} {maps and f'{maps:.1f} MB' or '-':>9} "
              f"{lost if c.startswith('probe') else '-':>5} {duty is not None and f'{duty:.0f}%' or '-':>7} "
              f"{sampler is not None and f'{sampler:.1f} ms/s' or '-':>12}")
    if "probe-follow" in stats:
        followed = sum(s.get("followed", 0) for s in stats["probe-follow"])
        print(f"\nprobe-follow followed the dependency in {followed} of {len(stats['probe-follow'])} runs")
    if "probe" in stats and "bpftrace" in stats:
        p_cpu = statistics.median(s["cpu_ms_per_s"] for s in stats["probe"])
        bt_cpu = statistics.median(s["cpu_ms_per_s"] for s in stats["bpftrace"])
        print(f"\nprobe CPU / bpftrace CPU = {p_cpu / bt_cpu:.2f}")
    if "probe" in rps and "bpftrace" in rps:
        p_loss = (base - statistics.median(rps["probe"])) / base
        bt_loss = (base - statistics.median(rps["bpftrace"])) / base
        if bt_loss > 0:
            print(f"\nprobe loss / bpftrace loss = {p_loss / bt_loss:.2f}")


main()
