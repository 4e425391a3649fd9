// Choosing OpenBLAS's kernels by re-exec (see blas_kernels.h). Runs before main: no library state,
// no output, nothing that can throw.
// Not here: the constructor that calls it (core/tensor.cpp, so that every program links it).
#include "core/blas_kernels.h"

#include <cblas.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>

namespace mtfn {

const char* fast_openblas_kernels_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

void use_fast_openblas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const char* core = openblas_get_corename();
  if (!core || strcasecmp(core, "prescott") != 0) return;
  const char* want = fast_openblas_kernels_for_this_cpu();
  if (!want || !argv || !argv[0]) return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  // The executable's own path rather than /proc/self/exe, which would rename the process "exe" (ps, top).
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = '\0';
    execv(path, argv);  // returns only on failure (the file was replaced since?): try the link itself
  }
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with the slow kernels
}

}  // namespace mtfn
