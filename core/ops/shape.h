// Shape ops: reshape (a view), transpose, concat and slice along a dimension (copies).
// Their backward passes move gradients back to where the values came from.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mtfn {

Tensor reshape(const Tensor& x, Shape shape);  // one dimension may be -1
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);  // [start, end)

}  // namespace mtfn
