// Helpers shared by the nn and optim tests: PyTorch fixtures (tests/fixtures/nn/) and
// tensor comparisons at a relative tolerance. Reuses core's CHECK_GRADS and ERROR_MESSAGE.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>

#include "nn/nn.h"
#include "tests/core/test_helpers.h"

namespace mtfn::testing {

inline nn::SafetensorsFile nn_fixture(const std::string& name) {
  return nn::read_safetensors(std::string(MTFN_SOURCE_DIR) + "/tests/fixtures/nn/" + name);
}

// max_i |a_i - b_i| / max_j |b_j|: the error relative to the expected tensor's scale.
// Infinity if the shapes differ.
inline double rel_error(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.shape() != b.shape()) return INFINITY;
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(a.at(i) - b.at(i)));
    scale = std::max(scale, std::abs(b.at(i)));
  }
  return scale > 0 ? diff / scale : diff;
}

#define CHECK_TENSOR_CLOSE(actual, expected, tol)                                     \
  do {                                                                                \
    const double err_ = ::mtfn::testing::rel_error((actual), (expected));             \
    BOOST_TEST_INFO(#actual " vs " #expected ": " << (actual).describe() << " vs "     \
                                                  << (expected).describe());          \
    BOOST_TEST(err_ <= (tol));                                                        \
  } while (0)

// The named entries of a fixture, as a state_dict.
inline nn::StateDict pick(const nn::SafetensorsFile& f, std::initializer_list<std::string> names,
                          const std::string& prefix = "") {
  nn::StateDict d;
  for (const std::string& n : names) {
    const nn::NamedTensor* e = f.tensors.find(prefix + n);
    if (!e) throw Error("fixture has no tensor " + prefix + n);
    d.insert(n, e->tensor, e->int64);
  }
  return d;
}

// A float64 leaf copy of a fixture tensor that requires grad.
inline Tensor leaf_of(const Tensor& t) {
  Tensor c = t.to(DType::F64).clone();
  c.set_requires_grad(true);
  return c;
}

}  // namespace mtfn::testing
