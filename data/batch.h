// The one bridge from data/ to core/: gathers the samples of a batch from a SimsSplit into
// Tensors ready for MTFN. Not the choice of samples (data/batching.h) nor any loading rule.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "data/sims_dataset.h"

namespace mtfn::data {

// B = number of indices; T, Dt, Da, Dv as in data/sims_dataset.h. No tensor requires grad.
struct Batch {
  Tensor text;     // (B, T, Dt)
  Tensor audio;    // (B, Da), already averaged over time
  Tensor vision;   // (B, Dv), already averaged over time
  Tensor label_M;  // (B)
  Tensor label_T;  // (B), undefined when the file has no unimodal labels
  Tensor label_A;  // (B), likewise
  Tensor label_V;  // (B), likewise
  std::vector<int64_t> indices;  // the samples' positions in their split (for ids and raw text)

  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  const Tensor& label(Task task) const;
};

// Copies the rows `indices` of `split` (in that order) into new tensors of `dtype`.
// Throws std::out_of_range naming the index if one is outside the split.
Batch make_batch(const SimsSplit& split, std::span<const int64_t> indices, DType dtype = DType::F32);

}  // namespace mtfn::data
