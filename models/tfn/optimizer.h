// MMSA's Adam for TFN (trains/singleTask/TFN.py): Adam(list(model.parameters())[2:], lr=learning_rate),
// one group over every parameter but output_range and output_shift, betas (0.9, 0.999), eps 1e-8,
// no weight decay. torch-exact (optim/adam.h).
#pragma once

#include <memory>

#include "models/tfn/config.h"
#include "models/tfn/model.h"
#include "optim/adam.h"

namespace mtfn::models {

std::unique_ptr<optim::Adam> make_tfn_optimizer(Tfn& model, const TfnConfig& cfg);

}  // namespace mtfn::models
