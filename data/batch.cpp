// make_batch: row gathers from the dataset's float32 arrays into core Tensors (float32 or float64).
// Not the shuffling or sharding of indices (data/batching.cpp).
#include "data/batch.h"

#include <stdexcept>

#include <fmt/format.h>

namespace mtfn::data {

const Tensor& Batch::label(Task task) const {
  switch (task) {
    case Task::M: return label_M;
    case Task::T: return label_T;
    case Task::A: return label_A;
    case Task::V: return label_V;
  }
  throw std::invalid_argument("Batch::label: unknown task");
}

namespace {

// rows (each `row` floats long) of src at `indices` -> a new tensor of `shape`
Tensor gather_rows(const float* src, int64_t row, std::span<const int64_t> indices, Shape shape, DType dtype) {
  Tensor out = Tensor::empty(std::move(shape), dtype);
  MTFN_DISPATCH(dtype, {
    scalar_t* dst = out.data<scalar_t>();
    for (size_t b = 0; b < indices.size(); ++b) {
      const float* from = src + indices[b] * row;
      for (int64_t k = 0; k < row; ++k) dst[static_cast<int64_t>(b) * row + k] = static_cast<scalar_t>(from[k]);
    }
  });
  return out;
}

}  // namespace

Batch make_batch(const SimsSplit& split, std::span<const int64_t> indices, DType dtype) {
  for (int64_t i : indices)
    if (i < 0 || i >= split.size)
      throw std::out_of_range(fmt::format("make_batch: index {} outside {} ({} samples)", i, split.name, split.size));
  const auto B = static_cast<int64_t>(indices.size());
  const int64_t T = split.text.shape[1], Dt = split.text.shape[2];
  const int64_t Da = split.audio.shape[1], Dv = split.vision.shape[1];
  Batch batch;
  batch.indices.assign(indices.begin(), indices.end());
  batch.text = gather_rows(split.text.data(), T * Dt, indices, {B, T, Dt}, dtype);
  batch.audio = gather_rows(split.audio.data(), Da, indices, {B, Da}, dtype);
  batch.vision = gather_rows(split.vision.data(), Dv, indices, {B, Dv}, dtype);
  Tensor* labels[4] = {&batch.label_M, &batch.label_T, &batch.label_A, &batch.label_V};
  for (Task task : kAllTasks) {
    const auto& v = split.label(task);
    if (!v.empty()) *labels[static_cast<int>(task)] = gather_rows(v.data(), 1, indices, {B}, dtype);
  }
  return batch;
}

}  // namespace mtfn::data
