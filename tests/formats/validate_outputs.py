#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validates `check --json` against its schema and parses `--format prometheus`
back with the Prometheus client's own parser, over every fixture host and the
live host; where promtool is installed (Debian's prometheus package, which
tools/bootstrap.sh installs) every exposition must also pass
`promtool check metrics`. Usage: validate_outputs.py C10K_DOCTOR SCHEMA FIXTURES_DIR"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
from prometheus_client.parser import text_string_to_metric_families


def run(doctor, args):
    r = subprocess.run([doctor, "check", *args], capture_output=True, text=True, timeout=60)
    if r.returncode not in (0, 1, 2):
        raise SystemExit(f"check {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def fixture_roots(fixtures):
    healthy = fixtures / "healthy"
    for variant in sorted(p for p in fixtures.iterdir() if p.is_dir()):
        tmp = Path(tempfile.mkdtemp(prefix="c10k-fmt-"))
        shutil.copytree(healthy, tmp, dirs_exist_ok=True)
        shutil.copytree(variant, tmp, dirs_exist_ok=True)
        yield variant.name, ["--root", str(tmp), "--interval", "0.05"], tmp


def check_json(doc_text, schema, where):
    doc = json.loads(doc_text)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    counts = {k: 0 for k in ("ok", "warn", "crit", "unknown")}
    for f in doc["findings"]:
        counts[f["severity"].lower()] += 1
    assert counts == doc["summary"], f"{where}: summary {doc['summary']} != {counts}"
    return doc


def metric_for(finding, evidence):
    """The name an evidence number gets (see lib/src/report/prometheus.cpp), or
    None for a rate, which the server computes from the counters instead."""
    key, unit = evidence["key"], evidence["unit"]
    if unit == "/s" or key.endswith("_per_second"):
        return None
    if unit == "%":
        key = key.removesuffix("_percent") + "_ratio"
    prefix = "process_" if finding["subject"].startswith("pid ") else ""
    return "c10k_doctor_" + prefix + key


def series_of(finding):
    """The labels that tell a finding's series apart: never a PID."""
    s = finding["subject"]
    if s.startswith("pid ") and " (" in s:
        return (finding["id"], "comm", s[s.index(" (") + 2:-1])
    return (finding["id"], "subject", s)


def promtool_lint(text, where):
    promtool = shutil.which("promtool")
    if not promtool:
        return
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"{where}: promtool check metrics: {r.stdout}{r.stderr}"


def check_prometheus(text, doc, where):
    promtool_lint(text, where)
    severities = {}
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.name.endswith("_total") or family.type == "counter":
            assert family.type == "counter", f"{where}: {family.name} is not a counter"
        for s in family.samples:
            assert "pid" not in s.labels, f"{where}: {s.name} has a pid label"
            if s.name == "c10k_doctor_finding_severity":
                kind = "comm" if "comm" in s.labels else "subject"
                severities[(s.labels["id"], kind, s.labels[kind])] = s.value
            if s.name == "c10k_doctor_status":
                status = s.value
    want = {"OK": 0, "WARN": 1, "CRIT": 2, "UNKNOWN": 3}
    assert status == want[doc["status"]], f"{where}: status {status} vs {doc['status']}"
    for f in doc["findings"]:
        key = series_of(f)
        assert severities.get(key) == want[f["severity"]], f"{where}: {key} severity mismatch"
        for e in f["evidence"]:
            name = metric_for(f, e)
            if name is None:
                continue
            # The client's parser names a counter family without its _total.
            assert name in names or name.removesuffix("_total") in names, \
                f"{where}: no metric {name} for {e['key']}"
    return len(severities)


def main():
    doctor, schema_path, fixtures = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    cases = list(fixture_roots(fixtures))
    cases.append(("live host", ["--interval", "0.2"], None))
    cases.append(("live host and a process", ["--interval", "0.2", "--pid", str(os.getpid())], None))
    passed = failed = 0
    for name, args, tmp in cases:
        try:
            # A live host's sockets may change between the JSON run and the
            # Prometheus run; the comparison gets three tries there, one on fixtures.
            for attempt in range(1 if tmp else 3):
                try:
                    for target in ([], ["--connections", "1000000"]):
                        doc = check_json(run(doctor, [*args, *target, "--json"]), schema, name)
                        check_prometheus(run(doctor, [*args, *target, "--format", "prometheus"]),
                                         doc, name)
                    break
                except AssertionError:
                    if tmp or attempt == 2:
                        raise
            passed += 1
            print(f"ok: {name}")
        except Exception as e:  # noqa: BLE001 - report every case, then fail
            failed += 1
            print(f"FAIL: {name}: {e}")
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
