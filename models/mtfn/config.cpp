// Reading and checking MTFN's configuration (MMSA's key names).
#include "models/mtfn/config.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mtfn::models {

using json = nlohmann::ordered_json;

namespace {

std::string type_of(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return fmt::format("{}", v.dump());
  if (v.is_number_float()) return v.dump();
  if (v.is_string()) return v.dump();
  if (v.is_boolean()) return v.dump();
  if (v.is_array()) return fmt::format("a list of {}", v.size());
  if (v.is_object()) return "an object";
  return "null";
}

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& expected, const json& v) {
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

template <size_t N>
std::array<int64_t, N> get_int_list(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_array() || v.size() != N) bad(where, key, fmt::format("a list of {} positive integers", N), v);
  std::array<int64_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = get_positive_int(v[i], where, fmt::format("{}[{}]", key, i));
  return out;
}

template <size_t N>
std::array<double, N> get_prob_list(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_array() || v.size() != N) bad(where, key, fmt::format("a list of {} probabilities in [0, 1)", N), v);
  std::array<double, N> out{};
  for (size_t i = 0; i < N; ++i)
    out[i] = get_number(v[i], where, fmt::format("{}[{}]", key, i), 0.0, 1.0, true, "a probability in [0, 1)");
  return out;
}

// Keys of MMSA's files that mean nothing to MTFN here but are not mistakes: accepted silently.
const std::set<std::string>& known_unused_keys() {
  static const std::set<std::string> keys = {
      "need_data_aligned", "need_model_aligned", "need_normalized", "featurePath", "seq_lens", "train_samples",
      "language", "missing_rate", "missing_seed", "dataset_root_dir", "model_name", "dataset_name", "KeyEval",
      "use_bert", "use_finetune", "cur_seed", "seeds"};
  return keys;
}

void apply_flat(MtfnConfig& cfg, const json& j, const std::string& where, std::vector<std::string>& warnings) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "feature_dims") cfg.feature_dims = get_int_list<3>(v, where, k);
    else if (k == "hidden_dims") cfg.hidden_dims = get_int_list<3>(v, where, k);
    else if (k == "text_out") cfg.text_out = get_positive_int(v, where, k);
    else if (k == "post_fusion_dim") cfg.post_fusion_dim = get_positive_int(v, where, k);
    else if (k == "post_text_dim") cfg.post_text_dim = get_positive_int(v, where, k);
    else if (k == "post_audio_dim") cfg.post_audio_dim = get_positive_int(v, where, k);
    else if (k == "post_video_dim") cfg.post_video_dim = get_positive_int(v, where, k);
    else if (k == "dropouts") cfg.dropouts = get_prob_list<3>(v, where, k);
    else if (k == "post_dropouts") cfg.post_dropouts = get_prob_list<4>(v, where, k);
    else if (k == "batch_size") cfg.batch_size = get_positive_int(v, where, k);
    else if (k == "learning_rate") {
      // Adam with a step above 10 only diverges; 0 trains nothing.
      cfg.learning_rate = get_number(v, where, k, 0.0, 10.0, false, "a learning rate in (0, 10]");
      if (cfg.learning_rate == 0) bad(where, k, "a learning rate in (0, 10]", v);
    }
    else if (k == "M" || k == "T" || k == "A" || k == "V") {
      const double w = get_number(v, where, k, 0.0, 1e9, false, "a loss weight >= 0");
      (k == "M" ? cfg.M : k == "T" ? cfg.T : k == "A" ? cfg.A : cfg.V) = w;
    } else if (k == "text_weight_decay")
      cfg.text_weight_decay = get_number(v, where, k, 0.0, 1e9, false, "a number >= 0");
    else if (k == "audio_weight_decay")
      cfg.audio_weight_decay = get_number(v, where, k, 0.0, 1e9, false, "a number >= 0");
    else if (k == "video_weight_decay")
      cfg.video_weight_decay = get_number(v, where, k, 0.0, 1e9, false, "a number >= 0");
    else if (k == "weight_decay")
      cfg.weight_decay = get_number(v, where, k, 0.0, 1e9, false, "a number >= 0");
    else if (k == "early_stop") cfg.early_stop = get_positive_int(v, where, k);
    else if (k == "train_mode") {
      if (!v.is_string()) bad(where, k, "\"regression\" or \"classification\"", v);
      try {
        cfg.train_mode = parse_mode(v.get<std::string>());
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}: {}", where, e.what()));
      }
    } else if (k == "num_classes") cfg.num_classes = get_positive_int(v, where, k);
    else if (k == "KeyEval") {
      if (!v.is_string() || v.get<std::string>() != "Loss")
        bad(where, k, "\"Loss\" (MMSA's key for sims; the only one MTFN uses)", v);
    } else if (known_unused_keys().count(k)) {
      // accepted, not used
    } else {
      warnings.push_back(fmt::format("{}: unknown key '{}' (ignored)", where, k));
    }
  }
}

}  // namespace

void MtfnConfig::validate() const {
  if (train_mode == TrainMode::classification && num_classes != 3)
    throw ConfigError(fmt::format(
        "num_classes: classification mode derives 3 classes (negative, neutral, positive) from the labels, got {}",
        num_classes));
  const int64_t width = fusion_width();
  if (width > (int64_t{1} << 31))
    throw ConfigError(fmt::format("hidden_dims/text_out: the fusion vector would have {} entries (too many)", width));
}

void apply_config_json(MtfnConfig& cfg, const json& j, const std::string& where, std::vector<std::string>& warnings) {
  if (!j.is_object()) throw ConfigError(fmt::format("{}: expected a JSON object at the top, got {}", where, type_of(j)));
  apply_flat(cfg, j, where, warnings);
  cfg.validate();
}

json config_to_json(const MtfnConfig& c) {
  return json{{"feature_dims", c.feature_dims},
              {"hidden_dims", c.hidden_dims},
              {"text_out", c.text_out},
              {"post_fusion_dim", c.post_fusion_dim},
              {"post_text_dim", c.post_text_dim},
              {"post_audio_dim", c.post_audio_dim},
              {"post_video_dim", c.post_video_dim},
              {"dropouts", c.dropouts},
              {"post_dropouts", c.post_dropouts},
              {"batch_size", c.batch_size},
              {"learning_rate", c.learning_rate},
              {"M", c.M},
              {"T", c.T},
              {"A", c.A},
              {"V", c.V},
              {"text_weight_decay", c.text_weight_decay},
              {"audio_weight_decay", c.audio_weight_decay},
              {"video_weight_decay", c.video_weight_decay},
              {"weight_decay", c.weight_decay},
              {"early_stop", c.early_stop},
              {"train_mode", mode_name(c.train_mode)},
              {"num_classes", c.num_classes},
              {"KeyEval", "Loss"}};
}

MtfnConfig config_from_json(const json& j, const std::string& where) {
  MtfnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, where, warnings);
  if (!warnings.empty()) throw ConfigError(warnings.front());
  return cfg;
}

}  // namespace mtfn::models
