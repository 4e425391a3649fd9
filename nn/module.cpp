// Module bookkeeping: registration, recursive walks with dotted names, strict state loading.
// See module.h.
#include "nn/module.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mtfn::nn {

// ---- TensorDict
void TensorDict::insert(std::string name, Tensor tensor, bool int64) {
  if (index_.count(name)) throw Error(fmt::format("tensor '{}' appears twice", name));
  index_.emplace(name, entries_.size());
  entries_.push_back({std::move(name), std::move(tensor), int64});
}

const NamedTensor* TensorDict::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const Tensor& TensorDict::at(std::string_view name) const {
  const NamedTensor* e = find(name);
  if (!e) throw Error(fmt::format("no tensor named '{}'", name));
  return e->tensor;
}

TensorDict TensorDict::strip_prefix(std::string_view prefix) const {
  TensorDict out;
  for (const NamedTensor& e : entries_)
    if (std::string_view(e.name).starts_with(prefix)) out.insert(e.name.substr(prefix.size()), e.tensor, e.int64);
  return out;
}

void TensorDict::insert_all(const TensorDict& other, std::string_view prefix) {
  for (const NamedTensor& e : other) insert(std::string(prefix) + e.name, e.tensor, e.int64);
}

// ---- registration
void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error(fmt::format("{}: bad name '{}' (non-empty, no dots)", type_name_, name));
  auto taken = [&](const auto& list) {
    for (const auto& e : list)
      if (e.name == name) return true;
    return false;
  };
  bool child = false;
  for (const auto& [n, m] : children_) child = child || n == name;
  if (taken(params_) || taken(buffers_) || child)
    throw Error(fmt::format("{}: name '{}' registered twice", type_name_, name));
}

Tensor Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_new_name(name);
  value.set_requires_grad(requires_grad);
  params_.push_back({std::move(name), value, false});
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value, bool int64) {
  check_new_name(name);
  if (int64 && value.dtype() != DType::F64)
    throw Error(fmt::format("{}: integer buffer '{}' must be held as float64", type_name_, name));
  buffers_.push_back({std::move(name), value, int64});
  return value;
}

void Module::add_child(std::string name, std::shared_ptr<Module> child) {
  check_new_name(name);
  if (!child) throw Error(fmt::format("{}: child '{}' is null", type_name_, name));
  children_.emplace_back(std::move(name), std::move(child));
}

// ---- walks
void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const Entry& e : params_) out.emplace_back(prefix + e.name, e.tensor);
  for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_parameters("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const {
  if (params)
    for (const Entry& e : params_) out.insert(prefix + e.name, e.tensor.detach(), false);
  if (buffers)
    for (const Entry& e : buffers_) out.insert(prefix + e.name, e.tensor.detach(), e.int64);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  StateDict d;
  collect("", false, true, d);
  std::vector<std::pair<std::string, Tensor>> out;
  for (const NamedTensor& e : d) out.emplace_back(e.name, e.tensor);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

Tensor Module::parameter(std::string_view dotted_name) const {
  for (auto& [name, t] : named_parameters())
    if (name == dotted_name) return t;
  throw Error(fmt::format("{}: no parameter named '{}'", type_name_, dotted_name));
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

// ---- modes
void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void zero_grad(const Tensor& param, bool set_to_none) {
  if (!param.defined()) return;
  if (set_to_none)
    param.grad_slot().drop();
  else
    param.grad_slot().zero_in_place();  // the fill happens at the next read or add (core/grad_slot.h)
}

void Module::zero_grad(bool set_to_none) {
  for (const Tensor& t : parameters()) nn::zero_grad(t, set_to_none);
}

void Module::freeze(std::string_view dotted_name) { parameter(dotted_name).set_requires_grad(false); }

void Module::to(DType dtype) {
  auto convert = [dtype](Tensor& t) {
    if (t.dtype() == dtype) return;
    Tensor c = t.to(dtype);
    TensorImpl* impl = t.impl();  // swap the storage under the shared handle
    impl->storage = c.impl()->storage;
    impl->dtype = dtype;
    impl->offset = 0;
    t.drop_grad();  // a gradient of the old dtype
  };
  for (Entry& e : params_) convert(e.tensor);
  for (Entry& e : buffers_)
    if (!e.int64) convert(e.tensor);
  for (auto& [name, child] : children_) child->to(dtype);
}

// ---- state
StateDict Module::state_dict() const {
  StateDict out;
  collect("", true, true, out);
  return out;
}

void Module::load_state_dict(const StateDict& state, std::string_view source) {
  const StateDict mine = state_dict();
  std::vector<std::string> missing, unexpected, wrong;
  for (const NamedTensor& e : mine) {
    const NamedTensor* s = state.find(e.name);
    if (!s)
      missing.push_back(e.name);
    else if (s->tensor.shape() != e.tensor.shape())
      wrong.push_back(fmt::format("{} {} (expected {})", e.name, shape_str(s->tensor.shape()), shape_str(e.tensor.shape())));
  }
  for (const NamedTensor& s : state)
    if (!mine.contains(s.name)) unexpected.push_back(s.name);
  if (!missing.empty() || !unexpected.empty() || !wrong.empty()) {
    std::string msg = fmt::format("{}: does not fit {}:", source, type_name_);
    if (!missing.empty()) msg += fmt::format(" missing {};", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format(" unexpected {};", fmt::join(unexpected, ", "));
    if (!wrong.empty()) msg += fmt::format(" wrong shape {};", fmt::join(wrong, ", "));
    msg.pop_back();
    throw Error(msg);
  }
  for (const NamedTensor& e : mine) {
    Tensor dst = e.tensor;
    dst.copy_from(state.at(e.name));
  }
}

}  // namespace mtfn::nn
