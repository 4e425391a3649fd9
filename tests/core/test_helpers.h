// Helpers shared by the core tests: gradient-check assertions and exception-message checks.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>

#include "core/gradcheck.h"
#include "core/ops.h"

// Shapes are std::vector<int64_t>: let Boost print them as the collection they are.
BOOST_TEST_DONT_PRINT_LOG_VALUE(mtfn::Shape)

namespace mtfn::testing {

// A float64 leaf that requires grad, values uniform in [lo, hi).
inline Tensor leaf(Shape s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t = random_tensor(std::move(s), seed, lo, hi);
  t.set_requires_grad(true);
  return t;
}

// Gradient check to 1e-6 relative.
#define CHECK_GRADS(f, ...)                                                        \
  do {                                                                             \
    auto res_ = ::mtfn::gradcheck(f, std::vector<::mtfn::Tensor>{__VA_ARGS__});   \
    BOOST_TEST_INFO(res_.worst);                                                   \
    BOOST_TEST(res_.checked > 0);                                                  \
    BOOST_TEST(res_.max_error <= 1e-6);                                            \
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
