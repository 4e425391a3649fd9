// The Boost.Test entry point of test_data (the data/ tests: pickle reader, dataset, batching,
// synthetic data, commands). Only this file defines BOOST_TEST_MODULE.
#define BOOST_TEST_MODULE data
#include <boost/test/unit_test.hpp>
