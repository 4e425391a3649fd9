#include "training/run_config.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "models/mmsa_config.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;

std::string infer_dataset(const data::SimsDataset& ds, std::string* why) {
  std::string name, reason;
  if (ds.has_label(data::Task::T)) {
    name = ds.train.size > 2000 ? "simsv2" : "sims";
    reason = fmt::format("unimodal labels and {} training samples (CH-SIMS has 1368, SIMSv2 2722)", ds.train.size);
  } else if (ds.audio_dim == 5 && ds.vision_dim == 20) {
    name = "mosi";
    reason = "no unimodal labels, audio 5 and vision 20 features (MOSI's)";
  } else if (ds.audio_dim == 74 && ds.vision_dim == 35) {
    name = "mosei";
    reason = "no unimodal labels, audio 74 and vision 35 features (MOSEI's)";
  } else {
    name = ds.train.size > 5000 ? "mosei" : "mosi";
    reason = fmt::format("no unimodal labels and {} training samples (MOSI has 1284, MOSEI 16326)", ds.train.size);
  }
  if (why) *why = reason;
  return name;
}

namespace {

// MMSA's resolution, with need_data_aligned (from the model's entry) picking the aligned dataset entry.
json resolve_aligned_as_asked(const json& file, const std::string& model, const std::string& dataset,
                              const std::string& where) {
  const json unaligned = models::resolve_mmsa_config(file, model, dataset, where);
  if (!unaligned.value("need_data_aligned", false)) return unaligned;
  return models::resolve_mmsa_config(file, model, dataset, where, /*aligned=*/true);
}

}  // namespace

void check_mmsa_switches(const json& flat, const std::string& where) {
  auto is = [&](const char* key, const json& value) { return flat.contains(key) && flat[key] == value; };
  auto refuse = [&](const char* key, const std::string& why) {
    throw models::ConfigError(fmt::format("{}: {}: {} ({})", where, key, flat[key].dump(), why));
  };
  if (flat.contains("KeyEval") && !is("KeyEval", "Loss"))
    refuse("KeyEval", "MMSA then keeps the epoch that maximises that metric; only \"Loss\", MMSA's choice for these "
                      "models, is supported");
  if (is("use_bert", true))
    refuse("use_bert", "MMSA then reads text_bert and fine-tunes BERT; these models read the text features");
  if (is("need_normalized", false))
    refuse("need_normalized", "MMSA then keeps the audio and vision sequences; the tensor fusion models average them "
                              "over time (MMSA's true)");
  if (is("need_model_aligned", true))
    refuse("need_model_aligned", "MMSA aligns the modalities inside models that do so; MTFN and TFN do not");
}

std::string data_file_from_config(const std::string& config_file, const std::string& model, const std::string& dataset) {
  const json file = models::read_json_file(config_file);
  const json flat = resolve_aligned_as_asked(file, model, dataset, config_file);
  if (!flat.contains("featurePath")) return "";
  if (!flat["featurePath"].is_string())
    throw models::ConfigError(fmt::format("{}: featurePath: expected a path, got {}", config_file, flat["featurePath"].dump()));
  std::filesystem::path path = flat["featurePath"].get<std::string>();
  if (file.contains("datasetCommonParams") && file["datasetCommonParams"].contains("dataset_root_dir")) {
    const json& root = file["datasetCommonParams"]["dataset_root_dir"];
    if (!root.is_string())
      throw models::ConfigError(fmt::format("{}: dataset_root_dir: expected a path, got {}", config_file, root.dump()));
    path = std::filesystem::path(root.get<std::string>()) / path;
  }
  return path.string();
}

MetricKind metric_kind_of_dataset(const std::string& dataset) {
  return dataset.find("sims") != std::string::npos ? MetricKind::sims : MetricKind::mosi;
}

RunConfig resolve_run(const std::string& model, const std::string& dataset, const std::string& config_file,
                      const data::SimsDataset& ds) {
  RunConfig r;
  r.spec = &models::find_model(model);
  if (dataset.empty()) {
    std::string why;
    r.dataset = infer_dataset(ds, &why);
    r.inferred = fmt::format("--dataset not given: the data looks like {} ({}); give --dataset to choose", r.dataset, why);
  } else {
    models::check_dataset_name(dataset);
    r.dataset = dataset;
  }
  if (r.spec->needs_unimodal_labels && !ds.has_label(data::Task::T))
    throw models::ConfigError(fmt::format(
        "{} trains on the unimodal labels (T, A, V) of CH-SIMS files, which this {} file does not have: use --model tfn",
        model, r.dataset));
  json flat;
  try {
    flat = models::resolve_mmsa_config(models::builtin_mmsa_config(), model, r.dataset, "built-in MMSA config");
  } catch (const models::ConfigError&) {
    throw models::ConfigError(fmt::format("MMSA has no configuration of {} for {}: give --config with one", model, r.dataset));
  }
  std::string where = "built-in MMSA config";
  const json data_dims = {ds.text_dim, ds.audio_dim, ds.vision_dim};
  if (!config_file.empty()) {
    const json file = resolve_aligned_as_asked(models::read_json_file(config_file), model, r.dataset, config_file);
    for (auto it = file.begin(); it != file.end(); ++it) flat[it.key()] = it.value();
    where = config_file;
    // MMSA takes the feature widths from the data file, whatever the config says.
    if (file.contains("feature_dims") && file["feature_dims"] != data_dims)
      r.warnings.push_back(fmt::format("{}: feature_dims {} differ from the data's {}; using the data's", config_file,
                                       file["feature_dims"].dump(), data_dims.dump()));
  }
  flat["feature_dims"] = data_dims;
  check_mmsa_switches(flat, where);
  r.config = r.spec->configure(flat, where, r.warnings);
  return r;
}

}  // namespace mtfn::training
