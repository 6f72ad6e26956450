#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the Debian package from the committed tree, checks it with lintian,
# installs it, uses it from the installed paths, purges it and checks that
# nothing is left. Also checks that a machine without kernel BTF builds the
# probes, and that C10K_REQUIRE_BPF refuses a build that would drop them.
#   tools/package.sh [OUT_DIR]     (root; the .deb is left in OUT_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
rm -rf "$out" && mkdir -p "$out"
version=$(dpkg-parsechangelog -S Version)
say() { echo "package: $*" >&2; }

say "building c10k-doctor $version from $(git rev-parse --short HEAD)"
git archive --prefix="c10k-doctor-$version/" HEAD | tar -x -C "$out"
(cd "$out/c10k-doctor-$version" &&
    DEB_BUILD_OPTIONS="parallel=${JOBS:-2}" dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) ||
    { tail -n 40 "$out/build.log"; exit 1; }
deb=$(ls "$out"/c10k-doctor_"${version}"_*.deb)

say "lintian"
lintian --fail-on error,warning "$out"/c10k-doctor_"${version}"_*.changes 2>&1 |
    grep -v 'running with root privileges' || true
lintian --fail-on error,warning "$out"/c10k-doctor_"${version}"_*.changes >/dev/null 2>&1

say "install, use, purge"
dpkg -s c10k-doctor >/dev/null 2>&1 && { echo "c10k-doctor is already installed here; not touching it" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
files=$(dpkg -L c10k-doctor)
trap 'dpkg --purge c10k-doctor >/dev/null 2>&1 || true' EXIT
/usr/sbin/c10k-doctor check --interval 0.2 --quiet >/dev/null || [ $? -le 2 ]
MANPAGER=cat man c10k-doctor >/dev/null
man -w c10k-doctor-probe >/dev/null
/usr/sbin/c10k-doctor profile list | grep -q '^c100k'
/usr/sbin/c10k-doctor profile verify c10k >/dev/null || [ $? -eq 1 ]
[ -d /etc/c10k-doctor/profiles ]
bash -c 'source /usr/share/bash-completion/completions/c10k-doctor
         COMP_WORDS=(c10k-doctor profile apply c1); COMP_CWORD=3
         _c10k_doctor c10k-doctor c1 apply
         [[ " ${COMPREPLY[*]} " == *" c100k "* ]]' ||
    { echo "completion of installed profile names failed" >&2; exit 1; }
dpkg --purge c10k-doctor >/dev/null
trap - EXIT
left=""
while read -r f; do
    [ -z "$f" ] || [ "$f" = /. ] && continue
    # Directories other packages own too (/usr/share/man/man8 ...) stay.
    if [ -e "$f" ] && ! { [ -d "$f" ] && dpkg -S "$f" >/dev/null 2>&1; }; then left+="$f "; fi
done <<<"$files"
[ -z "$left" ] || { echo "left after purge: $left" >&2; exit 1; }

say "a build machine without BTF, and one without libbpf"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The probes' build reads no kernel BTF: build them with /sys/kernel/btf hidden.
unshare -m sh -c 'mount -t tmpfs none /sys/kernel/btf &&
    cmake -S . -B "$1" -DC10K_BUILD_TESTS=OFF -DC10K_REQUIRE_BPF=ON >/dev/null &&
    cmake --build "$1" --target bpf_probe >/dev/null' sh "$scratch/nobtf"
# Packages never drop the probes silently.
if PKG_CONFIG_LIBDIR=/nonexistent cmake -S . -B "$scratch/refuse" -DC10K_BUILD_TESTS=OFF \
        -DC10K_REQUIRE_BPF=ON >"$scratch/refuse.log" 2>&1; then
    echo "C10K_REQUIRE_BPF did not refuse a build without libbpf" >&2; exit 1
fi
grep -q "C10K_REQUIRE_BPF" "$scratch/refuse.log"
say "ok: $(basename "$deb"), lintian clean, installed, used, purged; BPF built with no kernel BTF; no silent build without BPF"
