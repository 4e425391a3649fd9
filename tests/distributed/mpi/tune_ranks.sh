#!/usr/bin/env bash
# `mtfn tune` under mpirun -np 2 (the ranks share the trials) finds exactly what one process finds:
# the search's CSV (every trial's draw, valid and test metrics) is compared byte for byte.
# Usage: tune_ranks.sh MTFN MPIRUN...
set -euo pipefail
mtfn=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/tune.json" <<'JSON'
{"tfn": {"commonParams": {"early_stop": 8},
         "debugParams": {"d_paras": ["hidden_dims", "text_out", "post_fusion_dim", "learning_rate"],
                         "hidden_dims": [[8, 4, 8], [4, 4, 4]], "text_out": [4, 8], "post_fusion_dim": [4, 8],
                         "learning_rate": [0.001, 0.005]}}}
JSON
args=(tune --model tfn --dataset mosi --synth-scale 0.03 --config "$dir/tune.json" --trials 6 --max-epochs 2)
"$mtfn" "${args[@]}" --out "$dir/one" >"$dir/one.log"
"$@" -np 2 "$mtfn" "${args[@]}" --out "$dir/two" >"$dir/two.log"
grep -q "rank 1 of 2" "$dir/two.log" || { cat "$dir/two.log"; echo "FAILED: the trials did not run on two ranks"; exit 1; }
if ! cmp "$dir/one/tune/mosi-tfn.csv" "$dir/two/tune/mosi-tfn.csv"; then
  diff "$dir/one/tune/mosi-tfn.csv" "$dir/two/tune/mosi-tfn.csv" || true
  echo "FAILED: two ranks found something else than one process"
  exit 1
fi
echo "tune_ranks: 6 trials on 2 ranks equal one process ($(wc -l <"$dir/one/tune/mosi-tfn.csv") CSV lines identical)"
