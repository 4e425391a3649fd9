// LayerNorm over the last dimension as PyTorch's nn.LayerNorm(E) (eps 1e-5, weight 1, bias 0): each row
// normalised by its own mean and biased variance, then scaled and shifted per feature. One op with a
// hand-derived backward (docs/attention.md, "LayerNorm"). Not here: normalising over several dimensions.
#pragma once

#include "nn/module.h"

namespace mtfn::nn {

// Dimensions: R rows (every leading dimension flattened), E features (the last dimension).

// What layer_norm_backward needs from the forward pass, and why.
struct LayerNormCache {
  Tensor x;       // (R,E) detached: backward rebuilds xhat = (x - mean) * rstd from it (the graph keeps x
                  //       alive anyway; a cached xhat would be a second (R,E))
  Tensor weight;  // (E) detached: dL/dxhat = dL/dy * weight
  Tensor mean;    // (R) float64 row means, to rebuild xhat
  Tensor rstd;    // (R) float64 1 / sqrt(var + eps), to rebuild xhat and scale dL/dx
};

// The forward pass on plain tensors (records nothing): x (..., E), weight (E), bias (E) -> y (..., E),
//   y = (x - mean) * rstd * weight + bias, mean and the biased variance over the last dimension.
Tensor layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                          LayerNormCache& cache);

// The backward pass: given gy = dL/dy (..., E), ADDS dL/dx, dL/dweight, dL/dbias into the gradients of
// x, weight and bias (the op's inputs), each only if it requires grad.
void layer_norm_backward(const Tensor& gy, const LayerNormCache& cache, const Tensor& x, const Tensor& weight,
                         const Tensor& bias);

// The recorded op: layer_norm_forward, with layer_norm_backward as its node's backward.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_shape, double eps = 1e-5, DType dtype = DType::F32);

  Tensor forward(const Tensor& x) const;  // x (..., E) -> (..., E)

  int64_t normalized_shape;
  double eps;
  Tensor weight;  // (E) = 1
  Tensor bias;    // (E) = 0
};

}  // namespace mtfn::nn
