#include "training/model_file.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "nn/module.h"
#include "nn/safetensors.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;

void save_model_file(const std::filesystem::path& path, const models::Model& model, const std::string& extra_json,
                     const nn::ColumnShards& shards, const nn::WriteGroup& group) {
  json meta = {{"format", "mtfn-model/1"}, {"model", model.name()}, {"config", model.config_json()}};
  if (model.dtype() != DType::F32) meta["dtype"] = dtype_name(model.dtype());  // absent: float32
  nn::write_safetensors(path.string(), model.module().state_dict(), {{"mtfn", meta.dump()}, {"extra", extra_json}},
                        shards, group);
}

void save_model_file(const std::filesystem::path& path, const models::Model& model, const std::string& extra_json) {
  save_model_file(path, model, extra_json, {}, {});
}

std::unique_ptr<models::Model> load_model_file(const std::filesystem::path& path) {
  const nn::SafetensorsIndex idx = nn::read_safetensors_index(path.string());
  // train's model files (metadata "mtfn", no prefix), training checkpoints ("trainer", "model."),
  // MMSA-named files ("Model.").
  auto it = idx.metadata.find("mtfn");
  std::string prefix;
  if (it == idx.metadata.end()) {
    it = idx.metadata.find("trainer");
    prefix = "model.";
  }
  if (it == idx.metadata.end())
    throw InputError(
        fmt::format("{}: not an mtfn model file or checkpoint (no 'mtfn' or 'trainer' metadata)", path.string()));
  json meta;
  try {
    meta = json::parse(it->second);
  } catch (const json::exception&) {
    throw InputError(fmt::format("{}: unreadable metadata", path.string()));
  }
  if (!meta.is_object() || !meta.contains("config"))
    throw InputError(fmt::format("{}: metadata without a config", path.string()));
  const std::string name = meta.contains("model") && meta["model"].is_string() ? meta["model"].get<std::string>() : "mtfn";
  const models::ModelSpec& spec = models::find_model(name);
  spec.check(meta.at("config"), path.string());
  if (prefix.empty() && !idx.entries.empty() && idx.entries.front().name.starts_with("Model.")) prefix = "Model.";
  // A float64 run's model files and checkpoints say so ("dtype") and are read back in float64.
  const json dtype_value = meta.value("dtype", json("float32"));  // absent: a float32 file
  const std::string dtype = dtype_value.is_string() ? dtype_value.get<std::string>() : dtype_value.dump();
  if (dtype != "float32" && dtype != "float64")
    throw InputError(fmt::format("{}: metadata dtype '{}' (expected float32 or float64)", path.string(), dtype));
  std::unique_ptr<models::Model> model = spec.build(meta.at("config"), 0, dtype == "float64" ? DType::F64 : DType::F32);
  nn::load_module(idx, model->module(), prefix, /*allow_extra=*/!prefix.empty());
  return model;
}

}  // namespace mtfn::training
