// Linear, LSTM, BatchNorm1d, TensorFusion: finite differences in float64 and PyTorch parity
// (tests/fixtures/nn/, 1e-10 relative).
#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::nn;
using namespace mtfn::testing;

namespace {
constexpr double kParity = 1e-10;

// All of a module's float64 parameters, for gradcheck (it perturbs them in place).
std::vector<Tensor> params_of(const Module& m) { return m.parameters(); }

std::vector<Tensor> with(Tensor x, std::vector<Tensor> rest) {
  rest.insert(rest.begin(), std::move(x));
  return rest;
}

// Flattens several outputs into one vector, so one gradcheck covers them all.
Tensor flat_concat(const std::vector<Tensor>& ys) {
  std::vector<Tensor> flat;
  for (const Tensor& y : ys) flat.push_back(reshape(y, {-1}));
  return concat(flat, 0);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(linear_layer)

BOOST_AUTO_TEST_CASE(initialisation_is_pytorch_uniform) {
  Generator gen(7);
  Linear lin(400, 300, gen);
  const double bound = 1.0 / 20.0;
  const std::vector<double> w = lin.weight.to_vector();
  double mean = 0, sq = 0, lo = 1, hi = -1;
  for (double v : w) {
    mean += v;
    sq += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  mean /= double(w.size());
  sq /= double(w.size());
  BOOST_TEST(lo >= -bound);
  BOOST_TEST(hi < bound);
  BOOST_TEST(hi - lo > 1.99 * bound);
  BOOST_TEST(std::abs(mean) < 1e-3 * bound * 10);
  BOOST_TEST(std::abs(sq - bound * bound / 3) < 0.01 * bound * bound);  // variance of U(-b, b) = b^2/3
  for (double v : lin.bias.to_vector()) BOOST_TEST(std::abs(v) < bound);
  // Seeded: the same seed gives the same weights; another seed others.
  Generator same(7), other(8);
  BOOST_TEST(Linear(400, 300, same).weight.to_vector() == w);
  BOOST_TEST(Linear(400, 300, other).weight.to_vector() != w);
}

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  Generator gen(9);
  Linear lin(4, 3, gen);
  lin.to(DType::F64);
  Tensor x = leaf({5, 4}, 11);
  CHECK_GRADS("Linear", [&](const std::vector<Tensor>& in) { return lin.forward(in[0]); }, with(x, params_of(lin)));
}

BOOST_AUTO_TEST_CASE(pytorch_parity) {
  const SafetensorsFile f = nn_fixture("linear.safetensors");
  Generator gen(0);
  Linear lin(5, 3, gen);
  lin.to(DType::F64);
  lin.load_state_dict(pick(f, {"weight", "bias"}));
  Tensor x = leaf_of(f.tensors.at("input"));
  Tensor y = lin.forward(x);
  CHECK_TENSOR_CLOSE(y, f.tensors.at("output"), kParity);
  y.backward(f.tensors.at("grad_output"));
  CHECK_TENSOR_CLOSE(lin.weight.grad(), f.tensors.at("grad.weight"), kParity);
  CHECK_TENSOR_CLOSE(lin.bias.grad(), f.tensors.at("grad.bias"), kParity);
  CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lstm)

BOOST_AUTO_TEST_CASE(names_shapes_and_initialisation) {
  Generator gen(1);
  LSTM rnn(5, 4, 2, gen);
  std::vector<std::string> names;
  for (auto& [n, t] : rnn.named_parameters()) names.push_back(n);
  const std::vector<std::string> want{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                      "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
  BOOST_TEST(rnn.weight_ih[0].shape() == (Shape{16, 5}));
  BOOST_TEST(rnn.weight_ih[1].shape() == (Shape{16, 4}));
  for (const Tensor& p : rnn.parameters())
    for (double v : p.to_vector()) BOOST_TEST(std::abs(v) < 0.5);  // U(-1/sqrt(4), 1/sqrt(4))
}

BOOST_AUTO_TEST_CASE(op_matches_plain_loops) {
  for (DType dt : {DType::F64, DType::F32}) {
    const int64_t B = 3, T = 4, D = 5, H = 6;
    Generator gen(2);
    LSTM rnn(D, H, 1, gen, dt);
    Tensor x = random_tensor({B, T, D}, 3, -1, 1, dt);
    Tensor hc = lstm_layer(x, rnn.weight_ih[0], rnn.weight_hh[0], rnn.bias_ih[0], rnn.bias_hh[0]);
    Tensor ref = Tensor::empty({B, T + 1, H}, dt);
    MTFN_DISPATCH(dt, lstm_layer_reference<scalar_t>(B, T, D, H, x.data<scalar_t>(), rnn.weight_ih[0].data<scalar_t>(),
                                                      rnn.weight_hh[0].data<scalar_t>(), rnn.bias_ih[0].data<scalar_t>(),
                                                      rnn.bias_hh[0].data<scalar_t>(), ref.data<scalar_t>()));
    // The same sums in another order. A gate's input sums D + H + 2 = 13 terms of |x|, |h| <= 1 and
    // |w| <= 1/sqrt(H): sum|terms| <= 13 / sqrt(6) = 5.3, so it is off by <= 13 u 5.3 = 69 u; sigmoid
    // and tanh pass it on at most unchanged (slopes <= 1), c and h add ~6 u a step, and |f| < 1 keeps
    // the earlier steps' errors from growing: <= T (69 + 6) u = 300 u over T = 4 steps, absolute, on
    // outputs of at most 1. float32: 300 u = 1.8e-5; float64: 3.3e-14.
    const double u = dt == DType::F64 ? 0x1p-53 : 0x1p-24;
    double worst = 0;
    for (int64_t i = 0; i < hc.numel(); ++i) worst = std::max(worst, std::abs(hc.at(i) - ref.at(i)));
    BOOST_TEST(worst <= 300 * u);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_two_layers_output_and_final_states) {
  Generator gen(4);
  LSTM rnn(3, 4, 2, gen);
  rnn.to(DType::F64);
  Tensor x = leaf({2, 4, 3}, 5);  // B = 2, T = 4
  CHECK_GRADS("LSTM",
      [&](const std::vector<Tensor>& in) {
        LSTMOutput o = rnn.forward(in[0]);
        return flat_concat({o.output, o.h_n, o.c_n});
      },
      with(x, params_of(rnn)));
}

BOOST_AUTO_TEST_CASE(gradcheck_through_h_n_only) {
  Generator gen(6);
  LSTM rnn(3, 2, 1, gen);
  rnn.to(DType::F64);
  Tensor x = leaf({3, 5, 3}, 7);
  CHECK_GRADS("LSTM", [&](const std::vector<Tensor>& in) { return rnn.forward(in[0]).h_n; }, with(x, params_of(rnn)));
}

BOOST_AUTO_TEST_CASE(gradcheck_single_step_and_c_n) {
  Generator gen(8);
  LSTM rnn(2, 3, 1, gen);
  rnn.to(DType::F64);
  Tensor x = leaf({2, 1, 2}, 9);
  CHECK_GRADS("LSTM", [&](const std::vector<Tensor>& in) { return rnn.forward(in[0]).c_n; }, with(x, params_of(rnn)));
}

void lstm_parity(const std::string& file, int64_t layers) {
  const SafetensorsFile f = nn_fixture(file);
  const Tensor& x0 = f.tensors.at("input");
  const int64_t D = x0.size(2), H = f.tensors.at("weight_hh_l0").size(1);
  Generator gen(0);
  LSTM rnn(D, H, layers, gen);
  rnn.to(DType::F64);
  StateDict state;
  for (auto& [name, t] : rnn.named_parameters()) state.insert(name, f.tensors.at(name));
  rnn.load_state_dict(state);
  Tensor x = leaf_of(x0);
  LSTMOutput o = rnn.forward(x);
  CHECK_TENSOR_CLOSE(o.output, f.tensors.at("output"), kParity);
  CHECK_TENSOR_CLOSE(o.h_n, f.tensors.at("h_n"), kParity);
  CHECK_TENSOR_CLOSE(o.c_n, f.tensors.at("c_n"), kParity);
  // L = sum(output * grad_output) + sum(h_n * grad_h_n)
  Tensor loss = add(sum(mul(o.output, f.tensors.at("grad_output"))), sum(mul(o.h_n, f.tensors.at("grad_h_n"))));
  loss.backward();
  for (auto& [name, t] : rnn.named_parameters()) {
    BOOST_TEST_CONTEXT(name) { CHECK_TENSOR_CLOSE(t.grad(), f.tensors.at("grad." + name), kParity); }
  }
  CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
}

BOOST_AUTO_TEST_CASE(pytorch_parity_two_layers) { lstm_parity("lstm.safetensors", 2); }
BOOST_AUTO_TEST_CASE(pytorch_parity_last_state_only) { lstm_parity("lstm_last.safetensors", 1); }

BOOST_AUTO_TEST_CASE(one_node_per_layer) {
  Generator gen(1);
  LSTM rnn(2, 3, 1, gen);
  Tensor x = Tensor::ones({2, 7, 2});
  Tensor h = rnn.forward(x).h_n;  // reshape <- slice <- lstm_layer, whatever T is
  BOOST_TEST(std::string(h.grad_fn()->name) == "reshape");
  const Tensor& s = h.grad_fn()->inputs[0];
  BOOST_TEST(std::string(s.grad_fn()->name) == "slice");
  BOOST_TEST(std::string(s.grad_fn()->inputs[0].grad_fn()->name) == "lstm_layer");
  BOOST_TEST(ERROR_MESSAGE(rnn.forward(Tensor::ones({2, 7, 3}))) == "LSTM: expected input (B, T, 2), got (2, 7, 3)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batchnorm)

BOOST_AUTO_TEST_CASE(gradcheck_training_mode) {
  BatchNorm1d bn(3);
  bn.to(DType::F64);
  bn.weight.copy_from(Tensor::from_vector({1.5, -0.5, 0.8}, {3}));
  bn.bias.copy_from(Tensor::from_vector({0.1, 0.2, -0.3}, {3}));
  Tensor x = leaf({5, 3}, 21, -2, 2);
  CHECK_GRADS("BatchNorm1d", [&](const std::vector<Tensor>& in) { return bn.forward(in[0]); }, with(x, params_of(bn)));
}

BOOST_AUTO_TEST_CASE(gradcheck_eval_mode) {
  BatchNorm1d bn(3);
  bn.to(DType::F64);
  bn.running_mean.copy_from(Tensor::from_vector({0.3, -1.0, 2.0}, {3}));
  bn.running_var.copy_from(Tensor::from_vector({0.5, 2.0, 1.5}, {3}));
  bn.weight.copy_from(Tensor::from_vector({1.5, -0.5, 0.8}, {3}));
  bn.eval();
  Tensor x = leaf({4, 3}, 22, -2, 2);
  CHECK_GRADS("BatchNorm1d", [&](const std::vector<Tensor>& in) { return bn.forward(in[0]); }, with(x, params_of(bn)));
}

BOOST_AUTO_TEST_CASE(pytorch_parity_train_then_eval) {
  const SafetensorsFile f = nn_fixture("batchnorm1d.safetensors");
  BatchNorm1d bn(4);
  bn.to(DType::F64);
  bn.load_state_dict(pick(f, {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  bn.train();
  Tensor x = leaf_of(f.tensors.at("input"));
  Tensor y = bn.forward(x);
  CHECK_TENSOR_CLOSE(y, f.tensors.at("output"), kParity);
  y.backward(f.tensors.at("grad_output"));
  CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
  CHECK_TENSOR_CLOSE(bn.weight.grad(), f.tensors.at("grad.weight"), kParity);
  CHECK_TENSOR_CLOSE(bn.bias.grad(), f.tensors.at("grad.bias"), kParity);
  CHECK_TENSOR_CLOSE(bn.running_mean, f.tensors.at("after.running_mean"), kParity);
  CHECK_TENSOR_CLOSE(bn.running_var, f.tensors.at("after.running_var"), kParity);
  BOOST_TEST(bn.num_batches_tracked.item() == f.tensors.at("after.num_batches_tracked").item());
  BOOST_TEST(f.tensors.find("after.num_batches_tracked")->int64);

  bn.eval();
  bn.zero_grad();
  Tensor xe = leaf_of(f.tensors.at("eval.input"));
  Tensor ye = bn.forward(xe);
  CHECK_TENSOR_CLOSE(ye, f.tensors.at("eval.output"), kParity);
  ye.backward(f.tensors.at("eval.grad_output"));
  CHECK_TENSOR_CLOSE(xe.grad(), f.tensors.at("eval.grad.input"), kParity);
  CHECK_TENSOR_CLOSE(bn.weight.grad(), f.tensors.at("eval.grad.weight"), kParity);
  CHECK_TENSOR_CLOSE(bn.bias.grad(), f.tensors.at("eval.grad.bias"), kParity);
  BOOST_TEST(bn.num_batches_tracked.item() == 1.0);  // eval does not count
}

BOOST_AUTO_TEST_CASE(float32_and_errors) {
  BatchNorm1d bn(2);
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 7}, {3, 2});
  Tensor y = bn.forward(x);
  BOOST_TEST(y.dtype() == DType::F32);
  BOOST_TEST(std::abs(y.at(0) + 1.2247) < 1e-3);        // (1 - 3) / sqrt(8/3 + eps)
  BOOST_TEST(std::abs(bn.running_var.at(1) - (0.9 + 0.1 * 6.3333333)) < 1e-5);  // unbiased: 19/3
  BOOST_TEST(ERROR_MESSAGE(bn.forward(Tensor::ones({1, 2}))) ==
             "batch_norm_train: expected more than 1 value per channel, got input (1, 2)");
  BOOST_TEST(ERROR_MESSAGE(bn.forward(Tensor::ones({4, 3}))) == "BatchNorm1d(2): expected input (B, 2), got (4, 3)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fusion_module)

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  TensorFusion fusion;
  Tensor a = leaf({2, 2}, 31), v = leaf({2, 3}, 32), t = leaf({2, 2}, 33);
  CHECK_GRADS("TensorFusion", [&](const std::vector<Tensor>& in) { return fusion.forward(in[0], in[1], in[2]); }, {a, v, t});
  BOOST_TEST(TensorFusion::output_width(32, 256, 256) == 2179617);
}

BOOST_AUTO_TEST_CASE(pytorch_parity) {
  const SafetensorsFile f = nn_fixture("fusion.safetensors");
  TensorFusion fusion;
  Tensor a = leaf_of(f.tensors.at("a")), v = leaf_of(f.tensors.at("v")), t = leaf_of(f.tensors.at("t"));
  Tensor z = fusion.forward(a, v, t);
  CHECK_TENSOR_CLOSE(z, f.tensors.at("z"), kParity);
  z.backward(f.tensors.at("grad_z"));
  CHECK_TENSOR_CLOSE(a.grad(), f.tensors.at("grad.a"), kParity);
  CHECK_TENSOR_CLOSE(v.grad(), f.tensors.at("grad.v"), kParity);
  CHECK_TENSOR_CLOSE(t.grad(), f.tensors.at("grad.t"), kParity);
}

BOOST_AUTO_TEST_SUITE_END()
