#!/usr/bin/env bash
# Soak test of --resume: trains a run uninterrupted, then the same run killed with SIGKILL at N random
# moments and resumed each time with --resume, and checks that both end identically: results.json's
# seeds entries (without the wall times) and the model files, byte for byte, and one results CSV row.
#
# Usage: bench/soak_resume.sh [N] [--full] [--mtfn PATH] [--work DIR] [--seed S]
#   N        kills (default 20)
#   --full   the full CH-SIMS-sized MTFN (`mtfn train` without --data: 12 epochs, 1 seed); default a
#            small MTFN (tests/mtfn/helpers.h small_config) on 2 seeds x 10 epochs
#   --mtfn   the program (default build/mtfn); --work the scratch folder (default build/soak-resume)
#   --seed   seeds the kill moments (default: random), printed so that a failure can be replayed
# Prints one line per kill and a summary; exit 0 when identical, 1 when not.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=20 full=0 mtfn=build/mtfn work=build/soak-resume seed=$RANDOM
while (($#)); do
  case "$1" in
    --full) full=1 ;;
    --mtfn) mtfn=$2; shift ;;
    --work) work=$2; shift ;;
    --seed) seed=$2; shift ;;
    [0-9]*) kills=$1 ;;
    *) echo "soak_resume: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
RANDOM=$seed
rm -rf "$work" && mkdir -p "$work"
if ((full)); then
  args=(--no-progress)
else
  cat >"$work/small.json" <<'JSON'
{"hidden_dims": [8, 4, 8], "text_out": 8, "post_fusion_dim": 8, "post_text_dim": 8,
 "post_audio_dim": 4, "post_video_dim": 4, "batch_size": 16}
JSON
  args=(--config "$work/small.json" --synth-scale 0.05 --seeds 1111,1112 --max-epochs 10 --no-progress)
fi

# The uninterrupted run, and how long it takes (the kill moments are drawn within it).
t0=$(date +%s.%N)
"$mtfn" train --out "$work/whole" "${args[@]}" >"$work/whole.log" 2>&1
duration=$(printf "%.3f" "$(echo "$(date +%s.%N) - $t0" | bc)")
echo "soak_resume: $kills kills, seed $seed, uninterrupted run ${duration}s ($work/whole)"

# Startup (reading the data, building the model, a finished run's resume): the same command on a
# copy of the finished run.
cp -r "$work/whole" "$work/startup"
t0=$(date +%s.%N)
"$mtfn" train --resume --out "$work/startup" "${args[@]}" >"$work/startup.log" 2>&1
startup=$(printf "%.3f" "$(echo "$(date +%s.%N) - $t0" | bc)")
work_time=$(echo "if ($duration > $startup) $duration - $startup else 0.1" | bc)
echo "soak_resume: startup ${startup}s; kill moments: 1 in 4 within startup, the others after it, within 2x ${work_time}s / $kills"

landed=0
for ((i = 1; i <= kills; ++i)); do
  # N restarts, each killed at a moment of mean (duration - startup) / N past its startup, spread the
  # kills over the whole run (training steps, checkpoint writes, the end of a seed, the results);
  # 1 in 4 falls within the startup (reading the data, resuming from the checkpoint).
  if ((RANDOM % 4 == 0)); then
    delay=$(echo "scale=3; $startup * $RANDOM / 32768" | bc)
  else
    delay=$(echo "scale=3; $startup + 2 * $work_time * $RANDOM / 32768 / $kills" | bc)
  fi
  "$mtfn" train --resume --out "$work/killed" "${args[@]}" >>"$work/killed.log" 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -KILL "$pid" 2>/dev/null; then
    landed=$((landed + 1))
    what="killed at ${delay}s"
  else
    what="had ended before ${delay}s"
  fi
  wait "$pid" 2>/dev/null || true
  reached=$(grep -E "epoch [0-9]+:" "$work/killed/train.log" 2>/dev/null | tail -1 | cut -c21- | cut -d: -f1 || true)
  echo "  kill $i: $what; last finished: ${reached:-nothing}"
done
"$mtfn" train --resume --out "$work/killed" "${args[@]}" >>"$work/killed.log" 2>&1

same=1
seeds() { jq -S '.seeds | map(.epochs |= map(del(.seconds)))' "$1"; }
if ! diff <(seeds "$work/whole/results.json") <(seeds "$work/killed/results.json") >"$work/seeds.diff"; then
  echo "soak_resume: results.json seeds differ ($work/seeds.diff)"
  same=0
fi
models=0
for f in "$work"/whole/models/*.safetensors; do
  models=$((models + 1))
  if ! cmp -s "$f" "$work/killed/models/$(basename "$f")"; then
    echo "soak_resume: $(basename "$f") differs"
    same=0
  fi
done
rows=$(($(wc -l <"$work"/killed/normal/*.csv) - 1))
if ((rows != 1)); then
  echo "soak_resume: the results CSV has $rows rows, expected 1"
  same=0
fi
if ((models == 0)); then
  echo "soak_resume: no model files in $work/whole/models"
  same=0
fi
echo "soak_resume: $landed of $kills kills landed during a run; $models model files and results.json's seeds" \
     "$( ((same)) && echo identical || echo DIFFERENT) to the uninterrupted run"
((same))
