#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Soak: does anything grow when c10k-doctor runs for a long time?

probe: one `c10k-doctor probe` attached for MINUTES to a loopback epoll echo
server saturated by c10k-load pingpong; each minute: the probe's RSS and CPU
that minute, the server's round trips per second (the overhead), and at the end
the BPF map memory and lost events.
check: `c10k-doctor check --interval 0` once a second for the same MINUTES, at
the same time; each minute: the median peak RSS of a run, the host's allocated
file handles (/proc/sys/fs/file-nr) and mounts, so a leak anywhere shows.

Everything runs in private network and mount namespaces. Needs root and a build.
usage: sudo bench/soak.py [--build build] [--minutes 10] [--conns 64]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time


def start_ready(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        sys.exit(f"{argv[0]} did not start")
    return p, int(line[1])


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def check_loop(doctor, until, rows):
    """check once a second; per minute: median peak RSS, file handles, mounts."""
    minute, rss = 0, []
    start = time.time()
    while time.time() < until:
        t0 = time.time()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", doctor, "check", "--interval", "0",
                            "--json"], capture_output=True, text=True)
        rss.append(int(r.stderr.strip().split("\n")[-1]))
        if int((time.time() - start) // 60) > minute:
            files = int(open("/proc/sys/fs/file-nr").read().split()[0])
            mounts = sum(1 for _ in open("/proc/self/mounts"))
            rows.append((statistics.median(rss), files, mounts, len(rss)))
            minute, rss = minute + 1, []
        time.sleep(max(0.0, 1.0 - (time.time() - t0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        if os.geteuid() != 0:
            sys.exit("needs root (BPF, namespaces)")
        sys.exit(subprocess.call(["unshare", "-n", "-m", "--propagation", "private",
                                  sys.executable, os.path.abspath(__file__), "--inner",
                                  *sys.argv[1:]]))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    b = os.path.abspath(args.build)
    doctor, load, target = f"{b}/tools/c10k-doctor", f"{b}/tests/c10k-load", f"{b}/tests/c10k-target"
    secs = args.minutes * 60
    server, port = start_ready([target, "healthy", str(secs + 120)])
    probe = subprocess.Popen([doctor, "probe", "--pid", str(server.pid), "--duration",
                              f"{secs + 30}s", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    check_rows = []
    checker = threading.Thread(target=check_loop, args=(doctor, time.time() + secs, check_rows))
    checker.start()
    probe_rows = []
    last_cpu = cpu_s(probe.pid)
    for m in range(args.minutes):
        r = subprocess.run([load, "pingpong", str(port), str(args.conns), "60"],
                           capture_output=True, text=True, check=True)
        done = [l for l in r.stdout.split("\n") if l.startswith("done ")]
        now_cpu = cpu_s(probe.pid)
        probe_rows.append((int(done[0].split()[1]) / 60, rss_kib(probe.pid),
                           (now_cpu - last_cpu) / 60 * 1000, rss_kib(server.pid)))
        last_cpu = now_cpu
        print(f"minute {m + 1}: {probe_rows[-1][0]:.0f} round trips/s, probe RSS "
              f"{probe_rows[-1][1] / 1024:.1f} MiB, probe CPU {probe_rows[-1][2]:.1f} ms/s",
              file=sys.stderr)
    probe.send_signal(2)
    out, _ = probe.communicate(timeout=60)
    doc = json.loads(out)
    checker.join()
    server.kill()

    print(f"\nprobe attached to a saturated loopback echo server ({args.conns} connections), "
          f"{args.minutes} min:")
    print(f"{'minute':>6} {'round trips/s':>14} {'probe RSS':>10} {'probe CPU':>10} {'server RSS':>11}")
    for i, (rps, rss, cpu, srss) in enumerate(probe_rows):
        print(f"{i + 1:>6} {rps:14.0f} {rss / 1024:7.1f} MiB {cpu:6.1f} ms/s {srss / 1024:8.1f} MiB")
    print(f"BPF maps {doc['bpf_map_bytes'] / 2**20:.1f} MiB (fixed at load); lost events "
          f"{doc['lost_events']}; verdict {doc['verdict']['id']}; "
          f"{doc['sampled']['samples']} samples over {doc['sampled']['seconds']:.0f} s")
    print(f"\ncheck --interval 0 once a second, {args.minutes} min:")
    print(f"{'minute':>6} {'runs':>5} {'peak RSS (median)':>18} {'host file handles':>18} {'mounts':>7}")
    for i, (rss, files, mounts, n) in enumerate(check_rows):
        print(f"{i + 1:>6} {n:5d} {rss / 1024:14.1f} MiB {files:18d} {mounts:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
