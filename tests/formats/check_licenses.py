#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every source, script, build file, man page and profile carries an SPDX
licence line, and the BPF object declares a GPL-compatible licence (the kernel
refuses GPL-only helpers to anything else)."""
import os
import sys

TAG = "SPDX-License-Identifier: GPL-2.0-or-later"
SKIP_DIRS = {".git", "fixtures", "inputs", "out"}
CHECKED = (".cpp", ".hpp", ".c", ".h", ".py", ".sh", ".8", ".conf", ".service", ".timer", ".yml")


def main(root):
    missing = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build")]
        for name in filenames:
            if not (name.endswith(CHECKED) or name == "CMakeLists.txt"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                head = f.read(400)
            if TAG not in head:
                missing.append(os.path.relpath(path, root))
    if not os.path.exists(os.path.join(root, "LICENSE")):
        missing.append("LICENSE (the file itself)")
    with open(os.path.join(root, "bpf", "probe.bpf.c"), encoding="utf-8") as f:
        if 'SEC("license") = "GPL"' not in f.read():
            missing.append("bpf/probe.bpf.c: license section is not GPL")
    for m in missing:
        print("no licence line:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
