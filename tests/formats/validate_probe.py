#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validates `probe --json` against its schema for live targets: a busy and an
idle server, in BPF mode (when this machine allows BPF; CI does) and in
sampling mode. Usage: validate_probe.py C10K_DOCTOR C10K_TARGET C10K_LOAD SCHEMA"""
import json
import subprocess
import sys

import jsonschema


def start(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        raise SystemExit(f"{argv[0]} did not start")
    return p, int(line[1])


def main():
    doctor, target, load, schema_path = sys.argv[1:5]
    schema = json.load(open(schema_path))
    busy, port = start([target, "cpu-burn", "15"])
    driver, _ = start([load, "pingpong", str(port), "8", "15"])
    idle, _ = start([target, "healthy", "15"])
    checked = 0
    try:
        for pid in (busy.pid, idle.pid):
            for mode in ("auto", "sample"):
                r = subprocess.run([doctor, "probe", "--pid", str(pid), "--duration", "1s",
                                    "--interval", "500ms", "--mode", mode, "--json"],
                                   capture_output=True, text=True, timeout=60)
                if r.returncode != 0:
                    raise SystemExit(f"probe --mode {mode} exited {r.returncode}: {r.stderr}")
                doc = json.loads(r.stdout)
                jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
                assert doc["verdict"]["id"] == doc["findings"][0]["id"]
                if mode == "sample":
                    assert doc["mode"] == "sample" and doc["unobserved"], "sampling mode must say what it cannot see"
                checked += 1
    finally:
        for p in (busy, driver, idle):
            p.kill()
            p.wait()
    print(f"validated {checked} probe documents")


main()
