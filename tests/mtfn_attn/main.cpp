// The Boost.Test entry point of test_mtfn_attn (models/mtfn_attn: check-grads, gradients, config, training).
#define BOOST_TEST_MODULE mtfn_attn
#include <boost/test/unit_test.hpp>
