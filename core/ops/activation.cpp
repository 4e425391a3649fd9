// relu, sigmoid, tanh. sigmoid and tanh save their output: their derivatives are
// written in terms of it.
#include "core/ops/activation.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops/kernels.h"

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

}  // namespace mtfn
