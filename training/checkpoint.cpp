#include "training/checkpoint.h"

#include <fmt/format.h>

#include "core/errors.h"

namespace mtfn::training {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

json SeedState::to_json() const {
  json h = json::array();
  for (const EpochRecord& e : history) {
    SeedResult one;
    one.epochs = {e};
    h.push_back(seed_to_json(one)["epochs"][0]);
  }
  return {{"epoch", epoch}, {"step", step}, {"best_valid", best_valid}, {"best_epoch", best_epoch}, {"history", h}};
}

SeedState SeedState::from_json(const json& j) {
  SeedState s;
  s.epoch = j.at("epoch").get<int64_t>();
  s.step = j.at("step").get<uint64_t>();
  s.best_valid = j.at("best_valid").get<double>();
  s.best_epoch = j.at("best_epoch").get<int64_t>();
  json wrapped = {{"seed", 0}, {"best_epoch", 0}, {"test", json::object()}, {"epochs", j.at("history")}};
  s.history = seed_from_json(wrapped).epochs;
  return s;
}

void save_checkpoint(const fs::path& path, const models::Model& model, const optim::Optimizer& opt, const SeedState& s,
                     uint64_t seed, const DataParallel& dp) {
  nn::TensorDict all;
  all.insert_all(model.module().state_dict(), "model.");
  all.insert_all(opt.state_dict(), "optim.");
  json meta = {{"format", "mtfn-checkpoint/1"},
               {"seed", seed},
               {"model", model.name()},
               {"config", model.config_json()},
               {"state", s.to_json()}};
  if (model.dtype() != DType::F32) meta["dtype"] = dtype_name(model.dtype());  // absent: float32 (model_file.h)
  std::vector<std::string> names;
  for (const nn::NamedTensor& e : all) names.push_back(e.name);
  nn::write_safetensors(path.string(), all, {{"trainer", meta.dump()}}, dp.file_shards(names, "model.", &opt, "optim."),
                        dp.write_group());
}

SeedState load_checkpoint(const fs::path& path, models::Model& model, optim::Optimizer& opt, uint64_t seed,
                          const DataParallel& dp) {
  const nn::SafetensorsIndex idx = nn::read_safetensors_index(path.string());
  auto it = idx.metadata.find("trainer");
  if (it == idx.metadata.end()) throw InputError(fmt::format("{}: not an mtfn checkpoint", path.string()));
  const json meta = json::parse(it->second);
  if (meta.at("seed").get<uint64_t>() != seed)
    throw InputError(fmt::format("{}: checkpoint of seed {}, expected {}", path.string(),
                                 meta.at("seed").get<uint64_t>(), seed));
  const nn::ColumnShards shards = dp.file_shards(entry_names(idx), "model.", &opt, "optim.");
  nn::load_module(idx, model.module(), "model.", true, shards);
  opt.load_state_dict(nn::read_entries(idx, "optim.", shards));
  return SeedState::from_json(meta.at("state"));
}

int64_t checkpoint_epoch(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return -1;
  try {
    const nn::SafetensorsIndex idx = nn::read_safetensors_index(path.string());
    auto it = idx.metadata.find("trainer");
    if (it == idx.metadata.end()) return -1;
    return json::parse(it->second).at("state").at("epoch").get<int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

void link_best(const fs::path& last, const fs::path& best) {
  const fs::path tmp = best.string() + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(last, tmp, ec);
  if (ec) fs::copy_file(last, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, best);
}

std::vector<std::string> entry_names(const nn::SafetensorsIndex& idx) {
  std::vector<std::string> names;
  for (const nn::SafetensorsEntry& e : idx.entries) names.push_back(e.name);
  return names;
}

}  // namespace mtfn::training
