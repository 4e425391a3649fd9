#!/usr/bin/env bash
# The whole test suite: install what is missing, build (Release and ASan+UBSan), run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
SANITIZE=1 bash scripts/build.sh
echo "== Release tests"
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== AddressSanitizer + UndefinedBehaviorSanitizer tests"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -L unit
echo "== libFuzzer on the pickle reader (bounded)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
