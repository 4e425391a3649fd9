// Any model from a PyTorch checkpoint (see pth.h).
#include "models/pth.h"

#include <set>

#include <fmt/format.h>

#include "models/mtfn/pth_checkpoint.h"
#include "models/tfn/pth_checkpoint.h"

namespace mtfn::models {

std::string pth_prefix(const data::PthReader& reader) {
  for (const data::PthEntry& e : reader.entries())
    if (e.name.starts_with("Model.")) return "Model.";
  return "";
}

std::string pth_model_name(const data::PthReader& reader, const std::string& prefix) {
  if (reader.find(prefix + "post_fusion_layer_1.weight") && !reader.find(prefix + "post_text_layer_1.weight"))
    return "tfn";
  return "mtfn";
}

int64_t pth_size(const data::PthReader& reader, const std::string& prefix, const std::string& name, size_t rank,
                 size_t dim, const std::string& model) {
  const data::PthEntry* e = reader.find(prefix + name);
  if (!e)
    throw data::PthError(fmt::format("{}: no tensor '{}{}': not {} {} checkpoint (MMSA's names expected)",
                                     reader.source_name(), prefix, name, model == "MTFN" ? "an" : "a", model));
  if (e->shape.size() != rank)
    throw data::PthError(fmt::format("{}: '{}{}' has shape {}, expected {} dimensions", reader.source_name(), prefix,
                                     name, shape_str(e->shape), rank));
  return e->shape[dim];
}

void read_pth_state(const data::PthReader& reader, const std::string& prefix, nn::Module& module) {
  const nn::StateDict state = module.state_dict();
  std::string problems;
  auto note = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  std::set<std::string> wanted;
  for (const nn::NamedTensor& t : state) {
    wanted.insert(prefix + t.name);
    const data::PthEntry* e = reader.find(prefix + t.name);
    if (!e) note(fmt::format("missing '{}{}'", prefix, t.name));
    else if (e->shape != t.tensor.shape())
      note(fmt::format("'{}' has shape {} in the file, {} in the model", e->name, shape_str(e->shape),
                       shape_str(t.tensor.shape())));
  }
  for (const data::PthEntry& e : reader.entries())
    if (e.name.starts_with(prefix) && !wanted.count(e.name)) note(fmt::format("unexpected '{}'", e.name));
  if (!problems.empty()) throw data::PthError(fmt::format("{}: {}", reader.source_name(), problems));
  for (const nn::NamedTensor& t : state) {
    Tensor dst = t.tensor;  // shares the module's storage: read in place
    reader.read_into(*reader.find(prefix + t.name), dst);
  }
}

std::unique_ptr<Model> load_pth(const data::PthReader& reader) {
  if (pth_model_name(reader, pth_prefix(reader)) == "tfn") return load_tfn_pth(reader);
  return load_pth_model(reader);
}

std::unique_ptr<Model> load_pth(const std::filesystem::path& path) { return load_pth(data::PthReader(path)); }

}  // namespace mtfn::models
