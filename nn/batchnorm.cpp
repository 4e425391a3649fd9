// BatchNorm1d: the training-mode op, the eval-mode op (each forward next to its backward; the
// training derivation is in docs/batchnorm.md) and the module that keeps the running statistics.
//
// Dimensions: B batch rows, C channels. Statistics are accumulated in double, rows in order.
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

// Column sums over B rows, in double, row order fixed: out[c] = sum_b f(b, c).
template <class F>
std::vector<double> column_sums(int64_t B, int64_t C, F f) {
  std::vector<double> out(static_cast<size_t>(C), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) out[static_cast<size_t>(c)] += f(b, c);
  return out;
}

}  // namespace

// ---- training mode
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = weight * xhat + bias
//   dL/dbias   = sum_b dy
//   dL/dweight = sum_b dy * xhat
//   dL/dx      = weight * rstd / B * (B dy - sum_b dy - xhat * sum_b dy*xhat)   (docs/batchnorm.md)
Tensor batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                        Tensor* batch_var) {
  check_args("batch_norm_train", x, weight, bias);
  const int64_t B = x.size(0), C = x.size(1);
  if (B < 2) throw Error(fmt::format("batch_norm_train: expected more than 1 value per channel, got input {}",
                                     shape_str(x.shape())));
  Tensor y = Tensor::empty({B, C}, x.dtype());            // (B,C)
  Tensor mean_t = Tensor::empty({C}, DType::F64);          // (C) backward needs it to rebuild xhat from x
  Tensor rstd_t = Tensor::empty({C}, DType::F64);          // (C) backward needs it too
  Tensor var_t = Tensor::empty({C}, DType::F64);           // (C) biased batch variance, for running_var
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    double* mean = mean_t.data<double>();
    double* rstd = rstd_t.data<double>();
    double* var = var_t.data<double>();
    const std::vector<double> s = column_sums(B, C, [&](int64_t b, int64_t c) { return double(px[b * C + c]); });
    for (int64_t c = 0; c < C; ++c) mean[c] = s[static_cast<size_t>(c)] / double(B);
    const std::vector<double> ss = column_sums(B, C, [&](int64_t b, int64_t c) {
      const double d = px[b * C + c] - mean[c];
      return d * d;
    });
    for (int64_t c = 0; c < C; ++c) {
      var[c] = ss[static_cast<size_t>(c)] / double(B);
      rstd[c] = 1.0 / std::sqrt(var[c] + eps);
    }
    const scalar_t* w = weight.data<scalar_t>();
    const scalar_t* bb = bias.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    parallel_for(B * C, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t c = i % C;
        py[i] = static_cast<scalar_t>((px[i] - mean[c]) * rstd[c] * w[c] + bb[c]);
      }
    });
  });
  if (batch_mean) *batch_mean = mean_t.to(x.dtype());
  if (batch_var) *batch_var = var_t.to(x.dtype());

  const Tensor sx = x.detach(), sw = weight.detach();
  return record(y, "batch_norm_train", {x, weight, bias}, [=](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      const scalar_t* g = gy.data<scalar_t>();
      const scalar_t* px = sx.data<scalar_t>();
      const scalar_t* w = sw.data<scalar_t>();
      const double* mean = mean_t.data<double>();
      const double* rstd = rstd_t.data<double>();
      auto xhat = [&](int64_t b, int64_t c) { return (px[b * C + c] - mean[c]) * rstd[c]; };
      const std::vector<double> sum_g = column_sums(B, C, [&](int64_t b, int64_t c) { return double(g[b * C + c]); });
      const std::vector<double> sum_gx =
          column_sums(B, C, [&](int64_t b, int64_t c) { return g[b * C + c] * xhat(b, c); });
      if (bias.requires_grad()) {
        scalar_t* gb = grad_buffer(bias).data<scalar_t>();
        for (int64_t c = 0; c < C; ++c) gb[c] += static_cast<scalar_t>(sum_g[static_cast<size_t>(c)]);
      }
      if (weight.requires_grad()) {
        scalar_t* gw = grad_buffer(weight).data<scalar_t>();
        for (int64_t c = 0; c < C; ++c) gw[c] += static_cast<scalar_t>(sum_gx[static_cast<size_t>(c)]);
      }
      if (x.requires_grad()) {
        scalar_t* gx = grad_buffer(x).data<scalar_t>();
        parallel_for(B * C, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t b = i / C, c = i % C;
            const auto u = static_cast<size_t>(c);
            gx[i] += static_cast<scalar_t>(w[c] * rstd[c] / double(B) *
                                           (double(B) * g[i] - sum_g[u] - xhat(b, c) * sum_gx[u]));
          }
        });
      }
    });
  });
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
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* w = weight.data<scalar_t>();
    const scalar_t* bb = bias.data<scalar_t>();
    const double* mean = mean_t.data<double>();
    const double* rstd = rstd_t.data<double>();
    scalar_t* py = y.data<scalar_t>();
    parallel_for(B * C, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t c = i % C;
        py[i] = static_cast<scalar_t>((px[i] - mean[c]) * rstd[c] * w[c] + bb[c]);
      }
    });
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
                      : batch_norm_train(x, weight, bias, eps, &mean, &var);
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
