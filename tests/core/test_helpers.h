// Helpers shared by the core tests: gradient-check assertions and exception-message checks.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>

#include "core/gradcheck.h"

// Shapes are std::vector<int64_t>: let Boost print them as the collection they are.
BOOST_TEST_DONT_PRINT_LOG_VALUE(mtfn::Shape)

namespace mtfn::testing {

// A float64 leaf that requires grad, values uniform in [lo, hi).
inline Tensor leaf(Shape s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t = random_tensor(std::move(s), seed, lo, hi);
  t.set_requires_grad(true);
  return t;
}

// Gradient check of `f` on the inputs (float64 leaves) with gradcheck's default tolerances
// (core/gradcheck.h: |analytic - numeric| <= atol + rtol |numeric| + rounding). `op` names the check
// in the failure message, which says the input, the element, and the analytic and numeric values.
// `f` is one macro argument: a lambda whose capture list has a comma ([a, b]) must be wrapped in
// parentheses, e.g. in Fn(...) (tests/core/test_gradients.cpp), or the preprocessor splits it.
#define CHECK_GRADS(op, f, ...)                                                          \
  do {                                                                                   \
    const auto res_ = ::mtfn::gradcheck(op, f, std::vector<::mtfn::Tensor>{__VA_ARGS__}); \
    BOOST_TEST_MESSAGE(res_.describe()); /* every check's worst element, at --log_level=message */ \
    BOOST_TEST(res_.passed(), res_.describe());                                          \
  } while (0)

// The message of the exception (mtfn::Error, InputError, ...) that `expr` throws ("" if it throws none).
#define ERROR_MESSAGE(expr)                 \
  [&]() -> std::string {                    \
    try {                                   \
      (void)(expr);                         \
    } catch (const std::exception& e_) {    \
      return e_.what();                     \
    }                                       \
    return "";                              \
  }()

}  // namespace mtfn::testing
