// BatchNorm1d on (B,C) as PyTorch's: training normalises with the batch mean and biased variance
// and updates running_mean / running_var (unbiased) with momentum; eval uses the running statistics.
// Each mode is one op with a hand-derived backward (docs/batchnorm.md). Not here: (B,C,L) inputs.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "nn/module.h"

namespace mtfn::nn {

// Dimensions: B batch rows, C channels (features).

// Training mode: y = weight * (x - mean) / sqrt(var + eps) + bias, with the batch mean and biased
// variance of each channel over the rows the column sums cover (N rows; N = B in one process).
//
// The column-sum reducer: the training op's per-channel sums over this process's rows are handed to
// it before use, and it adds the other processes' sums into them in place (`what` names the call).
// Empty: the identity, one process. Synchronised BatchNorm (distributed/sync_batch_norm.h) passes a
// sum all-reduce, so the statistics cover every process's rows: one kernel, two settings. The kernel
// calls it the same way on every process: forward twice, on C + 1 values (sum_b x per channel, then
// this process's row count B, so the reduced last value is N) and on C values (sum_b (x - mean)^2);
// backward once, on 2C values (sum_b dy, then sum_b dy * xhat), and only if x needs a gradient
// (a property of the graph, the same on every process).
using ColumnSumReducer = std::function<void(std::span<double> sums, std::string_view what)>;

// What batch_norm_train_backward needs from the forward pass.
struct BatchNormTrainCache {
  Tensor x;                  // (B,C) the input, detached: backward rebuilds xhat = (x - mean) * rstd from it
                             //       (the graph keeps x alive anyway; a cached xhat would be a second (B,C))
  Tensor weight;             // (C) detached: dL/dx is scaled by it
  Tensor mean;               // (C) float64 batch mean, to rebuild xhat
  Tensor rstd;               // (C) float64 1 / sqrt(var + eps), to rebuild xhat and scale dL/dx
  int64_t rows = 0;          // N, the rows the statistics cover: dL/dx's 1 / N
  ColumnSumReducer reduce;   // dL/dx's two sums must cover the same N rows as the statistics
};

// The forward pass on plain tensors (records nothing): x (B,C), weight (C), bias (C) -> y (B,C).
// Fills `cache`, and `var` with the biased batch variance (C) in float64 (for running_var).
Tensor batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                const ColumnSumReducer& reduce, BatchNormTrainCache& cache, Tensor& var);

// The backward pass: given gy = dL/dy (B,C), ADDS dL/dx, dL/dweight, dL/dbias into the gradients of
// x, weight and bias (the op's inputs), each only if it requires grad. The parameters' gradients are
// sums over this process's rows only (data-parallel training adds the processes' shares elsewhere).
void batch_norm_train_backward(const Tensor& gy, const BatchNormTrainCache& cache, const Tensor& x,
                               const Tensor& weight, const Tensor& bias);

// The recorded op: batch_norm_train_forward, with batch_norm_train_backward as its node's backward.
// Also returns, unrecorded, the batch mean (C) and the biased batch variance (C) through batch_mean /
// batch_var (for the running statistics), and N through rows; each may be nullptr.
Tensor batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                        Tensor* batch_var, const ColumnSumReducer& reduce = {}, int64_t* rows = nullptr);

// Eval mode: y = weight * (x - running_mean) / sqrt(running_var + eps) + bias (statistics are constants).
Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double eps);

class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, DType dtype = DType::F32);

  // x (B,C). In training mode also updates the running statistics (B must be > 1).
  Tensor forward(const Tensor& x);

  int64_t num_features;
  double eps, momentum;
  Tensor weight;               // (C) = 1
  Tensor bias;                 // (C) = 0
  Tensor running_mean;         // (C) = 0
  Tensor running_var;          // (C) = 1
  Tensor num_batches_tracked;  // () integer, held as float64 (see NamedTensor)

  // Data-parallel training (distributed/sync_batch_norm.h) replaces the training-mode op with
  // batch_norm_train given an all-reduce as its column-sum reducer, so that the statistics cover
  // every process's rows; it returns their count N through `rows` (running_var then takes
  // var * N / (N - 1)). Empty: batch_norm_train on this process's rows.
  using TrainOp = std::function<Tensor(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                       Tensor* batch_mean, Tensor* batch_var, int64_t* rows)>;
  TrainOp train_op;
};

}  // namespace mtfn::nn
