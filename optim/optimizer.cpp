// Parameter groups, zero_grad, and the optimizer state as named tensors. See optimizer.h.
#include "optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mtfn::optim {

Optimizer::Optimizer(std::string type_name, std::vector<ParamGroup> groups, double default_lr,
                     double default_weight_decay)
    : type_name_(std::move(type_name)) {
  std::set<const TensorImpl*> seen;
  for (size_t g = 0; g < groups.size(); ++g) {
    Group group{groups[g].params, groups[g].lr.value_or(default_lr),
                groups[g].weight_decay.value_or(default_weight_decay)};
    for (const Tensor& p : group.params) {
      if (!p.defined()) throw Error(fmt::format("{}: group {} holds an undefined tensor", type_name_, g));
      if (!seen.insert(p.impl()).second)
        throw Error(fmt::format("{}: a parameter {} appears in more than one place (group {})", type_name_,
                                p.describe(), g));
    }
    params_.insert(params_.end(), group.params.begin(), group.params.end());
    groups_.push_back(std::move(group));
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const Group& g : groups_)
    for (const Tensor& p : g.params) nn::zero_grad(p, set_to_none);
}

nn::TensorDict Optimizer::state_dict() const {
  nn::TensorDict out;
  size_t i = 0;
  for (const Group& g : groups_)
    for (size_t k = 0; k < g.params.size(); ++k, ++i)
      for (const nn::NamedTensor& e : param_state(i))
        out.insert(fmt::format("state.{}.{}", i, e.name), e.tensor.detach(), e.int64);
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    out.insert(fmt::format("param_groups.{}.lr", gi), Tensor::scalar(groups_[gi].lr, DType::F64));
    out.insert(fmt::format("param_groups.{}.weight_decay", gi), Tensor::scalar(groups_[gi].weight_decay, DType::F64));
    out.insert(fmt::format("param_groups.{}.size", gi),
               Tensor::scalar(static_cast<double>(groups_[gi].params.size()), DType::F64), true);
  }
  return out;
}

namespace {
// "12.rest" -> (12, "rest"); false if it does not start with a number and a dot.
bool split_index(std::string_view s, size_t& index, std::string& rest) {
  const auto dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + dot, index);
  if (ec != std::errc() || ptr != s.data() + dot) return false;
  rest = std::string(s.substr(dot + 1));
  return true;
}
}  // namespace

void Optimizer::load_state_dict(const nn::TensorDict& state, std::string_view source) {
  std::vector<const Tensor*> params;
  for (const Tensor& p : params_) params.push_back(&p);
  const std::vector<std::string> keys = state_keys();
  std::vector<std::string> problems;
  std::map<size_t, std::vector<nn::NamedTensor>> per_param;
  std::map<size_t, std::map<std::string, double>> per_group;
  for (const nn::NamedTensor& e : state) {
    size_t index = 0;
    std::string rest;
    std::string_view name = e.name;
    if (name.starts_with("state.") && split_index(name.substr(6), index, rest) && index < params.size() &&
        std::find(keys.begin(), keys.end(), rest) != keys.end()) {
      per_param[index].push_back({rest, e.tensor, e.int64});
    } else if (name.starts_with("param_groups.") && split_index(name.substr(13), index, rest) &&
               index < groups_.size() && (rest == "lr" || rest == "weight_decay" || rest == "size") &&
               e.tensor.numel() == 1) {
      per_group[index][rest] = e.tensor.item();
    } else {
      problems.push_back(fmt::format("unexpected {}", e.name));
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto it = per_group.find(g);
    for (const char* k : {"lr", "weight_decay", "size"})
      if (it == per_group.end() || !it->second.count(k)) problems.push_back(fmt::format("missing param_groups.{}.{}", g, k));
    if (it != per_group.end() && it->second.count("size") &&
        it->second["size"] != static_cast<double>(groups_[g].params.size()))
      problems.push_back(fmt::format("group {} has {} parameters, the state has {}", g, groups_[g].params.size(),
                                     it->second["size"]));
  }
  for (auto& [i, entries] : per_param) {
    for (const std::string& k : keys) {
      auto e = std::find_if(entries.begin(), entries.end(), [&](const nn::NamedTensor& x) { return x.name == k; });
      if (e == entries.end()) {
        problems.push_back(fmt::format("missing state.{}.{}", i, k));
      } else if (!e->int64 && e->tensor.shape() != params[i]->shape()) {
        problems.push_back(fmt::format("state.{}.{} has shape {}, the parameter {}", i, k, shape_str(e->tensor.shape()),
                                       shape_str(params[i]->shape())));
      }
    }
  }
  if (!problems.empty())
    throw Error(fmt::format("{}: does not fit this {}: {}", source, type_name_, fmt::join(problems, "; ")));

  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = per_group[g]["lr"];
    groups_[g].weight_decay = per_group[g]["weight_decay"];
  }
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = per_param.find(i);
    set_param_state(i, it == per_param.end() ? std::vector<nn::NamedTensor>{} : it->second);
  }
}

void save_optimizer(const std::string& path, const Optimizer& opt, const nn::Metadata& metadata) {
  nn::Metadata m = metadata;
  m["optimizer"] = opt.type_name();
  nn::write_safetensors(path, opt.state_dict(), m);
}

void load_optimizer(const std::string& path, Optimizer& opt) {
  nn::SafetensorsFile f = nn::read_safetensors(path);
  auto it = f.metadata.find("optimizer");
  if (it != f.metadata.end() && it->second != opt.type_name())
    throw Error(fmt::format("{}: holds the state of {}, not {}", path, it->second, opt.type_name()));
  opt.load_state_dict(f.tensors, path);
}

std::optional<size_t> Optimizer::index_of(const Tensor& p) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].impl() == p.impl()) return i;
  return std::nullopt;
}

}  // namespace mtfn::optim
