// MMSA's configuration file (config_regression.json) and how MMSA resolves it for one model on one
// dataset: datasetCommonParams.<dataset>.<unaligned|aligned>, then <model>.commonParams, then
// <model>.datasetParams.<dataset>, later keys winning, into one flat object of MMSA's key names.
// The program carries a copy of the entries it runs (the models and datasets of models/registry.h),
// so that no file is needed. Not the keys' meaning: each model reads its own (models/<name>/config.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mtfn::models {

// MMSA's dataset names, in the order a user meets them.
const std::vector<std::string>& dataset_names();  // sims, simsv2, mosi, mosei
// ConfigError "--dataset: unknown dataset 'x' (known: ...)" unless `name` is one of them.
void check_dataset_name(const std::string& name);

// The built-in copy of config_regression.json (release 2.2.1): datasetCommonParams for every
// dataset above and the entries of every model in the registry.
const nlohmann::ordered_json& builtin_mmsa_config();

// The built-in copy of config_tune.json's entries for the same models (commonParams, debugParams).
const nlohmann::ordered_json& builtin_mmsa_tune_config();

// One model on one dataset, flat. `config` is MMSA's whole file or one model's entry
// ({"commonParams": ..., "datasetParams": ...}); a flat object (none of those keys) is returned as
// it is. ConfigError naming `where` when the file has no entry for the model, or the entry none for
// the dataset (listing what it has).
nlohmann::ordered_json resolve_mmsa_config(const nlohmann::ordered_json& config, const std::string& model,
                                           const std::string& dataset, const std::string& where, bool aligned = false);

// Reads a JSON file (comments allowed); ConfigError naming the file if it cannot be read or parsed.
nlohmann::ordered_json read_json_file(const std::string& path);

}  // namespace mtfn::models
