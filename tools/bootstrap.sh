#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian 12 packages c10k-doctor needs. Idempotent: does nothing
# (and prints nothing) when everything is already there.
#   tools/bootstrap.sh              to build (and run the unit tests)
#   tools/bootstrap.sh --test       also what every test runs (promtool, ansible, nft)
#   tools/bootstrap.sh --package    also what tools/package.sh needs
#   tools/bootstrap.sh --hardening  also what tools/hardening.sh needs (libFuzzer)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  iproute2 util-linux procps time
  python3 python3-jsonschema python3-prometheus-client
)
for mode in "$@"; do
  case $mode in
    # promtool lints the exposition and tests the alerting rules; the playbook
    # and the units are run as written.
    --test) packages+=(prometheus ansible-core systemd nftables) ;;
    --package) packages+=(debhelper dpkg-dev fakeroot lintian man-db git) ;;
    --hardening) packages+=(libclang-rt-14-dev) ;;
    *) echo "usage: tools/bootstrap.sh [--test] [--package] [--hardening]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "bootstrap: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
