// Central differences against backward, in float64. See gradcheck.h.
#include "core/gradcheck.h"

#include <cmath>
#include <random>

#include <fmt/format.h>

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

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps) {
  for (const Tensor& x : inputs)
    if (x.dtype() != DType::F64) throw Error(fmt::format("gradcheck: inputs must be float64, got {}", x.describe()));
  for (Tensor& x : inputs) x.zero_grad();

  // L = sum(r * y) with fixed weights r in [0.5, 1.5) and alternating signs.
  Tensor y0 = f(inputs);
  Tensor r = random_tensor(y0.shape(), 12345, 0.5, 1.5);
  for (int64_t i = 0; i < r.numel(); i += 2) r.data<double>()[i] = -r.data<double>()[i];
  auto loss_value = [&](const std::vector<Tensor>& xs) {
    NoGradGuard ng;
    Tensor y = f(xs);
    double acc = 0;
    const double* py = y.data<double>();
    const double* pr = r.data<double>();
    for (int64_t i = 0; i < y.numel(); ++i) acc += py[i] * pr[i];
    return acc;
  };
  if (!y0.requires_grad()) throw Error("gradcheck: output does not require grad");
  y0.backward(r);

  GradcheckResult res;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    double* px = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double analytic = g.defined() ? g.data<double>()[i] : 0.0;
      const double saved = px[i];
      px[i] = saved + eps;
      const double up = loss_value(inputs);
      px[i] = saved - eps;
      const double down = loss_value(inputs);
      px[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      // Relative error, with a floor on the scale so that gradients near zero are
      // judged by their absolute error (finite differences cannot resolve less).
      const double scale = std::max({std::abs(analytic), std::abs(numeric), 1e-2});
      const double err = std::abs(analytic - numeric) / scale;
      ++res.checked;
      if (err > res.max_error || std::isnan(err)) {
        res.max_error = std::isnan(err) ? INFINITY : err;
        res.worst = fmt::format("input {} {} element {}: analytic {:.12g} numeric {:.12g}", k,
                                shape_str(x.shape()), i, analytic, numeric);
      }
    }
  }
  return res;
}

}  // namespace mtfn
