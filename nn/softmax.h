// Softmax over the last dimension as a module (PyTorch's nn.Softmax(dim=-1)), for models that list their
// layers as modules. It has no parameters: the op and its backward are core's (core/ops/activation.h).
// Not here: softmax over another dimension (transpose first).
#pragma once

#include "core/ops/activation.h"
#include "nn/module.h"

namespace mtfn::nn {

class Softmax : public Module {
 public:
  Softmax() : Module("Softmax") {}
  Tensor forward(const Tensor& x) const { return softmax(x); }  // x (..., n) -> (..., n), rows sum to 1
};

}  // namespace mtfn::nn
