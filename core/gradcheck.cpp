// Central differences against backward, in float64. See gradcheck.h.
#include "core/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"

namespace mtfn {

Tensor random_tensor(Shape shape, uint64_t seed, double lo, double hi, DType dtype) {
  std::mt19937_64 gen(seed);
  Tensor t = Tensor::empty(std::move(shape), dtype);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (double& x : v) x = lo + (hi - lo) * (static_cast<double>(gen() >> 11) * 0x1.0p-53);
  return Tensor::from_vector(v, t.shape(), dtype);
}

namespace {

// "[1, 3]": the multi-index of flat element i of a row-major shape.
std::string multi_index(const Shape& shape, int64_t i) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(idx, ", "));
}

}  // namespace

std::string GradcheckResult::describe() const {
  std::string head = fmt::format("gradcheck {}: {}", op.empty() ? "(unnamed)" : op,
                                 checked == 0   ? "FAILED, no element checked (no input requires grad?)"
                                 : failed == 0  ? fmt::format("ok, {} elements", checked)
                                                : fmt::format("FAILED, {} of {} elements", failed, checked));
  if (input < 0) return head;
  return fmt::format("{}; worst input {} {} element {} {}: analytic {:.10g} numeric {:.10g}, |a - n| {:.3g} {} "
                     "tolerance {:.3g} (atol {:g} + rtol {:g} |n| + rounding, h {:g}; ratio {:.3g})",
                     head, input, shape_str(input_shape), element, multi_index(input_shape, element), analytic,
                     numeric, std::abs(analytic - numeric), worst_ratio <= 1 ? "<=" : ">", tolerance, options.atol,
                     options.rtol, options.h, worst_ratio);
}

GradcheckResult gradcheck(std::string op, const GradcheckFn& f, std::vector<Tensor> inputs,
                          const GradcheckOptions& options) {
  for (const Tensor& x : inputs)
    if (x.dtype() != DType::F64)
      throw Error(fmt::format("gradcheck {}: inputs must be float64, got {}", op, x.describe()));
  for (Tensor& x : inputs) x.drop_grad();

  // L = sum(r * y) with fixed weights r in [0.5, 1.5) and alternating signs.
  Tensor y0 = f(inputs);
  if (y0.dtype() != DType::F64) throw Error(fmt::format("gradcheck {}: output is {}", op, y0.describe()));
  Tensor r = random_tensor(y0.shape(), 12345, 0.5, 1.5);
  for (int64_t i = 0; i < r.numel(); i += 2) r.data<double>()[i] = -r.data<double>()[i];
  auto outputs = [&](const std::vector<Tensor>& xs) {
    NoGradGuard ng;
    return f(xs).to_vector();
  };
  if (!y0.requires_grad()) throw Error(fmt::format("gradcheck {}: output does not require grad", op));
  y0.backward(r);
  const double* pr = r.data<double>();

  GradcheckResult res;
  res.op = std::move(op);
  res.options = options;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    double* px = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double analytic = g.defined() ? g.data<double>()[i] : 0.0;
      const double saved = px[i];
      const double step = options.h * std::max(1.0, std::abs(saved));
      const double xp = saved + step, xm = saved - step;  // the step actually taken is xp - xm
      px[i] = xp;
      const std::vector<double> up = outputs(inputs);
      px[i] = xm;
      const std::vector<double> down = outputs(inputs);
      px[i] = saved;
      // Per output element: outputs that do not depend on x_j give exactly 0.
      double diff = 0, size = 0;
      for (size_t o = 0; o < up.size(); ++o) {
        const double d = up[o] - down[o];
        if (d == 0) continue;
        diff += pr[o] * d;
        size += std::abs(pr[o]) * (std::abs(up[o]) + std::abs(down[o]));
      }
      const double numeric = diff / (xp - xm);
      const double rounding = 8 * 0x1.0p-52 * size / (xp - xm);
      const double tol = options.atol + options.rtol * std::abs(numeric) + rounding;
      double ratio = std::abs(analytic - numeric) / tol;
      if (std::isnan(ratio)) ratio = INFINITY;
      ++res.checked;
      if (ratio > 1) ++res.failed;
      if (res.input < 0 || ratio > res.worst_ratio) {
        res.worst_ratio = ratio;
        res.input = static_cast<int64_t>(k);
        res.input_shape = x.shape();
        res.element = i;
        res.analytic = analytic;
        res.numeric = numeric;
        res.tolerance = tol;
      }
    }
  }
  return res;
}

}  // namespace mtfn
