// Elementwise ops: forward, then backward with the local derivative written down.
// Broadcast inputs get their gradient summed back to their own shape (sum_to).
#include "core/ops/elementwise.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops/kernels.h"
#include "core/ops/reduce.h"

namespace mtfn {

using kernels::broadcast2;
using kernels::map1;
using kernels::map2;

// ---- add: y = a + b;  dL/da = dL/dy,  dL/db = dL/dy
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = broadcast2("add", a, b, [](auto x, auto z) { return x + z; });
  return record(y, "add", {a, b}, [a, b](const Tensor& gy) {
    accumulate_grad(a, sum_to(gy, a.shape()));
    accumulate_grad(b, sum_to(gy, b.shape()));
  });
}

// ---- sub: y = a - b;  dL/da = dL/dy,  dL/db = -dL/dy
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = broadcast2("sub", a, b, [](auto x, auto z) { return x - z; });
  return record(y, "sub", {a, b}, [a, b](const Tensor& gy) {
    accumulate_grad(a, sum_to(gy, a.shape()));
    if (b.requires_grad()) accumulate_grad(b, sum_to(map1(gy, [](auto g) { return -g; }), b.shape()));
  });
}

// ---- mul: y = a * b;  dL/da = dL/dy * b,  dL/db = dL/dy * a
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = broadcast2("mul", a, b, [](auto x, auto z) { return x * z; });
  const Tensor sa = a.detach(), sb = b.detach();  // both factors are needed by backward
  return record(y, "mul", {a, b}, [a, b, sa, sb](const Tensor& gy) {
    auto times = [](auto g, auto v) { return g * v; };
    if (a.requires_grad()) accumulate_grad(a, sum_to(broadcast2("mul", gy, sb, times), a.shape()));
    if (b.requires_grad()) accumulate_grad(b, sum_to(broadcast2("mul", gy, sa, times), b.shape()));
  });
}

// ---- div: y = a / b;  dL/da = dL/dy / b,  dL/db = -dL/dy * a / b^2
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = broadcast2("div", a, b, [](auto x, auto z) { return x / z; });
  const Tensor sa = a.detach(), sb = b.detach();
  return record(y, "div", {a, b}, [a, b, sa, sb](const Tensor& gy) {
    if (a.requires_grad())
      accumulate_grad(a, sum_to(broadcast2("div", gy, sb, [](auto g, auto v) { return g / v; }), a.shape()));
    if (b.requires_grad()) {
      Tensor a_over_b2 = broadcast2("div", sa, broadcast2("mul", sb, sb, [](auto u, auto v) { return u * v; }),
                                    [](auto u, auto v) { return u / v; });
      accumulate_grad(b, sum_to(broadcast2("div", gy, a_over_b2, [](auto g, auto q) { return -g * q; }), b.shape()));
    }
  });
}

// ---- neg: y = -x;  dL/dx = -dL/dy
Tensor neg(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return -v; });
  return record(y, "neg", {x}, [x](const Tensor& gy) {
    accumulate_grad(x, map1(gy, [](auto g) { return -g; }));
  });
}

// ---- exp: y = e^x;  dL/dx = dL/dy * y   (saves y, not x)
Tensor exp(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return std::exp(v); });
  const Tensor sy = y.detach();
  return record(y, "exp", {x}, [x, sy](const Tensor& gy) {
    accumulate_grad(x, map2("exp", gy, sy, [](auto g, auto e) { return g * e; }));
  });
}

// ---- log: y = ln x;  dL/dx = dL/dy / x
Tensor log(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return std::log(v); });
  const Tensor sx = x.detach();
  return record(y, "log", {x}, [x, sx](const Tensor& gy) {
    accumulate_grad(x, map2("log", gy, sx, [](auto g, auto v) { return g / v; }));
  });
}

// ---- abs: y = |x|;  dL/dx = dL/dy * sign(x), with sign(0) = 0 as in PyTorch
Tensor abs(const Tensor& x) {
  Tensor y = map1(x, [](auto v) { return std::abs(v); });
  const Tensor sx = x.detach();
  return record(y, "abs", {x}, [x, sx](const Tensor& gy) {
    accumulate_grad(x, map2("abs", gy, sx, [](auto g, auto v) {
      using T = decltype(v);
      return v > T(0) ? g : (v < T(0) ? -g : T(0));
    }));
  });
}

// ---- pow: y = x^p;  dL/dx = dL/dy * p * x^(p-1)
Tensor pow(const Tensor& x, double p) {
  Tensor y = map1(x, [p](auto v) { return static_cast<decltype(v)>(std::pow(v, p)); });
  const Tensor sx = x.detach();
  return record(y, "pow", {x}, [x, sx, p](const Tensor& gy) {
    accumulate_grad(x, map2("pow", gy, sx, [p](auto g, auto v) {
      using T = decltype(v);
      return static_cast<T>(g * p * std::pow(v, p - 1));
    }));
  });
}

// ---- add_scalar: y = x + c;  dL/dx = dL/dy
Tensor add_scalar(const Tensor& x, double c) {
  Tensor y = map1(x, [c](auto v) { return static_cast<decltype(v)>(v + c); });
  return record(y, "add_scalar", {x}, [x](const Tensor& gy) { accumulate_grad(x, gy); });
}

// ---- mul_scalar: y = c * x;  dL/dx = c * dL/dy
Tensor mul_scalar(const Tensor& x, double c) {
  Tensor y = map1(x, [c](auto v) { return static_cast<decltype(v)>(v * c); });
  return record(y, "mul_scalar", {x}, [x, c](const Tensor& gy) {
    accumulate_grad(x, map1(gy, [c](auto g) { return static_cast<decltype(g)>(g * c); }));
  });
}

void add_into(Tensor& dst, const Tensor& src) {
  kernels::check_same_shape("add_into", dst, src);
  MTFN_DISPATCH(dst.dtype(), {
    scalar_t* d = dst.data<scalar_t>();
    const scalar_t* s = src.data<scalar_t>();
    parallel_for(dst.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] += s[i];
    });
  });
}

void axpy_into(Tensor& dst, double alpha, const Tensor& src) {
  kernels::check_same_shape("axpy_into", dst, src);
  MTFN_DISPATCH(dst.dtype(), {
    scalar_t* d = dst.data<scalar_t>();
    const scalar_t* s = src.data<scalar_t>();
    const scalar_t a = static_cast<scalar_t>(alpha);
    parallel_for(dst.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] += a * s[i];
    });
  });
}

}  // namespace mtfn
