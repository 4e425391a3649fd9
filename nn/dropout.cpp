// Dropout's mask filling, the op (forward next to backward) and the module.
//
// Dimensions: N rows, K columns (everything after dimension 0).
#include "nn/dropout.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/parallel.h"

namespace mtfn::nn {

namespace {

// fn(row_key, k0, k1, i0) for every row segment of an (N,K) array that a parallel chunk
// covers: columns [k0, k1) of one row, whose first element has flat index i0. The inner loops
// over a segment have a fixed row key and no branches, so they vectorise.
template <class Fn>
void for_each_row_segment(const DropoutKey& key, int64_t N, int64_t K, Fn fn) {
  if (K == 0) return;
  parallel_for(N * K, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1;) {
      const int64_t r = i / K, k0 = i % K, k1 = std::min(K, k0 + (i1 - i));
      fn(dropout_row_key(key.seed, key.step, static_cast<uint64_t>(key.row_offset + r)), k0, k1, i);
      i += k1 - k0;
    }
  });
}

void check_p(double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("dropout: probability {} not in [0, 1]", p));
}

// out = in * keep * scale (the same map forward and backward: y = x * m,  dL/dx = dL/dy * m).
template <class S>
void apply_mask(const DropoutKey& key, double p, int64_t N, int64_t K, const S* in, S* out) {
  const uint64_t threshold = dropout_threshold(p);
  const S scale = static_cast<S>(1.0 / (1.0 - p));
  for_each_row_segment(key, N, K, [&](uint64_t row_key, int64_t k0, int64_t k1, int64_t i0) {
    const S* x = in + i0 - k0;
    S* y = out + i0 - k0;
    for (int64_t k = k0; k < k1; ++k)
      y[k] = dropout_keep_bits(row_key, static_cast<uint64_t>(k), threshold) ? x[k] * scale : S(0);
  });
}

}  // namespace

void dropout_mask(const DropoutKey& key, double p, int64_t N, int64_t K, uint8_t* mask) {
  check_p(p);
  const uint64_t threshold = dropout_threshold(p);
  for_each_row_segment(key, N, K, [&](uint64_t row_key, int64_t k0, int64_t k1, int64_t i0) {
    uint8_t* m = mask + i0 - k0;
    for (int64_t k = k0; k < k1; ++k) m[k] = dropout_keep_bits(row_key, static_cast<uint64_t>(k), threshold) ? 1 : 0;
  });
}

// ---- dropout: y = x * m,  m = keep / (1 - p);  dL/dx = dL/dy * m (the mask recomputed from the key)
Tensor dropout(const Tensor& x, double p, const DropoutKey& key) {
  check_p(p);
  if (p == 0.0) return x;
  if (x.dim() < 1) throw Error(fmt::format("dropout: expected at least one dimension, got {}", x.describe()));
  const int64_t N = x.size(0), K = N ? x.numel() / N : 0;
  if (p == 1.0) {  // everything dropped: y = 0, dL/dx = 0
    Tensor y = Tensor::zeros(x.shape(), x.dtype());
    return record(y, "dropout", {x}, [x](const Tensor& gy) { accumulate_grad(x, Tensor::zeros(gy.shape(), gy.dtype())); });
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (N, ...)
  MTFN_DISPATCH(x.dtype(), apply_mask(key, p, N, K, x.data<scalar_t>(), y.data<scalar_t>()));
  return record(y, "dropout", {x}, [x, p, key, N, K](const Tensor& gy) {
    MTFN_DISPATCH(gy.dtype(), {
      Tensor gx = Tensor::empty(gy.shape(), gy.dtype());
      apply_mask(key, p, N, K, gy.data<scalar_t>(), gx.data<scalar_t>());
      accumulate_grad(x, gx);
    });
  });
}

template <class S>
void dropout_reference(int64_t N, int64_t K, const S* x, double p, const DropoutKey& key, S* y) {
  for (int64_t r = 0; r < N; ++r)
    for (int64_t k = 0; k < K; ++k) {
      const bool keep = dropout_keep(key.seed, key.step, static_cast<uint64_t>(key.row_offset + r),
                                     static_cast<uint64_t>(k), p);
      y[r * K + k] = keep ? static_cast<S>(x[r * K + k] * static_cast<S>(1.0 / (1.0 - p))) : S(0);
    }
}
template void dropout_reference<float>(int64_t, int64_t, const float*, double, const DropoutKey&, float*);
template void dropout_reference<double>(int64_t, int64_t, const double*, double, const DropoutKey&, double*);

// ---- the module
Dropout::Dropout(double p_, uint64_t seed) : Module("Dropout"), p(p_) {
  check_p(p);
  key.seed = seed;
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  Tensor y = dropout(x, p, key);
  ++key.step;
  return y;
}

}  // namespace mtfn::nn
