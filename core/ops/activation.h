// Activations: relu, sigmoid, tanh. Forward and backward side by side in the .cpp.
#pragma once

#include <cmath>

#include "core/tensor.h"

namespace mtfn {

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// Numerically stable logistic function, shared with the fused ops (LSTM).
template <class T>
inline T sigmoid_scalar(T v) {
  // exp of a large positive argument overflows; use the form whose exp is <= 1.
  if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

}  // namespace mtfn
