#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units: they verify (systemd-analyze; any complaint fails, since
# it exits 0 on a misspelt setting), and each service's ExecStart, run as
# written (with the build's binary and a scratch directory for node_exporter's),
# writes a textfile the collector and promtool accept, with an exit status the
# unit counts as success. The probe template's `--unit %i` needs systemd to
# find a unit; here it is given a process of ours by --pid instead.
# Usage: check_units.sh C10K_DOCTOR UNIT_DIR
set -eu
doctor=$1 units=$2
work=$(mktemp -d)
sleeper=
trap 'rm -rf "$work"; [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true' EXIT
textdir=/var/lib/prometheus/node-exporter
for u in c10k-doctor-textfile.service c10k-doctor-textfile.timer \
         c10k-doctor-probe@.service c10k-doctor-probe@.timer; do
    sed -e "s|/usr/sbin/c10k-doctor|$doctor|" -e "s|$textdir|$work/textfile|g" "$units/$u" > "$work/$u"
done
if command -v systemd-analyze >/dev/null; then
    complaints=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
        "$work/c10k-doctor-textfile.service" "$work/c10k-doctor-textfile.timer" \
        "$work/c10k-doctor-probe@nginx.service" "$work/c10k-doctor-probe@nginx.timer" 2>&1) || true
    [ -z "$complaints" ] || { echo "FAIL: systemd-analyze verify: $complaints"; exit 1; }
else
    echo "note: systemd-analyze not installed; the units were not verified"
fi
mkdir "$work/textfile"

# run_exec SERVICE SED-EXPR OUTFILE: runs the service's ExecStart after SED-EXPR.
run_exec() {
    cmd=$(sed -n 's/^ExecStart=//p' "$work/$1" | sed "$2")
    ok=$(sed -n 's/^SuccessExitStatus=//p' "$work/$1")
    rc=0
    sh -c "$cmd" || rc=$?
    case " 0 $ok " in *" $rc "*) ;; *) echo "FAIL: $1: ExecStart exited $rc, not in 0 $ok"; exit 1 ;; esac
    out="$work/textfile/$3"
    [ -s "$out" ] || { echo "FAIL: $1 wrote no $out"; exit 1; }
    [ "$(stat -c %a "$out")" = 644 ] || { echo "FAIL: $out is not mode 0644"; exit 1; }
    if command -v promtool >/dev/null; then promtool check metrics < "$out"; fi
    echo "ok: $1: ExecStart exited $rc and wrote $(wc -l < "$out") lines"
}

run_exec c10k-doctor-textfile.service 's/--interval 5/--interval 0.2/' c10k-doctor.prom
grep -q '^c10k_doctor_status' "$work/textfile/c10k-doctor.prom" || { echo "FAIL: no c10k_doctor_status"; exit 1; }

sleep 60 &
sleeper=$!
run_exec c10k-doctor-probe@.service \
    "s/--unit %i/--pid $sleeper/; s/%i/test/g; s/--duration 10s/--duration 1s/" c10k-doctor-probe-test.prom
probe_out="$work/textfile/c10k-doctor-probe-test.prom"
grep -q '^c10k_doctor_probe_verdict{comm="sleep"' "$probe_out" || { echo "FAIL: no verdict for sleep in $probe_out"; cat "$probe_out"; exit 1; }
# A restart must not start new series: no label holds the PID.
if grep -q -e "pid=" -e "\"$sleeper\"" -e "pid $sleeper" "$probe_out"; then echo "FAIL: a label holds the PID"; exit 1; fi
[ "$(ls -A "$work/textfile" | wc -l)" = 2 ] || { echo "FAIL: temp files left: $(ls -A "$work/textfile")"; exit 1; }
