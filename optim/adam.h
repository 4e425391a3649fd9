// Adam exactly as torch.optim.Adam in PyTorch 1.13 (single-tensor path, no amsgrad): L2 weight
// decay added to the gradient, bias correction, PyTorch's order of operations. The update of a
// parameter is one fused, vectorised, oneTBB-parallel pass. Not here: AdamW, amsgrad, maximize.
#pragma once

#include "optim/optimizer.h"

namespace mtfn::optim {

// Dimensions: P elements of one parameter.

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // default for groups that do not set their own
};

// The scalars of one update, computed once per parameter as PyTorch computes them.
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;  // after incrementing: 1 on the first update
};

// The fused pass over one parameter, read p, g, m, v once, write p, m, v once:
//   g' = g + wd p (if wd != 0);  m = beta1 m + (1 - beta1) g';  v = beta2 v + (1 - beta2) g' g'
//   p  = p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - beta_k^step
// p, m, v (P) are updated in place; g (P) is not changed.
template <class T>
void adam_update(int64_t n, T* p, const T* g, T* m, T* v, const AdamStep& s);
// The same, one plain loop (the fused pass is tested against it).
template <class T>
void adam_update_reference(int64_t n, T* p, const T* g, T* m, T* v, const AdamStep& s);

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  Adam(std::vector<Tensor> params, AdamOptions options = {});  // one group with the options' lr and decay

  void step() override;
  const AdamOptions& options() const { return options_; }

  struct State {
    int64_t step = 0;
    Tensor exp_avg;     // (P) m, the parameter's dtype
    Tensor exp_avg_sq;  // (P) v
  };
  // Parameter i's state (counted across groups); step 0 and undefined tensors before its first update.
  const State& state(size_t i) const { return state_[i]; }

 protected:
  std::vector<std::string> state_keys() const override { return {"step", "exp_avg", "exp_avg_sq"}; }
  std::vector<nn::NamedTensor> param_state(size_t i) const override;
  void set_param_state(size_t i, const std::vector<nn::NamedTensor>& entries) override;

 private:
  AdamOptions options_;
  std::vector<State> state_;
};

}  // namespace mtfn::optim
