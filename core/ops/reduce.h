// Reductions: sum and mean over given dimensions or over everything, and the two
// helpers that move gradients across broadcasting (sum_to, expand_to).
// Sums accumulate in double over a fixed order, so results never depend on thread count.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mtfn {

// Sum over `dims` (negative counts from the end; empty = every dimension).
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);

// Not recorded: g summed down to `shape` (the inverse of broadcasting `shape` up to g's shape).
Tensor sum_to(const Tensor& g, const Shape& shape);
// Not recorded: x broadcast up to `shape`, materialised.
Tensor expand_to(const Tensor& x, const Shape& shape);

}  // namespace mtfn
