// Reading and checking MTFN's configuration (MMSA's key names).
#include "models/mtfn/config.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/config_values.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

namespace {

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
    else if (k == "learning_rate") cfg.learning_rate = get_learning_rate(v, where, k);
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
    else if (k == "train_mode") cfg.train_mode = get_train_mode(v, where, k);
    else if (k == "num_classes") cfg.num_classes = get_positive_int(v, where, k);
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
