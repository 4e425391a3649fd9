// Any model from a PyTorch checkpoint (torch.save(model.state_dict()), e.g. MMSA's `tfn-sims.pth`,
// names prefixed "Model."): which model it is, told by its weight names, and the strict reading of a
// state into a module. Used by `mtfn test` / `predict` / `convert`. Not the file format (data/pth.h)
// nor any one model's inference of its sizes (models/<name>/pth_checkpoint.h).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "data/pth.h"
#include "models/model.h"
#include "nn/module.h"

namespace mtfn::models {

// "Model." if the checkpoint holds MMSA's wrapper (any name starts with it), else "".
std::string pth_prefix(const data::PthReader& reader);

// The MMSA model whose weight names the checkpoint has: "tfn" (post_fusion_layer_1 without
// post_text_layer_1), else "mtfn" (whose reader then names what is missing).
std::string pth_model_name(const data::PthReader& reader, const std::string& prefix);

// The size `dim` of tensor prefix + name, which must have `rank` dimensions; a data::PthError naming the
// file and the tensor otherwise ("not a<n> `model` checkpoint" when it is absent). For the models'
// inference of their configuration from a checkpoint (models/<name>/pth_checkpoint.cpp).
int64_t pth_size(const data::PthReader& reader, const std::string& prefix, const std::string& name, size_t rank,
                 size_t dim, const std::string& model);

// Reads every parameter and buffer of `module` from prefix + its name, in place. Strict: every
// missing, unexpected (under the prefix) or wrongly shaped name is listed in one data::PthError.
void read_pth_state(const data::PthReader& reader, const std::string& prefix, nn::Module& module);

// The model the checkpoint holds (float32, eval mode), its configuration inferred from the shapes.
std::unique_ptr<Model> load_pth(const data::PthReader& reader);
std::unique_ptr<Model> load_pth(const std::filesystem::path& path);

}  // namespace mtfn::models
