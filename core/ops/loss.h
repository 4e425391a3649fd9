// Losses, each a mean over the batch: l1_loss, mse_loss (pred and target of one shape),
// cross_entropy (logits (N, C) and class indices; log-softmax computed stably).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mtfn {

Tensor l1_loss(const Tensor& pred, const Tensor& target);
Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& target);

}  // namespace mtfn
