#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units: they verify (systemd-analyze), and the service's ExecStart,
# run as written (with the build's binary and a scratch directory for
# node_exporter's), writes a textfile the collector and promtool accept, with an
# exit status the unit counts as success.
# Usage: check_units.sh C10K_DOCTOR UNIT_DIR
set -eu
doctor=$1 units=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
textdir=/var/lib/prometheus/node-exporter
for u in c10k-doctor-textfile.service c10k-doctor-textfile.timer; do
    sed -e "s|/usr/sbin/c10k-doctor|$doctor|" -e "s|$textdir|$work/textfile|g" "$units/$u" > "$work/$u"
done
if command -v systemd-analyze >/dev/null; then
    SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
        "$work/c10k-doctor-textfile.service" "$work/c10k-doctor-textfile.timer"
else
    echo "note: systemd-analyze not installed; the units were not verified"
fi
mkdir "$work/textfile"
cmd=$(sed -n 's/^ExecStart=//p' "$work/c10k-doctor-textfile.service" | sed 's/--interval 5/--interval 0.2/')
ok=$(sed -n 's/^SuccessExitStatus=//p' "$work/c10k-doctor-textfile.service")
rc=0
sh -c "$cmd" || rc=$?
case " 0 $ok " in *" $rc "*) ;; *) echo "FAIL: ExecStart exited $rc, not in 0 $ok"; exit 1 ;; esac
out="$work/textfile/c10k-doctor.prom"
grep -q '^c10k_doctor_status' "$out" || { echo "FAIL: $out has no c10k_doctor_status"; exit 1; }
[ "$(stat -c %a "$out")" = 644 ] || { echo "FAIL: $out is not mode 0644"; exit 1; }
[ "$(ls -A "$work/textfile" | wc -l)" = 1 ] || { echo "FAIL: temp files left: $(ls -A "$work/textfile")"; exit 1; }
if command -v promtool >/dev/null; then promtool check metrics < "$out"; fi
echo "ok: ExecStart exited $rc and wrote $(wc -l < "$out") lines"
