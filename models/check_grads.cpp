// The comparison helpers of check-grads (see check_grads.h).
#include "models/check_grads.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

bool CheckReport::ok(double tolerance) const {
  for (const CheckGroup& g : groups)
    if (!(g.max_error <= tolerance)) return false;  // NaN fails too
  return !groups.empty();
}

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(a[i] - b[i]);
    diff = std::isnan(d) ? d : std::max(diff, d);
    scale = std::max(scale, std::fabs(b[i]));
    if (std::isnan(diff)) return diff;
  }
  return scale > 0 ? diff / scale : diff;
}

void ReferenceChecker::begin(CheckReport& r, const std::string& name) {
  r.groups.push_back({name, 0.0, "", 0});
  group = &r.groups.back();
}

void ReferenceChecker::compare(const std::string& name, const Tensor& ours) {
  const Tensor& ref = file.at(name);
  double e;
  if (!ours.defined() || ours.numel() != ref.numel()) {
    e = std::numeric_limits<double>::infinity();
  } else {
    e = relative_error(ours.to_vector(), ref.to_vector());
  }
  ++group->tensors;
  if (std::isnan(group->max_error)) return;  // a NaN stays the worst
  if (group->tensors == 1 || !(e <= group->max_error)) {
    group->max_error = e;
    group->worst = name;
  }
}

void ReferenceChecker::compare_scalar(const std::string& name, double ours) {
  compare(name, Tensor::scalar(ours, DType::F64));
}

json metadata_config(const nn::Metadata& meta, const std::vector<std::string>& keys,
                     const std::vector<std::string>& required, const std::string& path) {
  json j = json::object();
  for (const std::string& k : keys) {
    auto it = meta.find(k);
    if (it == meta.end()) {
      if (std::find(required.begin(), required.end(), k) != required.end())
        throw std::runtime_error(fmt::format("{}: metadata has no {}", path, k));
      continue;
    }
    try {
      j[k] = json::parse(it->second);
    } catch (const json::exception&) {
      throw std::runtime_error(fmt::format("{}: metadata {}: not JSON: {}", path, k, it->second));
    }
  }
  return j;
}

int metadata_int(const nn::Metadata& meta, const std::string& key, int fallback) {
  auto it = meta.find(key);
  if (it == meta.end()) return fallback;
  return json::parse(it->second).get<int>();
}

std::string reference_model(const nn::Metadata& meta) {
  auto it = meta.find("model");
  if (it == meta.end()) return "mtfn";
  try {
    const json v = json::parse(it->second);
    if (v.is_string()) return v.get<std::string>();
  } catch (const json::exception&) {
  }
  return it->second;  // a bare name
}

nn::StateDict load_reference_state(nn::Module& module, const nn::TensorDict& file, const std::string& path) {
  nn::StateDict initial;
  for (const auto& e : module.state_dict()) {
    const nn::NamedTensor* ref = file.find(e.name);
    if (!ref) throw std::runtime_error(fmt::format("{}: no tensor '{}' (the model's state)", path, e.name));
    initial.insert(e.name, ref->tensor, ref->int64);
  }
  module.load_state_dict(initial, path);
  return initial;
}

void check_backward_and_adam_steps(ReferenceChecker& c, CheckReport& report, Model& model, const Tensor& loss,
                                   const Tensor (&inputs)[3], const nn::StateDict& initial, const std::string& path,
                                   int adam_steps, const std::function<Tensor()>& step_loss) {
  nn::Module& m = model.module();
  loss.backward();
  c.begin(report, "gradients");
  for (const auto& [name, p] : m.named_parameters()) {
    if (!p.requires_grad()) continue;  // output_range / output_shift: no gradient in PyTorch either
    c.compare("grad." + name, p.grad().defined() ? p.grad() : Tensor::zeros(p.shape(), p.dtype()));
  }
  const char* input_names[3] = {"text", "audio", "vision"};
  for (int i = 0; i < 3; ++i) c.compare(std::string("grad.input.") + input_names[i], inputs[i].grad());

  c.begin(report, "buffers after");
  for (const auto& [name, b] : m.named_buffers())
    if (c.file.contains("after." + name)) c.compare("after." + name, b);

  if (adam_steps <= 0) return;
  c.begin(report, "adam steps");
  m.load_state_dict(initial, path);
  m.zero_grad();
  const std::unique_ptr<optim::Optimizer> optimizer = model.make_optimizer();
  for (int k = 1; k <= adam_steps; ++k) {
    optimizer->zero_grad();
    const Tensor l = step_loss();
    c.compare(fmt::format("adam{}.loss", k), l);
    l.backward();
    optimizer->step();
    for (const auto& [name, p] : m.named_parameters()) c.compare(fmt::format("adam{}.{}", k, name), p);
  }
}

}  // namespace mtfn::models
