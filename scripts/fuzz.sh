#!/usr/bin/env bash
# Fuzzes the pickle reader: builds fuzz/fuzz_pickle with clang++-14 (libFuzzer + ASan + UBSan) in
# $MTFN_FUZZ_DIR (default build-fuzz/), seeds it with tests/fixtures/pickle, runs it for a bounded time and fails on any
# finding (crash, sanitizer report, leak, timeout, out-of-memory). Not run by scripts/test.sh itself.
# Usage: bash scripts/fuzz.sh [SECONDS]    (default 60; or FUZZ_SECONDS=...)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
fz=${MTFN_FUZZ_DIR:-build-fuzz}
cmake -S . -B "$fz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTFN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$fz" --target fuzz_pickle -j"$(nproc)" >/dev/null
mkdir -p "$fz"/fuzz-corpus "$fz"/fuzz-artifacts
echo "fuzz: fuzz_pickle for ${seconds}s (findings go to $fz/fuzz-artifacts/)"
# The first directory receives new inputs; the fixture directories are only read.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$fz"/fuzz/fuzz_pickle -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -dict=fuzz/pickle.dict -artifact_prefix="$fz/fuzz-artifacts/" \
  "$fz"/fuzz-corpus tests/fixtures/pickle tests/fixtures/pickle/broken 2>"$fz"/fuzz.log \
  || { tail -n 60 "$fz"/fuzz.log; echo "fuzz: FAILED, see $fz/fuzz.log and $fz/fuzz-artifacts/"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE" "$fz"/fuzz.log || true
echo "fuzz: no findings"
