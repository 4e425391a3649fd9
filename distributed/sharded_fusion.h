// The tensor-parallel fusion head: rank r of N holds the columns C_r of the fusion layer's weight
// W (P, F) (the pairs [r Q / N, (r+1) Q / N) of nn/fusion_linear.h, Q = (A+1)(V+1) pairs of T+1
// columns), its gradient and its optimizer state; the subnets stay data-parallel. Only activations
// (B x (A+V+T) and B x P floats) cross the network, never W's gradient. Derivation and figures:
// docs/distributed.md. Not here: the other parameters' gradient buckets (buckets.h), the files that
// hold W whole (nn/safetensors.h's column shards).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "distributed/process_group.h"
#include "nn/fusion_linear.h"
#include "nn/safetensors.h"

namespace mtfn::distributed {

// Rank `rank` of `size`'s columns of a fusion layer with inputs of widths {A, V, T}: whole pairs,
// contiguous, the ranks' pair counts differing by at most one.
nn::ColumnShard fusion_columns(const std::array<int64_t, 3>& widths, int rank, int size);

// Dimensions: B the global batch, B_r this rank's rows, A/V/T the fusion inputs' widths, D = A+V+T,
// P the layer's outputs, w = |C_r| this rank's columns.
//
// Training mode: every rank holds its B_r rows of the batch (contiguous, in rank order).
//   forward   X (B,D)   = all-gather of the ranks' [a v t] rows
//             P_r (B,P) = dropout(z)[:, C_r] W_r^T          (nn::fusion_dropout_linear_forward on C_r)
//             y_r (B_r,P) = my rows of sum_r P_r  + b        (reduce-scatter)
//   backward  g (B,P)   = all-gather of the ranks' dL/dy_r
//             dL/dW_r   = g^T dropout(z)[:, C_r]             (local: W's gradient is never exchanged)
//             dL/d[a v t] of my rows = my rows of sum_r (g W_r dropout-mask ...)_r   (reduce-scatter of (B,D))
//             dL/db     = column sums of dL/dy_r            (this rank's share; the buckets add the shares)
// The dropout mask is keyed by the batch's global row and z's column, as on one process, so the result
// equals one process's up to summation order.
// Eval mode: every rank holds all B rows; y = sum_r P_r (all-gathered, summed in rank order: the same bits
// on every rank) + b; no graph.
class ShardedFusion {
 public:
  // Keeps this rank's columns of layer.linear->weight in place (every handle to it, e.g. an optimizer's,
  // sees the (P, w) shard), drops its gradient, and installs layer.sharded. float32 or float64.
  ShardedFusion(ProcessGroup& group, nn::FusionLayer& layer);
  ~ShardedFusion();  // uninstalls the hook; the weight stays the shard
  ShardedFusion(const ShardedFusion&) = delete;
  ShardedFusion& operator=(const ShardedFusion&) = delete;

  const nn::ColumnShard& columns() const { return cols_; }
  const Tensor& weight() const { return weight_; }  // the shard, (P, w)

 private:
  Tensor forward(const Tensor& a, const Tensor& v, const Tensor& t);
  template <class S>  // float or double, the weight's
  Tensor forward_rows(const Tensor& a, const Tensor& v, const Tensor& t);  // training mode
  template <class S>
  Tensor forward_all(const Tensor& a, const Tensor& v, const Tensor& t);   // eval mode

  ProcessGroup& group_;
  nn::FusionLayer& layer_;
  nn::ColumnShard cols_;
  int64_t pair_begin_ = 0;
  Tensor weight_;
};

}  // namespace mtfn::distributed
