// The comparison helpers of check-grads (see check_grads.h).
#include "models/check_grads.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

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

}  // namespace mtfn::models
