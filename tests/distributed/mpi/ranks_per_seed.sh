#!/usr/bin/env bash
# `mpirun -np 2 mtfn train --ranks-per-seed 1 --seeds A,B` trains the two seeds at once, one process
# each, and gets exactly what one process gets training them one after the other (OpenBLAS and oneTBB
# on one thread in both, so every sum is made in the same order): the same train losses, checkpoints
# (parameters, BatchNorm statistics, Adam moments) and test metrics: compare_runs with tolerance 0.
# Usage: ranks_per_seed.sh MTFN COMPARE_RUNS MPIRUN [MPIRUN ARGS...]
set -euo pipefail
mtfn=$1 compare=$2
shift 2
mpirun=("$@")
work=$(mktemp -d /tmp/mtfn-rps.XXXXXX)
trap 'status=$?; if ((status == 0)); then rm -rf "$work"; else echo "(kept $work)"; fi' EXIT
args=(train --synth-scale 0.02 --batch-size 16 --max-epochs 2 --seeds 1111,1112 --keep-checkpoints --no-progress
      --threads 1 --blas-threads 1)

echo "== one process, the seeds one after the other"
"$mtfn" "${args[@]}" --out "$work/one" >"$work/one.txt" 2>&1 || { cat "$work/one.txt"; exit 1; }
echo "== two processes, --ranks-per-seed 1: both seeds at once"
"${mpirun[@]}" -np 2 "$mtfn" "${args[@]}" --ranks-per-seed 1 --out "$work/two" >"$work/two.txt" 2>&1 || { cat "$work/two.txt"; exit 1; }
grep -q "2 groups of 1 processes" "$work/two/train.log" || { echo "FAILED: no groups"; cat "$work/two.txt"; exit 1; }
"$compare" "$work/one" "$work/two" 0 0
echo "ranks_per_seed: equal"
