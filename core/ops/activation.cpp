// relu, sigmoid, tanh, softmax. sigmoid, tanh and softmax save their output: their derivatives are
// written in terms of it.
#include "core/ops/activation.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/ops/kernels.h"
#include "core/parallel.h"

namespace mtfn {

using kernels::map1;
using kernels::map2;

// ---- relu: y = max(x, 0);  dL/dx = dL/dy * [x > 0]
Tensor relu(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
  const Tensor sy = y.detach();  // y > 0 exactly where x > 0
  return record(y, "relu", {x}, [x, sy](const Tensor& gy) {
    accumulate_grad(x, map2("relu", gy, sy, [](auto g, auto v) { return v > decltype(v)(0) ? g : decltype(g)(0); }));
  });
}

// ---- sigmoid: y = 1 / (1 + e^-x);  dL/dx = dL/dy * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return sigmoid_scalar(v); });
  const Tensor sy = y.detach();
  return record(y, "sigmoid", {x}, [x, sy](const Tensor& gy) {
    accumulate_grad(x, map2("sigmoid", gy, sy, [](auto g, auto s) { return g * s * (decltype(s)(1) - s); }));
  });
}

// ---- tanh: y = tanh(x);  dL/dx = dL/dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return std::tanh(v); });
  const Tensor sy = y.detach();
  return record(y, "tanh", {x}, [x, sy](const Tensor& gy) {
    accumulate_grad(x, map2("tanh", gy, sy, [](auto g, auto t) { return g * (decltype(t)(1) - t * t); }));
  });
}

// ---- softmax over the last dimension (docs/attention.md, "Softmax"):
//   y_i = e^(x_i - m) / sum_j e^(x_j - m),  m = max_j x_j (any m gives the same y; this one keeps e^ <= 1)
//   dy_i/dx_k = y_i ([i = k] - y_k),  so  dL/dx_k = sum_i g_i y_i ([i = k] - y_k) = y_k (g_k - sum_i g_i y_i)
template <class S>
void softmax_rows_forward(int64_t rows, int64_t n, const S* x, S* y) {
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const S* xr = x + r * n;
      S* yr = y + r * n;
      S m = xr[0];
      for (int64_t i = 1; i < n; ++i) m = xr[i] > m ? xr[i] : m;
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        yr[i] = std::exp(xr[i] - m);
        total += yr[i];
      }
      const double inv = 1.0 / total;  // total >= 1: the maximum's term is e^0
      for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<S>(yr[i] * inv);
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)));
}

template <class S>
void softmax_rows_backward(int64_t rows, int64_t n, const S* y, const S* gy, S* gx) {
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const S* yr = y + r * n;
      const S* gr = gy + r * n;
      S* out = gx + r * n;
      double dot = 0;  // sum_i g_i y_i
      for (int64_t i = 0; i < n; ++i) dot += double(gr[i]) * yr[i];
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<S>(yr[i] * (gr[i] - dot));
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)));
}

template void softmax_rows_forward<float>(int64_t, int64_t, const float*, float*);
template void softmax_rows_forward<double>(int64_t, int64_t, const double*, double*);
template void softmax_rows_backward<float>(int64_t, int64_t, const float*, const float*, float*);
template void softmax_rows_backward<double>(int64_t, int64_t, const double*, const double*, double*);

Tensor softmax(const Tensor& x) {
  if (x.dim() < 1 || x.size(-1) == 0)
    throw Error(fmt::format("softmax: expected at least 1 dimension and a non-empty last one, got {}",
                            shape_str(x.shape())));
  const int64_t n = x.size(-1), rows = x.numel() / n;
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (..., n)
  MTFN_DISPATCH(x.dtype(), { softmax_rows_forward(rows, n, x.data<scalar_t>(), y.data<scalar_t>()); });
  const Tensor sy = y.detach();  // the derivative is written in y alone
  return record(y, "softmax", {x}, [x, sy, rows, n](const Tensor& gy) {
    Tensor gx = Tensor::empty(sy.shape(), sy.dtype());  // (..., n)
    MTFN_DISPATCH(sy.dtype(), {
      softmax_rows_backward(rows, n, sy.data<scalar_t>(), gy.data<scalar_t>(), gx.data<scalar_t>());
    });
    accumulate_grad(x, gx);
  });
}

}  // namespace mtfn
