// softplus: the forward as a plain loop over either dtype, the backward recorded right under it.
// Not here: broadcasting or fusing with other ops (a library op would use core/ops/kernels.h).
#include "softplus.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/ops/activation.h"  // sigmoid_scalar: the overflow-free sigmoid
#include "core/parallel.h"

namespace example {

using mtfn::Tensor;

// ---- softplus: y = log(1 + e^x);  dL/dx = dL/dy * sigmoid(x)
// Computed as max(x, 0) + log1p(e^-|x|): e^x overflows for x > 709 in float64 (88 in float32),
// e^-|x| never does.
Tensor softplus(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // same shape as x
  MTFN_DISPATCH(x.dtype(), {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    mtfn::parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        py[i] = std::max(px[i], scalar_t(0)) + std::log1p(std::exp(-std::abs(px[i])));
    });
  });
  // The derivative needs x, not y: keep x outside the graph (a handle to the same values).
  const Tensor sx = x.detach();
  return mtfn::record(y, "softplus", {x}, [x, sx](const Tensor& gy) {
    Tensor gx = Tensor::empty(sx.shape(), sx.dtype());
    MTFN_DISPATCH(sx.dtype(), {
      const scalar_t* pg = gy.data<scalar_t>();
      const scalar_t* px = sx.data<scalar_t>();
      scalar_t* po = gx.data<scalar_t>();
      mtfn::parallel_for(sx.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) po[i] = pg[i] * mtfn::sigmoid_scalar(px[i]);
      });
    });
    mtfn::accumulate_grad(x, gx);  // adds: x may feed other ops too
  });
}

}  // namespace example
