// The Boost.Test entry point of test_tfn (models/tfn: check-grads, gradients, config).
#define BOOST_TEST_MODULE tfn
#include <boost/test/unit_test.hpp>
