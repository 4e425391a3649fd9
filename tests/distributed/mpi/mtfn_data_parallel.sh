#!/usr/bin/env bash
# End to end: `mpirun -np N mtfn train` (the sharded fusion head, the default) trains what one process
# trains, survives a killed rank with a prompt error, and `--resume` finishes the run from the last
# checkpoint on any number of processes (the checkpoint holds the whole model whatever the rank count).
#
# Part A, float64 (--dtype float64): the claim is "the same computation", so it is checked tightly, on a
# small MTFN (small_mtfn.json beside this script: fusion width F = (16+1)(32+1)(16+1) = 9537) over 5
# epochs of 11 steps (batches of 64, the last of 44: unequal shards):
#   1. one process
#   2. two processes, rank 1 killed (SIGKILL) right after an epoch ends: the job must end with an error
#      within 30 s
#   3. that run's folder, copied: --resume on THREE processes, and the copy --resume'd on ONE process
#   4. --dist-mode plain on two processes (every rank holds the whole model)
#   5. compare_runs of 3 (both) and 4 against 1: every epoch's train loss, the whole model as one vector
#      and every checkpoint tensor (parameters, BatchNorm statistics, Adam's moments) within 1e-10,
#      relative, in norm. Why that holds on any CPU: the runs differ only in the order of their sums
#      (rows split over ranks, columns over shards, another GEMM kernel), so each gradient differs by
#      the rounding of a sum of n terms, ~sqrt(n) u relative with u = 1.1e-16 (Higham's probabilistic
#      bound; n <= F, the widest reduction: sqrt(F) u = 1.1e-14). Adam's step lr m / (sqrt(v) + eps)
#      passes a relative change d of its gradients on as at most ~2 d of the step, and the steps' errors
#      add: 55 * 2 * 1.1e-14 = 1.2e-12. Training can amplify a difference beyond that sum (measured with
#      this model and data, the worst tensor's difference, 1 process vs 2: ~5e-15 through epoch 4, then
#      9e-13 at epoch 5 and 7e-12 at epoch 6; at batch 16 it grew to 2e-4 in 258 steps), which is why
#      the run is short and its batches large. At epoch 5, one process on OpenBLAS's SkylakeX kernels
#      against two on its Haswell or Sandybridge kernels: 2.6e-12 (Adam's moments of the text
#      LSTM's input weights; the whole model 6e-15), so 1e-10 leaves a margin of 38. Where a gradient
#      cancels to rounding level, ~1e-16 of its terms, it is far below Adam's eps = 1e-8, so that
#      element's step is ~0 in both runs and no sign flips (in float32 the rounding, ~1e-7 of the terms,
#      is above eps: part B).
#
# Part B, float32: the full-size MTFN model (F = 257 * 33 * 257 = 2,179,617), one process against two
# sharded processes, 3 epochs of 2 steps (batches of 16 and 11: unequal shards). The same bound in
# float32, u = 6.0e-8, n = F: sqrt(F) u = 8.8e-5 per gradient, 2x through Adam, over 6 steps:
# 6 * 2 * 8.8e-5 = 1.1e-3 on the train losses and the whole model as one vector. Not per tensor: a
# gradient that cancels to float32 rounding (~1e-7 of its terms) sits above Adam's eps, so its element
# takes a full step of either sign, and a tensor of few such elements (the fusion head's 64-element
# bias) differs by 2.1e-4 in norm with OpenBLAS's SkylakeX kernels and 2.6e-3 with its Haswell ones.
# Measured: the whole model 5.3e-6 and the losses 1.6e-7 (SkylakeX), 6.3e-6 and 9.5e-7 (Haswell).
# Usage: mtfn_data_parallel.sh MTFN COMPARE_RUNS MPIRUN [MPIRUN ARGS...]
set -euo pipefail
mtfn=$1 compare=$2
shift 2
mpirun=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mtfn-dp.XXXXXX)
trap 'status=$?; if ((status == 0)); then rm -rf "$work"; else echo "(kept $work)"; fi' EXIT
max_epochs=5
args=(train --config "$here/small_mtfn.json" --dtype float64 --synth-scale 0.5 --batch-size 64
      --max-epochs "$max_epochs" --seeds 1111 --keep-checkpoints --no-progress --threads 1)

echo "== A1. float64: one process"
"$mtfn" "${args[@]}" --out "$work/one" >"$work/one.txt" 2>&1 || { cat "$work/one.txt"; exit 1; }

echo "== A2. float64: two processes, rank 1 killed after the first epoch"
"${mpirun[@]}" -np 2 "$mtfn" "${args[@]}" --out "$work/two" >"$work/two.txt" 2>&1 &
job=$!
for _ in $(seq 1200); do
  grep -q "epoch 1:" "$work/two/train.log" 2>/dev/null && break
  sleep 0.05
done
grep -q "epoch 1:" "$work/two/train.log" || { echo "FAILED: epoch 1 never finished"; cat "$work/two.txt"; kill "$job"; exit 1; }
ranks=($(pgrep -P "$job" || true))  # mpirun's children: the ranks (Open MPI on one node)
((${#ranks[@]} == 2)) || { echo "FAILED: expected 2 rank processes under mpirun $job, found: ${ranks[*]:-none}"; kill "$job"; exit 1; }
kill -9 "${ranks[1]}"
killed=$(date +%s)
status=0
wait "$job" || status=$?
took=$(($(date +%s) - killed))
tail -n 8 "$work/two.txt"
echo "the job ended with status $status, $took s after the kill"
((status != 0)) || { echo "FAILED: the job succeeded after losing a rank"; exit 1; }
((took <= 30)) || { echo "FAILED: the job took $took s to stop"; exit 1; }

echo "== A3. float64: --resume on three processes, and a copy on one"
cp -a "$work/two" "$work/two-on-one"
"${mpirun[@]}" -np 3 "$mtfn" "${args[@]}" --out "$work/two" --resume >"$work/resume.txt" 2>&1 || { cat "$work/resume.txt"; exit 1; }
# The kill came after some epoch e in [1, max_epochs): the run continued from there.
line=$(grep "resumed after epoch" "$work/two/train.log") || { echo "FAILED: the run did not resume"; exit 1; }
echo "$line"
e=$(sed -E 's/.*resumed after epoch ([0-9]+).*/\1/' <<<"$line")
((e >= 1 && e < max_epochs)) || { echo "FAILED: resumed after epoch $e, expected 1 to $((max_epochs - 1))"; exit 1; }
"$mtfn" "${args[@]}" --out "$work/two-on-one" --resume >"$work/resume1.txt" 2>&1 || { cat "$work/resume1.txt"; exit 1; }
grep "resumed after epoch" "$work/two-on-one/train.log" || { echo "FAILED: the copy did not resume"; exit 1; }

echo "== A4. float64: --dist-mode plain on two processes"
"${mpirun[@]}" -np 2 "$mtfn" "${args[@]}" --dist-mode plain --out "$work/plain" >"$work/plain.txt" 2>&1 || { cat "$work/plain.txt"; exit 1; }
grep -q "data-parallel over 2 processes" "$work/plain.txt" || { echo "FAILED: not the plain mode"; cat "$work/plain.txt"; exit 1; }

echo "== A5. float64: one process vs 2 then 3 sharded processes; vs 2 sharded then 1; vs 2 plain (1e-10)"
"$compare" "$work/one" "$work/two" 1e-10 1e-10
"$compare" "$work/one" "$work/two-on-one" 1e-10 1e-10
"$compare" "$work/one" "$work/plain" 1e-10 1e-10

echo "== B. float32, the full-size model: one process vs two sharded processes (1.1e-3, derived above)"
args32=(train --synth-scale 0.02 --batch-size 16 --max-epochs 3 --seeds 1111 --keep-checkpoints --no-progress --threads 1)
"$mtfn" "${args32[@]}" --out "$work/one32" >"$work/one32.txt" 2>&1 || { cat "$work/one32.txt"; exit 1; }
"${mpirun[@]}" -np 2 "$mtfn" "${args32[@]}" --out "$work/two32" >"$work/two32.txt" 2>&1 || { cat "$work/two32.txt"; exit 1; }
"$compare" "$work/one32" "$work/two32" 1.1e-3 inf
