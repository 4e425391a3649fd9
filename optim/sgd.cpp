// SGD: the fused update pass and the optimizer.
//
// PyTorch 1.13's _single_tensor_sgd, per parameter:
//   d_p = d_p.add(param, alpha=wd)                          (only if wd != 0)
//   if momentum != 0:
//     buf = clone(d_p) on the first step, else buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
//     d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
//   param.add_(d_p, alpha=-lr)
#include "optim/sgd.h"

#include "core/parallel.h"

namespace mtfn::optim {

template <class T>
void sgd_update(int64_t n, T* p, const T* g, T* buf, const SGDStep& s) {
  const T wd = T(s.weight_decay), mom = T(s.momentum), keep = T(1 - s.dampening), neg_lr = T(-s.lr);
  const bool decay = s.weight_decay != 0, use_momentum = s.momentum != 0;
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T d = g[i];
      if (decay) d = d + wd * p[i];
      if (use_momentum) {
        buf[i] = s.first ? d : buf[i] * mom + keep * d;
        d = s.nesterov ? d + mom * buf[i] : buf[i];
      }
      p[i] = p[i] + neg_lr * d;
    }
  });
}
template void sgd_update<float>(int64_t, float*, const float*, float*, const SGDStep&);
template void sgd_update<double>(int64_t, double*, const double*, double*, const SGDStep&);

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer("SGD", std::move(groups), options.lr, options.weight_decay), options_(options) {
  buffers_.resize(num_params());
}

SGD::SGD(std::vector<Tensor> params, SGDOptions options) : SGD(std::vector<ParamGroup>{{std::move(params), {}, {}}}, options) {}

void SGD::step() {
  size_t i = 0;
  for (const Group& group : groups())
    for (const Tensor& param : group.params) {
      Tensor& buf = buffers_[i++];
      const Tensor grad = param.grad();
      if (!grad.defined()) continue;  // skipped, as PyTorch
      const bool first = !buf.defined();
      if (options_.momentum != 0 && first) buf = Tensor::empty(param.shape(), param.dtype());
      const SGDStep s{group.lr, options_.momentum, options_.dampening, group.weight_decay, options_.nesterov, first};
      Tensor p = param;
      MTFN_DISPATCH(param.dtype(), sgd_update<scalar_t>(p.numel(), p.data<scalar_t>(), grad.data<scalar_t>(),
                                                        buf.defined() ? buf.data<scalar_t>() : nullptr, s));
    }
}

std::vector<nn::NamedTensor> SGD::param_state(size_t i) const {
  if (!buffers_[i].defined()) return {};
  return {{"momentum_buffer", buffers_[i], false}};
}

void SGD::set_param_state(size_t i, const std::vector<nn::NamedTensor>& entries) {
  buffers_[i] = Tensor();
  for (const nn::NamedTensor& e : entries) {
    Tensor t = Tensor::empty(param(i).shape(), param(i).dtype());  // a copy in the parameter's dtype
    t.copy_from(e.tensor);
    buffers_[i] = t;
  }
}

}  // namespace mtfn::optim
