// LayerNorm: the op (forward next to its hand-derived backward; the derivation is in docs/attention.md)
// and the module holding weight and bias.
//
// Dimensions: R rows (every leading dimension flattened), E features. Row statistics accumulate in double.
#include "nn/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/parallel.h"

namespace mtfn::nn {

namespace {

void check_args(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (x.dim() < 1 || x.size(-1) == 0 || weight.shape() != Shape{x.size(-1)} || bias.shape() != Shape{x.size(-1)})
    throw Error(fmt::format("layer_norm: expected x (..., E), weight (E), bias (E); got {}, {}, {}",
                            shape_str(x.shape()), shape_str(weight.shape()), shape_str(bias.shape())));
  if (weight.dtype() != x.dtype() || bias.dtype() != x.dtype())
    throw Error(fmt::format("layer_norm: dtype mismatch {}, {}, {}", x.describe(), weight.describe(),
                            bias.describe()));
}

}  // namespace

// ---- forward, per row r of E values:
//   mean = sum_e x / E,   var = sum_e (x - mean)^2 / E   (biased, two passes: no cancellation)
//   xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps),   y = weight * xhat + bias
Tensor layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                          LayerNormCache& cache) {
  check_args(x, weight, bias);
  const int64_t E = x.size(-1), R = x.numel() / E;
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (..., E)
  Tensor mean_t = Tensor::empty({R}, DType::F64);  // (R) cached: backward rebuilds xhat from x with it
  Tensor rstd_t = Tensor::empty({R}, DType::F64);  // (R) cached: backward needs it too
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* w = weight.data<scalar_t>();
    const scalar_t* b = bias.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    double* mean = mean_t.data<double>();
    double* rstd = rstd_t.data<double>();
    parallel_for(R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const scalar_t* xr = px + r * E;
        double s = 0;
        for (int64_t e = 0; e < E; ++e) s += xr[e];
        const double m = s / double(E);
        double ss = 0;
        for (int64_t e = 0; e < E; ++e) ss += (xr[e] - m) * (xr[e] - m);
        mean[r] = m;
        rstd[r] = 1.0 / std::sqrt(ss / double(E) + eps);
        for (int64_t e = 0; e < E; ++e) py[r * E + e] = static_cast<scalar_t>((xr[e] - m) * rstd[r] * w[e] + b[e]);
      }
    }, std::max<int64_t>(1, 4096 / E));
  });
  cache = LayerNormCache{x.detach(), weight.detach(), mean_t, rstd_t};
  return y;
}

// ---- backward, with g = dL/dy and gh = dL/dxhat = g * weight (per row):
//   dL/dbias   = sum_R g                 dL/dweight = sum_R g * xhat
//   dL/dx      = rstd * (gh - mean_e(gh) - xhat * mean_e(gh * xhat))
//   (xhat has mean 0 and mean square var * rstd^2 over the row; dxhat_e/dx_k = rstd ([e = k] - 1/E - xhat_e xhat_k / E))
void layer_norm_backward(const Tensor& gy, const LayerNormCache& cache, const Tensor& x, const Tensor& weight,
                         const Tensor& bias) {
  const int64_t E = cache.x.size(-1), R = cache.x.numel() / E;
  MTFN_DISPATCH(gy.dtype(), {
    const scalar_t* g = gy.data<scalar_t>();  // (R,E)
    const scalar_t* px = cache.x.data<scalar_t>();
    const scalar_t* w = cache.weight.data<scalar_t>();
    const double* mean = cache.mean.data<double>();
    const double* rstd = cache.rstd.data<double>();
    auto xhat = [&](int64_t r, int64_t e) { return (px[r * E + e] - mean[r]) * rstd[r]; };
    // The parameters' gradients: column sums over the rows, in row order (same result for any thread count).
    if (weight.requires_grad() || bias.requires_grad()) {
      std::vector<double> sg(static_cast<size_t>(E), 0.0), sgx(static_cast<size_t>(E), 0.0);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t e = 0; e < E; ++e) {
          sg[static_cast<size_t>(e)] += g[r * E + e];
          sgx[static_cast<size_t>(e)] += g[r * E + e] * xhat(r, e);
        }
      if (bias.requires_grad()) {
        scalar_t* gb = grad_buffer(bias).data<scalar_t>();
        for (int64_t e = 0; e < E; ++e) gb[e] += static_cast<scalar_t>(sg[static_cast<size_t>(e)]);
      }
      if (weight.requires_grad()) {
        scalar_t* gw = grad_buffer(weight).data<scalar_t>();
        for (int64_t e = 0; e < E; ++e) gw[e] += static_cast<scalar_t>(sgx[static_cast<size_t>(e)]);
      }
    }
    if (x.requires_grad()) {
      scalar_t* gx = grad_buffer(x).data<scalar_t>();
      parallel_for(R, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          double m1 = 0, m2 = 0;  // mean_e(gh), mean_e(gh * xhat)
          for (int64_t e = 0; e < E; ++e) {
            const double gh = double(g[r * E + e]) * w[e];
            m1 += gh;
            m2 += gh * xhat(r, e);
          }
          m1 /= double(E);
          m2 /= double(E);
          for (int64_t e = 0; e < E; ++e) {
            const double gh = double(g[r * E + e]) * w[e];
            gx[r * E + e] += static_cast<scalar_t>(rstd[r] * (gh - m1 - xhat(r, e) * m2));
          }
        }
      }, std::max<int64_t>(1, 4096 / E));
    }
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  LayerNormCache cache;
  Tensor y = layer_norm_forward(x, weight, bias, eps, cache);
  return record(y, "layer_norm", {x, weight, bias},
                [=](const Tensor& gy) { layer_norm_backward(gy, cache, x, weight, bias); });
}

LayerNorm::LayerNorm(int64_t E, double eps_, DType dtype) : Module("LayerNorm"), normalized_shape(E), eps(eps_) {
  weight = register_parameter("weight", Tensor::ones({E}, dtype));
  bias = register_parameter("bias", Tensor::zeros({E}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

}  // namespace mtfn::nn
