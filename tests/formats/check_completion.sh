#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Drives the bash completion as bash does: COMP_WORDS/COMP_CWORD, then the
# function `complete -p c10k-doctor` names, then COMPREPLY.
# Usage: check_completion.sh C10K_DOCTOR COMPLETION_FILE PROFILE_DIR
set -u
doctor=$1 script=$2
export C10K_DOCTOR_PROFILE_DIR=$3
source "$script"
fn=$(complete -p c10k-doctor | sed -E 's/.*-F ([^ ]+).*/\1/')
fails=0
expect() {  # expect WANTED WORDS...: the completion of the last word includes WANTED
    local want=$1; shift
    COMP_WORDS=("$doctor" "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
    "$fn" c10k-doctor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    if [[ " ${COMPREPLY[*]} " != *" $want "* ]]; then
        echo "FAIL: '$*' completes to '${COMPREPLY[*]}', not including '$want'"; fails=$((fails+1))
    fi
}
expect check ""
expect profile pro
expect verify profile ""
expect rollback profile roll
expect c100k profile apply c1
expect c10k profile verify ""
expect --connections check --con
expect --fail-on check --fa
expect --format check -
expect nagios check --format na
expect --follow probe --fol
expect sample probe --mode s
expect --persist profile apply c10k --pers
expect "$$" probe --pid "$$"
expect --port probe --po
expect tune tu
expect --dry-run tune --dry
expect --rounds tune --ro
expect --unit check --un
expect prometheus probe --format pro
# A port something listens on, from a listener of our own (this runs in the
# test's namespace or the host's; loopback only, gone when the script ends).
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1],flush=True); time.sleep(30)' > "${TMPDIR:-/tmp}/c10k-completion-port.$$" &
listener=$!
for _ in $(seq 50); do [ -s "${TMPDIR:-/tmp}/c10k-completion-port.$$" ] && break; sleep 0.1; done
expect "$(cat "${TMPDIR:-/tmp}/c10k-completion-port.$$")" probe --port ""
kill $listener; rm -f "${TMPDIR:-/tmp}/c10k-completion-port.$$"
[ $fails -eq 0 ] && echo "ok: completion" || exit 1
