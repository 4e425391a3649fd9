#!/usr/bin/env bash
# The main job: install what is missing, build, and train MTFN.
# With no arguments it trains on a built-in synthetic CH-SIMS-shaped dataset;
# any arguments are passed to `mtfn train` (e.g. --data unaligned_39.pkl); the run goes to
# runs/latest unless they give --out DIR (or --out=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
# MTFN_NO_BUILD=1 skips installing and building and MTFN=path picks the program (the tests use both).
if [[ "${MTFN_NO_BUILD:-0}" != 1 ]]; then
  BUILD_ONLY=1 bash scripts/install-deps.sh  # no test-only packages for the main job
  bash scripts/build.sh
fi
out=(--out runs/latest)
for a in "$@"; do
  if [[ "$a" == --out || "$a" == --out=* ]]; then out=(); fi
done
exec "${MTFN:-./build/mtfn}" train "${out[@]}" "$@"
