// MMSA's Adam for MTFN (trains/multiTask/MTFN.py; docs/reference-files.md): one torch-exact Adam
// (optim/adam.h), lr = learning_rate, five parameter groups in MMSA's order:
//   text_subnet (text_weight_decay), audio_subnet (audio_weight_decay), video_subnet
//   (video_weight_decay), {output_range, output_shift} with lr 0 (frozen: never stepped),
//   every other parameter (the post_* layers) with weight decay 0.
// The config's `weight_decay` is not used, as in MMSA.
#pragma once

#include <memory>

#include "models/mtfn/config.h"
#include "models/mtfn/model.h"
#include "optim/adam.h"

namespace mtfn::models {

using MtfnOptimizer = optim::Adam;

std::unique_ptr<MtfnOptimizer> make_mtfn_optimizer(Mtfn& model, const MtfnConfig& cfg);

// The same groups for any model built like MTFN (models/mtfn_attn/): its three subnets, its frozen
// output range and shift, and every other parameter of `model`; weight decays and lr from `cfg`.
std::unique_ptr<MtfnOptimizer> make_mtfn_groups_optimizer(const nn::Module& model, const nn::Module& text_subnet,
                                                          const nn::Module& audio_subnet, const nn::Module& video_subnet,
                                                          const Tensor& output_range, const Tensor& output_shift,
                                                          const MtfnConfig& cfg);

}  // namespace mtfn::models
