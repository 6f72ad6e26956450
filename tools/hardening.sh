#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hardening runs, each in a build directory of its own next to build/:
#   tools/hardening.sh sanitize        unit and privileged suites under ASan + UBSan
#   tools/hardening.sh fuzz [SECONDS]  each libFuzzer target for SECONDS (default 60)
# Either fails on any sanitizer report, in the tests or in any c10k-doctor they run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}

sanitize() {
    # -O1: what the sanitizers' authors advise (readable reports, a faster build).
    # gcc warns maybe-uninitialized inside std::regex and std::function under ASan:
    # false positives of that combination, silenced here only.
    cmake -S . -B build-asan -DC10K_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_FLAGS="-O1 -Wno-maybe-uninitialized" \
        -DCMAKE_C_FLAGS=-O1 >/dev/null
    cmake --build build-asan -j"$jobs"
    local logs
    logs=$(mktemp -d /tmp/c10k-asan.XXXXXX)
    # Reports from every process (the tests run c10k-doctor and the test servers)
    # go to files, so one in a child the test does not check still fails the run.
    # LeakSanitizer is off: a probe killed by a test's SIGKILL has nothing to say.
    export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=0:abort_on_error=1:strict_string_checks=1"
    export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
    local rc=0
    ctest --test-dir build-asan --output-on-failure || rc=$?
    if compgen -G "$logs/*" >/dev/null; then
        echo "hardening: sanitizer reports:" >&2
        cat "$logs"/* >&2
        rc=1
    fi
    rm -rf "$logs"
    return $rc
}

fuzz() {
    local seconds=${1:-60}
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DC10K_FUZZ=ON >/dev/null
    cmake --build build-fuzz -j"$jobs"
    local rc=0 name exe corpus
    mkdir -p build-fuzz/artifacts
    for name in proc sock_diag values profile btf; do
        exe=build-fuzz/tests/fuzz/c10k-fuzz-${name//_/-}
        corpus=build-fuzz/corpus/$name
        mkdir -p "$corpus"
        local seeds=(tests/fuzz/inputs/$name)
        [ "$name" = proc ] && seeds+=(tests/fixtures/hosts)
        [ "$name" = profile ] && seeds+=(profiles)
        echo "hardening: fuzzing $name for ${seconds}s" >&2
        # New inputs go to the first corpus directory (ours, in the build tree);
        # a crash is written to artifacts/ and ends the run with an error.
        if ! "$exe" -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
                -artifact_prefix=build-fuzz/artifacts/"$name"- "$corpus" "${seeds[@]}" \
                2> build-fuzz/fuzz-"$name".log; then
            tail -n 60 build-fuzz/fuzz-"$name".log >&2
            rc=1
        fi
        grep -E "stat::number_of_executed_units|cov: .* ft:" build-fuzz/fuzz-"$name".log | tail -n 2 >&2
    done
    return $rc
}

case "${1:-}" in
    sanitize) sanitize ;;
    fuzz) shift; fuzz "$@" ;;
    *) echo "usage: tools/hardening.sh sanitize | fuzz [SECONDS]" >&2; exit 2 ;;
esac
