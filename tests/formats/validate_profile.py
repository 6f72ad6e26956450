#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validates every `profile ... --json` document against its schema: list, show
and diff/verify/apply --dry-run of every shipped profile (read-only), backups of
an empty state directory, and, as root, an apply and its rollback inside a
private network namespace (the host never changes).
Usage: validate_profile.py C10K_DOCTOR SCHEMA PROFILE_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema


def run(argv, ok=(0,)):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def main():
    doctor, schema_path, profiles = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    state = tempfile.mkdtemp(prefix="c10k-profile-schema-")
    docs = []
    try:
        docs.append(("list", run([doctor, "profile", "list", "--json"])))
        for p in sorted(profiles.glob("*.conf")):
            name = p.stem
            docs.append((f"show {name}", run([doctor, "profile", "show", name, "--json"])))
            docs.append((f"diff {name}", run([doctor, "profile", "diff", name, "--json"])))
            docs.append((f"verify {name}",
                         run([doctor, "profile", "verify", name, "--json"], ok=(0, 1))))
            docs.append((f"apply --dry-run {name}",
                         run([doctor, "profile", "apply", name, "--dry-run", "--json",
                              "--state-dir", state])))
        docs.append(("backups", run([doctor, "profile", "backups", "--json", "--state-dir", state])))
        if os.geteuid() == 0 and shutil.which("unshare"):
            out = run(["unshare", "-n", "sh", "-c",
                       f"sysctl -qw net.core.somaxconn=1000 && "
                       f"'{doctor}' profile apply c10k --json --state-dir '{state}' && echo '@@' && "
                       f"'{doctor}' profile rollback --json --state-dir '{state}'"])
            applied, rolled = out.split("@@\n")
            docs.append(("apply c10k (private netns)", applied))
            docs.append(("rollback (private netns)", rolled))
            docs.append(("backups after", run([doctor, "profile", "backups", "--json",
                                               "--state-dir", state])))
        else:
            print("note: not root; apply and rollback documents not checked")
    finally:
        shutil.rmtree(state, ignore_errors=True)
    failed = 0
    for what, text in docs:
        doc = json.loads(text)
        errors = sorted(validator.iter_errors(doc), key=str)
        if errors:
            failed += 1
            print(f"FAIL: {what}: {errors[0].message} at {list(errors[0].absolute_path)}")
    print(f"{len(docs) - failed} of {len(docs)} profile documents valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
