// mtfn_attn's Adam: MTFN's five parameter groups (models/mtfn/optimizer.h) over this model's parameters:
// text_subnet (text_weight_decay), audio_subnet (audio_weight_decay), video_subnet (video_weight_decay),
// {output_range, output_shift} with lr 0, and every other parameter (tokens, attention, LayerNorm, heads)
// with weight decay 0. Not the schedule (there is none: MMSA's constant learning rate).
#pragma once

#include <memory>

#include "models/mtfn_attn/config.h"
#include "models/mtfn_attn/model.h"
#include "optim/adam.h"

namespace mtfn::models {

std::unique_ptr<optim::Adam> make_mtfn_attn_optimizer(MtfnAttn& model, const MtfnAttnConfig& cfg);

}  // namespace mtfn::models
