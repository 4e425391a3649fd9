// Synchronised BatchNorm for data-parallel training: the training-mode batch norm whose batch
// statistics cover the rows of every rank, in the forward pass (sums, then sums of squared
// deviations, all-reduced) and in the backward pass (sums of dL/dy and dL/dy * xhat), so that N
// processes compute what one process computes on the whole batch. Derivation: docs/distributed.md.
// Not here: the module and its running statistics (nn/batchnorm.h, which takes this op as a hook).
#pragma once

#include <cstdint>
#include <functional>

#include "core/tensor.h"
#include "distributed/process_group.h"

namespace mtfn::distributed {

// Dimensions: B this rank's rows, N = sum of B over the ranks (the global batch), C channels.
//
// x (B,C), weight (C), bias (C) -> y (B,C), with mean and biased variance over all N rows:
//   y = weight * (x - mean_N) / sqrt(var_N + eps) + bias
// batch_mean / batch_var (C) receive the global statistics, global_rows receives N (for the
// running variance's N / (N - 1)). The parameters' gradients are this rank's share (sums over its
// rows; the gradient buckets add the ranks' shares). With a group of one this is nn's batch_norm_train.
// Every rank must call it for the same layers in the same order (it all-reduces).
Tensor sync_batch_norm_train(ProcessGroup& group, const Tensor& x, const Tensor& weight, const Tensor& bias,
                             double eps, Tensor* batch_mean, Tensor* batch_var, int64_t* global_rows);

// The op bound to a group, in the form nn::BatchNorm1d::train_op takes.
using BatchNormTrainOp = std::function<Tensor(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                              Tensor* batch_mean, Tensor* batch_var, int64_t* global_rows)>;
BatchNormTrainOp sync_batch_norm_op(ProcessGroup& group);

}  // namespace mtfn::distributed
