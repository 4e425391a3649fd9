// Fast kernels against their plain loops (fusion, gemm), float32 against float64,
// and bitwise reproducibility whatever the thread count.
#include <limits>
#include <tuple>

#include <boost/test/unit_test.hpp>
#include <tbb/global_control.h>

#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/fusion.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "tests/core/test_helpers.h"

using namespace mtfn;

BOOST_AUTO_TEST_SUITE(kernels)

// The gradients are sums (dL/da_i over the (V+1)(T+1) columns of a_i, and so on) whose order the op
// and the loops choose differently, so they agree within the first-order rounding bound of a sum of
// products, |got - want| <= n u sum|terms|, n = (A+1)(V+1)(T+1) + 3 (the longest sum and its
// products), u the unit roundoff: a bound that holds in any order and on any CPU. sum|terms| is the same
// loops run on |a|, |v|, |t|, |gz| (every term is a product of those).
template <class T>
void check_fusion_against_loops(DType dt) {
  const int64_t B = 3, A = 4, V = 5, Tt = 6;
  Tensor a = random_tensor({B, A}, 1, -1, 1, dt).set_requires_grad(true);
  Tensor v = random_tensor({B, V}, 2, -1, 1, dt).set_requires_grad(true);
  Tensor t = random_tensor({B, Tt}, 3, -1, 1, dt).set_requires_grad(true);
  Tensor z = tensor_fusion(a, v, t);
  BOOST_TEST(z.shape() == Shape({B, (A + 1) * (V + 1) * (Tt + 1)}));
  Tensor zr = Tensor::empty(z.shape(), dt);
  fusion_forward_reference<T>(B, A, V, Tt, a.data<T>(), v.data<T>(), t.data<T>(), zr.data<T>());
  BOOST_TEST(z.to_vector() == zr.to_vector(), boost::test_tools::per_element());
  // Spot checks of the layout: the constant 1 first, audio slowest, text fastest.
  BOOST_TEST(z.at(0) == 1.0);
  BOOST_TEST(z.at(1) == t.at(0));
  BOOST_TEST(z.at(Tt + 1) == v.at(0));
  BOOST_TEST(z.at((V + 1) * (Tt + 1)) == a.at(0));
  Tensor gz = random_tensor(z.shape(), 4, -1, 1, dt);
  z.backward(gz);
  Tensor ga = Tensor::zeros({B, A}, dt), gv = Tensor::zeros({B, V}, dt), gt = Tensor::zeros({B, Tt}, dt);
  fusion_backward_reference<T>(B, A, V, Tt, a.data<T>(), v.data<T>(), t.data<T>(), gz.data<T>(), ga.data<T>(),
                               gv.data<T>(), gt.data<T>());
  const Tensor aa = abs(a.detach()), av = abs(v.detach()), at = abs(t.detach()), agz = abs(gz);
  Tensor sa = Tensor::zeros({B, A}, dt), sv = Tensor::zeros({B, V}, dt), st = Tensor::zeros({B, Tt}, dt);
  fusion_backward_reference<T>(B, A, V, Tt, aa.data<T>(), av.data<T>(), at.data<T>(), agz.data<T>(), sa.data<T>(),
                               sv.data<T>(), st.data<T>());
  const double n = double(z.size(1) + 3), u = std::numeric_limits<T>::epsilon() / 2;
  for (auto [got, want, terms] : {std::tuple{a.grad(), ga, sa}, {v.grad(), gv, sv}, {t.grad(), gt, st}})
    for (int64_t i = 0; i < want.numel(); ++i)
      BOOST_TEST(std::abs(got.at(i) - want.at(i)) <= n * u * terms.at(i), "element " << i);
}

BOOST_AUTO_TEST_CASE(fusion_matches_triple_loop) {
  check_fusion_against_loops<double>(DType::F64);
  check_fusion_against_loops<float>(DType::F32);
}

BOOST_AUTO_TEST_CASE(gemm_matches_triple_loop) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 7, n = 5, k = 9;
      Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, 5);
      Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, 6);
      Tensor c1 = random_tensor({m, n}, 7), c2 = c1.clone();
      gemm<double>(ta, tb, m, n, k, 0.5, a.data<double>(), ta ? m : k, b.data<double>(), tb ? k : n, 2.0,
                   c1.data<double>(), n);
      gemm_reference<double>(ta, tb, m, n, k, 0.5, a.data<double>(), ta ? m : k, b.data<double>(), tb ? k : n, 2.0,
                             c2.data<double>(), n);
      for (int64_t i = 0; i < c1.numel(); ++i) BOOST_TEST(c1.at(i) == c2.at(i), boost::test_tools::tolerance(1e-13));
    }
}

BOOST_AUTO_TEST_CASE(float32_agrees_with_float64) {
  // Every op in float32 against the same op in float64, forward and gradient. The bound: the inputs
  // rounded to float32 (u = 6.0e-8 relative), then at most ~10 roundings per result (no sum here has
  // more than 5 terms), each passed on through at most a condition number of ~100 (softmax of 4 x with
  // |x| <= 1 and the loss's log-sum-exp are the worst): ~11 u * 100 = 6.6e-5 < 1e-4, relative; the
  // gradients go through the backward's roundings as well (as many again, and a division by y^2 + 1
  // in div): 1e-3.
  using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"add", [](const Tensor& x, const Tensor& y) { return add(x, y); }},
      {"div", [](const Tensor& x, const Tensor& y) { return div(x, add_scalar(mul(y, y), 1.0)); }},
      {"matmul", [](const Tensor& x, const Tensor& y) { return matmul(x, transpose(y, 0, 1)); }},
      {"linear", [](const Tensor& x, const Tensor& y) { return linear(x, y, Tensor()); }},
      {"unary", [](const Tensor& x, const Tensor& y) { return tanh(add(exp(x), sigmoid(neg(abs(y))))); }},
      {"softmax", [](const Tensor& x, const Tensor& y) { return mul(softmax(mul_scalar(x, 4.0)), y); }},
      {"reduce", [](const Tensor& x, const Tensor& y) { return mean(sum(mul(x, y), {1}, true), {0}); }},
      {"shape", [](const Tensor& x, const Tensor& y) { return slice(concat({x, y}, 0), 1, 1, 3); }},
      {"fusion", [](const Tensor& x, const Tensor& y) { return tensor_fusion(x, y, relu(x)); }},
      {"loss", [](const Tensor& x, const Tensor& y) { return add(mse_loss(x, y), cross_entropy(x, {0, 1, 2, 3})); }},
  };
  for (const auto& [name, f] : ops) {
    BOOST_TEST_CONTEXT(name) {
      Tensor x64 = random_tensor({4, 5}, 8).set_requires_grad(true), y64 = random_tensor({4, 5}, 9).set_requires_grad(true);
      Tensor x32 = x64.to(DType::F32).set_requires_grad(true), y32 = y64.to(DType::F32).set_requires_grad(true);
      Tensor o64 = f(x64, y64), o32 = f(x32, y32);
      BOOST_TEST(o32.dtype() == DType::F32);
      for (int64_t i = 0; i < o64.numel(); ++i) BOOST_TEST(o32.at(i) == o64.at(i), boost::test_tools::tolerance(1e-4));
      sum(o64).backward();
      sum(o32).backward();
      for (int64_t i = 0; i < x64.numel(); ++i)
        BOOST_TEST(x32.grad().at(i) == x64.grad().at(i), boost::test_tools::tolerance(1e-3));
    }
  }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  auto run = [] {
    Tensor x = random_tensor({300, 1000}, 10, -1, 1, DType::F32).set_requires_grad(true);
    Tensor w = random_tensor({1000}, 11, -1, 1, DType::F32);
    Tensor y = add(mean(mul(exp(x), w), {0}), sum(sigmoid(x), {1}).view({300, 1}).narrow0(0, 1).view({1}));
    Tensor total = sum(y);
    total.backward();
    std::vector<double> out = y.to_vector();
    out.push_back(total.item());
    for (double g : x.grad().to_vector()) out.push_back(g);
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
  BOOST_TEST(one.size() == many.size());
  BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(double)) == 0);
}

// The float32 exp, sigmoid and tanh of activation.h (the LSTM's gates) against the float64 std::
// functions, on a fine grid over [-200, 200] and at the edges: relative error where the result is a
// normal float, absolute error (a subnormal ulp or two) below that; never NaN or inf.
BOOST_AUTO_TEST_CASE(float32_exp_sigmoid_tanh_match_std) {
  std::vector<float> xs;
  for (int i = -2000000; i <= 2000000; ++i) xs.push_back(static_cast<float>(i) * 1e-4f);  // [-200, 200]
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-45f, 0.625f, -0.625f, 0.62499994f, 88.72283f, -87.33655f,
                  -103.97f, -104.0f, -150.0f, 1e4f, -1e4f, 3e38f, -3e38f})
    xs.push_back(x);
  const double flt_min = 1.1754943508222875e-38, subnormal_ulp = 1.401298464324817e-45;
  double worst[3] = {0, 0, 0};  // relative error, where the result is normal
  double worst_subnormal = 0;   // error in subnormal ulps, where it is not
  auto check = [&](int k, float x, double got, double want) {
    BOOST_REQUIRE(std::isfinite(got));
    if (std::abs(want) >= flt_min) {
      worst[k] = std::max(worst[k], std::abs(got - want) / std::abs(want));
      if (std::abs(got - want) > 4e-7 * std::abs(want)) BOOST_ERROR("function " << k << " at x = " << x);
    } else {
      worst_subnormal = std::max(worst_subnormal, std::abs(got - want) / subnormal_ulp);
    }
  };
  for (float x : xs) {
    const double xd = x;
    if (x <= 88.72283f) check(0, x, exp_f32(x), std::exp(xd));  // above, e^x is not a float
    check(1, x, sigmoid_f32(x), 1.0 / (1.0 + std::exp(-xd)));
    check(2, x, tanh_f32(x), std::tanh(xd));
  }
  BOOST_TEST_MESSAGE("worst relative error: exp " << worst[0] << ", sigmoid " << worst[1] << ", tanh " << worst[2]
                                                  << "; subnormal results: " << worst_subnormal << " ulp");
  BOOST_TEST(worst_subnormal <= 1.0);
  // The functions' accuracy claims, in units of u = 6.0e-8 (2.5 u, 4 u, 4 u), not figures of this CPU;
  // measured with one build: 8.2e-8, 1.9e-7, 1.4e-7.
  BOOST_TEST(worst[0] < 1.5e-7);  // measured: 8.2e-8 (x = 26.70)
  BOOST_TEST(worst[1] < 2.5e-7);  // 1.9e-7 (x = -8.18)
  BOOST_TEST(worst[2] < 2.5e-7);  // 1.4e-7 (x = -0.68)
  BOOST_TEST(sigmoid_f32(INFINITY) == 1.0f);
  BOOST_TEST(sigmoid_f32(-INFINITY) == 0.0f);
  BOOST_TEST(tanh_f32(INFINITY) == 1.0f);
  BOOST_TEST(tanh_f32(-INFINITY) == -1.0f);
  BOOST_TEST(exp_f32(-INFINITY) == 0.0f);
  BOOST_TEST(std::isnan(sigmoid_f32(NAN)));
}

BOOST_AUTO_TEST_SUITE_END()
