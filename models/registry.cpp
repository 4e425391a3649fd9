#include "models/registry.h"

#include <fmt/format.h>

#include "models/mtfn/model.h"
#include "models/mtfn_attn/model.h"
#include "models/tfn/model.h"

namespace mtfn::models {

namespace {

ModelSpec mtfn_spec() {
  ModelSpec s;
  s.name = "mtfn";
  s.title = "MTFN, the multi-task tensor fusion network";
  s.needs_unimodal_labels = true;
  s.fusion_head = true;
  s.configure = [](const nlohmann::ordered_json& flat, const std::string& where, std::vector<std::string>& warnings) {
    MtfnConfig cfg;
    apply_config_json(cfg, flat, where, warnings);
    return config_to_json(cfg);
  };
  s.check = [](const nlohmann::ordered_json& config, const std::string& where) {
    config_from_json(config, where).validate();
  };
  s.build = [](const nlohmann::ordered_json& config, uint64_t seed, DType dtype) -> std::unique_ptr<Model> {
    return std::make_unique<Mtfn>(config_from_json(config, "config"), seed, dtype);
  };
  return s;
}

ModelSpec tfn_spec() {
  ModelSpec s;
  s.name = "tfn";
  s.title = "TFN, the tensor fusion network";
  s.fusion_head = true;
  s.configure = [](const nlohmann::ordered_json& flat, const std::string& where, std::vector<std::string>& warnings) {
    TfnConfig cfg;
    apply_config_json(cfg, flat, where, warnings);
    return config_to_json(cfg);
  };
  s.check = [](const nlohmann::ordered_json& config, const std::string& where) {
    tfn_config_from_json(config, where).validate();
  };
  s.build = [](const nlohmann::ordered_json& config, uint64_t seed, DType dtype) -> std::unique_ptr<Model> {
    return std::make_unique<Tfn>(tfn_config_from_json(config, "config"), seed, dtype);
  };
  return s;
}

ModelSpec mtfn_attn_spec() {
  ModelSpec s;
  s.name = "mtfn_attn";
  s.title = "MTFN with an attention inference subnetwork (not MTFN; docs/attention.md)";
  s.needs_unimodal_labels = true;
  s.configure = [](const nlohmann::ordered_json& flat, const std::string& where, std::vector<std::string>& warnings) {
    MtfnAttnConfig cfg;
    apply_config_json(cfg, flat, where, warnings);
    return config_to_json(cfg);
  };
  s.check = [](const nlohmann::ordered_json& config, const std::string& where) {
    mtfn_attn_config_from_json(config, where).validate();
  };
  s.build = [](const nlohmann::ordered_json& config, uint64_t seed, DType dtype) -> std::unique_ptr<Model> {
    return std::make_unique<MtfnAttn>(mtfn_attn_config_from_json(config, "config"), seed, dtype);
  };
  return s;
}

}  // namespace

const std::vector<ModelSpec>& model_specs() {
  static const std::vector<ModelSpec> specs = {
      mtfn_spec(),  // models/mtfn/
      tfn_spec(),   // models/tfn/
      mtfn_attn_spec(),  // models/mtfn_attn/
  };
  return specs;
}

const ModelSpec& find_model(const std::string& name) {
  std::string known;
  for (const ModelSpec& s : model_specs()) {
    if (s.name == name) return s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  throw ConfigError(fmt::format("--model: unknown model '{}' (known: {})", name, known));
}

}  // namespace mtfn::models
