// Loss forward and backward. The target never gets a gradient (labels are data).
#include "core/ops/loss.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops/kernels.h"

namespace mtfn {

// ---- l1_loss: L = (1/n) sum |p - t|;  dL/dp = sign(p - t) / n  (sign(0) = 0, as PyTorch)
Tensor l1_loss(const Tensor& pred, const Tensor& target) {
  kernels::check_same_shape("l1_loss", pred, target);
  const int64_t n = pred.numel();
  double acc = 0;
  MTFN_DISPATCH(pred.dtype(), {
    const scalar_t* p = pred.data<scalar_t>();
    const scalar_t* t = target.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(p[i]) - t[i]);
  });
  Tensor y = Tensor::scalar(n ? acc / static_cast<double>(n) : 0.0, pred.dtype());
  const Tensor sp = pred.detach(), st = target.detach();
  return record(y, "l1_loss", {pred}, [pred, sp, st, n](const Tensor& gy) {
    const double scale = gy.item() / static_cast<double>(n);
    accumulate_grad(pred, kernels::map2("l1_loss", sp, st, [scale](auto p, auto t) {
      using T = decltype(p);
      return p > t ? T(scale) : (p < t ? T(-scale) : T(0));
    }));
  });
}

// ---- mse_loss: L = (1/n) sum (p - t)^2;  dL/dp = 2 (p - t) / n
Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  kernels::check_same_shape("mse_loss", pred, target);
  const int64_t n = pred.numel();
  double acc = 0;
  MTFN_DISPATCH(pred.dtype(), {
    const scalar_t* p = pred.data<scalar_t>();
    const scalar_t* t = target.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(p[i]) - t[i];
      acc += d * d;
    }
  });
  Tensor y = Tensor::scalar(n ? acc / static_cast<double>(n) : 0.0, pred.dtype());
  const Tensor sp = pred.detach(), st = target.detach();
  return record(y, "mse_loss", {pred}, [pred, sp, st, n](const Tensor& gy) {
    const double scale = 2.0 * gy.item() / static_cast<double>(n);
    accumulate_grad(pred, kernels::map2("mse_loss", sp, st, [scale](auto p, auto t) {
      return static_cast<decltype(p)>(scale * (static_cast<double>(p) - t));
    }));
  });
}

// ---- cross_entropy: L = (1/N) sum_r [ logsumexp(x_r) - x_r[c_r] ]
//   dL/dx_rj = (softmax(x_r)_j - [j == c_r]) / N.
// logsumexp(x) = m + log sum_j exp(x_j - m) with m = max_j x_j, so no exp overflows.
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& target) {
  if (logits.dim() != 2)
    throw Error(fmt::format("cross_entropy: logits must be (N, C), got {}", shape_str(logits.shape())));
  const int64_t rows = logits.size(0), classes = logits.size(1);
  if (static_cast<int64_t>(target.size()) != rows)
    throw Error(fmt::format("cross_entropy: {} targets for logits {}", target.size(), shape_str(logits.shape())));
  for (int64_t c : target)
    if (c < 0 || c >= classes)
      throw Error(fmt::format("cross_entropy: target class {} out of range for {} classes", c, classes));
  // Saved for backward: the softmax probabilities (N, C).
  Tensor prob = Tensor::empty(logits.shape(), logits.dtype());
  double acc = 0;
  MTFN_DISPATCH(logits.dtype(), {
    const scalar_t* x = logits.data<scalar_t>();
    scalar_t* p = prob.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t* xr = x + r * classes;
      double m = xr[0];
      for (int64_t j = 1; j < classes; ++j) m = std::max(m, static_cast<double>(xr[j]));
      double s = 0;
      for (int64_t j = 0; j < classes; ++j) s += std::exp(xr[j] - m);
      const double lse = m + std::log(s);
      for (int64_t j = 0; j < classes; ++j) p[r * classes + j] = static_cast<scalar_t>(std::exp(xr[j] - lse));
      acc += lse - xr[target[static_cast<size_t>(r)]];
    }
  });
  Tensor y = Tensor::scalar(rows ? acc / static_cast<double>(rows) : 0.0, logits.dtype());
  return record(y, "cross_entropy", {logits}, [logits, prob, target, rows, classes](const Tensor& gy) {
    const double scale = gy.item() / static_cast<double>(rows);
    Tensor g = Tensor::empty(logits.shape(), logits.dtype());
    MTFN_DISPATCH(g.dtype(), {
      const scalar_t* p = prob.data<scalar_t>();
      scalar_t* pg = g.data<scalar_t>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < classes; ++j) {
          const double onehot = j == target[static_cast<size_t>(r)] ? 1.0 : 0.0;
          pg[r * classes + j] = static_cast<scalar_t>(scale * (p[r * classes + j] - onehot));
        }
    });
    accumulate_grad(logits, g);
  });
}

}  // namespace mtfn
