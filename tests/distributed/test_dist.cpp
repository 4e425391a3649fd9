// distributed/ in a group of one: the bucket plan, gradient buckets against a plain backward pass,
// synchronised BatchNorm against nn's op, the replica hash, and the launcher checks.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <set>

#include "core/gradcheck.h"
#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "distributed/distributed.h"
#include "nn/batchnorm.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::distributed;

BOOST_AUTO_TEST_SUITE(buckets)

BOOST_AUTO_TEST_CASE(plan_covers_every_element_once_and_splits_large_tensors) {
  const std::vector<int64_t> numels{10, 3, 250, 0, 7, 40};
  const std::vector<int> order{5, 4, 3, 2, 1, 0};  // reverse, as GradBuckets starts
  const std::vector<Bucket> plan = plan_buckets(numels, order, 64);
  std::vector<std::vector<int>> seen(numels.size());
  std::vector<int> first_param;
  for (const Bucket& b : plan) {
    int64_t n = 0;
    BOOST_TEST(b.numel <= 64);
    for (const BucketPiece& p : b.pieces) {
      for (int64_t i = p.offset; i < p.offset + p.count; ++i) seen[static_cast<size_t>(p.param)].push_back(int(i));
      n += p.count;
    }
    BOOST_TEST(n == b.numel);
    first_param.push_back(b.pieces.front().param);
  }
  for (size_t p = 0; p < numels.size(); ++p) {
    BOOST_TEST(static_cast<int64_t>(seen[p].size()) == numels[p]);
    BOOST_TEST(std::set<int>(seen[p].begin(), seen[p].end()).size() == seen[p].size());
  }
  // 40 and 7 packed, then 250 cut into 4 near-equal in-place slices, then 3 and 10 packed.
  BOOST_REQUIRE(plan.size() == 6u);
  BOOST_TEST(plan[0].pieces.size() == 2u);
  for (int k = 1; k <= 4; ++k) {
    BOOST_TEST(plan[static_cast<size_t>(k)].in_place());
    BOOST_TEST(plan[static_cast<size_t>(k)].numel >= 61);  // 63, 63, 63, 61
  }
  BOOST_TEST(plan[5].pieces.size() == 2u);
}

// y = sum over rows of relu(x W^T + b) . c, the loss a mean over rows.
static Tensor small_loss(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& extra) {
  Tensor h = relu(linear(x, w, b));
  return add(mean(mul(h, h)), sum(mul(extra, extra)));
}

BOOST_AUTO_TEST_CASE(one_process_gives_the_plain_gradients_scaled_by_the_row_share) {
  ProcessGroup group;
  BOOST_TEST(group.size() == 1);
  Tensor x = random_tensor({6, 5}, 1, -1, 1, DType::F32);
  Tensor w = random_tensor({4, 5}, 2, -1, 1, DType::F32).set_requires_grad(true);
  Tensor b = random_tensor({4}, 3, -1, 1, DType::F32).set_requires_grad(true);
  Tensor extra = random_tensor({3}, 4, -1, 1, DType::F32).set_requires_grad(true);
  Tensor unused = random_tensor({2}, 5, -1, 1, DType::F32).set_requires_grad(true);
  small_loss(x, w, b, extra).backward();
  const Tensor gw = w.grad().clone(), gb = b.grad().clone(), ge = extra.grad().clone();
  for (Tensor* t : {&w, &b, &extra}) t->drop_grad();

  GradBuckets buckets(group, {w, b, extra, unused}, /*bucket_bytes=*/40);  // 10 floats: w is cut in two
  for (int step = 0; step < 3; ++step) {  // the third step runs on the plan rebuilt from the ready order
    for (Tensor* t : {&w, &b, &extra}) t->drop_grad();
    buckets.backward(small_loss(x, w, b, extra), 3, 6);  // this rank has half of the rows
    // The same backward, then a scaling by 3/6 = 0.5, which is exact in binary: equal to the last bit.
    CHECK_TENSOR_CLOSE(w.grad(), mul_scalar(gw, 0.5), 0);
    CHECK_TENSOR_CLOSE(b.grad(), mul_scalar(gb, 0.5), 0);
    CHECK_TENSOR_CLOSE(extra.grad(), mul_scalar(ge, 0.5), 0);
    BOOST_TEST(!unused.grad().defined());  // no rank gave it a gradient: it stays without one
    BOOST_TEST(buckets.last_timing().bytes == (20 + 4 + 3 + 2) * 4);
  }
}

BOOST_AUTO_TEST_CASE(a_gradient_shared_with_another_tensor_is_copied_before_reducing_in_place) {
  ProcessGroup group;
  Tensor a = random_tensor({4}, 7, -1, 1, DType::F32).set_requires_grad(true);
  Tensor c = random_tensor({4}, 8, -1, 1, DType::F32).set_requires_grad(true);
  GradBuckets buckets(group, {a, c}, 1 << 20);
  buckets.backward(sum(add(a, c)), 1, 2);  // add's backward hands the same tensor to a and c
  BOOST_TEST(a.grad().at(0) == 0.5);
  BOOST_TEST(c.grad().at(0) == 0.5);
  BOOST_TEST(a.grad().raw_data() != c.grad().raw_data());
}

BOOST_AUTO_TEST_CASE(bad_row_counts_are_refused) {
  ProcessGroup group;
  Tensor a = random_tensor({4}, 7, -1, 1, DType::F32).set_requires_grad(true);
  GradBuckets buckets(group, {a});
  BOOST_TEST(ERROR_MESSAGE(buckets.backward(sum(a), 5, 4)).find("5 local rows of a global batch of 4") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sync_batch_norm)

BOOST_AUTO_TEST_CASE(one_process_matches_nn_batch_norm_train) {
  ProcessGroup group;
  Tensor x = random_tensor({7, 3}, 11, -2, 3);
  Tensor w = random_tensor({3}, 12, 0.5, 1.5);
  Tensor b = random_tensor({3}, 13);
  Tensor gy = random_tensor({7, 3}, 14);
  std::vector<Tensor> ref, got;
  for (int sync = 0; sync < 2; ++sync) {
    Tensor xl = x.clone().set_requires_grad(true), wl = w.clone().set_requires_grad(true),
           bl = b.clone().set_requires_grad(true);
    Tensor mean, var;
    int64_t rows = 0;
    Tensor y = sync ? sync_batch_norm_train(group, xl, wl, bl, 1e-5, &mean, &var, &rows)
                    : nn::batch_norm_train(xl, wl, bl, 1e-5, &mean, &var);
    y.backward(gy);
    std::vector<Tensor>& out = sync ? got : ref;
    out = {y, mean, var, xl.grad(), wl.grad(), bl.grad()};
    if (sync) BOOST_TEST(rows == 7);
  }
  for (size_t i = 0; i < ref.size(); ++i) CHECK_TENSOR_CLOSE(got[i], ref[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(gradients_match_central_differences) {
  ProcessGroup group;
  auto f = [&](const std::vector<Tensor>& in) {
    return sync_batch_norm_train(group, in[0], in[1], in[2], 1e-5, nullptr, nullptr, nullptr);
  };
  CHECK_GRADS("sync_batch_norm_train", f, testing::leaf({5, 4}, 21, -1, 2), testing::leaf({4}, 22, 0.5, 1.5), testing::leaf({4}, 23));
}

BOOST_AUTO_TEST_CASE(the_module_hook_updates_running_statistics_with_the_global_row_count) {
  ProcessGroup group;
  nn::BatchNorm1d plain(3, 1e-5, 0.1, DType::F64), hooked(3, 1e-5, 0.1, DType::F64);
  hooked.train_op = sync_batch_norm_op(group);
  Tensor x = random_tensor({6, 3}, 31, -1, 4);
  CHECK_TENSOR_CLOSE(hooked.forward(x), plain.forward(x), 1e-12);
  CHECK_TENSOR_CLOSE(hooked.running_var, plain.running_var, 1e-12);
  CHECK_TENSOR_CLOSE(hooked.running_mean, plain.running_mean, 1e-12);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(replicas_and_launcher)

BOOST_AUTO_TEST_CASE(the_hash_sees_one_flipped_bit_and_the_shapes) {
  Tensor a = random_tensor({1000, 300}, 41, -1, 1, DType::F32);
  Tensor b = random_tensor({7}, 42, -1, 1, DType::F32);
  const uint64_t h = tensors_hash({a, b});
  BOOST_TEST(tensors_hash({a.clone(), b.clone()}) == h);
  Tensor a2 = a.clone();
  reinterpret_cast<unsigned char*>(a2.raw_data())[123457] ^= 1;
  BOOST_TEST(tensors_hash({a2, b}) != h);
  BOOST_TEST(tensors_hash({a.view({300, 1000}), b}) != h);
  BOOST_TEST(tensors_hash({b, a}) != h);
  ProcessGroup group;
  BOOST_TEST(replicas_identical(group, {a, b}));
  broadcast_tensors(group, {a, b});  // a group of one: nothing to do
  BOOST_TEST(tensors_hash({a, b}) == h);
}

BOOST_AUTO_TEST_CASE(a_group_of_one_needs_no_launcher) {
  BOOST_TEST(std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr);
  BOOST_TEST(launcher_world_size() == 1);
  ProcessGroup group;
  BOOST_TEST(group.rank() == 0);
  BOOST_TEST(group.is_root());
  BOOST_TEST(!group.uses_mpi());
  std::vector<double> v{1, 2};
  group.allreduce_sum(v, "test");
  BOOST_TEST(v[1] == 2.0);
  BOOST_TEST(group.allgather(5, "test") == std::vector<uint64_t>{5});
  group.barrier("test");
}

BOOST_AUTO_TEST_CASE(srun_without_mpi_wiring_is_refused_clearly) {
  setenv("SLURM_STEP_NUM_TASKS", "4", 1);
  BOOST_TEST(launcher_world_size() == 4);
  BOOST_TEST(ERROR_MESSAGE(ProcessGroup()).find("srun --mpi=pmix") != std::string::npos);
  unsetenv("SLURM_STEP_NUM_TASKS");
}

BOOST_AUTO_TEST_CASE(without_mpi_several_processes_are_refused_clearly) {
  if (mpi_compiled()) {  // the MPI build would join the job instead
    BOOST_TEST(mpi_compiled());
    return;
  }
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  const std::string msg = ERROR_MESSAGE(ProcessGroup());
  unsetenv("OMPI_COMM_WORLD_SIZE");
  BOOST_TEST(msg.find("this build of mtfn has no MPI, so multi-process training is unavailable") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
