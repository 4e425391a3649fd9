// Elementwise ops with numpy broadcasting: add, sub, mul, div, and the unary maps
// neg, exp, log, abs, pow by a scalar. Each forward sits beside its backward in the .cpp.
// Not here: activations (activation.h) and reductions (reduce.h).
#pragma once

#include "core/tensor.h"

namespace mtfn {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor pow(const Tensor& x, double p);
Tensor add_scalar(const Tensor& x, double c);
Tensor mul_scalar(const Tensor& x, double c);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator*(const Tensor& x, double c) { return mul_scalar(x, c); }
inline Tensor operator*(double c, const Tensor& x) { return mul_scalar(x, c); }
inline Tensor operator+(const Tensor& x, double c) { return add_scalar(x, c); }

// dst += src in place (same shape and dtype); not recorded. Used by the engine and optimisers.
void add_into(Tensor& dst, const Tensor& src);
// dst += alpha * src in place; not recorded.
void axpy_into(Tensor& dst, double alpha, const Tensor& src);

}  // namespace mtfn
