// The attention pieces of nn/: softmax (core's op, through nn::Softmax), LayerNorm, the attention core and
// MultiheadAttention. Finite differences in float64, the plain-loop reference, and PyTorch parity
// (tests/fixtures/nn/{softmax,layer_norm,multihead_attention*}.safetensors, tools/make_attention_fixtures.py;
// 1e-10 relative).
#include <tbb/global_control.h>

#include <cstring>

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
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

std::vector<Tensor> with(std::vector<Tensor> xs, const std::vector<Tensor>& rest) {
  xs.insert(xs.end(), rest.begin(), rest.end());
  return xs;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(softmax_module)

BOOST_AUTO_TEST_CASE(pytorch_parity_and_rows_sum_to_one) {
  const SafetensorsFile f = nn_fixture("softmax.safetensors");
  Softmax sm;
  Tensor x = leaf_of(f.tensors.at("input"));  // (3,4,5), one entry 800: a naive exp would overflow
  Tensor y = sm.forward(x);
  CHECK_TENSOR_CLOSE(y, f.tensors.at("output"), kParity);
  BOOST_TEST(y.at(2) == 1.0);  // the row with 800 is one-hot
  for (int64_t r = 0; r < 12; ++r) {
    double s = 0;
    for (int64_t i = 0; i < 5; ++i) s += y.at(r * 5 + i);
    BOOST_TEST(s == 1.0, boost::test_tools::tolerance(1e-15));
  }
  y.backward(f.tensors.at("grad_output"));
  CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(layer_norm_module)

BOOST_AUTO_TEST_CASE(defaults_and_names) {
  LayerNorm ln(5);
  BOOST_TEST(ln.eps == 1e-5);
  BOOST_TEST(ln.weight.to_vector() == std::vector<double>(5, 1.0));
  BOOST_TEST(ln.bias.to_vector() == std::vector<double>(5, 0.0));
  std::vector<std::string> names;
  for (auto& [n, t] : ln.named_parameters()) names.push_back(n);
  BOOST_TEST(names == (std::vector<std::string>{"weight", "bias"}), boost::test_tools::per_element());
  // Each row normalised: mean 0, biased variance var / (var + eps).
  ln.to(DType::F64);
  const Tensor y = ln.forward(Tensor::from_vector({1, 2, 3, 4, 5, -2, -2, -2, -2, 8}, {2, 5}, DType::F64));
  const double r0 = 1.0 / std::sqrt(2.0 + 1e-5);  // row 0: mean 3, variance 2
  BOOST_TEST(y.at(0) == -2 * r0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(y.at(4) == 2 * r0, boost::test_tools::tolerance(1e-14));
  const double r1 = 1.0 / std::sqrt(16.0 + 1e-5);  // row 1: mean 0, variance 16
  BOOST_TEST(y.at(5) == -2 * r1, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(y.at(9) == 8 * r1, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  for (Shape s : {Shape{1, 4}, Shape{3, 6}, Shape{2, 3, 5}, Shape{7}}) {
    BOOST_TEST_CONTEXT("shape " << shape_str(s)) {
      const int64_t E = s.back();
      Tensor x = leaf(s, 40, -2, 2);
      Tensor w = leaf({E}, 41, 0.5, 1.5), b = leaf({E}, 42);
      CHECK_GRADS("layer_norm", Fn([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); }), x,
                  w, b);
    }
  }
}

BOOST_AUTO_TEST_CASE(pytorch_parity) {
  const SafetensorsFile f = nn_fixture("layer_norm.safetensors");
  LayerNorm ln(6, 1e-5, DType::F64);
  ln.load_state_dict(pick(f, {"weight", "bias"}));
  Tensor x = leaf_of(f.tensors.at("input"));  // (2,3,6)
  Tensor y = ln.forward(x);
  CHECK_TENSOR_CLOSE(y, f.tensors.at("output"), kParity);
  y.backward(f.tensors.at("grad_output"));
  CHECK_TENSOR_CLOSE(ln.weight.grad(), f.tensors.at("grad.weight"), kParity);
  CHECK_TENSOR_CLOSE(ln.bias.grad(), f.tensors.at("grad.bias"), kParity);
  CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
}

BOOST_AUTO_TEST_CASE(errors_name_the_op) {
  BOOST_TEST(ERROR_MESSAGE(layer_norm(Tensor::ones({2, 3}), Tensor::ones({4}), Tensor::zeros({4}))) ==
             "layer_norm: expected x (..., E), weight (E), bias (E); got (2, 3), (4,), (4,)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(attention_core)

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  // N problems of L tokens, Dh wide; L = 1 (softmax of one score: P = 1) included.
  for (Shape s : {Shape{1, 1, 3}, Shape{2, 3, 4}, Shape{3, 7, 2}}) {
    BOOST_TEST_CONTEXT("shape " << shape_str(s)) {
      CHECK_GRADS("attention",
                  Fn([](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); }),
                  leaf(s, 50, -2, 2), leaf(s, 51, -2, 2), leaf(s, 52));
    }
  }
}

BOOST_AUTO_TEST_CASE(matches_plain_loops_and_weights_are_rows_of_a_softmax) {
  for (DType dt : {DType::F64, DType::F32}) {
    const int64_t N = 5, L = 7, Dh = 4;
    const Tensor q = random_tensor({N, L, Dh}, 53, -2, 2, dt), k = random_tensor({N, L, Dh}, 54, -2, 2, dt),
                 v = random_tensor({N, L, Dh}, 55, -1, 1, dt);
    Tensor w;
    const Tensor o = scaled_dot_product_attention(q, k, v, &w);
    Tensor ref = Tensor::empty({N, L, Dh}, dt);
    MTFN_DISPATCH(dt, attention_reference<scalar_t>(N, L, Dh, 0.5, q.data<scalar_t>(), k.data<scalar_t>(),
                                                     v.data<scalar_t>(), ref.data<scalar_t>()));
    // The same computation in another order. A score 0.5 q.k sums Dh = 4 products with sum|terms| <= 8,
    // so it is off by <= 5 u 8 = 40 u (absolute); exp passes that on as a relative error (+ u), the
    // softmax's sum over L = 7 adds 8 u, the output's sum over L terms of |v| <= 1 another 8 u: each
    // weight within 50 u (relative) and each output within 60 u (absolute, outputs of at most 1).
    const double u = dt == DType::F64 ? 0x1p-53 : 0x1p-24;
    double worst = 0;
    for (int64_t i = 0; i < o.numel(); ++i) worst = std::max(worst, std::abs(o.at(i) - ref.at(i)));
    BOOST_TEST(worst <= 60 * u);
    BOOST_TEST(w.shape() == (Shape{N, L, L}));
    for (int64_t r = 0; r < N * L; ++r) {
      double s = 0;
      for (int64_t j = 0; j < L; ++j) s += w.at(r * L + j);
      BOOST_TEST(std::abs(s - 1.0) <= 60 * u);  // L weights, each within 50 u of its share, summed exactly
    }
  }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  auto run = [] {
    Tensor q = random_tensor({64, 7, 16}, 56, -1, 1, DType::F32).set_requires_grad(true);
    Tensor k = random_tensor({64, 7, 16}, 57, -1, 1, DType::F32).set_requires_grad(true);
    Tensor v = random_tensor({64, 7, 16}, 58, -1, 1, DType::F32).set_requires_grad(true);
    Tensor o = scaled_dot_product_attention(q, k, v);
    sum(mul(o, o)).backward();
    std::vector<double> out = o.to_vector();
    for (const Tensor& t : {q, k, v})
      for (double g : t.grad().to_vector()) out.push_back(g);
    return out;
  };
  std::vector<double> one, many;
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
    one = run();
  }
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 4);
    many = run();
  }
  BOOST_TEST_REQUIRE(one.size() == many.size());
  BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(double)) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(multihead_attention)

BOOST_AUTO_TEST_CASE(names_shapes_and_initialisation) {
  Generator gen(3);
  MultiheadAttention mha(8, 2, gen);
  std::vector<std::string> names;
  for (auto& [n, t] : mha.named_parameters()) names.push_back(n);
  const std::vector<std::string> want{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
  BOOST_TEST(mha.in_proj_weight.shape() == (Shape{24, 8}));
  BOOST_TEST(mha.head_dim == 4);
  const double xavier = std::sqrt(6.0 / 32.0);
  for (double v : mha.in_proj_weight.to_vector()) BOOST_TEST(std::abs(v) <= xavier);
  BOOST_TEST(mha.in_proj_bias.to_vector() == std::vector<double>(24, 0.0));
  BOOST_TEST(mha.out_proj->bias.to_vector() == std::vector<double>(8, 0.0));
  BOOST_TEST(ERROR_MESSAGE(MultiheadAttention(8, 3, gen)) ==
             "MultiheadAttention: embed_dim 8 must be a positive multiple of num_heads 3");
  BOOST_TEST(ERROR_MESSAGE(mha.forward(Tensor::ones({2, 8}))) == "MultiheadAttention: expected x (B,L,8), got (2, 8)");
}

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  for (auto [E, heads] : {std::pair<int64_t, int64_t>{6, 2}, {4, 1}, {6, 3}}) {
    BOOST_TEST_CONTEXT("E " << E << ", heads " << heads) {
      Generator gen(60);
      MultiheadAttention mha(E, heads, gen, DType::F64);
      // Non-zero biases, so their gradients are checked where they matter.
      for (Tensor b : {mha.in_proj_bias, mha.out_proj->bias}) b.copy_from(random_tensor(b.shape(), 61));
      Tensor x = leaf({2, 4, E}, 62);
      CHECK_GRADS("MultiheadAttention", [&](const std::vector<Tensor>& in) { return mha.forward(in[0]); },
                  with({x}, mha.parameters()));
    }
  }
}

BOOST_AUTO_TEST_CASE(pytorch_parity) {
  for (const char* name : {"multihead_attention.safetensors", "multihead_attention_one_head.safetensors"}) {
    BOOST_TEST_CONTEXT(name) {
      const SafetensorsFile f = nn_fixture(name);
      const Tensor& x0 = f.tensors.at("input");  // (B,L,E)
      const int64_t E = x0.size(2), heads = f.tensors.at("weights").size(1);
      Generator gen(0);
      MultiheadAttention mha(E, heads, gen, DType::F64);
      mha.load_state_dict(pick(f, {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
      Tensor x = leaf_of(x0);
      Tensor w;
      Tensor y = mha.forward(x, &w);
      CHECK_TENSOR_CLOSE(y, f.tensors.at("output"), kParity);
      CHECK_TENSOR_CLOSE(w, f.tensors.at("weights"), kParity);
      y.backward(f.tensors.at("grad_output"));
      CHECK_TENSOR_CLOSE(mha.in_proj_weight.grad(), f.tensors.at("grad.in_proj_weight"), kParity);
      CHECK_TENSOR_CLOSE(mha.in_proj_bias.grad(), f.tensors.at("grad.in_proj_bias"), kParity);
      CHECK_TENSOR_CLOSE(mha.out_proj->weight.grad(), f.tensors.at("grad.out_proj.weight"), kParity);
      CHECK_TENSOR_CLOSE(mha.out_proj->bias.grad(), f.tensors.at("grad.out_proj.bias"), kParity);
      CHECK_TENSOR_CLOSE(x.grad(), f.tensors.at("grad.input"), kParity);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
