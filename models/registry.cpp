#include "models/registry.h"

#include <fmt/format.h>

#include "models/mtfn/model.h"

namespace mtfn::models {

namespace {

ModelSpec mtfn_spec() {
  return {"mtfn", "MTFN, the multi-task tensor fusion network", /*needs_unimodal_labels=*/true,
          [](const nlohmann::ordered_json& flat, const std::string& where, std::vector<std::string>& warnings) {
            MtfnConfig cfg;
            apply_config_json(cfg, flat, where, warnings);
            return config_to_json(cfg);
          },
          [](const nlohmann::ordered_json& config, const std::string& where) {
            config_from_json(config, where).validate();
          },
          [](const nlohmann::ordered_json& config, uint64_t seed, DType dtype) -> std::unique_ptr<Model> {
            return std::make_unique<Mtfn>(config_from_json(config, "config"), seed, dtype);
          }};
}

}  // namespace

const std::vector<ModelSpec>& model_specs() {
  static const std::vector<ModelSpec> specs = {
      mtfn_spec(),  // models/mtfn/
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
