#!/usr/bin/env bash
# A long fuzzing session of both readers: fuzz_pickle (scripts/fuzz.sh) and fuzz_pth (fuzz/fuzz_pth.sh),
# each for a given number of inputs (libFuzzer -runs=N) instead of a time, and the figures of each
# (executions, exec/s, peak RSS, new corpus inputs, findings) written to a file.
# Usage: bash fuzz/fuzz_long.sh [RUNS] [REPORT]   (default 1000000 inputs each; report build-fuzz/fuzz_long.txt)
#        FUZZ_MAX_SECONDS=S also stops each target after S seconds (the report then shows the inputs it ran).
# Builds both targets with clang++-14 in build-fuzz/ (MTFN_FUZZ=ON); the two run side by side (one core
# each); exit 1 if either has a finding.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
report=${2:-build-fuzz/fuzz_long.txt}
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTFN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null || exit 1
cmake --build build-fuzz --target fuzz_pickle fuzz_pth -j"$(nproc)" >/dev/null || exit 1
mkdir -p build-fuzz/long build-fuzz/pickle-corpus build-fuzz/pth-corpus build-fuzz/pth-seeds "$(dirname "$report")"
for f in tests/fixtures/pth/*.pth tests/fixtures/pth/broken/*.pth; do  # as fuzz/fuzz_pth.sh does
  if [ "$(head -c 2 "$f")" = "PK" ]; then
    unzip -p "$f" '*/data.pkl' >"build-fuzz/pth-seeds/$(basename "$f" .pth).pkl" 2>/dev/null || true
  fi
done
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
{
  echo "fuzz_long: $(date -Iseconds) on $(hostname), $runs inputs per target, $(git describe --always --dirty 2>/dev/null || echo unknown)"
  printf "%-12s %12s %10s %10s %12s %9s %8s\n" target executions exec/s seconds peak_rss_mb new_inputs findings
} >"$report"
status=0
one() {  # target max_len dict corpus dirs...
  local target=$1 max_len=$2 dict=$3
  shift 3
  local log=build-fuzz/long/$target.log artifacts=build-fuzz/long/$target-artifacts/
  mkdir -p "$artifacts"
  local before after start end rc
  before=$(ls "$1" | wc -l)
  start=$(date +%s.%N)
  ./build-fuzz/fuzz/"$target" -runs="$runs" -max_total_time="${FUZZ_MAX_SECONDS:-0}" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
    -dict="$dict" -artifact_prefix="$artifacts" "$@" 2>"$log"
  rc=$?
  end=$(date +%s.%N)
  after=$(ls "$1" | wc -l)
  local execs rss seconds findings
  execs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
  rss=$(grep -E "^stat::peak_rss_mb" "$log" | awk '{print $2}')
  seconds=$(echo "$end - $start" | bc)
  findings=$(ls "$artifacts" | wc -l)
  ((rc != 0 && findings == 0)) && findings="rc=$rc"
  printf "%-12s %12s %10s %10.1f %12s %9s %8s\n" "$target" "${execs:-?}" \
    "$(echo "scale=0; ${execs:-0} / $seconds" | bc)" "$seconds" "${rss:-?}" "$((after - before))" "$findings" >>"$report"
  if ((rc != 0)); then
    echo "  $target: finding(s) in $artifacts, log $log" >>"$report"
  fi
  return "$rc"
}
one fuzz_pickle 16384 fuzz/pickle.dict build-fuzz/pickle-corpus tests/fixtures/pickle tests/fixtures/pickle/broken &
pickle=$!
one fuzz_pth 40000 fuzz/pth.dict build-fuzz/pth-corpus build-fuzz/pth-seeds tests/fixtures/pth tests/fixtures/pth/broken &
pth=$!
wait "$pickle" || status=1
wait "$pth" || status=1
cat "$report"
exit $status
