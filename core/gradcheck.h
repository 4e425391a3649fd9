// The gradient checker: compares an op's backward pass with central differences in
// float64, element by element, for every input that requires grad.
// Not here: the op-by-op test cases (tests/core/), which call it; its limits are in docs/autograd.md.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mtfn {

// An element passes when |analytic - numeric| <= atol + rtol * |numeric| + rounding, numpy's allclose
// with `rounding` the numeric value's own floating-point error (see gradcheck()).
struct GradcheckOptions {
  double h = 1e-6;     // central-difference step, relative: x_j moves by h * max(1, |x_j|)
  double rtol = 1e-6;  // relative tolerance, against |numeric|
  double atol = 1e-12; // absolute tolerance (a floor for gradients that are 0)
};

struct GradcheckResult {
  std::string op;           // the name the caller passed
  int64_t checked = 0;      // input elements checked
  int64_t failed = 0;       // of which outside the tolerance (a NaN on either side fails)
  // The worst element: the largest |analytic - numeric| / tolerance (inf for a NaN); input -1 if none.
  double worst_ratio = 0;   // <= 1 everywhere means passed
  int64_t input = -1;       // index into the inputs
  Shape input_shape;
  int64_t element = -1;     // flat (row-major) index into that input
  double analytic = 0, numeric = 0, tolerance = 0;
  GradcheckOptions options;

  bool passed() const { return checked > 0 && failed == 0; }
  // One line: "gradcheck softplus: FAILED, 3 of 12 elements; worst input 0 (2, 3) element 4 [1, 1]:
  // analytic 4.1e-09 numeric 2.06e-09, |a - n| 2.06e-09 > tolerance 1.0e-12 (atol 1e-12 + rtol 1e-06 |n| + rounding)"
  std::string describe() const;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// f maps the inputs to one output tensor (any shape). The output is reduced to a scalar
// L = sum_i r_i y_i with fixed random weights r, so every output element takes part;
// dL/dx_j from backward is compared with sum_i r_i (y_i(x_j + s) - y_i(x_j - s)) / (2 s), s the step
// above (the difference is taken per output element, so outputs x_j does not move cancel exactly and
// their size adds no rounding). `rounding` bounds that value's own error:
// 8 u sum_i |r_i| (|y_i(x_j + s)| + |y_i(x_j - s)|) / (2 s) over the outputs that moved, u = 2^-52.
// Inputs must be float64 leaves; `op` only names the check in describe().
GradcheckResult gradcheck(std::string op, const GradcheckFn& f, std::vector<Tensor> inputs,
                          const GradcheckOptions& options = {});

// Random float64 tensor with values uniform in [lo, hi), from a fixed seed.
Tensor random_tensor(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0, DType dtype = DType::F64);

}  // namespace mtfn
