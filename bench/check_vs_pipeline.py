#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""check vs the shell pipeline a person would run, in a network namespace
holding 1,000 .. 50,000 TCP sockets, in one of two mixes:

  loopback     ESTABLISHED loopback pairs held by several processes (the hard
               fd limit being 20,000 per process), plus 10% TIME_WAIT.
  server-host  two namespaces joined by a veth pair, as a server and its
               clients on two hosts: the server side holds the accepted
               connections, the client side the outbound ones, and both
               share the kernel's one established-socket table, as the
               namespaces of one host do. check runs on the server side.

Measures `c10k-doctor check --interval 0` and
`sysctl -a; nstat -asz; ss -s; ss -tan | count states; ss -ltn`, alternating
runs, and prints medians of wall time, CPU time (user+sys, children included)
and peak RSS, plus the ratios. Needs root (ip netns). Loopback only; the
namespace and every helper are removed at the end.

usage: sudo bench/check_vs_pipeline.py [--build build] [--runs 9] [--sizes 1000,10000,50000]
                                      [--mix loopback,server-host]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

PIPELINE = ("sysctl -a >/dev/null 2>&1; nstat -asz >/dev/null; ss -s >/dev/null; "
            "ss -tan | awk 'NR>1 {n[$1]++} END {for (s in n) print s, n[s]}' >/dev/null; "
            "ss -ltn >/dev/null")
PAIRS_PER_PROCESS = 5000  # 10,000 fds each, under the hard limit of 20,000
CONNS_PER_PROCESS = 10000  # one fd each
VETH_NET = "10.231.77"  # a /24 of the private range for the veth pair


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def measure(cmd):
    """Runs cmd once; returns (wall s, cpu s, peak RSS KiB), children included.
    Peak RSS comes from GNU time, because a child forked from Python starts with
    Python's RSS as its high-water mark, and that mark survives exec."""
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2):
        raise SystemExit(f"{cmd[0]} exited {code}: {err}")
    return wall, ru.ru_utime + ru.ru_stime, int(err.strip().splitlines()[-1])


class Namespace:
    def __init__(self, name, testkit):
        self.name, self.testkit, self.helpers = name, testkit, []
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def run(self, *cmd):
        return ["ip", "netns", "exec", self.name, *cmd]

    def hold(self, sockets):
        tw = sockets // 10
        pairs = (sockets - tw) // 2
        while pairs > 0:
            n = min(pairs, PAIRS_PER_PROCESS)
            p = subprocess.Popen(self.run(self.testkit, "pairs", str(n), "600"),
                                 stdout=subprocess.PIPE, text=True)
            if not p.stdout.readline().startswith("ready"):
                raise SystemExit("testkit pairs failed")
            self.helpers.append(p)
            pairs -= n
        if tw:
            sh(*self.run(self.testkit, "time-wait", str(tw)), stdout=subprocess.DEVNULL)

    def start(self, *cmd):
        p = subprocess.Popen(self.run(self.testkit, *cmd), stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.startswith("ready"):
            raise SystemExit(f"testkit {cmd[0]} failed")
        self.helpers.append(p)
        return int(line.split()[1])

    def hold_server_host(self, conns, peer):
        """`conns` accepted connections here, their outbound ends in `peer`."""
        sh("ip", "link", "add", "c10kb0", "netns", self.name, "type", "veth",
           "peer", "name", "c10kb1", "netns", peer.name)
        for ns, dev, host in ((self, "c10kb0", 1), (peer, "c10kb1", 2)):
            sh("ip", "-n", ns.name, "addr", "add", f"{VETH_NET}.{host}/24", "dev", dev)
            sh("ip", "-n", ns.name, "link", "set", dev, "up")
        sh(*peer.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"))
        while conns > 0:
            n = min(conns, CONNS_PER_PROCESS)
            port = self.start("serve", f"{VETH_NET}.1", str(n), "600")
            peer.start("connect", f"{VETH_NET}.1", str(port), str(n), "600")
            conns -= n

    def count(self):
        out = subprocess.run(self.run("ss", "-Htan"), capture_output=True, text=True).stdout
        return out.count("\n")

    def close(self):
        for p in self.helpers:
            p.kill()
            p.wait()
        subprocess.run(["ip", "netns", "delete", self.name])


def measure_here(doctor, runs):
    """Inside the namespace: alternate the two, return one row's numbers."""
    check = [doctor, "check", "--interval", "0"]
    pipeline = ["sh", "-c", PIPELINE]
    measure(check)  # warm caches for both
    measure(pipeline)
    doc, pipe = [], []
    for _ in range(runs):
        doc.append(measure(check))
        pipe.append(measure(pipeline))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    return [med(doc, 0), med(doc, 1), med(doc, 2), med(pipe, 0), med(pipe, 1), med(pipe, 2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--sizes", default="1000,5000,10000,25000,50000")
    ap.add_argument("--mix", default="loopback,server-host")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    doctor = os.path.abspath(f"{a.build}/tools/c10k-doctor")
    testkit = os.path.abspath(f"{a.build}/tests/c10k-testkit")
    if a.inner:
        print(" ".join(str(x) for x in measure_here(doctor, a.runs)))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (ip netns add)")

    mixes = a.mix.split(",")
    for mix in mixes:
        if mix not in ("loopback", "server-host"):
            raise SystemExit(f"--mix: unknown mix '{mix}' (loopback, server-host)")
    print(f"{'mix':>11} {'sockets':>8} | {'check wall':>10} {'cpu':>8} {'rss':>7} | "
          f"{'pipeline wall':>13} {'cpu':>8} {'rss':>7} | {'wall x':>6} {'cpu x':>6}")
    for mix, size in [(m, int(s)) for m in mixes for s in a.sizes.split(",")]:
        ns = Namespace(f"c10k-bench-{os.getpid()}", testkit)
        peer = Namespace(f"c10k-bench-{os.getpid()}-c", testkit) if mix == "server-host" else None
        try:
            if peer:
                ns.hold_server_host(size, peer)
            else:
                ns.hold(size)
            real = ns.count()
            inner = subprocess.run(ns.run(sys.executable, os.path.abspath(__file__), "--inner",
                                          "--build", a.build, "--runs", str(a.runs)),
                                   capture_output=True, text=True, check=True).stdout
            dw, dc, dr, pw, pc, pr = (float(x) for x in inner.split())
            print(f"{mix:>11} {real:>8} | {dw*1000:>8.1f}ms {dc*1000:>6.1f}ms {dr/1024:>5.1f}MB | "
                  f"{pw*1000:>11.1f}ms {pc*1000:>6.1f}ms {pr/1024:>5.1f}MB | "
                  f"{pw/dw:>5.1f}x {pc/max(dc, 1e-6):>5.1f}x", flush=True)
        finally:
            ns.close()
            if peer:
                peer.close()
    print("(medians of alternating runs inside the namespace; CPU = user + sys, children included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
