// The Boost.Test entry point of test_distributed: distributed/ in a group of one process (no MPI needed).
// The multi-process checks are programs run under mpirun (tests/distributed/mpi/, label "mpi").
#define BOOST_TEST_MODULE dist
#include <boost/test/unit_test.hpp>
