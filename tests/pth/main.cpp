// The Boost.Test entry point of test_pth (PyTorch checkpoints: data/pth.h, the pickle reader's torch
// dialect, and MTFN from a .pth in models/mtfn/pth_checkpoint.h). Only this file defines BOOST_TEST_MODULE.
#define BOOST_TEST_MODULE pth
#include <boost/test/unit_test.hpp>
