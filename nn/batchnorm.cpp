// BatchNorm1d: the training-mode op (one kernel: its column sums go through a reducer, the identity in
// one process, an all-reduce for synchronised BatchNorm), the eval-mode op (each forward next to its
// backward; the derivation is in docs/batchnorm.md) and the module that keeps the running statistics.
//
// Dimensions: B this process's batch rows, N the rows the statistics cover (B in one process),
// C channels. Statistics are accumulated in double, rows in order.
#include "nn/batchnorm.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/parallel.h"

namespace mtfn::nn {

namespace {

void check_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (x.dim() != 2 || weight.shape() != Shape{x.size(1)} || bias.shape() != Shape{x.size(1)})
    throw Error(fmt::format("{}: expected x (B,C), weight (C), bias (C); got {}, {}, {}", op, shape_str(x.shape()),
                            shape_str(weight.shape()), shape_str(bias.shape())));
  if (weight.dtype() != x.dtype() || bias.dtype() != x.dtype())
    throw Error(fmt::format("{}: dtype mismatch {}, {}, {}", op, x.describe(), weight.describe(), bias.describe()));
}

// Column sums over B rows, in double, row order fixed: out[c] = sum_b f(b, c) for c < C, and
// `extra` more zeros at the end (room for values that travel with the sums through a reducer).
template <class F>
std::vector<double> column_sums(int64_t B, int64_t C, F f, size_t extra = 0) {
  std::vector<double> out(static_cast<size_t>(C) + extra, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) out[static_cast<size_t>(c)] += f(b, c);
  return out;
}

// Both modes' forward: y (B,C) = (x - mean) * rstd * weight + bias, with mean, rstd (C) in double.
template <class S>
void normalize_affine(int64_t B, int64_t C, const S* px, const double* mean, const double* rstd, const S* w,
                      const S* bb, S* py) {
  parallel_for(B * C, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t c = i % C;
      py[i] = static_cast<S>((px[i] - mean[c]) * rstd[c] * w[c] + bb[c]);
    }
  });
}

}  // namespace

// ---- training mode (N rows: B in one process, every process's rows with an all-reduce as reducer)
//   mean = sum_N x / N                 forward's 1st reduce: C + 1 values (the sums, and B so that N comes back)
//   var  = sum_N (x - mean)^2 / N      forward's 2nd reduce: C values (two passes, as one process computes
//                                      them: no cancellation in E[x^2] - mean^2)
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = weight * xhat + bias
Tensor batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                const ColumnSumReducer& reduce, BatchNormTrainCache& cache, Tensor& var_t) {
  check_args("batch_norm_train", x, weight, bias);
  const int64_t B = x.size(0), C = x.size(1);
  const auto uC = static_cast<size_t>(C);
  Tensor y = Tensor::empty({B, C}, x.dtype());      // (B,C)
  Tensor mean_t = Tensor::empty({C}, DType::F64);  // (C) cached: backward rebuilds xhat from x with it
  Tensor rstd_t = Tensor::empty({C}, DType::F64);  // (C) cached: backward needs it too
  var_t = Tensor::empty({C}, DType::F64);          // (C) biased batch variance, for running_var
  int64_t N = 0;
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    double* mean = mean_t.data<double>();
    double* rstd = rstd_t.data<double>();
    double* var = var_t.data<double>();
    // (C+1): sum_b x per channel, then the row count
    std::vector<double> s = column_sums(B, C, [&](int64_t b, int64_t c) { return double(px[b * C + c]); }, 1);
    s[uC] = double(B);
    if (reduce) reduce(s, "BatchNorm statistics (sums)");
    N = static_cast<int64_t>(s[uC]);
    if (N < 2)
      throw Error(reduce ? fmt::format("batch_norm_train: expected more than 1 value per channel over all "
                                       "processes, got {} rows in total (this process: input {})",
                                       N, shape_str(x.shape()))
                         : fmt::format("batch_norm_train: expected more than 1 value per channel, got input {}",
                                       shape_str(x.shape())));
    for (int64_t c = 0; c < C; ++c) mean[c] = s[static_cast<size_t>(c)] / double(N);
    // (C): sum_b (x - mean)^2 per channel
    std::vector<double> ss = column_sums(B, C, [&](int64_t b, int64_t c) {
      const double d = px[b * C + c] - mean[c];
      return d * d;
    });
    if (reduce) reduce(ss, "BatchNorm statistics (squared deviations)");
    for (int64_t c = 0; c < C; ++c) {
      var[c] = ss[static_cast<size_t>(c)] / double(N);
      rstd[c] = 1.0 / std::sqrt(var[c] + eps);
    }
    normalize_affine(B, C, px, mean, rstd, weight.data<scalar_t>(), bias.data<scalar_t>(), y.data<scalar_t>());
  });
  cache = BatchNormTrainCache{x.detach(), weight.detach(), mean_t, rstd_t, N, reduce};
  return y;
}

//   dL/dbias   = sum_B dy              this process's rows only (data parallel: the gradient buckets
//   dL/dweight = sum_B dy * xhat       add the processes' shares, as for every other parameter)
//   dL/dx      = weight * rstd / N * (N dy - S1 - xhat * S2),   S1 = sum_N dy,  S2 = sum_N dy * xhat
//                (docs/batchnorm.md; S1 and S2 are backward's one reduce, of 2C values)
void batch_norm_train_backward(const Tensor& gy, const BatchNormTrainCache& cache, const Tensor& x,
                               const Tensor& weight, const Tensor& bias) {
  const int64_t B = cache.x.size(0), C = cache.x.size(1);
  const auto uC = static_cast<size_t>(C);
  MTFN_DISPATCH(gy.dtype(), {
    const scalar_t* g = gy.data<scalar_t>();  // (B,C)
    const scalar_t* px = cache.x.data<scalar_t>();
    const scalar_t* w = cache.weight.data<scalar_t>();
    const double* mean = cache.mean.data<double>();
    const double* rstd = cache.rstd.data<double>();
    auto xhat = [&](int64_t b, int64_t c) { return (px[b * C + c] - mean[c]) * rstd[c]; };
    // (2C): [0, C) sum_b dy,  [C, 2C) sum_b dy * xhat, over this process's rows in order
    std::vector<double> sums(2 * uC, 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) {
        sums[static_cast<size_t>(c)] += g[b * C + c];
        sums[uC + static_cast<size_t>(c)] += g[b * C + c] * xhat(b, c);
      }
    if (bias.requires_grad()) {
      scalar_t* gb = grad_buffer(bias).data<scalar_t>();
      for (int64_t c = 0; c < C; ++c) gb[c] += static_cast<scalar_t>(sums[static_cast<size_t>(c)]);
    }
    if (weight.requires_grad()) {
      scalar_t* gw = grad_buffer(weight).data<scalar_t>();
      for (int64_t c = 0; c < C; ++c) gw[c] += static_cast<scalar_t>(sums[uC + static_cast<size_t>(c)]);
    }
    // Only dL/dx needs the sums over all N rows. (MTFN's BatchNorms act on input features, which
    // need no gradient, so there this reduce never runs; whether x requires grad is the same on
    // every process, so all skip it or all take part.)
    if (x.requires_grad()) {
      if (cache.reduce) cache.reduce(sums, "BatchNorm backward sums");
      scalar_t* gx = grad_buffer(x).data<scalar_t>();
      const double n = double(cache.rows);
      parallel_for(B * C, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t b = i / C, c = i % C;
          const auto u = static_cast<size_t>(c);
          gx[i] += static_cast<scalar_t>(w[c] * rstd[c] / n * (n * g[i] - sums[u] - xhat(b, c) * sums[uC + u]));
        }
      });
    }
  });
}

Tensor batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                        Tensor* batch_var, const ColumnSumReducer& reduce, int64_t* rows) {
  BatchNormTrainCache cache;
  Tensor var;  // (C) float64
  Tensor y = batch_norm_train_forward(x, weight, bias, eps, reduce, cache, var);
  if (batch_mean) *batch_mean = cache.mean.to(x.dtype());
  if (batch_var) *batch_var = var.to(x.dtype());
  if (rows) *rows = cache.rows;
  return record(y, "batch_norm_train", {x, weight, bias},
                [=](const Tensor& gy) { batch_norm_train_backward(gy, cache, x, weight, bias); });
}

// ---- eval mode: the statistics are constants, so y is affine in x.
//   dL/dx = dy * weight * rstd,  dL/dweight = sum_b dy * xhat,  dL/dbias = sum_b dy
Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double eps) {
  check_args("batch_norm_eval", x, weight, bias);
  const int64_t B = x.size(0), C = x.size(1);
  if (running_mean.shape() != Shape{C} || running_var.shape() != Shape{C})
    throw Error(fmt::format("batch_norm_eval: running statistics {} and {} for {} channels",
                            shape_str(running_mean.shape()), shape_str(running_var.shape()), C));
  // (C) each, in double: the running statistics as constants (copied, so a later update
  // of the buffers cannot change what backward sees).
  Tensor mean_t = running_mean.to(DType::F64).clone();
  Tensor rstd_t = running_var.to(DType::F64).clone();
  for (int64_t c = 0; c < C; ++c) rstd_t.data<double>()[c] = 1.0 / std::sqrt(rstd_t.data<double>()[c] + eps);
  Tensor y = Tensor::empty({B, C}, x.dtype());  // (B,C)
  MTFN_DISPATCH(x.dtype(), {
    normalize_affine(B, C, x.data<scalar_t>(), mean_t.data<double>(), rstd_t.data<double>(),
                     weight.data<scalar_t>(), bias.data<scalar_t>(), y.data<scalar_t>());
  });
  const Tensor sx = x.detach(), sw = weight.detach();
  return record(y, "batch_norm_eval", {x, weight, bias}, [=](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      const scalar_t* g = gy.data<scalar_t>();
      const scalar_t* px = sx.data<scalar_t>();
      const scalar_t* w = sw.data<scalar_t>();
      const double* mean = mean_t.data<double>();
      const double* rstd = rstd_t.data<double>();
      if (bias.requires_grad()) {
        const std::vector<double> s = column_sums(B, C, [&](int64_t b, int64_t c) { return double(g[b * C + c]); });
        scalar_t* gb = grad_buffer(bias).data<scalar_t>();
        for (int64_t c = 0; c < C; ++c) gb[c] += static_cast<scalar_t>(s[static_cast<size_t>(c)]);
      }
      if (weight.requires_grad()) {
        const std::vector<double> s = column_sums(
            B, C, [&](int64_t b, int64_t c) { return g[b * C + c] * (px[b * C + c] - mean[c]) * rstd[c]; });
        scalar_t* gw = grad_buffer(weight).data<scalar_t>();
        for (int64_t c = 0; c < C; ++c) gw[c] += static_cast<scalar_t>(s[static_cast<size_t>(c)]);
      }
      if (x.requires_grad()) {
        scalar_t* gx = grad_buffer(x).data<scalar_t>();
        parallel_for(B * C, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) gx[i] += static_cast<scalar_t>(g[i] * w[i % C] * rstd[i % C]);
        });
      }
    });
  });
}

// ---- the module
BatchNorm1d::BatchNorm1d(int64_t c, double eps_, double momentum_, DType dtype)
    : Module("BatchNorm1d"), num_features(c), eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", Tensor::ones({c}, dtype));
  bias = register_parameter("bias", Tensor::zeros({c}, dtype));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}, dtype));
  running_var = register_buffer("running_var", Tensor::ones({c}, dtype));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::F64), /*int64=*/true);
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  if (x.dim() != 2 || x.size(1) != num_features)
    throw Error(fmt::format("BatchNorm1d({}): expected input (B, {}), got {}", num_features, num_features,
                            shape_str(x.shape())));
  if (!is_training()) return batch_norm_eval(x, weight, bias, running_mean, running_var, eps);
  Tensor mean, var;
  int64_t B = x.size(0);  // rows the statistics cover (all processes' with a train_op)
  Tensor y = train_op ? train_op(x, weight, bias, eps, &mean, &var, &B)
                      : batch_norm_train(x, weight, bias, eps, &mean, &var, {}, &B);
  // running = momentum * batch statistic + (1 - momentum) * running; running_var takes the
  // unbiased variance var * B / (B - 1), as PyTorch.
  const double unbias = double(B) / double(B - 1);
  MTFN_DISPATCH(running_mean.dtype(), {
    scalar_t* rm = running_mean.data<scalar_t>();
    scalar_t* rv = running_var.data<scalar_t>();
    for (int64_t c = 0; c < num_features; ++c) {
      rm[c] = static_cast<scalar_t>(momentum * mean.at(c) + (1 - momentum) * rm[c]);
      rv[c] = static_cast<scalar_t>(momentum * (var.at(c) * unbias) + (1 - momentum) * rv[c]);
    }
  });
  num_batches_tracked.data<double>()[0] += 1;
  return y;
}

}  // namespace mtfn::nn
