// The gradient checker: compares an op's backward pass with central differences in
// float64, element by element, for every input that requires grad.
// Not here: the op-by-op test cases (tests/core/), which call it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mtfn {

struct GradcheckResult {
  double max_error = 0;   // largest |analytic - numeric| / max(|analytic|, |numeric|, 0.01)
  std::string worst;      // where it was: "input 1 element 7: analytic 0.25 numeric 0.2500001"
  int64_t checked = 0;    // number of input elements checked
};

// f maps the inputs to one output tensor (any shape). The output is reduced to a scalar
// L = sum_i r_i y_i with fixed random weights r, so every output element takes part;
// dL/dx from backward is compared with (L(x + eps) - L(x - eps)) / (2 eps) for each
// element of each input that requires grad. Inputs must be float64 leaves.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps = 1e-6);

// Random float64 tensor with values uniform in [lo, hi), from a fixed seed.
Tensor random_tensor(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0, DType dtype = DType::F64);

}  // namespace mtfn
