// softplus(x) = log(1 + e^x), an op written outside the library the way core/ops/ writes its own.
// Not here: the check of its gradient (main.cpp).
#pragma once

#include "core/tensor.h"

namespace example {

mtfn::Tensor softplus(const mtfn::Tensor& x);  // x (any shape, float32 or float64) -> same shape

}  // namespace example
