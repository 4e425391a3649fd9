// Checked reading of configuration values (see config_values.h).
#include "models/config_values.h"

#include <cmath>

namespace mtfn::models {

using json = nlohmann::ordered_json;

std::string type_of(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return fmt::format("{}", v.dump());
  if (v.is_number_float()) return v.dump();
  if (v.is_string()) return v.dump();
  if (v.is_boolean()) return v.dump();
  if (v.is_array()) return fmt::format("a list of {}", v.size());
  if (v.is_object()) return "an object";
  return "null";
}

void bad(const std::string& where, const std::string& key, const std::string& expected, const json& v) {
  throw ConfigError(fmt::format("{}: {}: expected {}, got {}", where, key, expected, type_of(v)));
}

int64_t get_positive_int(const json& v, const std::string& where, const std::string& key) {
  // MMSA's files hold integers; 64.0 is accepted as 64, 64.5 is not.
  if (v.is_number_integer() || v.is_number_unsigned()) {
    const int64_t x = v.get<int64_t>();
    if (x > 0) return x;
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d > 0 && d < 1e15 && std::floor(d) == d) return static_cast<int64_t>(d);
  }
  bad(where, key, "a positive integer", v);
}

double get_number(const json& v, const std::string& where, const std::string& key, double lo, double hi,
                  bool hi_open, const char* expected) {
  if (v.is_number() && !v.is_boolean()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d >= lo && (hi_open ? d < hi : d <= hi)) return d;
  }
  bad(where, key, expected, v);
}

// Keys of MMSA's files that mean nothing to MTFN here but are not mistakes: accepted silently.
const std::set<std::string>& known_unused_keys() {
  static const std::set<std::string> keys = {
      "need_data_aligned", "need_model_aligned", "need_normalized", "featurePath", "seq_lens", "train_samples",
      "language", "missing_rate", "missing_seed", "dataset_root_dir", "model_name", "dataset_name", "KeyEval",
      "use_bert", "use_finetune", "cur_seed", "seeds"};
  return keys;
}

double get_learning_rate(const json& v, const std::string& where, const std::string& key) {
  const double lr = get_number(v, where, key, 0.0, 10.0, false, "a learning rate in (0, 10]");
  if (lr == 0) bad(where, key, "a learning rate in (0, 10]", v);
  return lr;
}

TrainMode get_train_mode(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_string()) bad(where, key, "\"regression\" or \"classification\"", v);
  try {
    return parse_mode(v.get<std::string>());
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", where, e.what()));
  }
}

}  // namespace mtfn::models
