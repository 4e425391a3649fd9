// Dropout: keyed masks (thread count, sharding), the kept fraction, scaling, gradients.
#include <tbb/task_arena.h>

#include "core/ops/reduce.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::nn;
using namespace mtfn::testing;

BOOST_AUTO_TEST_SUITE(dropout_tests)

BOOST_AUTO_TEST_CASE(mask_is_the_same_whatever_the_thread_count) {
  const int64_t N = 16, K = 20000;  // several parallel chunks
  const DropoutKey key{.seed = 42, .step = 3, .row_offset = 0};
  std::vector<uint8_t> one(N * K), many(N * K);
  tbb::task_arena(1).execute([&] { dropout_mask(key, 0.3, N, K, one.data()); });
  tbb::task_arena(2).execute([&] { dropout_mask(key, 0.3, N, K, many.data()); });
  BOOST_TEST(one == many);
  // And it is the header's mask function, element by element.
  for (int64_t i = 0; i < N * K; i += 997)
    BOOST_TEST(one[i] == (dropout_keep(42, 3, i / K, i % K, 0.3) ? 1 : 0));
}

BOOST_AUTO_TEST_CASE(kept_fraction_is_one_minus_p) {
  const int64_t N = 64, K = 20000;
  for (double p : {0.2, 0.5, 0.9}) {
    std::vector<uint8_t> m(N * K);
    dropout_mask({.seed = 7, .step = 0, .row_offset = 0}, p, N, K, m.data());
    double kept = 0;
    for (uint8_t b : m) kept += b;
    kept /= double(m.size());
    // 1.28M Bernoulli draws: standard deviation < 5e-4.
    BOOST_TEST(std::abs(kept - (1 - p)) < 3e-3);
  }
}

BOOST_AUTO_TEST_CASE(sharded_rows_reproduce_the_unsharded_mask) {
  const int64_t N = 10, K = 37;
  Tensor x = random_tensor({N, K}, 1, 0.5, 1.5, DType::F32);  // no zeros: zero out <=> dropped
  const DropoutKey whole{.seed = 9, .step = 12, .row_offset = 0};
  Tensor y = dropout(x, 0.4, whole);
  // Three "processes" holding rows [0,3), [3,7), [7,10) of the global batch.
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 3}, {3, 7}, {7, 10}}) {
    DropoutKey k = whole;
    k.row_offset = begin;
    Tensor part = dropout(x.narrow0(begin, end - begin).clone(), 0.4, k);
    for (int64_t i = 0; i < part.numel(); ++i) BOOST_TEST(part.at(i) == y.at(begin * K + i));
  }
}

BOOST_AUTO_TEST_CASE(op_matches_plain_loop_and_scales_kept_values) {
  const int64_t N = 5, K = 3000;
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor({N, 3, K / 3}, 2, -1, 1, dt);  // columns are everything after dim 0
    const DropoutKey key{.seed = 5, .step = 1, .row_offset = 17};
    Tensor y = dropout(x, 0.25, key);
    Tensor ref = Tensor::empty(x.shape(), dt);
    MTFN_DISPATCH(dt, dropout_reference<scalar_t>(N, K, x.data<scalar_t>(), 0.25, key, ref.data<scalar_t>()));
    BOOST_TEST(y.to_vector() == ref.to_vector(), boost::test_tools::per_element());
    int64_t kept = 0;
    for (int64_t i = 0; i < x.numel(); ++i)
      if (y.at(i) != 0) {
        ++kept;
        // x * (1 / 0.75) in float32: two roundings, 2 u = 1.2e-7 relative.
        BOOST_TEST(std::abs(y.at(i) - x.at(i) / 0.75) <= 1e-6 * std::abs(x.at(i)));
      }
    BOOST_TEST(kept > 0);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_with_a_fixed_mask) {
  Tensor x = leaf({4, 6}, 3);
  const DropoutKey key{.seed = 11, .step = 2, .row_offset = 0};
  CHECK_GRADS("dropout", [&](const std::vector<Tensor>& in) { return dropout(in[0], 0.5, key); }, {x});
}

BOOST_AUTO_TEST_CASE(module_modes_steps_and_edge_probabilities) {
  Dropout drop(0.5, named_seed(1111, "post_fusion_dropout"));
  Tensor x = random_tensor({8, 50}, 4, 0.5, 1.5, DType::F32);
  Tensor y1 = drop.forward(x);
  BOOST_TEST(drop.key.step == 1u);
  Tensor y2 = drop.forward(x);
  BOOST_TEST(y1.to_vector() != y2.to_vector());  // a new mask each step
  drop.key.step = 0;
  BOOST_TEST(drop.forward(x).to_vector() == y1.to_vector());  // pinned step: the same mask again
  drop.eval();
  BOOST_TEST(drop.forward(x).same(x));
  BOOST_TEST(drop.key.step == 1u);  // eval draws nothing
  Dropout none(0.0);
  BOOST_TEST(none.forward(x).same(x));
  Tensor xg = leaf({3, 4}, 5);
  Tensor z = dropout(xg, 1.0, {});
  for (double v : z.to_vector()) BOOST_TEST(v == 0.0);
  sum(z).backward();
  for (double v : xg.grad().to_vector()) BOOST_TEST(v == 0.0);
  BOOST_TEST(ERROR_MESSAGE(Dropout(1.5)) == "dropout: probability 1.5 not in [0, 1]");
  BOOST_TEST(named_seed(1, "a") != named_seed(1, "b"));
  BOOST_TEST(named_seed(1, "a") != named_seed(2, "a"));
}

BOOST_AUTO_TEST_SUITE_END()
