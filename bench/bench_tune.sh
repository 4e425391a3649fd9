#!/usr/bin/env bash
# Trials side by side: 8 small TFN trials (MOSI layout, synthetic) with --jobs 1, --jobs 2 and under
# mpirun -np 2, run one after the other in the same invocation; prints each wall time, the ratios to
# --jobs 1, and whether the three searches found the same (their CSVs byte for byte).
# Usage: bash bench/bench_tune.sh [build/mtfn] [SCALE] [EPOCHS]    (defaults: build/mtfn 0.1 4)
set -euo pipefail
mtfn=${1:-build/mtfn}
scale=${2:-0.1}
epochs=${3:-4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/tune.json" <<'JSON'
{"tfn": {"commonParams": {"early_stop": 8},
         "debugParams": {"d_paras": ["hidden_dims", "text_out", "post_fusion_dim", "learning_rate", "batch_size"],
                         "hidden_dims": [[32, 8, 32], [16, 8, 16], [32, 16, 32]], "text_out": [16, 32],
                         "post_fusion_dim": [16, 32], "learning_rate": [0.001, 0.005], "batch_size": [16, 32]}}}
JSON
args=(tune --model tfn --dataset mosi --synth-scale "$scale" --config "$dir/tune.json" --trials 8 --max-epochs "$epochs")
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
one=$(seconds "$mtfn" "${args[@]}" --out "$dir/jobs1")
two=$(seconds "$mtfn" "${args[@]}" --jobs 2 --out "$dir/jobs2")
mpi=$(seconds mpirun --oversubscribe --allow-run-as-root -np 2 "$mtfn" "${args[@]}" --out "$dir/mpi2")
same=yes
cmp -s "$dir/jobs1/tune/mosi-tfn.csv" "$dir/jobs2/tune/mosi-tfn.csv" || same=no
cmp -s "$dir/jobs1/tune/mosi-tfn.csv" "$dir/mpi2/tune/mosi-tfn.csv" || same=no
printf 'bench_tune: 8 trials, scale %s, %s epochs, %s cores\n' "$scale" "$epochs" "$(nproc)"
printf '  --jobs 1        %7.2f s\n  --jobs 2        %7.2f s  (%.2fx faster)\n  mpirun -np 2    %7.2f s  (%.2fx faster)\n' \
  "$one" "$two" "$(echo "$one / $two" | bc -l)" "$mpi" "$(echo "$one / $mpi" | bc -l)"
echo "  identical results: $same"
