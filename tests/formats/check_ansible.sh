#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The example playbook against localhost, its apply pointed at a private network
# namespace (a `unshare -n` process's), so the host's sysctls never change:
# the first run applies (changed), the second finds the host at the profile.
# Usage: check_ansible.sh C10K_DOCTOR PLAYBOOK PROFILE_DIR
set -eu
doctor=$1 playbook=$2 profiles=$3
command -v ansible-playbook >/dev/null || { echo "SKIP: ansible-playbook not installed (apt-get install ansible-core)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
work=$(mktemp -d)
unshare -n sleep 120 & ns_pid=$!
trap 'kill $ns_pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.2
nsenter -t $ns_pid -n sysctl -qw net.core.somaxconn=1024
printf '# description: test\nnet.core.somaxconn = 5000\n' > "$work/t.conf"
run() {
    ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -c local "$playbook" "$@" \
        -e "c10k_doctor=$doctor c10k_profile=t c10k_state_dir=$work/state" \
        -e "c10k_target='--netns /proc/$ns_pid/ns/net --profile-dir $work'" > "$work/out" 2>&1 \
        || { cat "$work/out"; echo "FAIL: ansible-playbook $*"; exit 1; }
    grep -E '^localhost +:' "$work/out"
}
dry=$(run --check)
echo "$dry" | grep -q 'changed=1' || { cat "$work/out"; echo "FAIL: --check should report a change"; exit 1; }
[ "$(nsenter -t $ns_pid -n sysctl -n net.core.somaxconn)" = 1024 ] || { echo "FAIL: --check changed the key"; exit 1; }
first=$(run)
echo "$first" | grep -q 'changed=1' || { cat "$work/out"; echo "FAIL: first run should change"; exit 1; }
[ "$(nsenter -t $ns_pid -n sysctl -n net.core.somaxconn)" = 5000 ] || { echo "FAIL: not applied"; exit 1; }
if [ -e /etc/sysctl.d/90-c10k-doctor.conf ] && grep -q 'somaxconn = 5000' /etc/sysctl.d/90-c10k-doctor.conf; then
    echo "FAIL: the host's sysctl.d was written"; exit 1
fi
second=$(run)
echo "$second" | grep -q 'changed=0' || { cat "$work/out"; echo "FAIL: second run should change nothing"; exit 1; }
echo "ok: --check $dry; first $first; second $second"
