// mtfn_attn's Adam parameter groups (see optimizer.h).
#include "models/mtfn_attn/optimizer.h"

#include <set>

namespace mtfn::models {

std::unique_ptr<optim::Adam> make_mtfn_attn_optimizer(MtfnAttn& model, const MtfnAttnConfig& cfg) {
  std::vector<optim::ParamGroup> groups(5);
  groups[0].params = model.text_subnet->parameters();
  groups[0].weight_decay = cfg.mtfn.text_weight_decay;
  groups[1].params = model.audio_subnet->parameters();
  groups[1].weight_decay = cfg.mtfn.audio_weight_decay;
  groups[2].params = model.video_subnet->parameters();
  groups[2].weight_decay = cfg.mtfn.video_weight_decay;
  groups[3].params = {model.output_range, model.output_shift};
  groups[3].lr = 0.0;
  std::set<const void*> taken;
  for (int g = 0; g < 4; ++g)
    for (const Tensor& p : groups[g].params) taken.insert(p.impl());
  for (const auto& [name, p] : model.named_parameters())
    if (!taken.count(p.impl())) groups[4].params.push_back(p);
  optim::AdamOptions options;
  options.lr = cfg.mtfn.learning_rate;
  return std::make_unique<optim::Adam>(std::move(groups), options);
}

}  // namespace mtfn::models
