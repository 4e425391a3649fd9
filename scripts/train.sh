#!/usr/bin/env bash
# The main job: install what is missing, build, and train MTFN.
# With no arguments it trains on a built-in synthetic CH-SIMS-shaped dataset;
# any arguments are passed to `mtfn train` (e.g. --data unaligned_39.pkl).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ONLY=1 bash scripts/install-deps.sh  # no test-only packages for the main job
bash scripts/build.sh
exec ./build/mtfn train --out runs/latest "$@"
