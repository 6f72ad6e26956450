#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian 12 packages c10k-doctor needs to build, test and benchmark.
# Idempotent: does nothing (and prints nothing) when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  iproute2 util-linux procps time
  python3 python3-jsonschema python3-prometheus-client
  prometheus  # promtool: the exposition lint and the alerting rules' tests
  ansible-core systemd  # the example playbook and the units, run by the tests
)

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
