// The LSTM layer op (forward through time, then backward through time, derived in docs/lstm.md)
// and the LSTM module that stacks layers and slices the op's packed output.
//
// Dimensions: B batch, T time steps, D input features, H hidden units, G = 4H gate rows.
// Per step, with a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh split into blocks (a_i, a_f, a_g, a_o):
//   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
#include "nn/lstm.h"

#include <cmath>

#include <fmt/format.h>

#include "core/autograd.h"
#include "core/ops/activation.h"
#include "core/ops/matmul.h"
#include "core/ops/shape.h"
#include "core/parallel.h"

namespace mtfn::nn {

namespace {

// Rows per parallel chunk of a step's pointwise work (each row is 5H transcendental functions).
int64_t rows_per_chunk(int64_t H) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(H, 1)); }

// The gate functions: in float32 the branch-free approximations (activation.h, relative error
// at most 2e-7), so that the loops below vectorise; in float64 the exact std:: functions, which the
// gradient checks and the PyTorch parity tests (1e-10) need.
inline float gate_sigmoid(float v) { return sigmoid_f32(v); }
inline double gate_sigmoid(double v) { return sigmoid_scalar(v); }
inline float gate_tanh(float v) { return tanh_f32(v); }
inline double gate_tanh(double v) { return std::tanh(v); }

// One row of step t's pointwise forward: turns the pre-activations a (G) into the gate values in
// place, writes c_t (H) and h_t (H). first: t = 0, no c_{t-1}. A separate function with restrict
// pointers and no test inside the loop, so that the compiler vectorises it (float32).
template <bool first, class S>
inline void lstm_row_forward(int64_t H, S* __restrict a, const S* __restrict c_prev, S* __restrict c,
                             S* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const S i = gate_sigmoid(a[j]), f = gate_sigmoid(a[H + j]);
    const S g = gate_tanh(a[2 * H + j]), o = gate_sigmoid(a[3 * H + j]);
    a[j] = i, a[H + j] = f, a[2 * H + j] = g, a[3 * H + j] = o;
    c[j] = (first ? S(0) : f * c_prev[j]) + i * g;
    h[j] = o * gate_tanh(c[j]);
  }
}

// Step t's pointwise part for rows [b0, b1): turns the pre-activations in act (B,T,G) into
// the gate values in place, and writes c_t into cs (B,T,H) and h_t into hc (B,T+1,H).
template <class S>
void lstm_step_forward(int64_t b0, int64_t b1, int64_t t, int64_t T, int64_t H, S* act, S* cs, S* hc) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    S* a = act + (b * T + t) * G;
    S* c = cs + (b * T + t) * H;
    S* h = hc + (b * (T + 1) + t) * H;
    if (t > 0)
      lstm_row_forward<false>(H, a, cs + (b * T + t - 1) * H, c, h);
    else
      lstm_row_forward<true>(H, a, static_cast<const S*>(nullptr), c, h);
  }
}

// One row of step t's pointwise backward. In: a (G) the gates, c (H) c_t, c_prev (H) c_{t-1}
// (unused when first, t = 0), gh (H) the upstream dL/dh_t, dh (H) dL/dh_t through step t+1.
// Out: d (G) = dL/da_t; dc (H) goes from dL/dc_t through step t+1 to dL/dc_{t-1}.
template <bool first, class S>
inline void lstm_row_backward(int64_t H, const S* __restrict a, const S* __restrict c, const S* __restrict c_prev,
                              const S* __restrict gh, const S* __restrict dh, S* __restrict dc, S* __restrict d) {
  for (int64_t j = 0; j < H; ++j) {
    const S i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
    const S tc = gate_tanh(c[j]);  // recomputed: cheaper than caching another (B,T,H)
    const S dht = dh[j] + gh[j];                        // h_t feeds step t+1 and the output
    const S dct = dc[j] + dht * o * (S(1) - tc * tc);   // dh_t/dc_t = o (1 - tanh^2 c_t)
    d[j] = dct * g * i * (S(1) - i);                    // dL/da_i = dL/dc_t g    i (1 - i)
    d[H + j] = dct * (first ? S(0) : c_prev[j]) * f * (S(1) - f);  // dL/da_f = dL/dc_t c_{t-1} f (1 - f)
    d[2 * H + j] = dct * i * (S(1) - g * g);            // dL/da_g = dL/dc_t i    (1 - g^2)
    d[3 * H + j] = dht * tc * o * (S(1) - o);           // dL/da_o = dL/dh_t tanh(c_t) o (1 - o)
    dc[j] = dct * f;                                    // dL/dc_{t-1} = dL/dc_t f
  }
}

// Step t's pointwise backward for rows [b0, b1). In: dh (B,H) = dL/dh_t from step t+1,
// dc (B,H) = dL/dc_t from step t+1, ghc (B,T+1,H) the upstream gradient (dL/dh_t at ghc[:, t]).
// Out: dga (B,T,G) row t = dL/da_t, and dc becomes dL/dc_{t-1}.
template <class S>
void lstm_step_backward(int64_t b0, int64_t b1, int64_t t, int64_t T, int64_t H, const S* gate, const S* cs,
                        const S* ghc, const S* dh, S* dc, S* dga) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    const S* a = gate + (b * T + t) * G;
    const S* c = cs + (b * T + t) * H;
    const S* gh = ghc + (b * (T + 1) + t) * H;
    S* d = dga + (b * T + t) * G;
    if (t > 0)
      lstm_row_backward<false>(H, a, c, cs + (b * T + t - 1) * H, gh, dh + b * H, dc + b * H, d);
    else
      lstm_row_backward<true>(H, a, c, static_cast<const S*>(nullptr), gh, dh + b * H, dc + b * H, d);
  }
}

}  // namespace

// ---- forward through time: per step t, a_t (B,G) = x_t W_ih^T + b_ih + b_hh + h_{t-1} W_hh^T, then the gates
Tensor lstm_layer_forward(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                          const Tensor& b_hh, LstmLayerCache& cache) {
  const DType dt = x.dtype();
  for (const Tensor* p : {&w_ih, &w_hh, &b_ih, &b_hh})
    if (p->dtype() != dt) throw Error(fmt::format("lstm_layer: dtype mismatch {} vs {}", x.describe(), p->describe()));
  if (x.dim() != 3 || w_hh.dim() != 2 || w_hh.size(0) != 4 * w_hh.size(1) || w_ih.dim() != 2 ||
      w_ih.size(0) != w_hh.size(0) || w_ih.size(1) != x.size(2) || b_ih.shape() != Shape{w_hh.size(0)} ||
      b_hh.shape() != Shape{w_hh.size(0)} || x.size(1) < 1)
    throw Error(fmt::format("lstm_layer: expected x (B,T,D) with T >= 1, w_ih (4H,D), w_hh (4H,H), biases (4H); got "
                            "x {}, w_ih {}, w_hh {}, b_ih {}, b_hh {}",
                            shape_str(x.shape()), shape_str(w_ih.shape()), shape_str(w_hh.shape()),
                            shape_str(b_ih.shape()), shape_str(b_hh.shape())));
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = w_hh.size(1), G = 4 * H;

  Tensor hc = Tensor::empty({B, T + 1, H}, dt);  // (B,T+1,H) h_1..h_T, then c_T
  Tensor gates = Tensor::empty({B, T, G}, dt);   // (B,T,G) i, f, g, o of every step (cached)
  Tensor cs = Tensor::empty({B, T, H}, dt);      // (B,T,H) c_t of every step (cached)
  MTFN_DISPATCH(dt, {
    scalar_t* act = gates.data<scalar_t>();
    scalar_t* c = cs.data<scalar_t>();
    scalar_t* h = hc.data<scalar_t>();
    const scalar_t* bi = b_ih.data<scalar_t>();
    const scalar_t* bh = b_hh.data<scalar_t>();
    // The input projection of every step in one GEMM: act (BT,G) = x (BT,D) W_ih^T + b_ih + b_hh.
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t k = 0; k < G; ++k) act[r * G + k] = bi[k] + bh[k];
    gemm<scalar_t>(false, true, B * T, G, D, 1, x.data<scalar_t>(), D, w_ih.data<scalar_t>(), D, 1, act, G);
    for (int64_t t = 0; t < T; ++t) {
      // act[:, t] (B,G) += h_{t-1} (B,H) W_hh^T, rows strided by T*G; h_0 = 0 adds nothing.
      if (t > 0)
        gemm<scalar_t>(false, true, B, G, H, 1, h + (t - 1) * H, (T + 1) * H, w_hh.data<scalar_t>(), H, 1,
                       act + t * G, T * G);
      parallel_for(B, [&](int64_t b0, int64_t b1) { lstm_step_forward(b0, b1, t, T, H, act, c, h); },
                   rows_per_chunk(H));
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) h[(b * (T + 1) + T) * H + j] = c[(b * T + T - 1) * H + j];
  });

  cache = LstmLayerCache{x.detach(), w_ih.detach(), w_hh.detach(), gates, cs, hc.detach()};
  return hc;
}

// ---- backward through time (docs/lstm.md), from t = T-1 down to 0, a_t the step's pre-activations (B,G):
//   dL/dc_T   starts as hc[:, T]'s own gradient;  dL/dh_t = ghc[:, t] + dL/da_{t+1} W_hh
//   dL/da_t   element by element in lstm_row_backward (each gate's derivative is written there)
//   dL/dx     (B,T,D) += dL/da W_ih
//   dL/dW_ih  (G,D)   += sum_{b,t} dL/da_t^T x_t
//   dL/dW_hh  (G,H)   += sum_{b, t>=1} dL/da_t^T h_{t-1}        (h_0 = 0 adds nothing)
//   dL/db_ih = dL/db_hh (G) += sum_{b,t} dL/da_t
void lstm_layer_backward(const Tensor& ghc, const LstmLayerCache& cache, const Tensor& x, const Tensor& w_ih,
                         const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  const int64_t B = cache.x.size(0), T = cache.x.size(1), D = cache.x.size(2), H = cache.w_hh.size(1), G = 4 * H;
  MTFN_DISPATCH(ghc.dtype(), {
    const scalar_t* gh = ghc.data<scalar_t>();
    const scalar_t* act = cache.gates.data<scalar_t>();
    const scalar_t* c = cache.cs.data<scalar_t>();
    const scalar_t* h = cache.hc.data<scalar_t>();
    Tensor dga_t = Tensor::empty({B, T, G}, ghc.dtype());  // (B,T,G) dL/da at every step
    Tensor dh_t = Tensor::zeros({B, H}, ghc.dtype());      // (B,H) dL/dh_t through step t+1 (none after T)
    Tensor dc_t = Tensor::empty({B, H}, ghc.dtype());      // (B,H) dL/dc_t, starting from c_T's own gradient
    scalar_t* dga = dga_t.data<scalar_t>();
    scalar_t* dh = dh_t.data<scalar_t>();
    scalar_t* dc = dc_t.data<scalar_t>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) dc[b * H + j] = gh[(b * (T + 1) + T) * H + j];
    for (int64_t t = T - 1; t >= 0; --t) {
      parallel_for(B, [&](int64_t b0, int64_t b1) { lstm_step_backward(b0, b1, t, T, H, act, c, gh, dh, dc, dga); },
                   rows_per_chunk(H));
      // dL/dh_{t-1} (B,H) = dL/da_t (B,G) W_hh (G,H)
      if (t > 0)
        gemm<scalar_t>(false, false, B, H, G, 1, dga + t * G, T * G, cache.w_hh.data<scalar_t>(), H, 0, dh, H);
    }
    if (x.requires_grad())  // dx (BT,D) += dL/da (BT,G) W_ih (G,D)
      gemm<scalar_t>(false, false, B * T, D, G, 1, dga, G, cache.w_ih.data<scalar_t>(), D, 1,
                     grad_buffer(x).data<scalar_t>(), D);
    if (w_ih.requires_grad())  // dW_ih (G,D) += dL/da^T (G,BT) x (BT,D)
      gemm<scalar_t>(true, false, G, D, B * T, 1, dga, G, cache.x.data<scalar_t>(), D, 1,
                     grad_buffer(w_ih).data<scalar_t>(), D);
    if (w_hh.requires_grad() && T > 1) {  // dW_hh (G,H) += sum_{t>=1} dL/da_t^T h_{t-1}, per batch row
      scalar_t* gw = grad_buffer(w_hh).data<scalar_t>();
      for (int64_t b = 0; b < B; ++b)
        gemm<scalar_t>(true, false, G, H, T - 1, 1, dga + (b * T + 1) * G, G, h + b * (T + 1) * H, H, 1, gw, H);
    }
    if (b_ih.requires_grad() || b_hh.requires_grad()) {  // db_ih = db_hh = column sums of dL/da
      std::vector<double> db(static_cast<size_t>(G), 0.0);
      for (int64_t r = 0; r < B * T; ++r)
        for (int64_t k = 0; k < G; ++k) db[static_cast<size_t>(k)] += dga[r * G + k];
      for (const Tensor* bias : {&b_ih, &b_hh}) {
        if (!bias->requires_grad()) continue;
        scalar_t* gb = grad_buffer(*bias).data<scalar_t>();
        for (int64_t k = 0; k < G; ++k) gb[k] += static_cast<scalar_t>(db[static_cast<size_t>(k)]);
      }
    }
  });
}

Tensor lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  LstmLayerCache cache;
  Tensor hc = lstm_layer_forward(x, w_ih, w_hh, b_ih, b_hh, cache);  // (B,T+1,H)
  return record(hc, "lstm_layer", {x, w_ih, w_hh, b_ih, b_hh},
                [=](const Tensor& ghc) { lstm_layer_backward(ghc, cache, x, w_ih, w_hh, b_ih, b_hh); });
}

template <class S>
void lstm_layer_reference(int64_t B, int64_t T, int64_t D, int64_t H, const S* x, const S* w_ih, const S* w_hh,
                          const S* b_ih, const S* b_hh, S* hc) {
  const int64_t G = 4 * H;
  std::vector<S> h(static_cast<size_t>(H)), c(static_cast<size_t>(H)), a(static_cast<size_t>(G));
  for (int64_t b = 0; b < B; ++b) {
    std::fill(h.begin(), h.end(), S(0));
    std::fill(c.begin(), c.end(), S(0));
    for (int64_t t = 0; t < T; ++t) {
      const S* xt = x + (b * T + t) * D;
      for (int64_t k = 0; k < G; ++k) {
        S s = b_ih[k] + b_hh[k];
        for (int64_t d = 0; d < D; ++d) s += w_ih[k * D + d] * xt[d];
        for (int64_t j = 0; j < H; ++j) s += w_hh[k * H + j] * h[static_cast<size_t>(j)];
        a[static_cast<size_t>(k)] = s;
      }
      for (int64_t j = 0; j < H; ++j) {
        const auto u = static_cast<size_t>(j), n = static_cast<size_t>(H);
        const S i = sigmoid_scalar(a[u]), f = sigmoid_scalar(a[n + u]);
        const S g = std::tanh(a[2 * n + u]), o = sigmoid_scalar(a[3 * n + u]);
        c[u] = f * c[u] + i * g;
        h[u] = o * std::tanh(c[u]);
        hc[(b * (T + 1) + t) * H + j] = h[u];
      }
    }
    for (int64_t j = 0; j < H; ++j) hc[(b * (T + 1) + T) * H + j] = c[static_cast<size_t>(j)];
  }
}
template void lstm_layer_reference<float>(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                          const float*, const float*, const float*, float*);
template void lstm_layer_reference<double>(int64_t, int64_t, int64_t, int64_t, const double*, const double*,
                                           const double*, const double*, const double*, double*);

// ---- the module
LSTM::LSTM(int64_t in, int64_t hidden, int64_t layers, Generator& gen, DType dtype)
    : Module("LSTM"), input_size(in), hidden_size(hidden), num_layers(layers) {
  if (in < 1 || hidden < 1 || layers < 1)
    throw Error(fmt::format("LSTM: bad sizes input {} hidden {} layers {}", in, hidden, layers));
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  auto make = [&](const std::string& name, Shape shape) {
    Tensor t = Tensor::empty(std::move(shape), dtype);
    uniform_(t, -bound, bound, gen);
    return register_parameter(name, t);
  };
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t d = l == 0 ? in : hidden;
    weight_ih.push_back(make(fmt::format("weight_ih_l{}", l), {4 * hidden, d}));
    weight_hh.push_back(make(fmt::format("weight_hh_l{}", l), {4 * hidden, hidden}));
    bias_ih.push_back(make(fmt::format("bias_ih_l{}", l), {4 * hidden}));
    bias_hh.push_back(make(fmt::format("bias_hh_l{}", l), {4 * hidden}));
  }
}

LSTMOutput LSTM::forward(const Tensor& x) const {
  if (x.dim() != 3 || x.size(2) != input_size)
    throw Error(fmt::format("LSTM: expected input (B, T, {}), got {}", input_size, shape_str(x.shape())));
  const int64_t B = x.size(0), T = x.size(1), H = hidden_size;
  Tensor input = x;  // (B,T,D), then (B,T,H) between layers
  std::vector<Tensor> hs, cs;
  for (int64_t l = 0; l < num_layers; ++l) {
    const auto k = static_cast<size_t>(l);
    Tensor hc = lstm_layer(input, weight_ih[k], weight_hh[k], bias_ih[k], bias_hh[k]);  // (B,T+1,H)
    input = slice(hc, 1, 0, T);                                      // (B,T,H)
    hs.push_back(reshape(slice(hc, 1, T - 1, T), {1, B, H}));        // (1,B,H) h_T
    cs.push_back(reshape(slice(hc, 1, T, T + 1), {1, B, H}));        // (1,B,H) c_T
  }
  LSTMOutput out;
  out.output = input;
  out.h_n = hs.size() == 1 ? hs[0] : concat(hs, 0);
  out.c_n = cs.size() == 1 ? cs[0] : concat(cs, 0);
  return out;
}

}  // namespace mtfn::nn
