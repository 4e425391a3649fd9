// TFN from a PyTorch checkpoint, e.g. MMSA's `tfn-sims.pth` (names prefixed "Model."): the
// configuration inferred from the weight shapes, the state read straight into the model's tensors.
// Not the choice between models (models/pth.h) nor the file format (data/pth.h).
#pragma once

#include <memory>
#include <string>

#include "data/pth.h"
#include "models/pth.h"
#include "models/tfn/config.h"
#include "models/tfn/model.h"

namespace mtfn::models {

// The sizes the tensors imply; everything else keeps MMSA's tfn/sims defaults:
//   feature_dims     text_subnet.rnn.weight_ih_l0 (4Ht, Dt), audio/video_subnet.norm.weight (Da), (Dv)
//   hidden_dims      text_subnet.rnn.weight_hh_l0 (4Ht, Ht), audio/video_subnet.linear_1.weight (H, D)
//   text_out         text_subnet.linear_1.weight (To, Ht)
//   post_fusion_dim  post_fusion_layer_1.weight (P, F)
//   mode             post_fusion_layer_3.weight (O, P): O == 1 regression, else classification with O classes
// Throws data::PthError naming the file and the first tensor that is missing or of the wrong rank.
TfnConfig infer_tfn_config(const data::PthReader& reader, const std::string& prefix);

// Builds the model infer_tfn_config describes (float32, eval mode) and reads its state (strict).
std::unique_ptr<Tfn> load_tfn_pth(const data::PthReader& reader);

}  // namespace mtfn::models
