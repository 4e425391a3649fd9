// The tensor fusion op of MTFN: per batch row, z = [1;a] (x) [1;v] (x) [1;t], flattened with
// the audio index slowest and the text index fastest:
//   z[b, (i*(V+1) + j)*(T+1) + k] = a1[i] * v1[j] * t1[k],  a1 = [1;a], v1 = [1;v], t1 = [1;t].
// Backward is derived by hand (docs/fusion.md), not composed from broadcasts.
#pragma once

#include "core/tensor.h"

namespace mtfn {

// a (B,A), v (B,V), t (B,T) -> z (B, (A+1)(V+1)(T+1)).
Tensor tensor_fusion(const Tensor& a, const Tensor& v, const Tensor& t);

// The plain loops the fast kernels are tested against (no graph). Shapes as above;
// the gradient outputs are (B,A), (B,V), (B,T) and are ADDED into.
template <class T>
void fusion_forward_reference(int64_t B, int64_t A, int64_t V, int64_t Tt, const T* a, const T* v, const T* t, T* z);
template <class T>
void fusion_backward_reference(int64_t B, int64_t A, int64_t V, int64_t Tt, const T* a, const T* v, const T* t,
                               const T* gz, T* ga, T* gv, T* gt);

}  // namespace mtfn
