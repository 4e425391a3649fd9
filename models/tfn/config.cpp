// Reading and checking TFN's configuration (MMSA's key names).
#include "models/tfn/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/config_values.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

void TfnConfig::validate() const {
  if (train_mode == TrainMode::classification && num_classes != 3)
    throw ConfigError(fmt::format(
        "num_classes: classification mode derives 3 classes (negative, neutral, positive) from the labels, got {}",
        num_classes));
  const int64_t width = fusion_width();
  if (width > (int64_t{1} << 31))
    throw ConfigError(fmt::format("hidden_dims/text_out: the fusion vector would have {} entries (too many)", width));
}

void apply_config_json(TfnConfig& cfg, const json& j, const std::string& where, std::vector<std::string>& warnings) {
  if (!j.is_object()) throw ConfigError(fmt::format("{}: expected a JSON object at the top, got {}", where, type_of(j)));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "feature_dims") cfg.feature_dims = get_int_list<3>(v, where, k);
    else if (k == "hidden_dims") cfg.hidden_dims = get_int_list<3>(v, where, k);
    else if (k == "text_out") cfg.text_out = get_positive_int(v, where, k);
    else if (k == "post_fusion_dim") cfg.post_fusion_dim = get_positive_int(v, where, k);
    else if (k == "dropouts") cfg.dropouts = get_prob_list<4>(v, where, k);
    else if (k == "batch_size") cfg.batch_size = get_positive_int(v, where, k);
    else if (k == "learning_rate") cfg.learning_rate = get_learning_rate(v, where, k);
    else if (k == "early_stop") cfg.early_stop = get_positive_int(v, where, k);
    else if (k == "train_mode") cfg.train_mode = get_train_mode(v, where, k);
    else if (k == "num_classes") cfg.num_classes = get_positive_int(v, where, k);
    else if (k == "KeyEval") {
      if (!v.is_string() || v.get<std::string>() != "Loss")
        bad(where, k, "\"Loss\" (MMSA's key for TFN; the only one used here)", v);
    } else if (known_unused_keys().count(k)) {
      // accepted, not used
    } else {
      warnings.push_back(fmt::format("{}: unknown key '{}' (ignored)", where, k));
    }
  }
  cfg.validate();
}

json config_to_json(const TfnConfig& c) {
  return json{{"feature_dims", c.feature_dims},
              {"hidden_dims", c.hidden_dims},
              {"text_out", c.text_out},
              {"post_fusion_dim", c.post_fusion_dim},
              {"dropouts", c.dropouts},
              {"batch_size", c.batch_size},
              {"learning_rate", c.learning_rate},
              {"early_stop", c.early_stop},
              {"train_mode", mode_name(c.train_mode)},
              {"num_classes", c.num_classes},
              {"KeyEval", "Loss"}};
}

TfnConfig tfn_config_from_json(const json& j, const std::string& where) {
  TfnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, where, warnings);
  if (!warnings.empty()) throw ConfigError(warnings.front());
  return cfg;
}

}  // namespace mtfn::models
