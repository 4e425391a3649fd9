# The data-parallel benchmarks (run under mpirun; see each file's header). Included by
# dist/CMakeLists.txt once the whole tree is read, since bench_dist_step needs the model library.
add_executable(bench_allreduce ${CMAKE_CURRENT_LIST_DIR}/bench_allreduce.cpp)
target_link_libraries(bench_allreduce PRIVATE mtfn_dist)
set_target_properties(bench_allreduce PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
if(TARGET mtfn_model)
  add_executable(bench_dist_step ${CMAKE_CURRENT_LIST_DIR}/bench_dist_step.cpp)
  target_link_libraries(bench_dist_step PRIVATE mtfn_model mtfn_dist)
  set_target_properties(bench_dist_step PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
endif()
