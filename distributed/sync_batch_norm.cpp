// Synchronised training-mode BatchNorm: nn/batchnorm.cpp's kernel with its column sums all-reduced.
// This file only builds the reducer; the maths (forward next to backward) is nn's, and the
// derivation is in docs/distributed.md ("Synchronised BatchNorm").
#include "distributed/sync_batch_norm.h"

namespace mtfn::distributed {

nn::ColumnSumReducer all_reduce_column_sums(ProcessGroup& group) {
  return [&group](std::span<double> sums, std::string_view what) { group.allreduce_sum(sums, what); };
}

Tensor sync_batch_norm_train(ProcessGroup& group, const Tensor& x, const Tensor& weight, const Tensor& bias,
                             double eps, Tensor* batch_mean, Tensor* batch_var, int64_t* global_rows) {
  return nn::batch_norm_train(x, weight, bias, eps, batch_mean, batch_var, all_reduce_column_sums(group),
                              global_rows);
}

nn::BatchNorm1d::TrainOp sync_batch_norm_op(ProcessGroup& group) {
  return [&group](const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                  Tensor* batch_var, int64_t* global_rows) {
    return sync_batch_norm_train(group, x, weight, bias, eps, batch_mean, batch_var, global_rows);
  };
}

}  // namespace mtfn::distributed
