// MMSA's Adam parameter groups for MTFN (see optimizer.h).
#include "models/mtfn/optimizer.h"

#include <set>

namespace mtfn::models {

std::unique_ptr<MtfnOptimizer> make_mtfn_optimizer(Mtfn& model, const MtfnConfig& cfg) {
  return make_mtfn_groups_optimizer(model, *model.text_subnet, *model.audio_subnet, *model.video_subnet,
                                    model.output_range, model.output_shift, cfg);
}

std::unique_ptr<MtfnOptimizer> make_mtfn_groups_optimizer(const nn::Module& model, const nn::Module& text_subnet,
                                                          const nn::Module& audio_subnet, const nn::Module& video_subnet,
                                                          const Tensor& output_range, const Tensor& output_shift,
                                                          const MtfnConfig& cfg) {
  std::vector<optim::ParamGroup> groups(5);
  groups[0].params = text_subnet.parameters();
  groups[0].weight_decay = cfg.text_weight_decay;
  groups[1].params = audio_subnet.parameters();
  groups[1].weight_decay = cfg.audio_weight_decay;
  groups[2].params = video_subnet.parameters();
  groups[2].weight_decay = cfg.video_weight_decay;
  groups[3].params = {output_range, output_shift};
  groups[3].lr = 0.0;
  std::set<const void*> taken;
  for (int g = 0; g < 4; ++g)
    for (const Tensor& p : groups[g].params) taken.insert(p.impl());
  for (const auto& [name, p] : model.named_parameters())
    if (!taken.count(p.impl())) groups[4].params.push_back(p);
  optim::AdamOptions options;
  options.lr = cfg.learning_rate;
  return std::make_unique<MtfnOptimizer>(std::move(groups), options);
}

}  // namespace mtfn::models
