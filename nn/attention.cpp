// Multi-head self-attention: the attention core (forward next to its hand-derived backward; the
// derivation is in docs/attention.md) and the module around it (projections and heads from core's ops).
//
// Dimensions: B batch, L tokens, E embed_dim, Hh heads, Dh = E / Hh, N = B * Hh attention problems.
// Each problem n is independent: the loops split over n, and within a problem every sum runs in a fixed
// order, so results do not depend on the thread count.
#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/ops/activation.h"
#include "core/ops/matmul.h"
#include "core/ops/shape.h"
#include "core/parallel.h"

namespace mtfn::nn {

namespace {

void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  if (q.dim() != 3 || k.shape() != q.shape() || v.shape() != q.shape() || q.size(1) == 0)
    throw Error(fmt::format("attention: expected q, k, v of one shape (N,L,Dh) with L > 0; got {}, {}, {}",
                            shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape())));
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw Error(fmt::format("attention: dtype mismatch {}, {}, {}", q.describe(), k.describe(), v.describe()));
}

// Problems per chunk of a parallel loop: about 4096 multiply-adds of S = Q K^T each.
int64_t grain(int64_t L, int64_t Dh) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * L * Dh)); }

}  // namespace

// ---- forward, per problem n (Q, K, V, O: L x Dh; S, P: L x L):
//   S = Q K^T * scale,   P = softmax(S) (each row),   O = P V
Tensor attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, double scale, AttentionCache& cache) {
  check_qkv(q, k, v);
  const int64_t N = q.size(0), L = q.size(1), Dh = q.size(2);
  Tensor o = Tensor::zeros({N, L, Dh}, q.dtype());  // (N,L,Dh)
  Tensor p = Tensor::empty({N, L, L}, q.dtype());   // (N,L,L) cached: dL/dV and softmax's backward need it
  MTFN_DISPATCH(q.dtype(), {
    const scalar_t* pq = q.data<scalar_t>();
    const scalar_t* pk = k.data<scalar_t>();
    const scalar_t* pv = v.data<scalar_t>();
    scalar_t* pp = p.data<scalar_t>();
    scalar_t* po = o.data<scalar_t>();
    parallel_for(N, [&](int64_t n0, int64_t n1) {
      std::vector<scalar_t> s(static_cast<size_t>(L * L));  // (L,L) this problem's scores
      for (int64_t n = n0; n < n1; ++n) {
        const scalar_t* Q = pq + n * L * Dh;
        const scalar_t* K = pk + n * L * Dh;
        const scalar_t* V = pv + n * L * Dh;
        scalar_t* P = pp + n * L * L;
        scalar_t* O = po + n * L * Dh;
        for (int64_t i = 0; i < L; ++i)
          for (int64_t j = 0; j < L; ++j) {
            double dot = 0;
            for (int64_t d = 0; d < Dh; ++d) dot += double(Q[i * Dh + d]) * K[j * Dh + d];
            s[static_cast<size_t>(i * L + j)] = static_cast<scalar_t>(dot * scale);
          }
        softmax_rows_forward<scalar_t>(L, L, s.data(), P);  // L rows: below the grain, runs on this thread
        for (int64_t i = 0; i < L; ++i)
          for (int64_t j = 0; j < L; ++j)
            for (int64_t d = 0; d < Dh; ++d) O[i * Dh + d] += P[i * L + j] * V[j * Dh + d];
      }
    }, grain(L, Dh));
  });
  cache = AttentionCache{q.detach(), k.detach(), v.detach(), p, scale};
  return o;
}

// ---- backward, per problem n, with G = dL/dO (L x Dh):
//   dL/dV = P^T G                                   (O = P V is linear in V)
//   dL/dP = G V^T                                   (and in P)
//   dL/dS = P * (dL/dP - rowsum(dL/dP * P))         (softmax's backward, row by row: core's kernel)
//   dL/dQ = dL/dS K * scale,   dL/dK = dL/dS^T Q * scale   (S = Q K^T * scale)
void attention_backward(const Tensor& go, const AttentionCache& cache, const Tensor& q, const Tensor& k,
                        const Tensor& v) {
  const int64_t N = cache.q.size(0), L = cache.q.size(1), Dh = cache.q.size(2);
  const double scale = cache.scale;
  const bool need_q = q.requires_grad(), need_k = k.requires_grad(), need_v = v.requires_grad();
  MTFN_DISPATCH(go.dtype(), {
    const scalar_t* pg = go.data<scalar_t>();
    const scalar_t* pq = cache.q.data<scalar_t>();
    const scalar_t* pk = cache.k.data<scalar_t>();
    const scalar_t* pv = cache.v.data<scalar_t>();
    const scalar_t* pp = cache.p.data<scalar_t>();
    scalar_t* gq = need_q ? grad_buffer(q).data<scalar_t>() : nullptr;
    scalar_t* gk = need_k ? grad_buffer(k).data<scalar_t>() : nullptr;
    scalar_t* gv = need_v ? grad_buffer(v).data<scalar_t>() : nullptr;
    parallel_for(N, [&](int64_t n0, int64_t n1) {
      std::vector<scalar_t> dp(static_cast<size_t>(L * L)), ds(static_cast<size_t>(L * L));  // (L,L) each
      for (int64_t n = n0; n < n1; ++n) {
        const scalar_t* G = pg + n * L * Dh;
        const scalar_t* Q = pq + n * L * Dh;
        const scalar_t* K = pk + n * L * Dh;
        const scalar_t* V = pv + n * L * Dh;
        const scalar_t* P = pp + n * L * L;
        if (gv)  // dL/dV[j] += sum_i P[i,j] G[i]
          for (int64_t i = 0; i < L; ++i)
            for (int64_t j = 0; j < L; ++j)
              for (int64_t d = 0; d < Dh; ++d) gv[n * L * Dh + j * Dh + d] += P[i * L + j] * G[i * Dh + d];
        if (!gq && !gk) continue;
        for (int64_t i = 0; i < L; ++i)  // dL/dP[i,j] = G[i] . V[j]
          for (int64_t j = 0; j < L; ++j) {
            double dot = 0;
            for (int64_t d = 0; d < Dh; ++d) dot += double(G[i * Dh + d]) * V[j * Dh + d];
            dp[static_cast<size_t>(i * L + j)] = static_cast<scalar_t>(dot);
          }
        softmax_rows_backward<scalar_t>(L, L, P, dp.data(), ds.data());  // dL/dS
        for (int64_t i = 0; i < L; ++i)
          for (int64_t j = 0; j < L; ++j) {
            const scalar_t dsij = static_cast<scalar_t>(ds[static_cast<size_t>(i * L + j)] * scale);
            for (int64_t d = 0; d < Dh; ++d) {
              if (gq) gq[n * L * Dh + i * Dh + d] += dsij * K[j * Dh + d];  // dL/dQ[i] += dS[i,j] K[j]
              if (gk) gk[n * L * Dh + j * Dh + d] += dsij * Q[i * Dh + d];  // dL/dK[j] += dS[i,j] Q[i]
            }
          }
      }
    }, grain(L, Dh));
  });
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor* weights) {
  AttentionCache cache;
  Tensor o = attention_forward(q, k, v, 1.0 / std::sqrt(double(q.size(-1))), cache);
  if (weights) *weights = cache.p;
  return record(o, "attention", {q, k, v}, [=](const Tensor& go) { attention_backward(go, cache, q, k, v); });
}

template <class S>
void attention_reference(int64_t N, int64_t L, int64_t Dh, double scale, const S* q, const S* k, const S* v, S* o) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < L; ++i) {
      const S* Q = q + n * L * Dh + i * Dh;
      std::vector<double> w(static_cast<size_t>(L));
      double m = -INFINITY, total = 0;
      for (int64_t j = 0; j < L; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < Dh; ++d) dot += double(Q[d]) * k[n * L * Dh + j * Dh + d];
        w[static_cast<size_t>(j)] = dot * scale;
        m = std::max(m, dot * scale);
      }
      for (double& x : w) total += (x = std::exp(x - m));
      for (int64_t d = 0; d < Dh; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < L; ++j) acc += w[static_cast<size_t>(j)] / total * v[n * L * Dh + j * Dh + d];
        o[n * L * Dh + i * Dh + d] = static_cast<S>(acc);
      }
    }
}
template void attention_reference<float>(int64_t, int64_t, int64_t, double, const float*, const float*,
                                         const float*, float*);
template void attention_reference<double>(int64_t, int64_t, int64_t, double, const double*, const double*,
                                          const double*, double*);

// ---- the module

MultiheadAttention::MultiheadAttention(int64_t E, int64_t heads, Generator& gen, DType dtype)
    : Module("MultiheadAttention"), embed_dim(E), num_heads(heads), head_dim(heads > 0 ? E / heads : 0) {
  if (E <= 0 || heads <= 0 || E % heads != 0)
    throw Error(fmt::format("MultiheadAttention: embed_dim {} must be a positive multiple of num_heads {}", E, heads));
  const double bound = std::sqrt(6.0 / double(E + 3 * E));  // Xavier-uniform on (3E,E)
  Tensor w = Tensor::empty({3 * E, E}, dtype);
  uniform_(w, -bound, bound, gen);
  in_proj_weight = register_parameter("in_proj_weight", w);
  in_proj_bias = register_parameter("in_proj_bias", Tensor::zeros({3 * E}, dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, gen, true, dtype));
  out_proj->bias.copy_from(Tensor::zeros({E}, dtype));  // PyTorch zeroes it (Linear drew it: the stream moves on)
}

Tensor MultiheadAttention::forward(const Tensor& x, Tensor* weights) const {
  if (x.dim() != 3 || x.size(2) != embed_dim)
    throw Error(fmt::format("MultiheadAttention: expected x (B,L,{}), got {}", embed_dim, shape_str(x.shape())));
  const int64_t B = x.size(0), L = x.size(1), E = embed_dim, Hh = num_heads, Dh = head_dim;
  const Tensor qkv = linear(x, in_proj_weight, in_proj_bias);  // (B,L,3E)
  // (B,L,E) -> (B,L,Hh,Dh) -> (B,Hh,L,Dh) -> (N,L,Dh): head h takes columns [h Dh, (h+1) Dh) of E
  auto heads = [&](int64_t part) {
    return reshape(transpose(reshape(slice(qkv, 2, part * E, (part + 1) * E), {B, L, Hh, Dh}), 1, 2), {B * Hh, L, Dh});
  };
  Tensor p;
  const Tensor o = scaled_dot_product_attention(heads(0), heads(1), heads(2), weights ? &p : nullptr);  // (N,L,Dh)
  if (weights) *weights = p.view({B, Hh, L, L});
  const Tensor merged = reshape(transpose(reshape(o, {B, Hh, L, Dh}), 1, 2), {B, L, E});  // (B,L,E)
  return out_proj->forward(merged);
}

}  // namespace mtfn::nn
