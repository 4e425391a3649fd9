// The fused fusion-head layer: forward next to backward, then the plain loop. Shapes as in fusion_linear.h.
//
// With zd = dropout(z) = z * m (m_c = keep_c / (1 - p)) and y = zd W^T + b, per column block c of z:
//   forward      y      += zd[:, c] W[:, c]^T                  (B,N)   a GEMM per block
//   backward     dL/dW[:, c] += g^T zd[:, c]                  (N,w)   zd rebuilt, never stored
//                dL/dzd[:, c] = g W[:, c]                     (B,w)   never stored either
//                dL/dz = dL/dzd * m, reduced at once into dL/da1, dL/dv1, dL/dt1 (core/ops/fusion.cpp):
//                  s_ij = sum_k dL/dz_ijk t1_k,  dL/da1_i += s_ij v1_j,  dL/dv1_j += s_ij a1_i,
//                  dL/dt1_k += a1_i sum_j v1_j dL/dz_ijk
// with g = dL/dy (B,N). A block is audio index i and video indices [j0, j1): kVideoBlock (T+1) columns.
// Work is split by audio index (one oneTBB task each, GEMMs on one OpenBLAS thread inside), and each
// index's partial sums are added in index order: results do not depend on the thread count.
#include "nn/fusion_linear.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "core/autograd.h"
#include "core/ops/matmul.h"

namespace mtfn::nn {

namespace {

// Video indices per column block. MTFN: a block of z is (64, 8 * 257) = 0.5 MB in float32, so it
// stays in the core's L2 cache between being built and being multiplied.
constexpr int64_t kVideoBlock = 8;

// What every block needs: the rows of [1;a], [1;v], [1;t], the mask key of each row, the mask's
// threshold and scale (dropout.h).
template <class S>
struct Fusion {
  int64_t B, A1, V1, T1, F;
  std::vector<S> a1, v1, t1;      // (B,A1), (B,V1), (B,T1): each row starts with the constant 1
  std::vector<uint64_t> row_key;  // (B) dropout_row_key of each row's global index
  bool drop;                      // p > 0
  uint64_t threshold;             // keep iff (bits >> 11) < threshold
  S scale;                        // 1 / (1 - p) in S, as dropout multiplies

  Fusion(const Tensor& a, const Tensor& v, const Tensor& t, double p, const DropoutKey& key)
      : B(a.size(0)), A1(a.size(1) + 1), V1(v.size(1) + 1), T1(t.size(1) + 1), F(A1 * V1 * T1),
        a1(with_one(a)), v1(with_one(v)), t1(with_one(t)), row_key(static_cast<size_t>(B)), drop(p > 0),
        threshold(dropout_threshold(p)), scale(static_cast<S>(1.0 / (1.0 - p))) {
    for (int64_t b = 0; b < B; ++b)
      row_key[static_cast<size_t>(b)] = dropout_row_key(key.seed, key.step, static_cast<uint64_t>(key.row_offset + b));
  }
  static std::vector<S> with_one(const Tensor& x) {  // (B,D) -> (B,D+1), [1; x] per row
    const int64_t rows = x.size(0), D = x.size(1);
    std::vector<S> out(static_cast<size_t>(rows * (D + 1)));
    const S* px = x.data<S>();
    for (int64_t r = 0; r < rows; ++r) {
      out[static_cast<size_t>(r * (D + 1))] = S(1);
      std::copy(px + r * D, px + (r + 1) * D, out.begin() + r * (D + 1) + 1);
    }
    return out;
  }
  S a(int64_t b, int64_t i) const { return a1[static_cast<size_t>(b * A1 + i)]; }
  S v(int64_t b, int64_t j) const { return v1[static_cast<size_t>(b * V1 + j)]; }
  const S* t(int64_t b) const { return t1.data() + b * T1; }
};

// zd (B,w), w = (j1-j0) T1: the columns of audio index i, video indices [j0, j1) of dropout(z),
//   zd[b, (j-j0) T1 + k] = keep(b, col) ? ((a1_i v1_j) t1_k) * scale : 0,   col = (i V1 + j) T1 + k,
// the operations of tensor_fusion then dropout in their order, so the values are bit-equal to theirs
// (up to the sign of zeros).
template <class S>
void build_block(const Fusion<S>& f, int64_t i, int64_t j0, int64_t j1, S* __restrict zd) {
  const int64_t w = (j1 - j0) * f.T1, T1 = f.T1;
  const uint64_t threshold = f.threshold;
  const S scale = f.scale;
  for (int64_t b = 0; b < f.B; ++b)
    for (int64_t j = j0; j < j1; ++j) {
      const S av = f.a(b, i) * f.v(b, j);
      const S* __restrict t1 = f.t(b);
      S* __restrict z = zd + b * w + (j - j0) * T1;
      if (!f.drop || av == S(0)) {  // a1_i v1_j = 0 (ReLU zeros, often): the row is 0 whatever the mask
        for (int64_t k = 0; k < T1; ++k) z[k] = av * t1[k];
        continue;
      }
      const uint64_t row_key = f.row_key[static_cast<size_t>(b)], col0 = static_cast<uint64_t>((i * f.V1 + j) * T1);
      for (int64_t k = 0; k < T1; ++k)  // branch-free: vectorises (the hash on 8 lanes)
        z[k] = dropout_keep_bits(row_key, col0 + static_cast<uint64_t>(k), threshold) ? (av * t1[k]) * scale : S(0);
    }
}

// Backward's pass over one block, given gzd (B,w) = dL/dzd for its columns: rebuilds zd (as build_block)
// and adds dL/dz = gzd * m into the audio index's partial sums:
//   da (B)      += sum_j s_bj v1_j      (dL/da1_i of each row; s_bj = sum_k dL/dz_bjk t1_k)
//   sv (B,V1)   += s_bj                 (times a1_i later: dL/dv1_j)
//   wt (B,T1)   += v1_j dL/dz_bjk       (times a1_i later: dL/dt1_k)
template <class S>
void backward_block(const Fusion<S>& f, int64_t i, int64_t j0, int64_t j1, const S* __restrict gzd,
                    S* __restrict zd, double* da, S* sv, S* wt) {
  const int64_t w = (j1 - j0) * f.T1, T1 = f.T1;
  const uint64_t threshold = f.threshold;
  const S scale = f.scale;
  for (int64_t b = 0; b < f.B; ++b) {
    const S* __restrict t1 = f.t(b);
    S* __restrict wtb = wt + b * T1;
    const uint64_t row_key = f.row_key[static_cast<size_t>(b)];
    for (int64_t j = j0; j < j1; ++j) {
      const S vj = f.v(b, j), av = f.a(b, i) * vj;
      const S* __restrict g = gzd + b * w + (j - j0) * T1;
      S* __restrict z = zd + b * w + (j - j0) * T1;
      const uint64_t col0 = static_cast<uint64_t>((i * f.V1 + j) * T1);
      S s = 0;
      if (!f.drop) {
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < T1; ++k) {
          z[k] = av * t1[k];
          s += g[k] * t1[k];
          wtb[k] += vj * g[k];
        }
      } else {
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < T1; ++k) {
          const bool keep = dropout_keep_bits(row_key, col0 + static_cast<uint64_t>(k), threshold);
          z[k] = keep ? (av * t1[k]) * scale : S(0);
          const S gz = keep ? g[k] * scale : S(0);  // dL/dz = dL/dzd * m
          s += gz * t1[k];
          wtb[k] += vj * gz;
        }
      }
      da[b] += static_cast<double>(s) * vj;
      sv[b * f.V1 + j] += s;
    }
  }
}

void check_inputs(const Tensor& a, const Tensor& v, const Tensor& t, double p, const Tensor& weight,
                  const Tensor& bias, int64_t pair_begin) {
  for (const Tensor* x : {&v, &t, &weight})
    if (x->dtype() != a.dtype())
      throw Error(fmt::format("fusion_dropout_linear: dtype mismatch {} vs {}", a.describe(), x->describe()));
  if (bias.defined() && bias.dtype() != a.dtype())
    throw Error(fmt::format("fusion_dropout_linear: dtype mismatch {} vs {}", a.describe(), bias.describe()));
  if (a.dim() != 2 || v.dim() != 2 || t.dim() != 2 || a.size(0) != v.size(0) || a.size(0) != t.size(0))
    throw Error(fmt::format("fusion_dropout_linear: expected a (B,A), v (B,V), t (B,T), got {}, {}, {}",
                            shape_str(a.shape()), shape_str(v.shape()), shape_str(t.shape())));
  const int64_t T1 = t.size(1) + 1, pairs = (a.size(1) + 1) * (v.size(1) + 1);
  const bool fits = weight.dim() == 2 && weight.size(1) % T1 == 0 && pair_begin >= 0 &&
                    pair_begin + weight.size(1) / T1 <= pairs;
  if (!fits || (bias.defined() && bias.shape() != Shape{weight.size(0)}))
    throw Error(fmt::format("fusion_dropout_linear: weight {} (from pair {}) and bias {} do not fit fusion width {}",
                            shape_str(weight.shape()), pair_begin, bias.defined() ? shape_str(bias.shape()) : "none",
                            pairs * T1));
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("fusion_dropout_linear: probability {} not in [0, 1]", p));
}

// The shard's pairs [pb, pe) by audio index: indices [i0, i0 + count), index i with video indices [j_begin(i), j_end(i)).
struct PairRange {
  int64_t pb, pe, V1, i0, count;
  PairRange(int64_t pair_begin, int64_t pair_end, int64_t V1_)
      : pb(pair_begin), pe(pair_end), V1(V1_), i0(pb / V1_), count(pe > pb ? (pe - 1) / V1_ - i0 + 1 : 0) {}
  int64_t j_begin(int64_t i) const { return std::max<int64_t>(pb - i * V1, 0); }
  int64_t j_end(int64_t i) const { return std::min<int64_t>(pe - i * V1, V1); }
  int64_t local_col(int64_t i, int64_t j, int64_t T1) const { return (i * V1 + j - pb) * T1; }  // in the shard's W
};

}  // namespace

// ---- forward: y (B,N) = bias + sum_i y_i,  y_i = sum over i's blocks of zd_block W_block^T
Tensor fusion_dropout_linear_forward(const Tensor& a, const Tensor& v, const Tensor& t, double p,
                                     const DropoutKey& key, const Tensor& weight, const Tensor& bias,
                                     FusionDropoutLinearCache& cache, int64_t pair_begin) {
  check_inputs(a, v, t, p, weight, bias, pair_begin);
  const int64_t B = a.size(0), N = weight.size(0), Fw = weight.size(1);
  Tensor y = Tensor::empty({B, N}, a.dtype());
  MTFN_DISPATCH(a.dtype(), {
    using S = scalar_t;
    const Fusion<S> f(a, v, t, p, key);
    const int64_t V1 = f.V1, T1 = f.T1;
    const PairRange pr(pair_begin, pair_begin + Fw / T1, V1);
    const S* W = weight.data<S>();  // (N, Fw)
    std::vector<S> part(static_cast<size_t>(pr.count * B * N), S(0));  // (count,B,N) y_i of each audio index
    tbb::enumerable_thread_specific<std::vector<S>> scratch(std::vector<S>(static_cast<size_t>(B * kVideoBlock * T1)));
    {
      SerialBlas serial;
      tbb::parallel_for(int64_t{0}, pr.count, [&](int64_t n) {
        const int64_t i = pr.i0 + n, jb = pr.j_begin(i), je = pr.j_end(i);
        S* zd = scratch.local().data();  // (B, w)
        S* yi = part.data() + n * B * N;
        for (int64_t j0 = jb; j0 < je; j0 += kVideoBlock) {
          const int64_t j1 = std::min(je, j0 + kVideoBlock), w = (j1 - j0) * T1;
          build_block(f, i, j0, j1, zd);
          // y_i (B,N) += zd (B,w) W[:, cols]^T (w,N)
          gemm<S>(false, true, B, N, w, 1, zd, w, W + pr.local_col(i, j0, T1), Fw, j0 == jb ? 0 : 1, yi, N);
        }
      });
    }
    S* py = y.data<S>();
    const S* pb = bias.defined() ? bias.data<S>() : nullptr;
    for (int64_t r = 0; r < B * N; ++r) {  // in audio-index order, whatever thread made each part
      double acc = pb ? pb[r % N] : 0.0;
      for (int64_t n = 0; n < pr.count; ++n) acc += part[static_cast<size_t>(n * B * N + r)];
      py[r] = static_cast<S>(acc);
    }
  });

  cache = FusionDropoutLinearCache{a.detach(), v.detach(), t.detach(), weight.detach(), p, key, pair_begin};
  return y;
}

// ---- backward, per column block (the derivation is at the top of the file):
//   dL/dW[:, c] += g^T zd[:, c]
//   dL/dz[:, c]  = (g W[:, c]) * m  ->  dL/da1_i += s_ij v1_j,  dL/dv1_j += s_ij a1_i,
//                                      dL/dt1_k += a1_i sum_j v1_j dL/dz_ijk    (s_ij = sum_k dL/dz_ijk t1_k)
//   dL/db        = column sums of g
void fusion_dropout_linear_backward(const Tensor& gy, const FusionDropoutLinearCache& cache,
                                    FusionDropoutLinearGrads out) {  // handles: writes reach the caller's tensors
  const int64_t B = cache.a.size(0), N = cache.weight.size(0), Fw = cache.weight.size(1);
  MTFN_DISPATCH(gy.dtype(), {
    using S = scalar_t;
    const Fusion<S> f(cache.a, cache.v, cache.t, cache.p, cache.key);
    const int64_t A1 = f.A1, V1 = f.V1, T1 = f.T1;
    const PairRange pr(cache.pair_begin, cache.pair_begin + Fw / T1, V1);
    const S* g = gy.data<S>();  // (B,N)
    const S* W = cache.weight.data<S>();
    const bool want_z = out.a.defined() || out.v.defined() || out.t.defined();
    // (N,Fw): the column blocks below cover it once each, so a zero gradient (new, or after
    // zero_grad) is written (beta = 0) without being filled first, any other is added into.
    S* gW = out.weight.defined() ? out.weight.data<S>() : nullptr;
    const S gW_beta = out.weight_is_zero ? 0 : 1;
    // Per audio index of the shard: da (B) in double, sv (B,V1), wt (B,T1) in S (see backward_block).
    std::vector<double> da(static_cast<size_t>(pr.count * B), 0.0);
    std::vector<S> svs(want_z ? static_cast<size_t>(pr.count * B * V1) : 0, S(0));
    std::vector<S> wts(want_z ? static_cast<size_t>(pr.count * B * T1) : 0, S(0));
    struct Scratch {
      std::vector<S> zd, gzd;  // (B, w) each
    };
    const size_t block = static_cast<size_t>(B * kVideoBlock * T1);
    tbb::enumerable_thread_specific<Scratch> scratch(Scratch{std::vector<S>(block), std::vector<S>(block)});
    {
      SerialBlas serial;
      tbb::parallel_for(int64_t{0}, pr.count, [&](int64_t n) {
        const int64_t i = pr.i0 + n, jb = pr.j_begin(i), je = pr.j_end(i);
        Scratch& s = scratch.local();
        for (int64_t j0 = jb; j0 < je; j0 += kVideoBlock) {
          const int64_t j1 = std::min(je, j0 + kVideoBlock), w = (j1 - j0) * T1, col0 = pr.local_col(i, j0, T1);
          if (want_z) {
            // dL/dzd (B,w) = g (B,N) W[:, cols] (N,w)
            gemm<S>(false, false, B, w, N, 1, g, N, W + col0, Fw, 0, s.gzd.data(), w);
            backward_block(f, i, j0, j1, s.gzd.data(), s.zd.data(), da.data() + n * B, svs.data() + n * B * V1,
                           wts.data() + n * B * T1);
          } else {
            build_block(f, i, j0, j1, s.zd.data());
          }
          // dL/dW[:, cols] (N,w) += g^T (N,B) zd (B,w)   (= when weight_is_zero)
          if (gW) gemm<S>(true, false, N, w, B, 1, g, N, s.zd.data(), w, gW_beta, gW + col0, Fw);
        }
      });
    }
    // Audio-index partials into the inputs' gradients, in index order; the constants' entries dropped.
    if (out.a.defined()) {
      S* ga = out.a.data<S>();
      for (int64_t b = 0; b < f.B; ++b)
        for (int64_t n = 0; n < pr.count; ++n) {
          const int64_t i = pr.i0 + n;
          if (i > 0) ga[b * (A1 - 1) + i - 1] += static_cast<S>(da[static_cast<size_t>(n * f.B + b)]);
        }
    }
    if (out.v.defined()) {  // dL/dv1_j = sum_i a1_i s_ij
      S* gv = out.v.data<S>();
      for (int64_t b = 0; b < f.B; ++b)
        for (int64_t j = 1; j < V1; ++j) {
          double acc = 0;
          for (int64_t n = 0; n < pr.count; ++n)
            acc += static_cast<double>(f.a(b, pr.i0 + n)) * svs[static_cast<size_t>((n * f.B + b) * V1 + j)];
          gv[b * (V1 - 1) + j - 1] += static_cast<S>(acc);
        }
    }
    if (out.t.defined()) {  // dL/dt1_k = sum_i a1_i wt_ik
      S* gt = out.t.data<S>();
      for (int64_t b = 0; b < f.B; ++b)
        for (int64_t k = 1; k < T1; ++k) {
          double acc = 0;
          for (int64_t n = 0; n < pr.count; ++n)
            acc += static_cast<double>(f.a(b, pr.i0 + n)) * wts[static_cast<size_t>((n * f.B + b) * T1 + k)];
          gt[b * (T1 - 1) + k - 1] += static_cast<S>(acc);
        }
    }
    if (out.bias.defined()) {  // dL/db (N) += column sums of g, rows in order
      S* gb = out.bias.data<S>();
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t b = 0; b < f.B; ++b) acc += g[b * N + n];
        gb[n] += static_cast<S>(acc);
      }
    }
  });
}

Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, double p, const DropoutKey& key,
                             const Tensor& weight, const Tensor& bias, int64_t pair_begin) {
  FusionDropoutLinearCache cache;
  Tensor y = fusion_dropout_linear_forward(a, v, t, p, key, weight, bias, cache, pair_begin);  // (B,N)
  std::vector<Tensor> inputs{a, v, t, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record(y, "fusion_dropout_linear", inputs, [=](const Tensor& gy) {
    FusionDropoutLinearGrads out;
    if (a.requires_grad()) out.a = grad_buffer(a);
    if (v.requires_grad()) out.v = grad_buffer(v);
    if (t.requires_grad()) out.t = grad_buffer(t);
    if (weight.requires_grad()) out.weight = grad_buffer_unfilled(weight, out.weight_is_zero);
    if (bias.defined() && bias.requires_grad()) out.bias = grad_buffer(bias);
    fusion_dropout_linear_backward(gy, cache, out);
  });
}

Tensor fusion_dropout_linear(const Tensor& a, const Tensor& v, const Tensor& t, Dropout& drop, const Linear& layer) {
  const bool active = drop.is_training() && drop.p > 0;
  Tensor y = fusion_dropout_linear(a, v, t, active ? drop.p : 0.0, drop.key, layer.weight, layer.bias);
  if (active) ++drop.key.step;
  return y;
}

template <class S>
void fusion_dropout_linear_reference(int64_t B, int64_t A, int64_t V, int64_t T, int64_t N, const S* a, const S* v,
                                     const S* t, double p, const DropoutKey& key, const S* weight, const S* bias,
                                     S* y) {
  const int64_t F = (A + 1) * (V + 1) * (T + 1);
  const S scale = static_cast<S>(1.0 / (1.0 - p));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias ? bias[n] : 0.0;
      for (int64_t i = 0; i <= A; ++i)
        for (int64_t j = 0; j <= V; ++j)
          for (int64_t k = 0; k <= T; ++k) {
            const int64_t col = (i * (V + 1) + j) * (T + 1) + k;
            const S z = (i ? a[b * A + i - 1] : S(1)) * (j ? v[b * V + j - 1] : S(1)) * (k ? t[b * T + k - 1] : S(1));
            const bool keep = p == 0 || dropout_keep(key.seed, key.step, static_cast<uint64_t>(key.row_offset + b),
                                                     static_cast<uint64_t>(col), p);
            const S zd = p == 0 ? z : keep ? z * scale : S(0);
            acc += static_cast<double>(zd) * weight[n * F + col];
          }
      y[b * N + n] = static_cast<S>(acc);
    }
}
template void fusion_dropout_linear_reference<float>(int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                                                     const float*, const float*, double, const DropoutKey&,
                                                     const float*, const float*, float*);
template void fusion_dropout_linear_reference<double>(int64_t, int64_t, int64_t, int64_t, int64_t, const double*,
                                                      const double*, const double*, double, const DropoutKey&,
                                                      const double*, const double*, double*);

}  // namespace mtfn::nn
