// MTFN from a PyTorch checkpoint, e.g. MMSA's `mtfn-sims.pth` (torch.save(model.state_dict()),
// names prefixed "Model."): the configuration inferred from the weight shapes, and the state read
// straight into the model's tensors. Not the file format (data/pth.h) nor `mtfn convert`
// (convert_command.cpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "data/pth.h"
#include "models/mtfn/config.h"
#include "models/mtfn/model.h"
#include "models/pth.h"  // pth_prefix, read_pth_state

namespace mtfn::models {

// The sizes the tensors imply; everything else keeps MMSA's sims defaults:
//   feature_dims  text_subnet.rnn.weight_ih_l0 (4Ht, Dt), audio_subnet.norm.weight (Da),
//                 video_subnet.norm.weight (Dv)
//   hidden_dims   text_subnet.rnn.weight_hh_l0 (4Ht, Ht), audio/video_subnet.linear_1.weight (H, D)
//   text_out      text_subnet.linear_1.weight (To, Ht)
//   post_*_dim    post_{fusion,text,audio,video}_layer_1.weight (P, in)
//   mode          post_fusion_layer_3.weight (O, P): O == 1 regression, else classification, num_classes O
// Throws data::PthError naming the file and the first tensor that is missing or of the wrong rank.
MtfnConfig infer_mtfn_config(const data::PthReader& reader, const std::string& prefix);

// Builds the model infer_mtfn_config describes (float32) and reads every parameter and buffer into
// it. Strict: every missing, unexpected or wrongly shaped name is listed in one data::PthError.
std::unique_ptr<Mtfn> load_pth_model(const data::PthReader& reader);
std::unique_ptr<Mtfn> load_pth_model(const std::filesystem::path& path);

}  // namespace mtfn::models
