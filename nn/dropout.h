// Dropout with inverted scaling (kept values times 1/(1-p)), whose mask is a pure function of a
// key (seed, step, global row, column): reproducible whatever the thread count or the split of a
// batch over MPI processes, and recomputable by a fused kernel. Not here: PyTorch's masks.
#pragma once

#include <cmath>
#include <cstdint>

#include "nn/module.h"
#include "nn/random.h"

namespace mtfn::nn {

// Dimensions: N rows (samples, dimension 0), K columns (all other dimensions, flattened).

// Which mask a forward pass draws. Row r of the input is global row row_offset + r.
struct DropoutKey {
  uint64_t seed = 0;       // one per Dropout module, e.g. named_seed(run_seed, "post_fusion_dropout")
  uint64_t step = 0;       // a new mask each training step
  int64_t row_offset = 0;  // global index of this process's first row (0 on a single process)
};

// ---- the mask function, shared with any kernel that fuses dropout (same key, same mask).
// Element (row, col) is kept iff u < 1 - p, u uniform in [0, 1) from the top 53 bits of
// stream_bits(row_key, col), row_key = stream_bits(stream_bits(mix64(seed), step), row).
inline uint64_t dropout_row_key(uint64_t seed, uint64_t step, uint64_t row) {
  return stream_bits(stream_bits(mix64(seed), step), row);
}
// u < 1 - p  <=>  (bits >> 11) < ceil((1 - p) 2^53): an integer comparison per element.
inline uint64_t dropout_threshold(double p) {
  return static_cast<uint64_t>(std::ceil((1.0 - p) * 0x1.0p53));
}
inline bool dropout_keep_bits(uint64_t row_key, uint64_t col, uint64_t threshold) {
  return (stream_bits(row_key, col) >> 11) < threshold;
}
inline bool dropout_keep(uint64_t seed, uint64_t step, uint64_t row, uint64_t col, double p) {
  return dropout_keep_bits(dropout_row_key(seed, step, row), col, dropout_threshold(p));
}

// mask (N*K bytes, row-major): 1 kept, 0 dropped, for local rows [0, N) under `key`. Parallel.
void dropout_mask(const DropoutKey& key, double p, int64_t N, int64_t K, uint8_t* mask);

// y = x * keep / (1 - p) for x (N, ...), one op; backward recomputes the mask from the key
// (nothing cached). p = 0 returns x itself; p = 1 gives zeros.
Tensor dropout(const Tensor& x, double p, const DropoutKey& key);

// The plain loop dropout's forward is tested against: y = x * keep / (1 - p), one element at a time.
template <class S>
void dropout_reference(int64_t N, int64_t K, const S* x, double p, const DropoutKey& key, S* y);

class Dropout : public Module {
 public:
  explicit Dropout(double p, uint64_t seed = 0);

  // Training mode (p > 0): dropout(x, p, key), then key.step advances by one so that the next
  // forward draws a new mask. Eval mode or p = 0: returns x.
  Tensor forward(const Tensor& x);

  double p;
  DropoutKey key;  // settable: a trainer may pin step (resuming) and row_offset (MPI shards)
};

}  // namespace mtfn::nn
