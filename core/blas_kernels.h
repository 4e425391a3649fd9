// OpenBLAS's kernel choice, fixed before main in every program that links mtfn_core (the mtfn
// program, the benchmarks, the test programs). Not here: the thread count (core/threads.h, SerialBlas).
#pragma once

namespace mtfn {

// OpenBLAS picks its kernels when it loads, from the CPU model. A model it does not know (this
// machine's Xeon, in Debian's OpenBLAS 0.3.21) gets the generic "Prescott" SSE3 kernels: GEMMs
// 3-4x slower. If so, and the CPU has AVX-512 (SkylakeX) or AVX2 + FMA (Haswell), this names the
// kernels in OPENBLAS_CORETYPE and execs the program again with the same arguments (once: the
// variable is then set). OPENBLAS_CORETYPE set by the user wins. Returns only when nothing is to be
// done or the exec failed (then the program carries on with the slow kernels).
// It runs from a constructor in core/tensor.cpp, which every program using a Tensor links; call it
// yourself only from a program that does not.
void use_fast_openblas_kernels(char** argv);

// The kernels use_fast_openblas_kernels would ask for on this CPU ("SkylakeX", "Haswell"), or
// nullptr (no AVX2 + FMA). Does not look at the environment or at what OpenBLAS loaded.
const char* fast_openblas_kernels_for_this_cpu();

}  // namespace mtfn
