// TensorFusion: MTFN's z = [1;a] (x) [1;v] (x) [1;t] as a module without parameters.
// Not here: the op and its hand-derived backward (core/ops/fusion.h, docs/fusion.md).
#pragma once

#include "core/ops/fusion.h"
#include "nn/module.h"

namespace mtfn::nn {

// Dimensions: B batch, A audio, V video, T text features.
class TensorFusion : public Module {
 public:
  TensorFusion() : Module("TensorFusion") {}
  // a (B,A), v (B,V), t (B,T) -> z (B, (A+1)(V+1)(T+1)), audio index slowest, text fastest.
  Tensor forward(const Tensor& a, const Tensor& v, const Tensor& t) const { return tensor_fusion(a, v, t); }
  static int64_t output_width(int64_t A, int64_t V, int64_t T) { return (A + 1) * (V + 1) * (T + 1); }
};

}  // namespace mtfn::nn
