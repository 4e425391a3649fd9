// TFN's configuration under MMSA's key names (config_regression.json, entry tfn / sims), read from a
// flat JSON object with every value checked. Not the command-line options, nor MMSA's whole-file
// layout (the caller flattens it).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/model.h"  // TrainMode, ConfigError

namespace mtfn::models {

struct TfnConfig {
  // Sizes. feature_dims come from the data file (text, audio, video), never assumed.
  std::array<int64_t, 3> feature_dims{768, 33, 709};  // Dt, Da, Dv
  std::array<int64_t, 3> hidden_dims{128, 32, 128};   // text, audio, video
  int64_t text_out = 256;
  int64_t post_fusion_dim = 32;
  std::array<double, 4> dropouts{0.4, 0.4, 0.4, 0.4};  // audio, video, text (unused: one-layer LSTM), post_fusion
  // Training.
  int64_t batch_size = 32;
  double learning_rate = 0.0005;
  int64_t early_stop = 8;
  TrainMode train_mode = TrainMode::regression;
  int64_t num_classes = 3;

  int64_t output_dim() const { return train_mode == TrainMode::classification ? num_classes : 1; }
  // Width of the fusion vector z: (Ha+1)(Hv+1)(To+1).
  int64_t fusion_width() const { return (hidden_dims[1] + 1) * (hidden_dims[2] + 1) * (text_out + 1); }
  // Checks every value; throws ConfigError naming the key.
  void validate() const;
};

// Reads a flat object of MMSA key names into `cfg` (keys not given keep their value). An unknown
// key adds a warning "<where>: unknown key 'x' (ignored)"; a wrong type or value throws ConfigError
// "<where>: <key>: expected ..., got ...". MMSA's bookkeeping keys (need_normalized, seq_lens, ...)
// are accepted and ignored.
void apply_config_json(TfnConfig& cfg, const nlohmann::ordered_json& j, const std::string& where,
                       std::vector<std::string>& warnings);

// The configuration as a flat JSON object under MMSA's key names (results.json, model files).
nlohmann::ordered_json config_to_json(const TfnConfig& cfg);
// The inverse of config_to_json (strict: every key must be known).
TfnConfig tfn_config_from_json(const nlohmann::ordered_json& j, const std::string& where);

}  // namespace mtfn::models
