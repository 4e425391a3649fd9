// The sharded fusion head's forward next to its backward; the layout and the maths are in sharded_fusion.h.
#include "distributed/sharded_fusion.h"

#include <algorithm>
#include <span>
#include <type_traits>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/ops/shape.h"

namespace mtfn::distributed {

nn::ColumnShard fusion_columns(const std::array<int64_t, 3>& widths, int rank, int size) {
  const int64_t pairs = (widths[0] + 1) * (widths[1] + 1), T1 = widths[2] + 1;
  const int64_t pb = rank * pairs / size, pe = (rank + 1) * pairs / size;
  return {pb * T1, pe * T1, pairs * T1};
}

namespace {

// Rows per rank (their counts) and this rank's first row.
struct Rows {
  std::vector<int64_t> counts;
  int64_t total = 0, first = 0;
};
Rows rows_of_ranks(ProcessGroup& g, int64_t mine) {
  Rows r;
  const std::vector<uint64_t> all = g.allgather(static_cast<uint64_t>(mine), "the fusion head's row counts");
  for (int i = 0; i < g.size(); ++i) {
    if (i == g.rank()) r.first = r.total;
    r.counts.push_back(static_cast<int64_t>(all[static_cast<size_t>(i)]));
    r.total += r.counts.back();
  }
  return r;
}

std::vector<int64_t> times(std::vector<int64_t> counts, int64_t k) {
  for (int64_t& c : counts) c *= k;
  return counts;
}

// [a v t] (rows, D) from the three (rows, A), (rows, V), (rows, T); and back. S: float or double.
template <class S>
std::vector<S> pack(const Tensor& a, const Tensor& v, const Tensor& t) {
  const int64_t rows = a.size(0), A = a.size(1), V = v.size(1), T = t.size(1), D = A + V + T;
  std::vector<S> x(static_cast<size_t>(rows * D));
  for (int64_t b = 0; b < rows; ++b) {
    S* row = x.data() + b * D;
    std::copy_n(a.data<S>() + b * A, A, row);
    std::copy_n(v.data<S>() + b * V, V, row + A);
    std::copy_n(t.data<S>() + b * T, T, row + A + V);
  }
  return x;
}
// Columns [c0, c0 + w) of x (rows, D) into out (rows, w): adds when `accumulate`, else writes.
template <class S>
void unpack(const S* x, int64_t rows, int64_t D, int64_t c0, Tensor& out, bool accumulate) {
  const int64_t w = out.size(1);
  S* o = out.data<S>();
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t c = 0; c < w; ++c) o[b * w + c] = (accumulate ? o[b * w + c] : S(0)) + x[b * D + c0 + c];
}

// The elements of x as a span: span_of<const S> reads a const tensor, span_of<S> writes a mutable one.
template <class S>
std::span<S> span_of(std::conditional_t<std::is_const_v<S>, const Tensor&, Tensor&> x) {
  return {x.template data<std::remove_const_t<S>>(), static_cast<size_t>(x.numel())};
}

}  // namespace

ShardedFusion::ShardedFusion(ProcessGroup& group, nn::FusionLayer& layer) : group_(group), layer_(layer) {
  Tensor& w = layer.linear->weight;
  const int64_t F = (layer.widths[0] + 1) * (layer.widths[1] + 1) * (layer.widths[2] + 1);
  if (w.dim() != 2 || w.size(1) != F)
    throw Error(fmt::format("the sharded fusion head needs a ({}, {}) weight, got {}", w.dim() == 2 ? w.size(0) : 0, F,
                            w.describe()));
  cols_ = fusion_columns(layer.widths, group.rank(), group.size());
  pair_begin_ = cols_.begin / (layer.widths[2] + 1);
  // The shard replaces the storage under the shared handle (as Module::to does for a dtype).
  const Tensor shard = slice(w.detach(), 1, cols_.begin, cols_.end);  // (P, w), a copy
  TensorImpl* impl = w.impl();
  impl->storage = shard.impl()->storage;
  impl->shape = shard.shape();
  impl->offset = 0;
  w.grad_slot().drop();
  weight_ = w;
  layer.sharded = [this](const Tensor& a, const Tensor& v, const Tensor& t) { return forward(a, v, t); };
}

ShardedFusion::~ShardedFusion() { layer_.sharded = nullptr; }

Tensor ShardedFusion::forward(const Tensor& a, const Tensor& v, const Tensor& t) {
  if (a.dtype() != weight_.dtype())
    throw Error(fmt::format("the sharded fusion head holds a {} weight, got the input {}", dtype_name(weight_.dtype()),
                            a.describe()));
  Tensor y;
  MTFN_DISPATCH(a.dtype(), y = layer_.linear->is_training() ? forward_rows<scalar_t>(a, v, t) : forward_all<scalar_t>(a, v, t));
  return y;
}

// ---- training mode: rows spread over the ranks (the derivation is in sharded_fusion.h)
template <class S>
Tensor ShardedFusion::forward_rows(const Tensor& a, const Tensor& v, const Tensor& t) {
  const int64_t Br = a.size(0), A = a.size(1), V = v.size(1), T = t.size(1), D = A + V + T;
  const Tensor& bias = layer_.linear->bias;
  const int64_t P = weight_.size(0);
  const Rows rows = rows_of_ranks(group_, Br);
  const int64_t B = rows.total;
  // X (B,D): every rank's rows of [a v t], in rank order = the batch's order
  std::vector<S> X(static_cast<size_t>(B * D));
  group_.allgather(std::span<const S>(pack<S>(a, v, t)), std::span<S>(X), times(rows.counts, D), "the fusion head's inputs (all-gather of a, v, t)");
  const DType dt = dtype_of<S>();
  Tensor Ag = Tensor::empty({B, A}, dt), Vg = Tensor::empty({B, V}, dt), Tg = Tensor::empty({B, T}, dt);
  unpack(X.data(), B, D, 0, Ag, false);
  unpack(X.data(), B, D, A, Vg, false);
  unpack(X.data(), B, D, A + V, Tg, false);
  nn::Dropout& drop = *layer_.dropout;
  const bool active = drop.is_training() && drop.p > 0;
  nn::DropoutKey key = drop.key;
  key.row_offset -= rows.first;  // gathered row b is the batch's row b
  nn::FusionDropoutLinearCache cache;
  const Tensor part = nn::fusion_dropout_linear_forward(Ag, Vg, Tg, active ? drop.p : 0.0, key, weight_, Tensor(),
                                                        cache, pair_begin_);  // (B,P) = P_r
  if (active) ++drop.key.step;
  // y_r (B_r,P) = my rows of sum_r P_r, + b
  Tensor y = Tensor::empty({Br, P}, dt);
  group_.reduce_scatter_sum(span_of<const S>(part), span_of<S>(y), times(rows.counts, P),
                            "the fusion head's outputs (reduce-scatter)");
  if (bias.defined()) {
    S* py = y.data<S>();
    for (int64_t b = 0; b < Br; ++b)
      for (int64_t n = 0; n < P; ++n) py[b * P + n] += bias.data<S>()[n];
  }
  const Tensor W = weight_;
  std::vector<Tensor> inputs{a, v, t, W};
  if (bias.defined()) inputs.push_back(bias);
  ProcessGroup* g = &group_;
  return record(y, "sharded_fusion_linear", inputs, [=](const Tensor& gy) {
    // g (B,P) = every rank's dL/dy_r
    Tensor gall = Tensor::empty({B, P}, dt);
    g->allgather(span_of<const S>(gy), span_of<S>(gall), times(rows.counts, P),
                 "the fusion head's output gradients (all-gather)");
    // dL/dW_r (local) and this rank's columns' share of dL/dA, dL/dV, dL/dT (B, .)
    nn::FusionDropoutLinearGrads out;
    out.a = Tensor::zeros({B, A}, dt);
    out.v = Tensor::zeros({B, V}, dt);
    out.t = Tensor::zeros({B, T}, dt);
    if (W.requires_grad()) out.weight = grad_buffer_unfilled(W, out.weight_is_zero);
    nn::fusion_dropout_linear_backward(gall, cache, out);
    // dL/d[a v t] of my rows = sum over ranks of their shares (reduce-scatter)
    std::vector<S> mine(static_cast<size_t>(Br * D));
    g->reduce_scatter_sum(std::span<const S>(pack<S>(out.a, out.v, out.t)), std::span<S>(mine), times(rows.counts, D),
                          "the fusion head's input gradients (reduce-scatter)");
    if (a.requires_grad()) {
      Tensor ga = grad_buffer(a);
      unpack(mine.data(), Br, D, 0, ga, true);
    }
    if (v.requires_grad()) {
      Tensor gv = grad_buffer(v);
      unpack(mine.data(), Br, D, A, gv, true);
    }
    if (t.requires_grad()) {
      Tensor gt = grad_buffer(t);
      unpack(mine.data(), Br, D, A + V, gt, true);
    }
    if (bias.defined() && bias.requires_grad()) {  // dL/db (P) += column sums of dL/dy_r, rows in order
      S* gb = grad_buffer(bias).data<S>();
      for (int64_t n = 0; n < P; ++n) {
        double acc = 0;
        for (int64_t b = 0; b < Br; ++b) acc += gy.data<S>()[b * P + n];
        gb[n] += static_cast<S>(acc);
      }
    }
  });
}

// ---- eval mode: every rank holds all rows; no graph
template <class S>
Tensor ShardedFusion::forward_all(const Tensor& a, const Tensor& v, const Tensor& t) {
  if (grad_enabled() && (a.requires_grad() || v.requires_grad() || t.requires_grad()))
    throw Error("the sharded fusion head computes gradients in training mode only (evaluate under NoGradGuard)");
  const int64_t B = a.size(0), P = weight_.size(0), N = group_.size();
  nn::FusionDropoutLinearCache cache;
  const Tensor part =
      nn::fusion_dropout_linear_forward(a.detach(), v.detach(), t.detach(), 0.0, {}, weight_.detach(), Tensor(), cache,
                                        pair_begin_);  // (B,P) = P_r
  std::vector<S> parts(static_cast<size_t>(N * B * P));
  group_.allgather(span_of<const S>(part), std::span<S>(parts), std::vector<int64_t>(static_cast<size_t>(N), B * P),
                   "the fusion head's outputs (all-gather)");
  Tensor y = Tensor::empty({B, P}, dtype_of<S>());
  const Tensor& bias = layer_.linear->bias;
  for (int64_t r = 0; r < B * P; ++r) {  // in rank order: the same bits on every rank
    double acc = bias.defined() ? bias.data<S>()[r % P] : 0.0;
    for (int64_t k = 0; k < N; ++k) acc += parts[static_cast<size_t>(k * B * P + r)];
    y.data<S>()[r] = static_cast<S>(acc);
  }
  return y;
}

}  // namespace mtfn::distributed
