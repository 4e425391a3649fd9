// The Boost.Test entry point of test_mtfn (models/mtfn: metrics, config, model, trainer, commands).
#define BOOST_TEST_MODULE mtfn
#include <boost/test/unit_test.hpp>
