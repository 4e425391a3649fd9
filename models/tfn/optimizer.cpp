// MMSA's Adam for TFN (see optimizer.h).
#include "models/tfn/optimizer.h"

namespace mtfn::models {

std::unique_ptr<optim::Adam> make_tfn_optimizer(Tfn& model, const TfnConfig& cfg) {
  std::vector<optim::ParamGroup> groups(1);
  for (const auto& [name, p] : model.named_parameters())
    if (p.impl() != model.output_range.impl() && p.impl() != model.output_shift.impl()) groups[0].params.push_back(p);
  optim::AdamOptions options;
  options.lr = cfg.learning_rate;
  return std::make_unique<optim::Adam>(std::move(groups), options);
}

}  // namespace mtfn::models
