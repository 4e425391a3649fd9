// The models the program knows, by MMSA's names (`mtfn`, `tfn`). A new model is its folder
// models/<name>/ (implementing models/model.h) plus one line in registry.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.h"

namespace mtfn::models {

struct ModelSpec {
  std::string name;   // MMSA's name: "mtfn"
  std::string title;  // "MTFN, the multi-task tensor fusion network"
  bool needs_unimodal_labels = false;  // trains on the T, A, V labels (CH-SIMS files only)
  bool fusion_head = false;  // its Model::fusion_layer() is a fusion head that multi-process training shards
  // The whole configuration, flat under MMSA's key names: the model's own defaults with the keys of
  // `flat` applied onto them (a flat object: MMSA's file layout is resolved before, in
  // models/mmsa_config.h). Unknown keys are added to `warnings`; a wrong value throws ConfigError
  // naming `where` and the key.
  std::function<nlohmann::ordered_json(const nlohmann::ordered_json& flat, const std::string& where,
                                       std::vector<std::string>& warnings)>
      configure;
  // Checks a flat configuration (after the caller's overrides); ConfigError naming the key.
  std::function<void(const nlohmann::ordered_json& config, const std::string& where)> check;
  // The model a flat configuration describes, parameters drawn from `init_seed`.
  std::function<std::unique_ptr<Model>(const nlohmann::ordered_json& config, uint64_t init_seed, DType dtype)> build;
};

const std::vector<ModelSpec>& model_specs();
// ConfigError listing the known names if there is no such model.
const ModelSpec& find_model(const std::string& name);

}  // namespace mtfn::models
