# tests/dist: dist/ in one process (label unit), plus the programs run under mpirun (label mpi).
set(AREA_LIBS mtfn_distributed mtfn_core)
foreach(lib mtfn_nn mtfn_optim)
  if(TARGET ${lib})
    list(APPEND AREA_LIBS ${lib})
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/mpi/tests.cmake)
