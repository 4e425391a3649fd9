// Finite-difference checks (float64, gradcheck's default tolerances: core/gradcheck.h) of every op,
// over several shapes, broadcasting and size-1 dimensions included.
#include <boost/test/unit_test.hpp>

#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/fusion.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "tests/core/test_helpers.h"

using namespace mtfn;
using mtfn::testing::leaf;

namespace {
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3}, {3}},          {{2, 3}, {2, 3}},    {{2, 3}, {3}},    {{2, 3}, {1, 3}},  {{2, 1}, {1, 4}},
    {{4, 1, 3}, {2, 1}}, {{1}, {2, 2}},       {{}, {2, 3}},     {{2, 3, 4}, {2, 3, 4}}, {{5, 1}, {5, 1}},
};
}  // namespace

BOOST_AUTO_TEST_SUITE(gradients)

BOOST_AUTO_TEST_CASE(binary_ops_broadcast) {
  int seed = 1;
  for (auto [sa, sb] : kBroadcastPairs) {
    BOOST_TEST_CONTEXT("shapes " << shape_str(sa) << " " << shape_str(sb)) {
      CHECK_GRADS("add", Fn([](const std::vector<Tensor>& x) { return add(x[0], x[1]); }), leaf(sa, seed), leaf(sb, seed + 1));
      CHECK_GRADS("sub", Fn([](const std::vector<Tensor>& x) { return sub(x[0], x[1]); }), leaf(sa, seed + 2), leaf(sb, seed + 3));
      CHECK_GRADS("mul", Fn([](const std::vector<Tensor>& x) { return mul(x[0], x[1]); }), leaf(sa, seed + 4), leaf(sb, seed + 5));
      // keep the divisor away from 0
      CHECK_GRADS("div", Fn([](const std::vector<Tensor>& x) { return div(x[0], x[1]); }), leaf(sa, seed + 6),
                  leaf(sb, seed + 7, 0.5, 2.0));
      seed += 8;
    }
  }
}

BOOST_AUTO_TEST_CASE(binary_op_with_constant_input) {
  Tensor c = random_tensor({2, 3}, 3);  // does not require grad
  CHECK_GRADS("mul", Fn([c](const std::vector<Tensor>& x) { return mul(c, x[0]); }), leaf({3}, 4));
  CHECK_GRADS("div", Fn([c](const std::vector<Tensor>& x) { return div(c, x[0]); }), leaf({1, 3}, 5, 1.0, 2.0));
}

BOOST_AUTO_TEST_CASE(unary_ops) {
  for (Shape s : {Shape{}, Shape{1}, Shape{7}, Shape{3, 4}, Shape{2, 1, 3}}) {
    BOOST_TEST_CONTEXT("shape " << shape_str(s)) {
      CHECK_GRADS("neg", Fn([](const std::vector<Tensor>& x) { return neg(x[0]); }), leaf(s, 11));
      CHECK_GRADS("exp", Fn([](const std::vector<Tensor>& x) { return exp(x[0]); }), leaf(s, 12));
      CHECK_GRADS("log", Fn([](const std::vector<Tensor>& x) { return log(x[0]); }), leaf(s, 13, 0.2, 3.0));
      CHECK_GRADS("abs", Fn([](const std::vector<Tensor>& x) { return abs(x[0]); }), leaf(s, 14, 0.1, 1.0));
      CHECK_GRADS("abs", Fn([](const std::vector<Tensor>& x) { return abs(x[0]); }), leaf(s, 15, -1.0, -0.1));
      CHECK_GRADS("pow", Fn([](const std::vector<Tensor>& x) { return pow(x[0], 3.0); }), leaf(s, 16));
      CHECK_GRADS("pow", Fn([](const std::vector<Tensor>& x) { return pow(x[0], -1.5); }), leaf(s, 17, 0.5, 2.0));
      CHECK_GRADS("add_scalar", Fn([](const std::vector<Tensor>& x) { return add_scalar(x[0], 2.5); }), leaf(s, 18));
      CHECK_GRADS("mul_scalar", Fn([](const std::vector<Tensor>& x) { return mul_scalar(x[0], -1.5); }), leaf(s, 19));
      CHECK_GRADS("sigmoid", Fn([](const std::vector<Tensor>& x) { return sigmoid(x[0]); }), leaf(s, 20, -4, 4));
      CHECK_GRADS("tanh", Fn([](const std::vector<Tensor>& x) { return tanh(x[0]); }), leaf(s, 21, -2, 2));
    }
  }
}

BOOST_AUTO_TEST_CASE(softmax_last_dimension) {
  // one element, a row, rows of a matrix, a 3-D batch, and rows with large entries (the maximum subtracted)
  int seed = 30;
  for (Shape s : {Shape{1}, Shape{7}, Shape{3, 4}, Shape{2, 3, 5}, Shape{4, 1}}) {
    BOOST_TEST_CONTEXT("shape " << shape_str(s)) {
      CHECK_GRADS("softmax", Fn([](const std::vector<Tensor>& x) { return softmax(x[0]); }), leaf(s, seed++, -3, 3));
      CHECK_GRADS("softmax", Fn([](const std::vector<Tensor>& x) { return softmax(x[0]); }), leaf(s, seed++, 300, 305));
    }
  }
}

BOOST_AUTO_TEST_CASE(relu_away_from_the_kink) {
  // Values at least 0.05 from 0, so central differences never straddle the kink.
  Tensor x = random_tensor({4, 5}, 22, 0.05, 1.0);
  for (int64_t i = 0; i < x.numel(); i += 2) x.data<double>()[i] = -x.data<double>()[i];
  x.set_requires_grad(true);
  CHECK_GRADS("relu", Fn([](const std::vector<Tensor>& v) { return relu(v[0]); }), x);
}

BOOST_AUTO_TEST_CASE(reductions) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{5}, {}},        {{5}, {0}},        {{3, 4}, {}},      {{3, 4}, {0}},   {{3, 4}, {1}},
      {{3, 4}, {-1}},   {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {1}}, {{2, 1, 4}, {1}}, {{1, 1}, {0, 1}}};
  int seed = 30;
  for (const auto& [s, dims] : cases) {
    for (bool keep : {false, true}) {
      BOOST_TEST_CONTEXT("shape " << shape_str(s) << " keepdim " << keep << " ndims " << dims.size()) {
        auto d = dims;
        CHECK_GRADS("sum", Fn([d, keep](const std::vector<Tensor>& x) { return sum(x[0], d, keep); }), leaf(s, seed++));
        CHECK_GRADS("mean", Fn([d, keep](const std::vector<Tensor>& x) { return mean(x[0], d, keep); }), leaf(s, seed++));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(matmul_2d_and_batched) {
  CHECK_GRADS("matmul", Fn([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }), leaf({3, 4}, 40), leaf({4, 5}, 41));
  CHECK_GRADS("matmul", Fn([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }), leaf({1, 1}, 42), leaf({1, 3}, 43));
  CHECK_GRADS("matmul", Fn([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }), leaf({2, 3, 4}, 44),
              leaf({2, 4, 2}, 45));
  CHECK_GRADS("matmul", Fn([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }), leaf({2, 3, 4}, 46),
              leaf({4, 2}, 47));
}

BOOST_AUTO_TEST_CASE(linear_with_and_without_bias) {
  CHECK_GRADS("linear", Fn([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); }), leaf({4, 3}, 50),
              leaf({5, 3}, 51), leaf({5}, 52));
  CHECK_GRADS("linear", Fn([](const std::vector<Tensor>& x) { return linear(x[0], x[1], Tensor()); }), leaf({2, 3, 3}, 53),
              leaf({2, 3}, 54));
  CHECK_GRADS("linear", Fn([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); }), leaf({1, 1}, 55),
              leaf({1, 1}, 56), leaf({1}, 57));
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  CHECK_GRADS("reshape", Fn([](const std::vector<Tensor>& x) { return mul(reshape(x[0], {3, -1}), x[1]); }), leaf({2, 6}, 60),
              leaf({3, 4}, 61));
  CHECK_GRADS("transpose", Fn([](const std::vector<Tensor>& x) { return transpose(x[0], 0, 1); }), leaf({3, 4}, 62));
  CHECK_GRADS("transpose", Fn([](const std::vector<Tensor>& x) { return transpose(x[0], 0, 2); }), leaf({2, 3, 4}, 63));
  CHECK_GRADS("transpose", Fn([](const std::vector<Tensor>& x) { return transpose(x[0], -1, 1); }), leaf({2, 1, 4}, 64));
  for (int64_t d : {0, 1, 2}) {
    BOOST_TEST_CONTEXT("concat dim " << d) {
      Shape s0{2, 3, 4}, s1{2, 3, 4};
      s1[d] = 1;
      CHECK_GRADS("concat", Fn([d](const std::vector<Tensor>& x) { return concat({x[0], x[1], x[0]}, d); }), leaf(s0, 65 + d),
                  leaf(s1, 68 + d));
      CHECK_GRADS("slice", Fn([d](const std::vector<Tensor>& x) { return slice(x[0], d, 1, 2); }), leaf({2, 3, 4}, 71 + d));
      CHECK_GRADS("slice", Fn([d](const std::vector<Tensor>& x) { return slice(x[0], d, 0, x[0].size(d)); }),
                  leaf({2, 3, 4}, 74 + d));
    }
  }
}

BOOST_AUTO_TEST_CASE(losses) {
  for (Shape s : {Shape{1}, Shape{6}, Shape{4, 1}, Shape{2, 3}}) {
    BOOST_TEST_CONTEXT("shape " << shape_str(s)) {
      Tensor target = random_tensor(s, 80);
      // l1 has a kink at pred == target: keep them apart.
      Tensor pred = random_tensor(s, 81, 0.05, 1.0);
      for (int64_t i = 0; i < pred.numel(); ++i)
        pred.data<double>()[i] = target.at(i) + (i % 2 ? pred.at(i) : -pred.at(i));
      pred.set_requires_grad(true);
      CHECK_GRADS("l1_loss", Fn([target](const std::vector<Tensor>& x) { return l1_loss(x[0], target); }), pred);
      CHECK_GRADS("mse_loss", Fn([target](const std::vector<Tensor>& x) { return mse_loss(x[0], target); }), leaf(s, 82));
    }
  }
  for (auto [n, c] : {std::pair<int64_t, int64_t>{1, 1}, {4, 3}, {5, 7}}) {
    std::vector<int64_t> target;
    for (int64_t i = 0; i < n; ++i) target.push_back((i * 5 + 1) % c);
    CHECK_GRADS("cross_entropy", Fn([target](const std::vector<Tensor>& x) { return cross_entropy(x[0], target); }),
                leaf({n, c}, 83, -3, 3));
  }
}

BOOST_AUTO_TEST_CASE(tensor_fusion_op) {
  for (auto [b, a, v, t] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 1, 1, 1}, {2, 3, 2, 4}, {3, 2, 5, 3}}) {
    BOOST_TEST_CONTEXT("B " << b << " A " << a << " V " << v << " T " << t) {
      CHECK_GRADS("tensor_fusion", Fn([](const std::vector<Tensor>& x) { return tensor_fusion(x[0], x[1], x[2]); }), leaf({b, a}, 90),
                  leaf({b, v}, 91), leaf({b, t}, 92));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_composite_expression) {
  // A small two-layer network with a loss: exercises accumulation across many nodes.
  Tensor target = random_tensor({4, 2}, 99);
  CHECK_GRADS("composite", Fn([target](const std::vector<Tensor>& x) {
                Tensor h = tanh(linear(x[0], x[1], x[2]));
                Tensor y = sigmoid(linear(h, x[3], Tensor()));
                return add(mse_loss(y, target), mul_scalar(sum(mul(x[1], x[1])), 1e-2));
              }),
              leaf({4, 3}, 95), leaf({5, 3}, 96), leaf({5}, 97), leaf({2, 5}, 98));
}

BOOST_AUTO_TEST_SUITE_END()
