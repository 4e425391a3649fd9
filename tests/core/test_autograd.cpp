// The graph engine: accumulation, no-grad scope, explicit output gradients, releasing the
// graph, and the error messages of misuse.
#include <boost/test/unit_test.hpp>

#include "core/autograd.h"
#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/fusion.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "tests/core/test_helpers.h"

using namespace mtfn;

BOOST_AUTO_TEST_SUITE(autograd)

BOOST_AUTO_TEST_CASE(gradient_of_a_tensor_used_twice_accumulates) {
  Tensor x = Tensor::from_vector({2.0, -3.0}, {2}, DType::F64);
  x.set_requires_grad(true);
  Tensor y = sum(add(mul(x, x), x));  // dy/dx = 2x + 1
  y.backward();
  BOOST_TEST(x.grad().to_vector() == std::vector<double>({5.0, -5.0}));
  // A second graph adds into the same gradient: zeroing is explicit.
  sum(mul_scalar(x, 3.0)).backward();
  BOOST_TEST(x.grad().to_vector() == std::vector<double>({8.0, -2.0}));
  x.drop_grad();
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(shared_gradient_is_not_corrupted_by_accumulation) {
  // add() hands the same gradient tensor to both inputs; accumulating into one must not
  // change the other.
  Tensor a = Tensor::from_vector({1.0}, {1}, DType::F64).set_requires_grad(true);
  Tensor b = Tensor::from_vector({1.0}, {1}, DType::F64).set_requires_grad(true);
  Tensor y = sum(add(add(a, b), a));
  y.backward();
  BOOST_TEST(a.grad().item() == 2.0);
  BOOST_TEST(b.grad().item() == 1.0);
}

BOOST_AUTO_TEST_CASE(explicit_output_gradient) {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}, DType::F64).set_requires_grad(true);
  Tensor y = mul_scalar(x, 2.0);
  y.backward(Tensor::from_vector({1, 10, 100}, {3}, DType::F64));
  BOOST_TEST(x.grad().to_vector() == std::vector<double>({2, 20, 200}));
}

BOOST_AUTO_TEST_CASE(no_grad_scope_records_nothing) {
  Tensor x = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  Tensor y;
  {
    NoGradGuard ng;
    BOOST_TEST(!grad_enabled());
    y = mul(x, x);
  }
  BOOST_TEST(grad_enabled());
  BOOST_TEST(!y.requires_grad());
  BOOST_TEST(!y.grad_fn());
  BOOST_TEST(ERROR_MESSAGE(sum(y).backward()).find("does not require grad") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(graph_released_after_backward_unless_retained) {
  Tensor x = Tensor::from_vector({1, 2}, {2}, DType::F64).set_requires_grad(true);
  Tensor y = sum(exp(x));
  y.backward(/*retain_graph=*/true);
  y.backward();  // allowed: the first kept the graph
  BOOST_TEST(x.grad().at(0) == 2 * std::exp(1.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(ERROR_MESSAGE(y.backward()) ==
             "backward: the graph behind sum (float64 ()) was already released by an earlier backward; "
             "pass retain_graph = true to the first one");
}

BOOST_AUTO_TEST_CASE(backward_of_non_scalar_needs_output_gradient) {
  Tensor x = Tensor::ones({2, 3}, DType::F64).set_requires_grad(true);
  Tensor y = mul_scalar(x, 2.0);
  BOOST_TEST(ERROR_MESSAGE(y.backward()) ==
             "backward: output float64 (2, 3) is not a scalar; pass an output gradient");
  BOOST_TEST(ERROR_MESSAGE(y.backward(Tensor::ones({3}, DType::F64))) ==
             "backward: output gradient float64 (3,) does not match output float64 (2, 3)");
}

BOOST_AUTO_TEST_CASE(op_errors_name_the_op_and_shapes) {
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4}), d = Tensor::ones({2, 3}, DType::F64);
  BOOST_TEST(ERROR_MESSAGE(add(a, b)) == "add: shapes (2, 3) and (4,) cannot be broadcast");
  BOOST_TEST(ERROR_MESSAGE(mul(a, d)) == "mul: dtype mismatch float32 (2, 3) vs float64 (2, 3)");
  BOOST_TEST(ERROR_MESSAGE(matmul(a, a)) == "matmul: shapes (2, 3) and (2, 3) do not multiply");
  BOOST_TEST(ERROR_MESSAGE(linear(a, Tensor::ones({4, 2}), Tensor())) ==
             "linear: input (2, 3) does not fit weight (4, 2)");
  BOOST_TEST(ERROR_MESSAGE(sum(a, {2})) == "sum: dimension 2 out of range for shape (2, 3)");
  BOOST_TEST(ERROR_MESSAGE(concat({a, Tensor::ones({3, 3})}, 1)) ==
             "concat: shapes (2, 3) and (3, 3) differ outside dimension 1");
  BOOST_TEST(ERROR_MESSAGE(slice(a, 1, 2, 5)) == "slice: [2, 5) out of range for dimension 1 of (2, 3)");
  BOOST_TEST(ERROR_MESSAGE(reshape(a, {4, -1})) == "reshape: cannot reshape float32 (2, 3) to (4, -1)");
  BOOST_TEST(ERROR_MESSAGE(softmax(Tensor::ones({2, 0}))) ==
             "softmax: expected at least 1 dimension and a non-empty last one, got (2, 0)");
  BOOST_TEST(ERROR_MESSAGE(l1_loss(a, Tensor::ones({3, 2}))) == "l1_loss: shape mismatch (2, 3) vs (3, 2)");
  BOOST_TEST(ERROR_MESSAGE(cross_entropy(a, {0, 3})) == "cross_entropy: target class 3 out of range for 3 classes");
  BOOST_TEST(ERROR_MESSAGE(tensor_fusion(a, Tensor::ones({3, 2}), a)) ==
             "tensor_fusion: expected a (B,A), v (B,V), t (B,T), got (2, 3), (3, 2), (2, 3)");
}

BOOST_AUTO_TEST_CASE(long_chains_do_not_overflow_the_stack) {
  Tensor x = Tensor::scalar(1.0, DType::F64).set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = add_scalar(y, 1e-6);
  y.backward();
  BOOST_TEST(x.grad().item() == 1.0);
}

BOOST_AUTO_TEST_CASE(forward_values) {
  // A few exact values, so the gradient checks are not checking a wrong forward.
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64);
  Tensor b = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2}, DType::F64);
  BOOST_TEST(matmul(a, b).to_vector() == std::vector<double>({4, 5, 10, 11}));
  BOOST_TEST(sum(a, {0}).to_vector() == std::vector<double>({5, 7, 9}));
  BOOST_TEST(mean(a, {1}, true).to_vector() == std::vector<double>({2, 5}));
  BOOST_TEST(transpose(a, 0, 1).to_vector() == std::vector<double>({1, 4, 2, 5, 3, 6}));
  BOOST_TEST(concat({a, a}, 1).to_vector() == std::vector<double>({1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
  BOOST_TEST(slice(a, 1, 1, 3).to_vector() == std::vector<double>({2, 3, 5, 6}));
  BOOST_TEST(add(a, Tensor::from_vector({10, 20}, {2, 1}, DType::F64)).to_vector() ==
             std::vector<double>({11, 12, 13, 24, 25, 26}));
  BOOST_TEST(l1_loss(a, Tensor::zeros({2, 3}, DType::F64)).item() == 3.5);
  {  // softmax of (0, ln 2, ln 5): (1, 2, 5) / 8, whatever the constant added to a row (1000 here)
    const Tensor s = softmax(Tensor::from_vector({0, std::log(2.0), std::log(5.0), 1000, 1000 + std::log(2.0),
                                                  1000 + std::log(5.0)}, {2, 3}, DType::F64));
    const std::vector<double> want = {0.125, 0.25, 0.625, 0.125, 0.25, 0.625};
    for (int i = 0; i < 6; ++i) BOOST_TEST(s.at(i) == want[size_t(i)], boost::test_tools::tolerance(1e-13));
  }
  BOOST_TEST(mse_loss(a, Tensor::zeros({2, 3}, DType::F64)).item() == 91.0 / 6);
  Tensor logits = Tensor::from_vector({0, 0, 1000, -1000}, {2, 2}, DType::F64);
  BOOST_TEST(cross_entropy(logits, {0, 0}).item() == std::log(2.0) / 2, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(relu(Tensor::from_vector({-1, 2}, {2})).to_vector() == std::vector<double>({0, 2}));
  BOOST_TEST(sigmoid(Tensor::from_vector({-1000, 0}, {2}, DType::F64)).to_vector() == std::vector<double>({0, 0.5}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(autograd_hooks)

BOOST_AUTO_TEST_CASE(leaf_ready_hook_fires_once_per_leaf_after_its_last_use) {
  // w1 is used by the first layer only, w2 by the last one: w2's gradient is complete first.
  Tensor x = Tensor::from_vector({1, 2}, {1, 2}, DType::F64);
  Tensor w1 = Tensor::from_vector({0.5, -0.5, 0.25, 1.0}, {2, 2}, DType::F64).set_requires_grad(true);
  Tensor w2 = Tensor::from_vector({1.0, 2.0}, {1, 2}, DType::F64).set_requires_grad(true);
  Tensor h = tanh(linear(x, w1, Tensor()));
  Tensor y = sum(add(linear(h, w2, Tensor()), sum(mul(w1, w1))));  // w1 used twice
  std::vector<std::pair<std::string, std::vector<double>>> seen;
  run_backward(y, Tensor::ones({}, DType::F64), false, [&](const Tensor& leaf) {
    seen.emplace_back(leaf.same(w1) ? "w1" : leaf.same(w2) ? "w2" : "?", leaf.grad().to_vector());
  });
  BOOST_TEST(seen.size() == 2u);
  BOOST_TEST(seen[0].first == "w2");
  BOOST_TEST(seen[1].first == "w1");
  // What the hook saw is the complete gradient.
  BOOST_TEST(seen[0].second == w2.grad().to_vector());
  BOOST_TEST(seen[1].second == w1.grad().to_vector());
}

BOOST_AUTO_TEST_SUITE_END()
