// The Boost.Test entry point of test_dist: dist/ in a group of one process (no MPI needed).
// The multi-process checks are programs run under mpirun (tests/dist/mpi/, label "mpi").
#define BOOST_TEST_MODULE dist
#include <boost/test/unit_test.hpp>
