// The fused fusion-head layer (nn/fusion_linear.h): finite differences in float64, the plain loop, and
// equality with the unfused composition linear(dropout(tensor_fusion(a, v, t))) in value, mask and gradients.
#include <tbb/task_arena.h>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/fusion.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "nn/fusion_linear.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::nn;
using namespace mtfn::testing;

namespace {

// Inputs of one case; V = 20 makes V+1 = 21 video indices: two full column blocks and a ragged one.
struct Case {
  int64_t B = 3, A = 2, V = 20, T = 4, N = 5;
  Tensor a, v, t, w, b;
  explicit Case(DType dt, uint64_t seed = 1) {
    const int64_t F = (A + 1) * (V + 1) * (T + 1);
    a = random_tensor({B, A}, seed, -1, 1, dt);
    v = random_tensor({B, V}, seed + 1, -1, 1, dt);
    t = random_tensor({B, T}, seed + 2, -1, 1, dt);
    w = random_tensor({N, F}, seed + 3, -0.1, 0.1, dt);
    b = random_tensor({N}, seed + 4, -0.1, 0.1, dt);
    for (Tensor* x : {&a, &v, &t, &w, &b}) x->set_requires_grad(true);
  }
  std::vector<Tensor> leaves() const { return {a, v, t, w, b}; }
};

Tensor unfused(const std::vector<Tensor>& in, double p, const DropoutKey& key) {
  return linear(dropout(tensor_fusion(in[0], in[1], in[2]), p, key), in[3], in[4]);
}
Tensor fused(const std::vector<Tensor>& in, double p, const DropoutKey& key) {
  return fusion_dropout_linear(in[0], in[1], in[2], p, key, in[3], in[4]);
}

// y and every leaf's gradient of L = sum(y * r) for a fixed r (|r| with absolute_r).
std::vector<Tensor> value_and_grads(const Case& c, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                    bool absolute_r = false) {
  for (const Tensor& x : c.leaves()) x.grad_slot().drop();
  Tensor y = f(c.leaves());
  Tensor r = random_tensor(y.shape(), 99, -1, 1, y.dtype());
  if (absolute_r) r = abs(r);
  sum(mul(y, r)).backward();
  std::vector<Tensor> out{y.detach().clone()};
  for (const Tensor& x : c.leaves()) out.push_back(x.grad().clone());
  return out;
}

// The case in float64 with every input replaced by its absolute value. Every y and every gradient here
// is a sum of products of the inputs (times dropout's mask and scale, the same for both), so the same
// computation on the absolute values gives each result's sum|terms|, and two orders of the same sums
// agree within the first-order rounding bound 2 n u sum|terms| (each side within n u sum|terms|,
// n the number of roundings along the longest chain: a bound that holds in any order, on any CPU).
Case absolute_case(const Case& c) {
  Case a = c;
  for (Tensor* x : {&a.a, &a.v, &a.t, &a.w, &a.b}) *x = abs(x->detach().to(DType::F64)).set_requires_grad(true);
  return a;
}
double unit_roundoff(DType dt) { return dt == DType::F64 ? 0x1p-53 : 0x1p-24; }

// |got - want| <= bound * terms, element by element.
void check_within(const Tensor& got, const Tensor& want, const Tensor& terms, double bound) {
  BOOST_REQUIRE(got.shape() == want.shape());
  double worst = 0;  // the error as a share of its bound
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = std::abs(got.at(i) - want.at(i)), b = bound * terms.at(i);
    worst = std::max(worst, b > 0 ? e / b : (e > 0 ? INFINITY : 0.0));
  }
  BOOST_TEST(worst <= 1.0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fusion_linear)

BOOST_AUTO_TEST_CASE(gradcheck_float64_with_dropout_and_without) {
  const DropoutKey key{.seed = 3, .step = 5, .row_offset = 2};
  for (double p : {0.3, 0.0}) {
    Case c(DType::F64);
    CHECK_GRADS("fusion_dropout_linear", [&](const std::vector<Tensor>& in) { return fused(in, p, key); }, c.a, c.v, c.t, c.w, c.b);
  }
}

BOOST_AUTO_TEST_CASE(forward_matches_the_plain_loop) {
  const DropoutKey key{.seed = 8, .step = 1, .row_offset = 5};
  for (DType dt : {DType::F32, DType::F64}) {
    Case c(dt, 11);
    Tensor y = fused(c.leaves(), 0.4, key);
    Tensor ref = Tensor::empty(y.shape(), dt);
    MTFN_DISPATCH(dt, fusion_dropout_linear_reference<scalar_t>(
                          c.B, c.A, c.V, c.T, c.N, c.a.data<scalar_t>(), c.v.data<scalar_t>(), c.t.data<scalar_t>(),
                          0.4, key, c.w.data<scalar_t>(), c.b.data<scalar_t>(), ref.data<scalar_t>()));
    // y = sum over the F columns of zd * w, + b; zd a product of 3 and the dropout scale: n = F + 4.
    // The loop sums in double, so the whole bound is the op's.
    const Case abs_c = absolute_case(c);
    Tensor terms = Tensor::empty(y.shape(), DType::F64);
    fusion_dropout_linear_reference<double>(c.B, c.A, c.V, c.T, c.N, abs_c.a.data<double>(), abs_c.v.data<double>(),
                                            abs_c.t.data<double>(), 0.4, key, abs_c.w.data<double>(),
                                            abs_c.b.data<double>(), terms.data<double>());
    check_within(y, ref, terms, double(c.w.size(1) + 4) * unit_roundoff(dt));
  }
}

BOOST_AUTO_TEST_CASE(equals_the_unfused_composition) {
  const DropoutKey key{.seed = 21, .step = 7, .row_offset = 3};
  for (DType dt : {DType::F32, DType::F64})
    for (double p : {0.2, 0.0, 1.0}) {
      Case c(dt, 31);
      // ReLU zeros, so that whole rows of z are 0:
      for (int64_t e : {0, 3}) MTFN_DISPATCH(dt, c.a.data<scalar_t>()[e] = 0);
      for (int64_t e : {1, 7, 30}) MTFN_DISPATCH(dt, c.v.data<scalar_t>()[e] = 0);
      const auto ref = value_and_grads(c, [&](const std::vector<Tensor>& in) { return unfused(in, p, key); });
      const auto got = value_and_grads(c, [&](const std::vector<Tensor>& in) { return fused(in, p, key); });
      // The longest chain of roundings: da sums the F / (A+1) columns of a_i, each a sum over the N
      // outputs, times products of 3 and the scale: n = F + N + 8 covers every result.
      const auto terms = value_and_grads(absolute_case(c),
                                         [&](const std::vector<Tensor>& in) { return unfused(in, p, key); }, true);
      const double bound = 2 * double(c.w.size(1) + c.N + 8) * unit_roundoff(dt);
      const char* names[] = {"y", "da", "dv", "dt", "dW", "db"};
      for (size_t i = 0; i < ref.size(); ++i) {
        BOOST_TEST_INFO(names[i] << " p " << p << " " << dtype_name(dt));
        check_within(got[i], ref[i], terms[i], bound);
      }
      // The mask bit for bit: dL/dW's column is exactly zero where (and only where) the unfused path's is.
      const Tensor& gw = got[4];
      const Tensor& gw_ref = ref[4];
      int64_t differ = 0;
      for (int64_t e = 0; e < gw.numel(); ++e) differ += (gw.at(e) == 0) != (gw_ref.at(e) == 0);
      BOOST_TEST(differ == 0);
    }
}

// zero_grad leaves the weight gradient's fill pending and the backward writes it (GEMM beta = 0):
// whatever the buffer held is never read; without zero_grad the next backward adds as always.
BOOST_AUTO_TEST_CASE(zeroed_weight_gradient_is_written_other_gradients_added_into) {
  const DropoutKey key{.seed = 5, .step = 1, .row_offset = 0};
  Case c(DType::F32, 41);
  const auto once = value_and_grads(c, [&](const std::vector<Tensor>& in) { return fused(in, 0.2, key); });
  Tensor r = random_tensor(once[0].shape(), 99, -1, 1, DType::F32);  // value_and_grads' r
  auto backward = [&] { sum(mul(fused(c.leaves(), 0.2, key), r)).backward(); };
  // Garbage (NaN) in the kept buffer, then zero_grad: the backward must not read it.
  c.w.grad().fill(std::nan(""));
  zero_grad(c.w);
  BOOST_TEST(c.w.grad_slot().pending_zero());
  backward();
  BOOST_TEST(c.w.grad().to_vector() == once[4].to_vector(), boost::test_tools::per_element());
  backward();  // no zero_grad: added into
  std::vector<double> twice = once[4].to_vector();
  for (double& v : twice) v = static_cast<double>(static_cast<float>(v) + static_cast<float>(v));
  BOOST_TEST(c.w.grad().to_vector() == twice, boost::test_tools::per_element());
  // A pending zero reads as zeros, through grad() as through an op that adds into it.
  zero_grad(c.w);
  for (double v : c.w.grad().to_vector()) BOOST_TEST(v == 0.0);
  zero_grad(c.w);
  accumulate_grad(c.w, Tensor::ones(c.w.shape(), DType::F32));
  for (double v : c.w.grad().to_vector()) BOOST_TEST(v == 1.0);
}

BOOST_AUTO_TEST_CASE(same_result_whatever_the_thread_count) {
  const DropoutKey key{.seed = 4, .step = 2, .row_offset = 0};
  Case c(DType::F32, 41);
  std::vector<Tensor> one, two;
  tbb::task_arena(1).execute([&] { one = value_and_grads(c, [&](const auto& in) { return fused(in, 0.2, key); }); });
  tbb::task_arena(2).execute([&] { two = value_and_grads(c, [&](const auto& in) { return fused(in, 0.2, key); }); });
  for (size_t i = 0; i < one.size(); ++i) BOOST_TEST(one[i].to_vector() == two[i].to_vector());
}

BOOST_AUTO_TEST_CASE(modules_step_the_dropout_and_skip_it_in_eval) {
  Generator gen(5);
  Case c(DType::F32, 51);
  Linear layer(c.w.size(1), c.N, gen);
  Dropout drop(0.2, 77);
  drop.key.step = 9;
  Tensor y = fusion_dropout_linear(c.a, c.v, c.t, drop, layer);
  BOOST_TEST(drop.key.step == 10u);
  DropoutKey at9 = drop.key;
  at9.step = 9;
  CHECK_TENSOR_CLOSE(y, fusion_dropout_linear(c.a, c.v, c.t, 0.2, at9, layer.weight, layer.bias), 0.0);
  drop.eval();
  Tensor e = fusion_dropout_linear(c.a, c.v, c.t, drop, layer);
  BOOST_TEST(drop.key.step == 10u);
  // Eval: the unfused composition, summed in another order (bound as in equals_the_unfused_composition).
  const Case abs_c = absolute_case(c);
  const Tensor terms = linear(tensor_fusion(abs_c.a, abs_c.v, abs_c.t), abs(layer.weight.detach().to(DType::F64)),
                              abs(layer.bias.detach().to(DType::F64)));
  check_within(e, linear(tensor_fusion(c.a, c.v, c.t), layer.weight, layer.bias), terms,
               2 * double(c.w.size(1) + 4) * unit_roundoff(DType::F32));
}

BOOST_AUTO_TEST_CASE(bad_shapes_name_the_op) {
  Case c(DType::F32);
  const Tensor small = Tensor::zeros({c.N, 7});
  BOOST_TEST(ERROR_MESSAGE(fusion_dropout_linear(c.a, c.v, c.t, 0.2, {}, small, c.b)).find("fusion_dropout_linear") == 0u);
  BOOST_TEST(ERROR_MESSAGE(fusion_dropout_linear(c.a, c.v, c.t, 1.5, {}, c.w, c.b)).find("probability") != std::string::npos);
}

// Column shards (pairs [pb, pe) of W, the unit of the sharded fusion head, distributed/sharded_fusion.h):
// the shards' outputs add up to the whole layer's, each shard's dL/dW is the whole layer's columns, and
// the shards' dL/da, dL/dv, dL/dt add up to the whole layer's. Cuts inside an audio index's video range,
// on its boundary, and an empty shard.
BOOST_AUTO_TEST_CASE(column_shards_add_up_to_the_whole_layer) {
  const DropoutKey key{.seed = 4, .step = 2, .row_offset = 1};
  Case c(DType::F64);
  const int64_t T1 = c.T + 1, pairs = (c.A + 1) * (c.V + 1);
  const std::vector<Tensor> whole = value_and_grads(c, [&](const std::vector<Tensor>& in) { return fused(in, 0.3, key); });
  for (const std::vector<int64_t>& cuts : {std::vector<int64_t>{0, 5, 21, 40, 40, pairs}, {0, 32, pairs}}) {
    Tensor y_sum = Tensor::zeros(whole[0].shape(), DType::F64);
    Tensor ga = Tensor::zeros(c.a.shape(), DType::F64), gv = Tensor::zeros(c.v.shape(), DType::F64),
           gt = Tensor::zeros(c.t.shape(), DType::F64);
    const Tensor r = random_tensor(whole[0].shape(), 99, -1, 1, DType::F64);  // as value_and_grads
    for (size_t s = 0; s + 1 < cuts.size(); ++s) {
      const int64_t pb = cuts[s], pe = cuts[s + 1];
      const Tensor w = slice(c.w.detach(), 1, pb * T1, pe * T1);  // (N, (pe-pb) T1)
      FusionDropoutLinearCache cache;
      const Tensor y = fusion_dropout_linear_forward(c.a.detach(), c.v.detach(), c.t.detach(), 0.3, key, w,
                                                     s == 0 ? c.b.detach() : Tensor(), cache, pb);
      y_sum = add(y_sum, y);
      FusionDropoutLinearGrads out{ga, gv, gt, Tensor::full(w.shape(), 7.0, DType::F64), true, Tensor()};
      fusion_dropout_linear_backward(mul(r, Tensor::ones(r.shape(), DType::F64)), cache, out);
      // this shard's dL/dW = the whole layer's columns (written over the 7s: weight_is_zero)
      CHECK_TENSOR_CLOSE(out.weight, slice(whole[4], 1, pb * T1, pe * T1), 1e-12);
    }
    CHECK_TENSOR_CLOSE(y_sum, whole[0], 1e-12);
    CHECK_TENSOR_CLOSE(ga, whole[1], 1e-12);
    CHECK_TENSOR_CLOSE(gv, whole[2], 1e-12);
    CHECK_TENSOR_CLOSE(gt, whole[3], 1e-12);
  }
  const Tensor bad = Tensor::zeros({c.N, 3 * T1}, DType::F64);
  BOOST_TEST(ERROR_MESSAGE(fusion_dropout_linear(c.a, c.v, c.t, 0.2, {}, bad, c.b, pairs - 2)).find("from pair") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
