// BatchNorm1d on (B,C) as PyTorch's: training normalises with the batch mean and biased variance
// and updates running_mean / running_var (unbiased) with momentum; eval uses the running statistics.
// Each mode is one op with a hand-derived backward (docs/batchnorm.md). Not here: (B,C,L) inputs.
#pragma once

#include <functional>

#include "nn/module.h"

namespace mtfn::nn {

// Dimensions: B batch rows, C channels (features).

// Training mode: y = weight * (x - mean_B) / sqrt(var_B + eps) + bias, statistics over the B rows.
// x (B,C), weight (C), bias (C) -> y (B,C). Also returns, unrecorded, the batch mean (C) and the
// biased batch variance (C) through batch_mean / batch_var (for the running statistics).
Tensor batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                        Tensor* batch_var);

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

  // Data-parallel training (dist/sync_batch_norm.h) replaces the training-mode op with one whose
  // statistics cover every process's rows; it returns their count N through `rows` (running_var
  // then takes var * N / (N - 1)). Empty: batch_norm_train on this process's rows.
  using TrainOp = std::function<Tensor(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                       Tensor* batch_mean, Tensor* batch_var, int64_t* rows)>;
  TrainOp train_op;
};

}  // namespace mtfn::nn
