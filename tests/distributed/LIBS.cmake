# tests/distributed: distributed/ in one process (label unit), plus the programs run under mpirun (label mpi).
set(AREA_LIBS mtfn_distributed mtfn_optim mtfn_nn mtfn_core)
include(${CMAKE_CURRENT_LIST_DIR}/mpi/tests.cmake)
