// Synchronised BatchNorm for data-parallel training: nn's training-mode batch norm (nn/batchnorm.h)
// given a sum all-reduce as its column-sum reducer, so that its batch statistics cover the rows of
// every rank (forward: the sums, then the sums of squared deviations; backward: the sums of dL/dy
// and dL/dy * xhat) and N processes compute what one process computes on the whole batch.
// Derivation: docs/distributed.md. Not here: the kernel itself, the module and its running
// statistics (nn/batchnorm.h, which takes the op below as a hook).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "distributed/process_group.h"
#include "nn/batchnorm.h"

namespace mtfn::distributed {

// Dimensions: B this rank's rows, N = sum of B over the ranks (the global batch), C channels.

// The reducer: sums (in place) each value over the ranks of `group` (a blocking all-reduce). Every
// rank must call it for the same layers in the same order, which nn's kernel does.
nn::ColumnSumReducer all_reduce_column_sums(ProcessGroup& group);

// x (B,C), weight (C), bias (C) -> y (B,C), with mean and biased variance over all N rows:
//   y = weight * (x - mean_N) / sqrt(var_N + eps) + bias
// batch_mean / batch_var (C) receive the global statistics, global_rows receives N (for the
// running variance's N / (N - 1)). The parameters' gradients are this rank's share (sums over its
// rows; the gradient buckets add the ranks' shares). With a group of one this is nn's batch_norm_train.
// Every rank must call it for the same layers in the same order (it all-reduces).
Tensor sync_batch_norm_train(ProcessGroup& group, const Tensor& x, const Tensor& weight, const Tensor& bias,
                             double eps, Tensor* batch_mean, Tensor* batch_var, int64_t* global_rows);

// The op bound to a group, for nn::BatchNorm1d::train_op.
nn::BatchNorm1d::TrainOp sync_batch_norm_op(ProcessGroup& group);

}  // namespace mtfn::distributed
