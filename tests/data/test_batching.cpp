// Tests of BatchSampler and shard_of_batch: permutations, determinism, the pinned algorithm,
// the last partial batch, and disjoint shares that cover each global batch.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/batching.h"

using namespace mtfn::data;

BOOST_AUTO_TEST_SUITE(batching)

BOOST_AUTO_TEST_CASE(order_is_a_seeded_permutation) {
  BatchSampler s(137, 64, 1111);
  auto a = s.epoch_order(0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(137);
  std::iota(iota.begin(), iota.end(), 0);
  BOOST_TEST(sorted == iota);
  BOOST_TEST(a != iota);
  BOOST_TEST(a == BatchSampler(137, 64, 1111).epoch_order(0));  // same seed + epoch: same order
  BOOST_TEST(a != s.epoch_order(1));                             // another epoch
  BOOST_TEST(a != BatchSampler(137, 64, 1112).epoch_order(0));  // another seed
  BOOST_TEST(BatchSampler(10, 3, 5, /*shuffle=*/false).epoch_order(4) == std::vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

BOOST_AUTO_TEST_CASE(algorithm_is_pinned) {
  // std::mt19937_64 is fully specified by the standard and the shuffle is ours, so these orders
  // are the same with every compiler and library. A change here changes every training run.
  BOOST_TEST(splitmix64(0) == 0xE220A8397B1DCDAFull);
  auto order = BatchSampler(10, 4, 1, true).epoch_order(0);
  auto again = BatchSampler(10, 4, 1, true).epoch_order(0);
  BOOST_TEST(order == again);
  BOOST_TEST_MESSAGE("order(10, seed 1, epoch 0) = " << order[0] << order[1] << order[2] << order[3] << order[4]
                                                      << order[5] << order[6] << order[7] << order[8] << order[9]);
  BOOST_TEST(order == std::vector<int64_t>({4, 6, 8, 9, 3, 5, 7, 2, 0, 1}));
}

BOOST_AUTO_TEST_CASE(batches_keep_the_last_partial_one) {
  BatchSampler s(137, 64, 7);
  BOOST_TEST(s.num_batches() == 3);
  auto batches = s.epoch_batches(2);
  BOOST_TEST(batches.size() == 3u);
  BOOST_TEST(batches[0].size() == 64u);
  BOOST_TEST(batches[1].size() == 64u);
  BOOST_TEST(batches[2].size() == 9u);
  std::vector<int64_t> joined;
  for (auto& b : batches) joined.insert(joined.end(), b.begin(), b.end());
  BOOST_TEST(joined == s.epoch_order(2));
  BOOST_TEST(BatchSampler(0, 4, 1).epoch_batches(0).empty());
}

BOOST_AUTO_TEST_CASE(shards_are_disjoint_and_cover_each_batch) {
  BatchSampler s(137, 64, 3);
  for (int world : {1, 2, 3, 4, 7}) {
    std::vector<std::vector<std::vector<int64_t>>> per_rank;
    for (int r = 0; r < world; ++r) per_rank.push_back(s.epoch_batches(5, r, world));
    auto global = s.epoch_batches(5);
    for (size_t b = 0; b < global.size(); ++b) {
      std::vector<int64_t> joined;
      size_t lo = SIZE_MAX, hi = 0;
      for (int r = 0; r < world; ++r) {
        BOOST_TEST_REQUIRE(per_rank[r].size() == global.size());  // same batch count on every rank
        const auto& share = per_rank[r][b];
        lo = std::min(lo, share.size());
        hi = std::max(hi, share.size());
        joined.insert(joined.end(), share.begin(), share.end());
      }
      BOOST_TEST(joined == global[b]);  // in rank order, the shares are the global batch
      BOOST_TEST(hi - lo <= 1u);
    }
  }
  std::vector<int64_t> one = {42};
  BOOST_TEST(shard_of_batch(one, 0, 2).empty());
  BOOST_TEST(shard_of_batch(one, 1, 2) == std::vector<int64_t>({42}));
  BOOST_CHECK_THROW(shard_of_batch(one, 2, 2), std::invalid_argument);
  BOOST_CHECK_THROW(BatchSampler(10, 0, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
