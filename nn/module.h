// Module: named parameters and buffers in registration order, child modules, train/eval,
// state_dict with PyTorch's dotted names ("text_subnet.rnn.weight_ih_l0"), strict loading.
// Not here: any layer's maths (nn/linear.h, nn/lstm.h, ...) or files (nn/safetensors.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mtfn::nn {

// One named tensor. `int64` marks values that are integers in PyTorch (num_batches_tracked,
// Adam's step): we hold them in a float64 tensor (exact up to 2^53) and files store them as I64.
struct NamedTensor {
  std::string name;
  Tensor tensor;
  bool int64 = false;
};

// Named tensors in insertion order, with lookup by name. A state_dict, the contents of a
// safetensors file, an optimizer's state.
class TensorDict {
 public:
  void insert(std::string name, Tensor tensor, bool int64 = false);  // a name may appear once
  const NamedTensor* find(std::string_view name) const;             // nullptr if absent
  const Tensor& at(std::string_view name) const;                    // Error if absent
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  // The entries whose names start with `prefix`, with the prefix removed ("model." -> "").
  TensorDict strip_prefix(std::string_view prefix) const;
  // Every entry of `other` inserted with `prefix` in front of its name.
  void insert_all(const TensorDict& other, std::string_view prefix = "");

 private:
  std::vector<NamedTensor> entries_;
  std::unordered_map<std::string, size_t> index_;
};
using StateDict = TensorDict;

// One parameter's gradient zeroed in place, or dropped (set_to_none, or when the gradient
// aliases another tensor, which an in-place fill would change too). In place, the buffer is kept
// and the fill left pending (GradSlot::zero_in_place, core/grad_slot.h): param.grad() and any op that adds
// into it fill it first, and an op that overwrites the whole gradient (the fused fusion head's
// weight, beta = 0) skips the fill. A handle to the gradient taken before zero_grad does not
// see zeros until grad() is called again.
void zero_grad(const Tensor& param, bool set_to_none = false);

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;  // parameters are shared handles: copying would alias them
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // --- what it holds (recursive, dotted names, PyTorch's order: a module's own parameters,
  //     then each child's in registration order) ---
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  Tensor parameter(std::string_view dotted_name) const;  // Error naming it if absent
  int64_t num_parameters() const;                          // total element count

  // --- modes and gradients ---
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Zeroes every parameter's gradient in place (PyTorch 1.13's default, which keeps the buffers
  // for the next backward), or drops the gradients with set_to_none.
  void zero_grad(bool set_to_none = false);
  // Marks a parameter frozen (requires_grad false), e.g. MTFN's output_range / output_shift.
  void freeze(std::string_view dotted_name);

  // Converts every parameter and floating buffer, in place (every handle to them stays valid;
  // gradients are dropped). Integer buffers stay float64.
  void to(DType dtype);

  // --- state (PyTorch's order: own parameters, own buffers, then each child's) ---
  // The tensors share storage with the module (no copies; not in any graph).
  StateDict state_dict() const;
  // Strict: every name must be present with the right shape and no other name may appear;
  // all missing, unexpected and wrongly shaped names are listed in one Error. Values are
  // copied into the existing tensors (converted to their dtype). `source` names the origin in errors.
  void load_state_dict(const StateDict& state, std::string_view source = "state_dict");

 protected:
  // For subclasses' constructors. Each returns the registered tensor (a shared handle that
  // the subclass keeps as a member).
  Tensor register_parameter(std::string name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(std::string name, Tensor value, bool int64 = false);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
    add_child(std::move(name), child);
    return child;
  }

 private:
  struct Entry {
    std::string name;
    Tensor tensor;
    bool int64 = false;
  };
  void add_child(std::string name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<Entry> params_;
  std::vector<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace mtfn::nn
