// The first layer of MTFN's fusion head as one op: y = linear(dropout(tensor_fusion(a, v, t), p, key), W, b),
// computed without ever storing the fusion vector z (B, F) or its gradient (each 558 MB for MTFN in float32).
// Not here: the unfused ops it must agree with (core/ops/fusion.h, nn/dropout.h, core/ops/matmul.h).
// Derivation and measurements: docs/performance.md ("The fused fusion head").
#pragma once

#include "nn/dropout.h"
#include "nn/linear.h"

namespace mtfn::nn {

// Dimensions: B batch, A audio, V video, T text features, A1 = A+1, V1 = V+1, T1 = T+1,
// F = A1 V1 T1 the fusion width (column (i V1 + j) T1 + k of z is a1_i v1_j t1_k), N out features.

// a (B,A), v (B,V), t (B,T), weight (N,F), bias (N) or undefined -> y (B,N).
// The dropout mask is dropout's (key, global row, column of z), bit for bit; p = 0 means no dropout.
// Forward builds z in column blocks (one audio index, a few video indices) and multiplies each block
// into y; backward rebuilds each block for dL/dW and turns dL/dz block by block into dL/da, dL/dv, dL/dt.
// Recorded as one op: fusion_dropout_linear_forward, with fusion_dropout_linear_backward as its backward.
Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, double p, const DropoutKey& key,
                             const Tensor& weight, const Tensor& bias);

// What fusion_dropout_linear_backward needs from the forward pass, and why: nothing of size F. The
// fusion vector z (B,F) and the mask are rebuilt block by block from the inputs and the key instead.
struct FusionDropoutLinearCache {
  Tensor a, v, t;     // (B,A), (B,V), (B,T) detached: to rebuild z (for dL/dW) and to form dL/da, dL/dv, dL/dt
  Tensor weight;      // (N,F) detached: dL/dzd = dL/dy W
  double p = 0;       // the dropout probability and
  DropoutKey key;     // the mask's key: the same mask as forward's
};

// The forward pass on plain tensors (records nothing): y (B,N) as fusion_dropout_linear; fills cache.
Tensor fusion_dropout_linear_forward(const Tensor& a, const Tensor& v, const Tensor& t, double p,
                                     const DropoutKey& key, const Tensor& weight, const Tensor& bias,
                                     FusionDropoutLinearCache& cache);

// The backward pass: given gy = dL/dy (B,N), ADDS dL/da, dL/dv, dL/dt, dL/dweight, dL/dbias into the
// gradients of the op's inputs a, v, t, weight, bias that require grad (bias may be undefined).
void fusion_dropout_linear_backward(const Tensor& gy, const FusionDropoutLinearCache& cache, const Tensor& a,
                                    const Tensor& v, const Tensor& t, const Tensor& weight, const Tensor& bias);

// The same with the modules: layer.forward(drop.forward(tensor_fusion(a, v, t))), including the dropout's
// step advancing in training mode (the identity in eval mode, as Dropout::forward).
Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, Dropout& drop, const Linear& layer);

// The plain loop the op's forward is tested against, one output element at a time (no graph).
// Shapes as above; bias may be nullptr.
template <class S>
void fusion_dropout_linear_reference(int64_t B, int64_t A, int64_t V, int64_t T, int64_t N, const S* a, const S* v,
                                     const S* t, double p, const DropoutKey& key, const S* weight, const S* bias,
                                     S* y);

}  // namespace mtfn::nn
