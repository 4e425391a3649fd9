// The optimizer base: parameter groups (each with its own learning rate and weight decay),
// zero_grad, and the optimizer's state as named tensors, saved and loaded through safetensors
// for resuming. Not here: any update rule (optim/adam.h, optim/sgd.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace mtfn::optim {

// What a caller asks for; unset values take the optimizer's defaults (as PyTorch's group dicts).
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<double> lr;
  std::optional<double> weight_decay;
};

class Optimizer {
 public:
  // What a group runs with (lr may be changed between steps, e.g. by a schedule).
  struct Group {
    std::vector<Tensor> params;
    double lr = 0;
    double weight_decay = 0;
  };

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (the others are skipped, as PyTorch).
  virtual void step() = 0;
  // PyTorch 1.13's default: gradients zeroed in place; set_to_none drops them.
  void zero_grad(bool set_to_none = false);

  std::vector<Group>& groups() { return groups_; }
  const std::vector<Group>& groups() const { return groups_; }
  const std::string& type_name() const { return type_name_; }
  // Parameter p's number i in state_dict's "state.<i>." names (the same tensor, not an equal one); none if not here.
  std::optional<size_t> index_of(const Tensor& p) const;

  // The state, numbered as PyTorch's optimizer state_dict (parameters counted across groups in order):
  //   state.<i>.<key>                per parameter i that has state (Adam: step (int64), exp_avg,
  //                                  exp_avg_sq; SGD: momentum_buffer)
  //   param_groups.<g>.lr, .weight_decay (float64 scalars), .size (int64: number of parameters)
  nn::TensorDict state_dict() const;
  // Strict: group sizes and state shapes must fit, no unknown names; all problems in one Error.
  // Restores each group's lr and weight_decay (as PyTorch does).
  void load_state_dict(const nn::TensorDict& state, std::string_view source = "optimizer state");

 protected:
  Optimizer(std::string type_name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay);

  // Per-parameter state, for the subclasses: the names (without "state.<i>.") they keep.
  virtual std::vector<std::string> state_keys() const = 0;
  // Parameter i's state, as (key, tensor, int64) entries; empty if it has none yet.
  virtual std::vector<nn::NamedTensor> param_state(size_t i) const = 0;
  // Sets parameter i's state from the entries (all of state_keys(), checked by the caller).
  virtual void set_param_state(size_t i, const std::vector<nn::NamedTensor>& entries) = 0;

  size_t num_params() const { return params_.size(); }
  const Tensor& param(size_t i) const { return params_[i]; }  // counted across groups

 private:
  std::string type_name_;
  std::vector<Group> groups_;
  std::vector<Tensor> params_;  // every group's parameters, in order
};

// The state in a safetensors file of its own (metadata "optimizer" = the type name).
void save_optimizer(const std::string& path, const Optimizer& opt, const nn::Metadata& metadata = {});
void load_optimizer(const std::string& path, Optimizer& opt);

}  // namespace mtfn::optim
