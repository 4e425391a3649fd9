// The gradient checker itself: a deliberately wrong backward fails with a message naming the op, the
// input, the element and both values; correct ops pass where the old relative criterion misjudged.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "tests/core/test_helpers.h"

using namespace mtfn;

namespace {

// y = e^x with a backward off by 2x: dL/dx = 2 dL/dy y (the right one is dL/dy y).
Tensor exp_wrong_backward(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard ng;
    y = exp(x);
  }
  const Tensor sy = y.detach();
  return record(y, "exp_wrong_backward", {x}, [x, sy](const Tensor& gy) {
    accumulate_grad(x, mul_scalar(mul(gy, sy), 2.0));  // the bug
  });
}

// Inputs in [-40, -20], where e^x is below 2.1e-9: the largest gradient sits at flat element 4.
Tensor far_negative() {
  return Tensor::from_vector({-25, -30, -40, -22, -20.5, -35}, {2, 3}, DType::F64).set_requires_grad(true);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gradcheck_itself)

BOOST_AUTO_TEST_CASE(a_backward_off_by_2x_at_tiny_gradients_fails_and_says_where) {
  Tensor a = testing::leaf({2, 3}, 1, 0.5, 1.5);  // input 0, correct (mul)
  Tensor x = far_negative();            // input 1, through the wrong backward
  const GradcheckResult r = gradcheck(
      "exp_wrong_backward", [](const std::vector<Tensor>& in) { return mul(in[0], exp_wrong_backward(in[1])); }, {a, x});
  BOOST_TEST(!r.passed());
  BOOST_TEST(r.checked == 12);
  // x at -20.5, -22 and -25 (gradients 1.2e-9 to 1.4e-11); at -30, -35 and -40 the gradient (times the
  // weights, below 3e-13) is under the absolute floor atol = 1e-12 even when doubled. None of a.
  BOOST_TEST(r.failed == 3);
  BOOST_TEST(r.input == 1);
  BOOST_TEST(r.element == 4);
  BOOST_TEST(r.input_shape == (Shape{2, 3}));
  // |numeric| = |r_4| a_4 e^-20.5 with the checker's weight r_4 and a_4 in [0.5, 1.5); analytic is twice it.
  BOOST_TEST(std::abs(r.numeric) > 0.25 * std::exp(-20.5));
  BOOST_TEST(std::abs(r.numeric) < 2.25 * std::exp(-20.5));
  BOOST_TEST(r.analytic / r.numeric == 2.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(r.worst_ratio > 1e3);
  // The old criterion, |a - n| / max(|a|, |n|, 0.01) <= 1e-6, let this through.
  BOOST_TEST(std::abs(r.analytic - r.numeric) / 0.01 <= 1e-6);
  const std::string m = r.describe();
  BOOST_TEST_MESSAGE(m);
  BOOST_TEST(m.find("gradcheck exp_wrong_backward: FAILED, 3 of 12 elements") == 0);
  BOOST_TEST(m.find("worst input 1 (2, 3) element 4 [1, 1]: analytic ") != std::string::npos);
  BOOST_TEST(m.find(" numeric ") != std::string::npos);
  BOOST_TEST(m.find("> tolerance") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_right_backward_passes_at_the_same_inputs) {
  const GradcheckResult r = gradcheck("exp", [](const std::vector<Tensor>& in) { return exp(in[0]); }, {far_negative()});
  BOOST_TEST(r.passed(), r.describe());
  BOOST_TEST(r.checked == 6);
  BOOST_TEST(r.describe().find("gradcheck exp: ok, 6 elements; worst input 0 (2, 3) element ") == 0);
}

BOOST_AUTO_TEST_CASE(large_inputs_pass_on_rounding) {
  // Gradients from 5e8 to 1e13 side by side (exp), and inputs near 1e4 (x^2): the step is relative
  // to |x| and each output is differenced on its own, so neither fails on rounding alone.
  Tensor x = Tensor::from_vector({20, 30, 25, 21.5}, {4}, DType::F64).set_requires_grad(true);
  CHECK_GRADS("exp", [](const std::vector<Tensor>& in) { return exp(in[0]); }, x);
  Tensor big = random_tensor({5}, 3, 1e4, 2e4).set_requires_grad(true);
  CHECK_GRADS("pow", [](const std::vector<Tensor>& in) { return pow(in[0], 2.0); }, big);
  CHECK_GRADS("sum of squares", [](const std::vector<Tensor>& in) { return sum(mul(in[0], in[0])); }, big);
}

BOOST_AUTO_TEST_CASE(float64_only_and_constant_inputs_are_not_checked) {
  Tensor f32 = Tensor::ones({2}, DType::F32).set_requires_grad(true);
  BOOST_TEST(ERROR_MESSAGE(gradcheck("neg", [](const std::vector<Tensor>& in) { return neg(in[0]); }, {f32}))
                 .find("gradcheck neg: inputs must be float64") == 0);
  Tensor c = random_tensor({3}, 4);  // does not require grad
  Tensor y = random_tensor({3}, 5).set_requires_grad(true);
  const GradcheckResult r = gradcheck("mul", [c](const std::vector<Tensor>& in) { return mul(c, in[0]); }, {y});
  BOOST_TEST(r.passed());
  BOOST_TEST(r.checked == 3);
}

BOOST_AUTO_TEST_SUITE_END()
