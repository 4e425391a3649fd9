#!/usr/bin/env bash
# Load time and peak memory of our reader against Python's pickle.load on the same full-size
# synthetic CH-SIMS file, in the same run. Not part of CI (needs ~4 GB of RAM and /usr/bin/python3
# with numpy). Usage: bash bench/bench_load.sh [FILE] [REPEATS]   (BUILD_DIR defaults to build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
file=${1:-/tmp/mtfn_bench_full.pkl}
repeats=${2:-3}
cmake --build "$build" --target bench_load mtfn >/dev/null 2>&1
if [[ ! -f "$file" ]]; then "$build/mtfn" synth --out "$file" --scale 1 --seed 1; fi
size_mb=$(( $(stat -c %s "$file") / 1000000 ))
cat "$file" > /dev/null  # same (warm) page cache for everyone

# runs a command under /usr/bin/time -v; prints "<seconds printed by the command> <peak RSS MB>"
measure() {
  local out
  out=$(/usr/bin/time -v "$@" 2>&1)
  local s=$(awk '/^seconds/ {print $2}' <<<"$out")
  local kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' <<<"$out")
  echo "$s $((kb / 1000))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

py_pickle='import pickle, sys, time
t = time.perf_counter(); d = pickle.load(open(sys.argv[1], "rb")); print("seconds %.3f" % (time.perf_counter() - t))'
py_mmsa='import pickle, sys, time
import numpy as np
t = time.perf_counter()
data = pickle.load(open(sys.argv[1], "rb"))
for split in ("train", "valid", "test"):  # MMSA data_loader with need_normalized=True
    s = data[split]
    text = s["text"].astype(np.float32); vision = s["vision"].astype(np.float32); audio = s["audio"].astype(np.float32)
    audio[audio == -np.inf] = 0
    vision = np.mean(np.transpose(vision, (1, 0, 2)), axis=0, keepdims=True)
    audio = np.mean(np.transpose(audio, (1, 0, 2)), axis=0, keepdims=True)
    vision[vision != vision] = 0; audio[audio != audio] = 0
    labels = {m: np.asarray(s["regression_labels" + ("_" + m if m != "M" else "")]).astype(np.float32) for m in "MTAV"}
print("seconds %.3f" % (time.perf_counter() - t))'

declare -A sec mem
for what in ours_pickle python_pickle ours_dataset python_mmsa; do
  results=()
  for ((i = 0; i < repeats; i++)); do
    case $what in
      ours_pickle) results+=("$(measure "$build/bench_load" pickle "$file")") ;;
      ours_dataset) results+=("$(measure "$build/bench_load" dataset "$file")") ;;
      python_pickle) results+=("$(measure /usr/bin/python3 -c "$py_pickle" "$file")") ;;
      python_mmsa) results+=("$(measure /usr/bin/python3 -c "$py_mmsa" "$file")") ;;
    esac
  done
  sec[$what]=$(printf '%s\n' "${results[@]}" | awk '{print $1}' | median)
  mem[$what]=$(printf '%s\n' "${results[@]}" | awk '{print $2}' | median)
done

echo "file: $file ($size_mb MB), median of $repeats runs, warm page cache"
printf '%-34s %8s %10s %12s\n' "" seconds "peak MB" "peak/file"
for what in ours_pickle python_pickle ours_dataset python_mmsa; do
  printf '%-34s %8.3f %10d %12.2f\n' "$what" "${sec[$what]}" "${mem[$what]}" "$(awk -v m="${mem[$what]}" -v f="$size_mb" 'BEGIN {print m / f}')"
done
awk -v a="${sec[python_pickle]}" -v b="${sec[ours_pickle]}" -v c="${sec[python_mmsa]}" -v d="${sec[ours_dataset]}" \
  'BEGIN {printf "bench_load: pickle_speedup=%.2f dataset_speedup=%.2f (python seconds / ours)\n", a / b, c / d}'
