// MMSA's SubNet and TextSubNet. Shapes as in subnets.h.
#include "models/subnets.h"

#include "core/ops.h"

namespace mtfn::models {

SubNet::SubNet(int64_t in, int64_t hidden, double dropout, nn::Generator& gen, DType dtype) : Module("SubNet") {
  norm = register_module("norm", std::make_shared<nn::BatchNorm1d>(in, 1e-5, 0.1, dtype));
  drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
  linear_1 = register_module("linear_1", std::make_shared<nn::Linear>(in, hidden, gen, true, dtype));
  linear_2 = register_module("linear_2", std::make_shared<nn::Linear>(hidden, hidden, gen, true, dtype));
  linear_3 = register_module("linear_3", std::make_shared<nn::Linear>(hidden, hidden, gen, true, dtype));
}

Tensor SubNet::forward(const Tensor& x) {
  Tensor y = drop->forward(norm->forward(x));  // (B, D)
  y = relu(linear_1->forward(y));              // (B, H)
  y = relu(linear_2->forward(y));
  return relu(linear_3->forward(y));
}

TextSubNet::TextSubNet(int64_t in, int64_t hidden, int64_t out, nn::Generator& gen, DType dtype)
    : Module("TextSubNet") {
  rnn = register_module("rnn", std::make_shared<nn::LSTM>(in, hidden, 1, gen, dtype));
  linear_1 = register_module("linear_1", std::make_shared<nn::Linear>(hidden, out, gen, true, dtype));
}

Tensor TextSubNet::forward(const Tensor& x) const {
  const nn::LSTMOutput o = rnn->forward(x);                          // h_n (1, B, Ht)
  const Tensor h = reshape(o.h_n, {x.size(0), rnn->hidden_size});  // (B, Ht): h after all S steps
  return linear_1->forward(h);                                     // (B, To), no activation
}

}  // namespace mtfn::models
