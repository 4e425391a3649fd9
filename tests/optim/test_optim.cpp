// Adam and SGD against torch.optim (tests/fixtures/nn/adam.safetensors, sgd.safetensors), the
// fused passes against their plain loops, and state save / load for resuming.
#include <filesystem>

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "optim/optim.h"
#include "tests/nn/nn_test_helpers.h"

using namespace mtfn;
using namespace mtfn::optim;
using namespace mtfn::testing;
namespace fs = std::filesystem;

namespace {

constexpr double kParity = 1e-12;
const std::vector<std::string> kNames{"p0", "p1", "p2", "p3"};

// The fixture's four parameters as float64 leaves, at their initial values.
std::vector<Tensor> initial_params(const nn::SafetensorsFile& f) {
  std::vector<Tensor> ps;
  for (const std::string& n : kNames) ps.push_back(leaf_of(f.tensors.at("init." + n)));
  return ps;
}

void set_grads(const nn::SafetensorsFile& f, int step, std::vector<Tensor>& ps) {
  for (size_t i = 0; i < ps.size(); ++i) ps[i].set_grad(f.tensors.at(fmt::format("step{}.grad.{}", step, kNames[i])).clone());
}

// Groups as in make_nn_fixtures.py.
std::unique_ptr<Optimizer> fixture_adam(std::vector<Tensor>& ps) {
  return std::make_unique<Adam>(std::vector<ParamGroup>{{{ps[0], ps[1]}, 0.01, 0.1}, {{ps[2]}, 0.005, 0.0}, {{ps[3]}, 0.0, 0.0}},
                                AdamOptions{.lr = 0.001, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
}
std::unique_ptr<Optimizer> fixture_sgd(std::vector<Tensor>& ps) {
  return std::make_unique<SGD>(std::vector<ParamGroup>{{{ps[0], ps[1]}, 0.1, 0.01}, {{ps[2], ps[3]}, 0.05, {}}},
                               SGDOptions{.lr = 0.001, .momentum = 0.9});
}

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(MTFN_BINARY_DIR) / "test_scratch" / "optim" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adam)

BOOST_AUTO_TEST_CASE(five_steps_three_groups_match_torch) {
  const nn::SafetensorsFile f = nn_fixture("adam.safetensors");
  std::vector<Tensor> ps = initial_params(f);
  auto opt = fixture_adam(ps);
  for (int k = 1; k <= 5; ++k) {
    set_grads(f, k, ps);
    opt->step();
    for (size_t i = 0; i < ps.size(); ++i) {
      BOOST_TEST_CONTEXT("step " << k << " " << kNames[i]) {
        CHECK_TENSOR_CLOSE(ps[i], f.tensors.at(fmt::format("step{}.{}", k, kNames[i])), kParity);
      }
    }
  }
  const auto& adam = dynamic_cast<const Adam&>(*opt);
  for (size_t i = 0; i < ps.size(); ++i) {
    BOOST_TEST_CONTEXT(kNames[i]) {
      BOOST_TEST(adam.state(i).step == 5);
      CHECK_TENSOR_CLOSE(adam.state(i).exp_avg, f.tensors.at("state.exp_avg." + kNames[i]), kParity);
      CHECK_TENSOR_CLOSE(adam.state(i).exp_avg_sq, f.tensors.at("state.exp_avg_sq." + kNames[i]), kParity);
    }
  }
  // The gradients themselves were not changed by the weight decay.
  CHECK_TENSOR_CLOSE(ps[0].grad(), f.tensors.at("step5.grad.p0"), 0.0);
  // lr 0: the parameter stays, its moments still move (as torch).
  CHECK_TENSOR_CLOSE(ps[3], f.tensors.at("init.p3"), 0.0);
}

BOOST_AUTO_TEST_CASE(parameters_without_gradient_are_skipped) {
  Tensor a = Tensor::ones({3}, DType::F64).set_requires_grad(true);
  Tensor b = Tensor::ones({2}, DType::F64).set_requires_grad(false);  // frozen: never gets a gradient
  Adam opt({a, b}, AdamOptions{.lr = 0.1});
  a.set_grad(Tensor::full({3}, 0.5, DType::F64));
  opt.step();
  BOOST_TEST(opt.state(0).step == 1);
  BOOST_TEST(opt.state(1).step == 0);
  BOOST_TEST(!opt.state(1).exp_avg.defined());
  BOOST_TEST(b.to_vector() == std::vector<double>(2, 1.0), boost::test_tools::per_element());
  BOOST_TEST(std::abs(a.at(0) - 0.9) < 1e-8);  // first step moves by lr * g / (|g| + eps)
  const nn::TensorDict st = opt.state_dict();
  BOOST_TEST(st.contains("state.0.exp_avg"));
  BOOST_TEST(!st.contains("state.1.exp_avg"));
  BOOST_TEST(st.find("state.0.step")->int64);
}

BOOST_AUTO_TEST_CASE(fused_pass_matches_plain_loop) {
  const int64_t n = 200003;  // several parallel chunks and a ragged end
  for (DType dt : {DType::F32, DType::F64})
    for (double wd : {0.0, 1e-3}) {
      Tensor p = random_tensor({n}, 1, -1, 1, dt), g = random_tensor({n}, 2, -1, 1, dt);
      Tensor m = random_tensor({n}, 3, -0.1, 0.1, dt), v = random_tensor({n}, 4, 0, 0.01, dt);
      Tensor p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
      const AdamStep s{0.005, 0.9, 0.999, 1e-8, wd, 7};
      MTFN_DISPATCH(dt, {
        adam_update<scalar_t>(n, p.data<scalar_t>(), g.data<scalar_t>(), m.data<scalar_t>(), v.data<scalar_t>(), s);
        adam_update_reference<scalar_t>(n, p2.data<scalar_t>(), g.data<scalar_t>(), m2.data<scalar_t>(),
                                        v2.data<scalar_t>(), s);
      });
      // Element by element, no sums: the vector loop and the plain one make the same ~8 roundings
      // (fused or not, in another order), so p, m and v (|p| <= 1 here) differ by at most ~8 u of the
      // largest value: 8 * 6.0e-8 = 4.8e-7 in float32, 8 * 1.1e-16 = 8.9e-16 in float64.
      const double tol = dt == DType::F32 ? 1e-6 : 1e-14;
      CHECK_TENSOR_CLOSE(p, p2, tol);
      CHECK_TENSOR_CLOSE(m, m2, tol);
      CHECK_TENSOR_CLOSE(v, v2, tol);
    }
}

BOOST_AUTO_TEST_CASE(same_result_whatever_the_thread_count) {
  const int64_t n = 100000;
  std::vector<std::vector<double>> results;
  for (int threads : {1, 2}) {
    Tensor p = random_tensor({n}, 1, -1, 1, DType::F32);
    p.set_requires_grad(true);
    Adam opt({p}, AdamOptions{.lr = 0.01, .weight_decay = 1e-4});
    tbb::task_arena(threads).execute([&] {
      for (int k = 0; k < 3; ++k) {
        p.set_grad(random_tensor({n}, 10 + k, -1, 1, DType::F32));
        opt.step();
      }
    });
    results.push_back(p.to_vector());
  }
  BOOST_TEST(results[0] == results[1]);
}

BOOST_AUTO_TEST_CASE(save_after_step_3_load_and_continue_is_uninterrupted) {
  const nn::SafetensorsFile f = nn_fixture("adam.safetensors");
  // Uninterrupted: five steps.
  std::vector<Tensor> ps = initial_params(f);
  auto opt = fixture_adam(ps);
  for (int k = 1; k <= 5; ++k) {
    set_grads(f, k, ps);
    opt->step();
  }
  // Interrupted after step 3: parameters and optimizer state saved, then a fresh optimizer.
  const fs::path dir = scratch("adam_resume");
  std::vector<Tensor> qs = initial_params(f);
  auto first = fixture_adam(qs);
  for (int k = 1; k <= 3; ++k) {
    set_grads(f, k, qs);
    first->step();
  }
  save_optimizer((dir / "opt.safetensors").string(), *first, {{"epoch", "3"}});
  first->groups()[0].lr = 123;  // changed after saving: the load restores the saved value
  std::vector<Tensor> rs;
  for (const Tensor& q : qs) rs.push_back(leaf_of(q));
  auto resumed = fixture_adam(rs);
  resumed->groups()[1].lr = 99;
  load_optimizer((dir / "opt.safetensors").string(), *resumed);
  BOOST_TEST(resumed->groups()[1].lr == 0.005);
  for (int k = 4; k <= 5; ++k) {
    set_grads(f, k, rs);
    resumed->step();
  }
  for (size_t i = 0; i < ps.size(); ++i) BOOST_TEST(rs[i].to_vector() == ps[i].to_vector(), boost::test_tools::per_element());
  const auto& a = dynamic_cast<const Adam&>(*opt);
  const auto& b = dynamic_cast<const Adam&>(*resumed);
  for (size_t i = 0; i < ps.size(); ++i) {
    BOOST_TEST(b.state(i).step == a.state(i).step);
    BOOST_TEST(b.state(i).exp_avg_sq.to_vector() == a.state(i).exp_avg_sq.to_vector(), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(loading_a_state_that_does_not_fit) {
  Tensor a = Tensor::ones({3}, DType::F64).set_requires_grad(true);
  Tensor b = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  Adam opt({a, b});
  a.set_grad(Tensor::ones({3}, DType::F64));
  b.set_grad(Tensor::ones({2}, DType::F64));
  opt.step();
  nn::TensorDict st = opt.state_dict();
  Tensor c = Tensor::ones({4}, DType::F64).set_requires_grad(true);
  Adam other(std::vector<ParamGroup>{{{a}, {}, {}}, {{c}, {}, {}}});
  BOOST_TEST(ERROR_MESSAGE(other.load_state_dict(st, "opt.safetensors")) ==
             "opt.safetensors: does not fit this Adam: group 0 has 1 parameters, the state has 2; "
             "missing param_groups.1.lr; missing param_groups.1.weight_decay; missing param_groups.1.size; "
             "state.1.exp_avg has shape (2,), the parameter (4,); state.1.exp_avg_sq has shape (2,), the parameter (4,)");
  SGD sgd({a});
  BOOST_TEST(ERROR_MESSAGE(sgd.load_state_dict(st)).rfind("optimizer state: does not fit this SGD: unexpected state.0.step", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sgd)

BOOST_AUTO_TEST_CASE(five_steps_two_groups_match_torch) {
  const nn::SafetensorsFile f = nn_fixture("sgd.safetensors");
  std::vector<Tensor> ps = initial_params(f);
  auto opt = fixture_sgd(ps);
  for (int k = 1; k <= 5; ++k) {
    set_grads(f, k, ps);
    opt->step();
    for (size_t i = 0; i < ps.size(); ++i) {
      BOOST_TEST_CONTEXT("step " << k << " " << kNames[i]) {
        CHECK_TENSOR_CLOSE(ps[i], f.tensors.at(fmt::format("step{}.{}", k, kNames[i])), kParity);
      }
    }
  }
  const auto& sgd = dynamic_cast<const SGD&>(*opt);
  for (size_t i = 0; i < ps.size(); ++i)
    CHECK_TENSOR_CLOSE(sgd.momentum_buffer(i), f.tensors.at("state.momentum_buffer." + kNames[i]), kParity);
}

BOOST_AUTO_TEST_CASE(resume_after_step_3) {
  const nn::SafetensorsFile f = nn_fixture("sgd.safetensors");
  std::vector<Tensor> ps = initial_params(f);
  auto opt = fixture_sgd(ps);
  for (int k = 1; k <= 3; ++k) {
    set_grads(f, k, ps);
    opt->step();
  }
  const fs::path dir = scratch("sgd_resume");
  save_optimizer((dir / "opt.safetensors").string(), *opt);
  std::vector<Tensor> rs;
  for (const Tensor& p : ps) rs.push_back(leaf_of(p));
  auto resumed = fixture_sgd(rs);
  load_optimizer((dir / "opt.safetensors").string(), *resumed);
  for (int k = 4; k <= 5; ++k) {
    set_grads(f, k, rs);
    resumed->step();
  }
  for (size_t i = 0; i < rs.size(); ++i)
    CHECK_TENSOR_CLOSE(rs[i], f.tensors.at(fmt::format("step5.{}", kNames[i])), kParity);
  Adam adam({rs[0]});
  BOOST_TEST(ERROR_MESSAGE(load_optimizer((dir / "opt.safetensors").string(), adam)) ==
             (dir / "opt.safetensors").string() + ": holds the state of SGD, not Adam");
}

BOOST_AUTO_TEST_CASE(plain_sgd_and_nesterov) {
  Tensor p = Tensor::from_vector({1.0, -2.0}, {2}, DType::F64).set_requires_grad(true);
  SGD plain({p}, SGDOptions{.lr = 0.5});
  p.set_grad(Tensor::from_vector({0.2, 0.4}, {2}, DType::F64));
  plain.step();
  BOOST_TEST(p.at(0) == 0.9);
  BOOST_TEST(!plain.momentum_buffer(0).defined());
  SGD nesterov({p}, SGDOptions{.lr = 1.0, .momentum = 0.5, .nesterov = true});
  nesterov.step();  // buf = g; d = g + 0.5 g
  BOOST_TEST(std::abs(p.at(0) - (0.9 - 0.3)) < 1e-15);
  nesterov.step();  // buf = 0.5 g + g = 1.5 g; d = g + 0.75 g
  BOOST_TEST(std::abs(p.at(0) - (0.6 - 0.35)) < 1e-15);
}

BOOST_AUTO_TEST_SUITE_END()
