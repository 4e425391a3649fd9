// Reading one value of a flat configuration under MMSA's key names, checked: every model's config
// reader (models/<name>/config.cpp) uses these, so the messages are the same for every model:
// ConfigError "<where>: <key>: expected ..., got ...". Not here: which keys a model has.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/model.h"  // TrainMode, ConfigError

namespace mtfn::models {

// How a value reads in a message: 64, 0.5, "x", true, "a list of 3", "an object", "null".
std::string type_of(const nlohmann::ordered_json& v);
[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& expected,
                      const nlohmann::ordered_json& v);

// MMSA's files hold integers; 64.0 is accepted as 64, 64.5 is not.
int64_t get_positive_int(const nlohmann::ordered_json& v, const std::string& where, const std::string& key);
// A finite number in [lo, hi] (or [lo, hi) if hi_open).
double get_number(const nlohmann::ordered_json& v, const std::string& where, const std::string& key, double lo,
                  double hi, bool hi_open, const char* expected);
// "regression" or "classification".
TrainMode get_train_mode(const nlohmann::ordered_json& v, const std::string& where, const std::string& key);
// Adam's step size, in (0, 10]: above 10 Adam only diverges, 0 trains nothing.
double get_learning_rate(const nlohmann::ordered_json& v, const std::string& where, const std::string& key);

template <size_t N>
std::array<int64_t, N> get_int_list(const nlohmann::ordered_json& v, const std::string& where, const std::string& key) {
  if (!v.is_array() || v.size() != N) bad(where, key, fmt::format("a list of {} positive integers", N), v);
  std::array<int64_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = get_positive_int(v[i], where, fmt::format("{}[{}]", key, i));
  return out;
}

template <size_t N>
std::array<double, N> get_prob_list(const nlohmann::ordered_json& v, const std::string& where, const std::string& key) {
  if (!v.is_array() || v.size() != N) bad(where, key, fmt::format("a list of {} probabilities in [0, 1)", N), v);
  std::array<double, N> out{};
  for (size_t i = 0; i < N; ++i)
    out[i] = get_number(v[i], where, fmt::format("{}[{}]", key, i), 0.0, 1.0, true, "a probability in [0, 1)");
  return out;
}

// Keys of MMSA's files that mean nothing to a model here but are not mistakes: accepted silently.
const std::set<std::string>& known_unused_keys();

}  // namespace mtfn::models
