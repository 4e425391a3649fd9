#!/usr/bin/env bash
# Fuzzes the PyTorch checkpoint reader: builds fuzz/fuzz_pth (clang++-14, libFuzzer + ASan + UBSan) in
# build-fuzz-pth/, seeds it with tests/fixtures/pth (the checkpoints, the hostile files, and the data.pkl
# of each zip fixture, which the target wraps in a legacy stream), runs it for a bounded time and fails
# on any finding. The pickle reader's own fuzzer is scripts/fuzz.sh.
# Usage: bash fuzz/fuzz_pth.sh [SECONDS]    (default 60; or FUZZ_SECONDS=...)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
cmake -S . -B build-fuzz-pth -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTFN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build build-fuzz-pth --target fuzz_pth -j"$(nproc)" >/dev/null
mkdir -p build-fuzz-pth/pth-corpus build-fuzz-pth/pth-seeds build-fuzz-pth/pth-artifacts
for f in tests/fixtures/pth/*.pth tests/fixtures/pth/broken/*.pth; do
  if [ "$(head -c 2 "$f")" = "PK" ]; then
    unzip -p "$f" '*/data.pkl' >"build-fuzz-pth/pth-seeds/$(basename "$f" .pth).pkl" 2>/dev/null || true
  fi
done
echo "fuzz: fuzz_pth for ${seconds}s (findings go to build-fuzz-pth/pth-artifacts/)"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./build-fuzz-pth/fuzz/fuzz_pth -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=40000 \
  -print_final_stats=1 -dict=fuzz/pth.dict -artifact_prefix=build-fuzz-pth/pth-artifacts/ \
  build-fuzz-pth/pth-corpus build-fuzz-pth/pth-seeds tests/fixtures/pth tests/fixtures/pth/broken 2>build-fuzz-pth/fuzz_pth.log \
  || { tail -n 60 build-fuzz-pth/fuzz_pth.log; echo "fuzz: FAILED, see build-fuzz-pth/fuzz_pth.log and build-fuzz-pth/pth-artifacts/"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE" build-fuzz-pth/fuzz_pth.log || true
echo "fuzz: no findings"
