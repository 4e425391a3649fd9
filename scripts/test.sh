#!/usr/bin/env bash
# The whole test suite: install what is missing, build (Release and ASan+UBSan), run every test through ctest.
# The build trees: $MTFN_BUILD_DIR and $MTFN_ASAN_DIR (scripts/build.sh; .ci/run puts them in a deep folder).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MTFN_BUILD_DIR:-build} asan=${MTFN_ASAN_DIR:-build-asan}
bash scripts/install-deps.sh
SANITIZE=1 bash scripts/build.sh
echo "== Release tests"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
# The multi-process tests once more on another family of OpenBLAS kernels (other summation orders in
# every GEMM): their bounds must hold whatever kernels the machine picks.
if grep -qw avx512f /proc/cpuinfo; then coretype=Haswell; else coretype=Sandybridge; fi
echo "== Multi-process tests with OPENBLAS_CORETYPE=$coretype"
OPENBLAS_CORETYPE=$coretype ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -L mpi
echo "== AddressSanitizer + UndefinedBehaviorSanitizer tests"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir "$asan" --output-on-failure -j"$(nproc)" -L unit
echo "== libFuzzer on the pickle reader (bounded)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
