// SGD with momentum exactly as torch.optim.SGD in PyTorch 1.13 (single-tensor path): L2 weight
// decay added to the gradient; the first step's momentum buffer is the gradient itself.
// Not here: maximize, foreach.
#pragma once

#include "optim/optimizer.h"

namespace mtfn::optim {

// Dimensions: P elements of one parameter.

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  double weight_decay = 0;  // default for groups that do not set their own
};

struct SGDStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first;  // no momentum buffer yet: buf = g'
};

// One fused pass over a parameter: g' = g + wd p; buf = momentum buf + (1 - dampening) g'
// (buf = g' on the first step); d = nesterov ? g' + momentum buf : buf; p = p - lr d.
// With momentum 0, buf is not touched (may be null) and d = g'.
template <class T>
void sgd_update(int64_t n, T* p, const T* g, T* buf, const SGDStep& s);

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});
  SGD(std::vector<Tensor> params, SGDOptions options = {});

  void step() override;
  const SGDOptions& options() const { return options_; }
  const Tensor& momentum_buffer(size_t i) const { return buffers_[i]; }  // (P), undefined before the first step

 protected:
  std::vector<std::string> state_keys() const override { return {"momentum_buffer"}; }
  std::vector<nn::NamedTensor> param_state(size_t i) const override;
  void set_param_state(size_t i, const std::vector<nn::NamedTensor>& entries) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> buffers_;
};

}  // namespace mtfn::optim
