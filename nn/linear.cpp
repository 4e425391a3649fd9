// Linear's construction and forward; the maths and its backward are core's `linear` op.
#include "nn/linear.h"

#include <cmath>

#include "core/ops/matmul.h"

namespace mtfn::nn {

Linear::Linear(int64_t in, int64_t out, Generator& gen, bool with_bias, DType dtype)
    : Module("Linear"), in_features(in), out_features(out) {
  const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
  Tensor w = Tensor::empty({out, in}, dtype);
  uniform_(w, -bound, bound, gen);
  weight = register_parameter("weight", w);
  if (with_bias) {
    Tensor b = Tensor::empty({out}, dtype);
    uniform_(b, -bound, bound, gen);
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

}  // namespace mtfn::nn
