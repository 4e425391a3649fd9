#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those that are missing.
# Usage: bash scripts/install-deps.sh            (build + run + test dependencies)
#        BUILD_ONLY=1 bash scripts/install-deps.sh  (no test-only packages: chromium)
#        WITH_TORCH=1 bash scripts/install-deps.sh  (also python3-torch, for tools/ and bench/)
# gnuplot-nox draws the figures of `mtfn report`; chromium is only for the test that renders the page
# (tests/report; skipped with a message when /usr/bin/chromium is absent).
set -euo pipefail
pkgs=(cmake g++ make pkg-config libopenblas-dev libtbb-dev libfmt-dev libboost-test-dev
      nlohmann-json3-dev libcli11-dev libopenmpi-dev openmpi-bin libzip-dev libssl-dev
      clang-14 libclang-rt-14-dev gnuplot-nox zlib1g-dev)
if [[ "${BUILD_ONLY:-0}" != 1 ]]; then pkgs+=(chromium); fi
if [[ "${WITH_TORCH:-0}" == 1 ]]; then pkgs+=(python3-numpy python3-torch); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
