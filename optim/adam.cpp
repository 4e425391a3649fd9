// Adam: the fused update pass (next to the plain loop it is tested against) and the optimizer.
//
// PyTorch 1.13's _single_tensor_adam, per parameter, which we follow operation for operation:
//   step += 1
//   grad = grad.add(param, alpha=wd)                        (only if wd != 0; a new tensor)
//   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   bias_correction1 = 1 - beta1 ** step;  bias_correction2 = 1 - beta2 ** step
//   step_size = lr / bias_correction1
//   denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
//   param.addcdiv_(exp_avg, denom, value=-step_size)
// PyTorch's float kernels take the scalars in the tensor's dtype, so we cast them to T first.
// Derivation and notes: docs/adam.md.
#include "optim/adam.h"

#include <cmath>

#include <fmt/format.h>

#include "core/parallel.h"

namespace mtfn::optim {

namespace {

// Per-element constants of one update, in the parameter's dtype.
template <class T>
struct AdamConstants {
  T wd, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
  explicit AdamConstants(const AdamStep& s)
      : wd(T(s.weight_decay)),
        beta1(T(s.beta1)),
        one_minus_beta1(T(1 - s.beta1)),
        beta2(T(s.beta2)),
        one_minus_beta2(T(1 - s.beta2)),
        bc2_sqrt(T(std::sqrt(1 - std::pow(s.beta2, double(s.step))))),
        eps(T(s.eps)),
        neg_step_size(T(-(s.lr / (1 - std::pow(s.beta1, double(s.step)))))) {}
};

// Elements [b, e): straight-line code without branches, so the compiler vectorises it.
template <class T, bool kDecay>
void adam_chunk(int64_t b, int64_t e, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                const AdamConstants<T>& c) {
  for (int64_t i = b; i < e; ++i) {
    T gi = g[i];
    if constexpr (kDecay) gi = gi + c.wd * p[i];
    const T mi = m[i] * c.beta1 + c.one_minus_beta1 * gi;
    const T vi = v[i] * c.beta2 + c.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) / c.bc2_sqrt + c.eps;
    p[i] = p[i] + c.neg_step_size * mi / denom;
  }
}

}  // namespace

template <class T>
void adam_update(int64_t n, T* p, const T* g, T* m, T* v, const AdamStep& s) {
  const AdamConstants<T> c(s);
  if (s.weight_decay != 0)
    parallel_for(n, [&](int64_t b, int64_t e) { adam_chunk<T, true>(b, e, p, g, m, v, c); });
  else
    parallel_for(n, [&](int64_t b, int64_t e) { adam_chunk<T, false>(b, e, p, g, m, v, c); });
}

template <class T>
void adam_update_reference(int64_t n, T* p, const T* g, T* m, T* v, const AdamStep& s) {
  const AdamConstants<T> c(s);
  for (int64_t i = 0; i < n; ++i) {
    const T grad = s.weight_decay != 0 ? T(g[i] + c.wd * p[i]) : g[i];
    m[i] = T(m[i] * c.beta1) + T(c.one_minus_beta1 * grad);
    v[i] = T(v[i] * c.beta2) + T(T(c.one_minus_beta2 * grad) * grad);
    const T denom = T(std::sqrt(v[i]) / c.bc2_sqrt) + c.eps;
    p[i] = p[i] + T(T(c.neg_step_size * m[i]) / denom);
  }
}

template void adam_update<float>(int64_t, float*, const float*, float*, float*, const AdamStep&);
template void adam_update<double>(int64_t, double*, const double*, double*, double*, const AdamStep&);
template void adam_update_reference<float>(int64_t, float*, const float*, float*, float*, const AdamStep&);
template void adam_update_reference<double>(int64_t, double*, const double*, double*, double*, const AdamStep&);

// ---- the optimizer
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options)
    : Optimizer("Adam", std::move(groups), options.lr, options.weight_decay), options_(options) {
  state_.resize(num_params());
}

Adam::Adam(std::vector<Tensor> params, AdamOptions options) : Adam(std::vector<ParamGroup>{{std::move(params), {}, {}}}, options) {}

void Adam::step() {
  size_t i = 0;
  for (const Group& group : groups())
    for (const Tensor& param : group.params) {
      State& st = state_[i++];
      const Tensor grad = param.grad();
      if (!grad.defined()) continue;  // no gradient: skipped, no state change (as PyTorch)
      if (!st.exp_avg.defined()) {
        st.exp_avg = Tensor::zeros(param.shape(), param.dtype());
        st.exp_avg_sq = Tensor::zeros(param.shape(), param.dtype());
      }
      ++st.step;
      const AdamStep s{group.lr, options_.beta1, options_.beta2, options_.eps, group.weight_decay, st.step};
      Tensor p = param;
      MTFN_DISPATCH(param.dtype(), adam_update<scalar_t>(p.numel(), p.data<scalar_t>(), grad.data<scalar_t>(),
                                                         st.exp_avg.data<scalar_t>(), st.exp_avg_sq.data<scalar_t>(), s));
    }
}

std::vector<nn::NamedTensor> Adam::param_state(size_t i) const {
  const State& st = state_[i];
  if (!st.exp_avg.defined()) return {};
  return {{"step", Tensor::scalar(static_cast<double>(st.step), DType::F64), true},
          {"exp_avg", st.exp_avg, false},
          {"exp_avg_sq", st.exp_avg_sq, false}};
}

void Adam::set_param_state(size_t i, const std::vector<nn::NamedTensor>& entries) {
  State st;
  const Tensor& p = param(i);
  for (const nn::NamedTensor& e : entries) {
    if (e.name == "step") {
      st.step = static_cast<int64_t>(e.tensor.item());
      continue;
    }
    // Copied, in the parameter's dtype: the state never aliases what it was loaded from.
    Tensor t = Tensor::empty(p.shape(), p.dtype());
    t.copy_from(e.tensor);
    (e.name == "exp_avg" ? st.exp_avg : st.exp_avg_sq) = t;
  }
  state_[i] = std::move(st);
}

}  // namespace mtfn::optim
