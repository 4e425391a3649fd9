// Module bookkeeping: PyTorch's names and order, strict loading, freezing, dtype conversion.
#include "core/ops/reduce.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::nn;
using namespace mtfn::testing;

namespace {

// A small MTFN-like tree: own frozen parameters registered after the children still come first.
struct SubNet : Module {
  SubNet(int64_t in, int64_t hidden, Generator& gen) : Module("SubNet") {
    norm = register_module("norm", std::make_shared<BatchNorm1d>(in));
    drop = register_module("drop", std::make_shared<Dropout>(0.2));
    linear_1 = register_module("linear_1", std::make_shared<Linear>(in, hidden, gen));
  }
  std::shared_ptr<BatchNorm1d> norm;
  std::shared_ptr<Dropout> drop;
  std::shared_ptr<Linear> linear_1;
};

struct Net : Module {
  explicit Net(Generator& gen) : Module("Net") {
    audio_subnet = register_module("audio_subnet", std::make_shared<SubNet>(3, 2, gen));
    rnn = register_module("rnn", std::make_shared<LSTM>(2, 3, 1, gen));
    output_range = register_parameter("output_range", Tensor::full({1}, 6.0), false);
  }
  std::shared_ptr<SubNet> audio_subnet;
  std::shared_ptr<LSTM> rnn;
  Tensor output_range;
};

std::vector<std::string> names_of(const StateDict& d) {
  std::vector<std::string> out;
  for (const NamedTensor& e : d) out.push_back(e.name);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(module)

BOOST_AUTO_TEST_CASE(names_and_order_follow_pytorch) {
  Generator gen(1);
  Net net(gen);
  std::vector<std::string> params;
  for (auto& [n, t] : net.named_parameters()) params.push_back(n);
  const std::vector<std::string> want_params{
      "output_range", "audio_subnet.norm.weight", "audio_subnet.norm.bias", "audio_subnet.linear_1.weight",
      "audio_subnet.linear_1.bias", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"};
  BOOST_TEST(params == want_params, boost::test_tools::per_element());
  const std::vector<std::string> want_state{"output_range",
                                            "audio_subnet.norm.weight",
                                            "audio_subnet.norm.bias",
                                            "audio_subnet.norm.running_mean",
                                            "audio_subnet.norm.running_var",
                                            "audio_subnet.norm.num_batches_tracked",
                                            "audio_subnet.linear_1.weight",
                                            "audio_subnet.linear_1.bias",
                                            "rnn.weight_ih_l0",
                                            "rnn.weight_hh_l0",
                                            "rnn.bias_ih_l0",
                                            "rnn.bias_hh_l0"};
  const StateDict state = net.state_dict();
  BOOST_TEST(names_of(state) == want_state, boost::test_tools::per_element());
  BOOST_TEST(state.find("audio_subnet.norm.num_batches_tracked")->int64);
  BOOST_TEST(!state.find("audio_subnet.norm.running_var")->int64);
  BOOST_TEST(net.parameter("rnn.weight_hh_l0").shape() == (Shape{12, 3}));
  BOOST_TEST(net.num_parameters() == 1 + 3 + 3 + 6 + 2 + 24 + 36 + 12 + 12);
  BOOST_TEST(ERROR_MESSAGE(net.parameter("rnn.nope")) == "Net: no parameter named 'rnn.nope'");
  BOOST_TEST(net.named_buffers().size() == 3u);
}

BOOST_AUTO_TEST_CASE(frozen_parameters_and_modes) {
  Generator gen(1);
  Net net(gen);
  BOOST_TEST(!net.output_range.requires_grad());
  BOOST_TEST(net.rnn->weight_ih[0].requires_grad());
  net.freeze("rnn.bias_hh_l0");
  BOOST_TEST(!net.rnn->bias_hh[0].requires_grad());
  BOOST_TEST(net.audio_subnet->drop->is_training());
  net.eval();
  BOOST_TEST(!net.audio_subnet->drop->is_training());
  BOOST_TEST(!net.rnn->is_training());
  net.train();
  BOOST_TEST(net.audio_subnet->norm->is_training());
}

BOOST_AUTO_TEST_CASE(zero_grad_fills_or_drops_gradients) {
  Generator gen(2);
  Linear lin(3, 2, gen);
  Tensor x = Tensor::ones({4, 3});
  sum(lin.forward(x)).backward();
  const Tensor g = lin.weight.grad();
  BOOST_TEST(g.defined());
  lin.zero_grad();  // PyTorch 1.13: zeroed in place, the buffer kept
  BOOST_TEST(lin.weight.grad().same(g));
  for (double v : g.to_vector()) BOOST_TEST(v == 0.0);
  sum(lin.forward(x)).backward();
  BOOST_TEST(lin.weight.grad().same(g));  // the next backward adds into the same buffer
  BOOST_TEST(g.at(0) == 1.0 * 4);
  lin.zero_grad(/*set_to_none=*/true);
  BOOST_TEST(!lin.weight.grad().defined());
  BOOST_TEST(!lin.bias.grad().defined());
}

BOOST_AUTO_TEST_CASE(to_float64_keeps_handles_and_values) {
  Generator gen(3);
  Net net(gen);
  const Tensor w = net.audio_subnet->linear_1->weight;  // a handle taken before the conversion
  const std::vector<double> before = w.to_vector();
  net.to(DType::F64);
  BOOST_TEST(w.dtype() == DType::F64);
  BOOST_TEST(net.audio_subnet->linear_1->weight.same(w));
  BOOST_TEST(w.to_vector() == before, boost::test_tools::per_element());
  BOOST_TEST(net.audio_subnet->norm->running_mean.dtype() == DType::F64);
  BOOST_TEST(w.requires_grad());
  BOOST_TEST(!net.output_range.requires_grad());
  net.to(DType::F32);
  BOOST_TEST(w.dtype() == DType::F32);
  BOOST_TEST(net.audio_subnet->norm->num_batches_tracked.dtype() == DType::F64);  // integers stay float64
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_copies_values) {
  Generator g1(4), g2(5);
  Net a(g1), b(g2);
  BOOST_TEST(a.rnn->weight_hh[0].to_vector() != b.rnn->weight_hh[0].to_vector());
  b.load_state_dict(a.state_dict());
  for (auto& [name, t] : a.named_parameters())
    BOOST_TEST(t.to_vector() == b.parameter(name).to_vector(), boost::test_tools::per_element());
  BOOST_TEST(!b.rnn->weight_hh[0].same(a.rnn->weight_hh[0]));  // copied, not shared
}

BOOST_AUTO_TEST_CASE(strict_load_lists_every_problem_in_one_error) {
  Generator gen(6);
  Net net(gen);
  StateDict bad;
  for (const NamedTensor& e : net.state_dict()) {
    if (e.name == "rnn.bias_ih_l0" || e.name == "audio_subnet.norm.running_var") continue;  // missing
    if (e.name == "audio_subnet.linear_1.weight") {
      bad.insert(e.name, Tensor::zeros({3, 2}));  // transposed: wrong shape
      continue;
    }
    bad.insert(e.name, e.tensor, e.int64);
  }
  bad.insert("Model.extra", Tensor::zeros({1}));
  const std::vector<double> kept = net.rnn->weight_hh[0].to_vector();
  BOOST_TEST(ERROR_MESSAGE(net.load_state_dict(bad, "ckpt.safetensors")) ==
             "ckpt.safetensors: does not fit Net: missing audio_subnet.norm.running_var, rnn.bias_ih_l0; "
             "unexpected Model.extra; wrong shape audio_subnet.linear_1.weight (3, 2) (expected (2, 3))");
  // Nothing was loaded.
  BOOST_TEST(net.rnn->weight_hh[0].to_vector() == kept, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(registration_errors) {
  struct Twice : Module {
    Twice() : Module("Twice") {
      register_parameter("w", Tensor::zeros({1}));
      register_buffer("w", Tensor::zeros({1}));
    }
  };
  BOOST_TEST(ERROR_MESSAGE(Twice()) == "Twice: name 'w' registered twice");
  struct Dotted : Module {
    Dotted() : Module("Dotted") { register_parameter("a.b", Tensor::zeros({1})); }
  };
  BOOST_TEST(ERROR_MESSAGE(Dotted()) == "Dotted: bad name 'a.b' (non-empty, no dots)");
}

BOOST_AUTO_TEST_CASE(tensor_dict_prefixes) {
  TensorDict d;
  d.insert("Model.a", Tensor::zeros({1}));
  d.insert("Model.b.c", Tensor::zeros({2}), true);
  d.insert("other", Tensor::zeros({3}));
  TensorDict s = d.strip_prefix("Model.");
  BOOST_TEST(s.size() == 2u);
  BOOST_TEST(s.find("b.c")->int64);
  TensorDict e;
  e.insert_all(s, "opt.");
  BOOST_TEST(e.contains("opt.a"));
  BOOST_TEST(ERROR_MESSAGE(d.insert("other", Tensor())) == "tensor 'other' appears twice");
  BOOST_TEST(ERROR_MESSAGE(d.at("zzz")) == "no tensor named 'zzz'");
}

BOOST_AUTO_TEST_SUITE_END()
