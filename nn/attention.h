// Multi-head self-attention as PyTorch's nn.MultiheadAttention(E, heads, batch_first=True) with dropout 0
// and its parameter names (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias). Its core,
// softmax(Q K^T / sqrt(Dh)) V, is one op with a hand-derived backward (docs/attention.md, "Attention");
// the projections and the split into heads are core's linear / slice / reshape / transpose ops.
// Not here: masks, cross-attention (query != key), attention dropout, bias_k / bias_v, add_zero_attn.
#pragma once

#include <memory>

#include "nn/linear.h"
#include "nn/module.h"
#include "nn/random.h"

namespace mtfn::nn {

// Dimensions: B batch, L tokens, E embed_dim, Hh heads, Dh = E / Hh each head's width,
// N = B * Hh independent attention problems.

// What attention_backward needs from the forward pass, and why.
struct AttentionCache {
  Tensor q, k, v;  // (N,L,Dh) each, detached: dL/dQ needs K, dL/dK needs Q, dL/dP needs V
  Tensor p;        // (N,L,L) the attention weights P = softmax(S): dL/dV = P^T G, and softmax's backward is in P
  double scale = 1;  // 1 / sqrt(Dh): S = Q K^T * scale
};

// The forward pass on plain tensors (records nothing): q, k, v (N,L,Dh) -> O (N,L,Dh),
//   S = Q K^T * scale (N,L,L),  P = softmax(S) row by row,  O = P V.  Fills cache (P included).
Tensor attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, double scale, AttentionCache& cache);

// The backward pass: given go = dL/dO (N,L,Dh), ADDS dL/dq, dL/dk, dL/dv into the gradients of the op's
// inputs q, k, v that require grad.
void attention_backward(const Tensor& go, const AttentionCache& cache, const Tensor& q, const Tensor& k,
                        const Tensor& v);

// The recorded op: attention_forward, with attention_backward as its node's backward. scale 1/sqrt(Dh).
// `weights`, if given, receives P (N,L,L) outside the graph.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor* weights = nullptr);

// The plain loops the op is tested against (no graph, no threads): o = softmax(q k^T * scale) v.
template <class S>
void attention_reference(int64_t N, int64_t L, int64_t Dh, double scale, const S* q, const S* k, const S* v, S* o);

class MultiheadAttention : public Module {
 public:
  // PyTorch's initialisation: in_proj_weight Xavier-uniform U(-sqrt(6 / 4E), sqrt(6 / 4E)), in_proj_bias 0,
  // out_proj.weight U(-1/sqrt(E), 1/sqrt(E)) (Linear's), out_proj.bias 0. embed_dim % num_heads must be 0.
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, Generator& gen, DType dtype = DType::F32);

  // Self-attention, batch first: x (B,L,E) -> (B,L,E). `weights`, if given, receives each head's
  // attention weights (B,Hh,L,L) outside the graph (PyTorch's average_attn_weights=False).
  Tensor forward(const Tensor& x, Tensor* weights = nullptr) const;

  int64_t embed_dim, num_heads, head_dim;
  Tensor in_proj_weight;             // (3E,E): rows [0,E) make Q, [E,2E) K, [2E,3E) V
  Tensor in_proj_bias;               // (3E)
  std::shared_ptr<Linear> out_proj;  // E -> E
};

}  // namespace mtfn::nn
