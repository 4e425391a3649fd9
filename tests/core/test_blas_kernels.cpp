// The OpenBLAS kernel choice (core/blas_kernels.h): this test program itself, which has no code for
// it, must run the fast kernels on a CPU that has them. Not here: GEMM results (test_kernels.cpp).
#include <cblas.h>
#include <strings.h>

#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "core/blas_kernels.h"

namespace {

// Skip (with the reason) where the choice cannot apply: no AVX2 + FMA, or the user named the kernels.
boost::test_tools::assertion_result cpu_gets_fast_kernels(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(true);
  if (!mtfn::fast_openblas_kernels_for_this_cpu()) {
    r = false;
    r.message() << "skipped: this CPU has no AVX2 + FMA, so OpenBLAS has no faster kernels to choose";
  } else if (const char* set = std::getenv("OPENBLAS_CORETYPE"); set && strcasecmp(set, "prescott") == 0) {
    r = false;
    r.message() << "skipped: OPENBLAS_CORETYPE=" << set << " was set by the user, and the user wins";
  }
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blas_kernels)

BOOST_AUTO_TEST_CASE(this_program_runs_fast_kernels, *boost::unit_test::precondition(cpu_gets_fast_kernels)) {
  const std::string core = openblas_get_corename();
  BOOST_TEST_MESSAGE("OpenBLAS core: " << core << ", OPENBLAS_CORETYPE="
                                       << (std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)"));
  BOOST_TEST(strcasecmp(core.c_str(), "prescott") != 0);
}

BOOST_AUTO_TEST_SUITE_END()
