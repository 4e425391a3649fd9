#!/usr/bin/env bash
# Configures and builds the Release tree (and, with SANITIZE=1, the ASan+UBSan tree).
# The trees: $MTFN_BUILD_DIR (default build/) and $MTFN_ASAN_DIR (default build-asan/); relative paths
# are inside the source folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MTFN_BUILD_DIR:-build} asan=${MTFN_ASAN_DIR:-build-asan}
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$jobs"
if [[ "${SANITIZE:-0}" == 1 ]]; then
  # Only the test programs (and mtfn, which some of them run), at -O1 with line tables: enough for the sanitizers to find and
  # place a fault, and half the compile time of a full optimised build.
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DMTFN_SANITIZE=ON >/dev/null
  targets=(mtfn)  # some unit tests run the program itself
  for dir in tests/*/; do
    area=$(basename "$dir")
    [[ "$area" != fixtures ]] && compgen -G "$dir*.cpp" >/dev/null && targets+=("test_$area")
  done
  cmake --build "$asan" -j"$jobs" --target "${targets[@]}"
fi
