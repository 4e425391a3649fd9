#!/usr/bin/env bash
# Configures and builds the Release tree in build/ (and, with SANITIZE=1, the ASan+UBSan tree in build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
if [[ "${SANITIZE:-0}" == 1 ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTFN_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi
