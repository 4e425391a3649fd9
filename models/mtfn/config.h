// MTFN's configuration under MMSA's key names (config_regression.json, entry mtfn / sims), read
// from a flat JSON object, with every value checked.
// Not the command-line options (they override a few of these in train_command.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/model.h"  // TrainMode, ConfigError

namespace mtfn::models {

struct MtfnConfig {
  // Sizes. feature_dims come from the data file (text, audio, video), never assumed.
  std::array<int64_t, 3> feature_dims{768, 33, 709};  // Dt, Da, Dv
  std::array<int64_t, 3> hidden_dims{256, 32, 256};   // text, audio, video
  int64_t text_out = 256;
  int64_t post_fusion_dim = 64, post_text_dim = 64, post_audio_dim = 4, post_video_dim = 8;
  std::array<double, 3> dropouts{0.2, 0.2, 0.2};             // audio, video, text (text unused: one-layer LSTM)
  std::array<double, 4> post_dropouts{0.2, 0.2, 0.2, 0.2};   // text head, audio head, video head, fusion head
  // Training.
  int64_t batch_size = 64;
  double learning_rate = 0.005;
  double M = 0.6, T = 0.4, A = 0.0, V = 1.0;  // loss weight of each task
  double text_weight_decay = 1e-3, audio_weight_decay = 1e-4, video_weight_decay = 1e-5;
  double weight_decay = 0.005;  // in MMSA's config; not used by MMSA's MTFN trainer (kept for the record)
  int64_t early_stop = 8;
  TrainMode train_mode = TrainMode::regression;
  int64_t num_classes = 3;

  int64_t output_dim() const { return train_mode == TrainMode::classification ? num_classes : 1; }
  // Width of the fusion vector z: (Ha+1)(Hv+1)(To+1).
  int64_t fusion_width() const { return (hidden_dims[1] + 1) * (hidden_dims[2] + 1) * (text_out + 1); }
  double task_weight(int task) const { return task == 0 ? M : task == 1 ? T : task == 2 ? A : V; }
  // Checks every value; throws ConfigError naming the key.
  void validate() const;
};

// Reads a flat object of MMSA's key names into `cfg` (keys not given keep their value; MMSA's file
// layout is resolved into such an object by models/mmsa_config.h). An unknown key adds a warning
// "<where>: unknown key 'x' (ignored)"; a wrong type or value throws ConfigError
// "<where>: <key>: expected ..., got ...". `where` is the file name for messages.
void apply_config_json(MtfnConfig& cfg, const nlohmann::ordered_json& j, const std::string& where,
                       std::vector<std::string>& warnings);

// The configuration as a flat JSON object under MMSA's key names (for results.json, checkpoints).
nlohmann::ordered_json config_to_json(const MtfnConfig& cfg);
// The inverse of config_to_json (strict: every key of it must be known).
MtfnConfig config_from_json(const nlohmann::ordered_json& j, const std::string& where);

}  // namespace mtfn::models
