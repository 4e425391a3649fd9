// Synchronised training-mode BatchNorm: nn/batchnorm.cpp's op with its column sums all-reduced.
// Forward next to backward; the derivation is in docs/distributed.md ("Synchronised BatchNorm").
//
// Dimensions: B this rank's rows, N all ranks' rows, C channels. Sums in double, rows in order.
#include "distributed/sync_batch_norm.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/parallel.h"

namespace mtfn::distributed {

namespace {

// out[c] = sum over this rank's rows b of f(b, c).
template <class F>
std::vector<double> column_sums(int64_t B, int64_t C, F f, size_t extra = 0) {
  std::vector<double> out(static_cast<size_t>(C) + extra, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) out[static_cast<size_t>(c)] += f(b, c);
  return out;
}

}  // namespace

// ---- forward
//   mean = (sum_ranks sum_b x) / N                  one all-reduce of C + 1 values (the sums and B)
//   var  = (sum_ranks sum_b (x - mean)^2) / N       one all-reduce of C values (two passes, as one
//                                                   process does: no cancellation in E[x^2] - mean^2)
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = weight * xhat + bias
// ---- backward (dy = dL/dy of the global loss for this rank's rows, see buckets.h)
//   dL/dbias   = sum_b dy              this rank's share (the gradient buckets add the shares)
//   dL/dweight = sum_b dy * xhat       likewise
//   dL/dx      = weight * rstd / N * (N dy - S1 - xhat * S2),
//                S1 = sum_ranks sum_b dy,  S2 = sum_ranks sum_b dy * xhat   one all-reduce of 2C values
Tensor sync_batch_norm_train(ProcessGroup& group, const Tensor& x, const Tensor& weight, const Tensor& bias,
                             double eps, Tensor* batch_mean, Tensor* batch_var, int64_t* global_rows) {
  if (x.dim() != 2 || weight.shape() != Shape{x.size(1)} || bias.shape() != Shape{x.size(1)})
    throw Error(fmt::format("sync_batch_norm_train: expected x (B,C), weight (C), bias (C); got {}, {}, {}",
                            shape_str(x.shape()), shape_str(weight.shape()), shape_str(bias.shape())));
  if (weight.dtype() != x.dtype() || bias.dtype() != x.dtype())
    throw Error(fmt::format("sync_batch_norm_train: dtype mismatch {}, {}, {}", x.describe(), weight.describe(),
                            bias.describe()));
  const int64_t B = x.size(0), C = x.size(1);
  const auto uC = static_cast<size_t>(C);
  Tensor y = Tensor::empty({B, C}, x.dtype());    // (B,C)
  Tensor mean_t = Tensor::empty({C}, DType::F64);  // (C) backward rebuilds xhat from x with it
  Tensor rstd_t = Tensor::empty({C}, DType::F64);  // (C) backward needs it too
  Tensor var_t = Tensor::empty({C}, DType::F64);   // (C) biased variance, for running_var
  int64_t N = 0;
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    double* mean = mean_t.data<double>();
    double* rstd = rstd_t.data<double>();
    double* var = var_t.data<double>();
    std::vector<double> s = column_sums(B, C, [&](int64_t b, int64_t c) { return double(px[b * C + c]); }, 1);
    s[uC] = double(B);
    group.allreduce_sum(s, "BatchNorm statistics (sums)");
    N = static_cast<int64_t>(s[uC]);
    if (N < 2)
      throw Error(fmt::format("sync_batch_norm_train: expected more than 1 value per channel over all ranks, got {} "
                              "rows in total (this rank: input {})",
                              N, shape_str(x.shape())));
    for (int64_t c = 0; c < C; ++c) mean[c] = s[static_cast<size_t>(c)] / double(N);
    std::vector<double> ss = column_sums(B, C, [&](int64_t b, int64_t c) {
      const double d = px[b * C + c] - mean[c];
      return d * d;
    });
    group.allreduce_sum(ss, "BatchNorm statistics (squared deviations)");
    for (int64_t c = 0; c < C; ++c) {
      var[c] = ss[static_cast<size_t>(c)] / double(N);
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
  if (global_rows) *global_rows = N;

  const Tensor sx = x.detach(), sw = weight.detach();
  ProcessGroup* g_group = &group;
  return record(y, "sync_batch_norm_train", {x, weight, bias}, [=](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      const scalar_t* g = gy.data<scalar_t>();
      const scalar_t* px = sx.data<scalar_t>();
      const scalar_t* w = sw.data<scalar_t>();
      const double* mean = mean_t.data<double>();
      const double* rstd = rstd_t.data<double>();
      auto xhat = [&](int64_t b, int64_t c) { return (px[b * C + c] - mean[c]) * rstd[c]; };
      // [0, C): sum_b dy;  [C, 2C): sum_b dy * xhat  (this rank's rows)
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
      // Only dL/dx needs the other ranks' sums. MTFN's BatchNorms act on the input features, which
      // need no gradient, so there this all-reduce never runs. (Whether x requires grad is a
      // property of the graph, the same on every rank, so all ranks skip or all take part.)
      if (x.requires_grad()) {
        g_group->allreduce_sum(sums, "BatchNorm backward sums");
        scalar_t* gx = grad_buffer(x).data<scalar_t>();
        const double n = double(N);
        parallel_for(B * C, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t b = i / C, c = i % C;
            const auto u = static_cast<size_t>(c);
            gx[i] += static_cast<scalar_t>(w[c] * rstd[c] / n * (n * g[i] - sums[u] - xhat(b, c) * sums[uC + u]));
          }
        });
      }
    });
  });
}

BatchNormTrainOp sync_batch_norm_op(ProcessGroup& group) {
  return [&group](const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                  Tensor* batch_var, int64_t* global_rows) {
    return sync_batch_norm_train(group, x, weight, bias, eps, batch_mean, batch_var, global_rows);
  };
}

}  // namespace mtfn::distributed
