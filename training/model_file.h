// The model file `train` writes (DIR/models/<model>-<seed>.safetensors): the state_dict under
// PyTorch's names plus metadata {"mtfn": {"format": "mtfn-model/1", "model": name, "config": ...}}.
// Reading also accepts training checkpoints (metadata "trainer", tensors under "model.") and
// MMSA-named files ("Model."). Not PyTorch's .pth files (models/mtfn/pth_checkpoint.h).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "models/model.h"
#include "nn/safetensors.h"

namespace mtfn::training {

void save_model_file(const std::filesystem::path& path, const models::Model& model, const std::string& extra_json = "{}");
// The same written by several processes together: `shards` names the entries that are this process's
// columns (a sharded fusion head, training/data_parallel.h), `group` how they write (nn/safetensors.h).
void save_model_file(const std::filesystem::path& path, const models::Model& model, const std::string& extra_json,
                     const nn::ColumnShards& shards, const nn::WriteGroup& group);
// Builds the model a model file describes (models/registry.h; "mtfn" when the file names none)
// and reads its state straight into it. InputError naming the file if it is not one.
std::unique_ptr<models::Model> load_model_file(const std::filesystem::path& path);

}  // namespace mtfn::training
