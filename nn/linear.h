// Linear: y = x W^T + b, PyTorch's nn.Linear with its default initialisation
// (weight and bias U(-1/sqrt(in), 1/sqrt(in))). Not here: the op itself (core/ops/matmul.h, `linear`).
#pragma once

#include "nn/module.h"
#include "nn/random.h"

namespace mtfn::nn {

// Dimensions: N rows (any leading dimensions), I in_features, O out_features.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true, DType dtype = DType::F32);

  Tensor forward(const Tensor& x) const;  // x (N, I) -> (N, O)

  int64_t in_features, out_features;
  Tensor weight;  // (O, I)
  Tensor bias;    // (O), undefined without bias
};

}  // namespace mtfn::nn
