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
Tensor lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh);

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
