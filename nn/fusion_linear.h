// The first layer of MTFN's fusion head as one op: y = linear(dropout(tensor_fusion(a, v, t), p, key), W, b),
// computed without ever storing the fusion vector z (B, F) or its gradient (each 558 MB for MTFN in float32).
// Not here: the unfused ops it must agree with (core/ops/fusion.h, nn/dropout.h, core/ops/matmul.h).
// Derivation and measurements: docs/performance.md ("The fused fusion head").
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "nn/dropout.h"
#include "nn/linear.h"

namespace mtfn::nn {

// Dimensions: B batch, A audio, V video, T text features, A1 = A+1, V1 = V+1, T1 = T+1,
// F = A1 V1 T1 the fusion width (column (i V1 + j) T1 + k of z is a1_i v1_j t1_k), N out features.
//
// Column shards. Pair (i, j) (audio index i, video index j; pair number i V1 + j) owns the T1 columns
// (i V1 + j) T1 + [0, T1) of z and W. A process of a sharded fusion head (distributed/sharded_fusion.h)
// holds the columns of pairs [pair_begin, pair_begin + w / T1) only: its weight is (N, w), and the op
// computes that share of y, zd[:, cols] W[:, cols]^T. pair_begin = 0 with w = F is the whole layer.

// a (B,A), v (B,V), t (B,T), weight (N,F), bias (N) or undefined -> y (B,N).
// The dropout mask is dropout's (key, global row, column of z), bit for bit; p = 0 means no dropout.
// Forward builds z in column blocks (one audio index, a few video indices) and multiplies each block
// into y; backward rebuilds each block for dL/dW and turns dL/dz block by block into dL/da, dL/dv, dL/dt.
// Recorded as one op: fusion_dropout_linear_forward, with fusion_dropout_linear_backward as its backward.
// With pair_begin > 0 or weight (N, w < F): the columns of a shard only (above).
Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, double p, const DropoutKey& key,
                             const Tensor& weight, const Tensor& bias, int64_t pair_begin = 0);

// What fusion_dropout_linear_backward needs from the forward pass, and why: nothing of size F. The
// fusion vector z (B,F) and the mask are rebuilt block by block from the inputs and the key instead.
struct FusionDropoutLinearCache {
  Tensor a, v, t;     // (B,A), (B,V), (B,T) detached: to rebuild z (for dL/dW) and to form dL/da, dL/dv, dL/dt
  Tensor weight;      // (N,w) detached: dL/dzd = dL/dy W
  double p = 0;       // the dropout probability and
  DropoutKey key;     // the mask's key: the same mask as forward's
  int64_t pair_begin = 0;  // the shard's first pair (0: the whole layer)
};

// The forward pass on plain tensors (records nothing): y (B,N) as fusion_dropout_linear; fills cache.
Tensor fusion_dropout_linear_forward(const Tensor& a, const Tensor& v, const Tensor& t, double p,
                                     const DropoutKey& key, const Tensor& weight, const Tensor& bias,
                                     FusionDropoutLinearCache& cache, int64_t pair_begin = 0);

// Where the backward pass adds its results: plain tensors (not in any graph), undefined = not wanted.
struct FusionDropoutLinearGrads {
  Tensor a, v, t;      // (B,A), (B,V), (B,T): dL/da, dL/dv, dL/dt (from this shard's columns only)
  Tensor weight;       // (N,w): dL/dW of the shard's columns
  bool weight_is_zero = false;  // weight's buffer is known to hold zeros: written without being read
  Tensor bias;         // (N)
};

// The backward pass: given gy = dL/dy (B,N), ADDS dL/da, dL/dv, dL/dt, dL/dweight, dL/dbias into `out`.
void fusion_dropout_linear_backward(const Tensor& gy, const FusionDropoutLinearCache& cache,
                                    FusionDropoutLinearGrads out);

// The same with the modules: layer.forward(drop.forward(tensor_fusion(a, v, t))), including the dropout's
// step advancing in training mode (the identity in eval mode, as Dropout::forward).
Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, Dropout& drop, const Linear& layer);

// A model's fusion-head first layer as multi-process training sees it: the dropout and the linear layer
// (registered by the model under its own names), the weight's state_dict name and the inputs' widths.
// While `sharded` is set (distributed/sharded_fusion.h installs it), the linear layer's weight holds this
// process's columns only and forward computes through it.
struct FusionLayer {
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear;
  std::string weight_name;          // e.g. "post_fusion_layer_1.weight"
  std::array<int64_t, 3> widths{};  // A, V, T: F = (A+1)(V+1)(T+1)
  std::function<Tensor(const Tensor& a, const Tensor& v, const Tensor& t)> sharded;
  Tensor forward(const Tensor& a, const Tensor& v, const Tensor& t) const {
    return sharded ? sharded(a, v, t) : fusion_dropout_linear(a, v, t, *dropout, *linear);
  }
};

// The plain loop the op's forward is tested against, one output element at a time (no graph).
// Shapes as above; bias may be nullptr.
template <class S>
void fusion_dropout_linear_reference(int64_t B, int64_t A, int64_t V, int64_t T, int64_t N, const S* a, const S* v,
                                     const S* t, double p, const DropoutKey& key, const S* weight, const S* bias,
                                     S* y);

}  // namespace mtfn::nn
