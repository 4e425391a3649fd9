// LSTM as PyTorch's nn.LSTM(batch_first=True), h_0 = c_0 = 0: gate blocks i, f, g, o, one or
// more layers. Each layer over the whole sequence is ONE op with a hand-written backward through
// time (docs/lstm.md). Not here: dropout between layers, bidirectional, packed sequences.
#pragma once

#include <vector>

#include "nn/module.h"
#include "nn/random.h"

namespace mtfn::nn {

// Dimensions: B batch, T time steps, D input features, H hidden units, G = 4H gate rows, L layers.

// One layer over a sequence, recorded as one node:
//   x (B,T,D), w_ih (G,D), w_hh (G,H), b_ih (G), b_hh (G) -> hc (B, T+1, H)
// where hc[:, t] = h_{t+1} for t < T (every step's hidden state) and hc[:, T] = c_T (the
// final cell state): one output tensor, because a node has one output; LSTM::forward slices it.
// lstm_layer_forward then lstm_layer_backward as the node's backward.
Tensor lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh);

// What lstm_layer_backward needs from the forward pass, and why.
struct LstmLayerCache {
  Tensor x;      // (B,T,D) the input, detached: dL/dW_ih = dL/da^T x
  Tensor w_ih;   // (G,D) detached: dL/dx = dL/da W_ih
  Tensor w_hh;   // (G,H) detached: the recurrence dL/dh_{t-1} = dL/da_t W_hh
  Tensor gates;  // (B,T,G) i, f, g, o of every step (after their sigmoid / tanh): every dL/da_t needs them
  Tensor cs;     // (B,T,H) c_t of every step: dL/da_t needs c_t (for tanh c_t) and c_{t-1} (for dL/da_f)
  Tensor hc;     // (B,T+1,H) the output, detached: its h_{t-1} give dL/dW_hh = sum_t dL/da_t^T h_{t-1}
};

// The forward pass on plain tensors (records nothing): returns hc (B,T+1,H) as lstm_layer, fills cache.
Tensor lstm_layer_forward(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                          const Tensor& b_hh, LstmLayerCache& cache);

// The backward pass through time: given ghc = dL/dhc (B,T+1,H), ADDS dL/dx, dL/dw_ih, dL/dw_hh, dL/db_ih,
// dL/db_hh into the gradients of the op's inputs x, w_ih, w_hh, b_ih, b_hh that require grad.
void lstm_layer_backward(const Tensor& ghc, const LstmLayerCache& cache, const Tensor& x, const Tensor& w_ih,
                         const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh);

// The plain loops lstm_layer's forward is tested against (no BLAS, no graph). Same layout.
template <class S>
void lstm_layer_reference(int64_t B, int64_t T, int64_t D, int64_t H, const S* x, const S* w_ih, const S* w_hh,
                          const S* b_ih, const S* b_hh, S* hc);

struct LSTMOutput {
  Tensor output;  // (B,T,H): h_t of the last layer at every step
  Tensor h_n;     // (L,B,H): each layer's last hidden state
  Tensor c_n;     // (L,B,H): each layer's last cell state
};

class LSTM : public Module {
 public:
  // Every weight and bias U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, DType dtype = DType::F32);

  LSTMOutput forward(const Tensor& x) const;  // x (B,T,D), batch first

  int64_t input_size, hidden_size, num_layers;
  // Per layer l, registered as weight_ih_l<l>, weight_hh_l<l>, bias_ih_l<l>, bias_hh_l<l>.
  std::vector<Tensor> weight_ih;  // (G, D) for l = 0, (G, H) above
  std::vector<Tensor> weight_hh;  // (G, H)
  std::vector<Tensor> bias_ih;    // (G)
  std::vector<Tensor> bias_hh;    // (G)
};

}  // namespace mtfn::nn
