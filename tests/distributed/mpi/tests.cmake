# The multi-process checks of distributed/ (label "mpi", never "unit": MPI under ASan is noisy). Each runs
# under mpirun with a TIMEOUT, and the programs abort the whole job on any failed check, so none
# can hang. Included from tests/distributed/LIBS.cmake.
if(NOT MTFN_WITH_MPI OR NOT MPIEXEC_EXECUTABLE)
  return()
endif()
add_executable(dist_check ${CMAKE_CURRENT_LIST_DIR}/dist_check.cpp)
target_link_libraries(dist_check PRIVATE mtfn_distributed mtfn_data mtfn_nn mtfn_optim mtfn_core)
set(MTFN_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root)
set(MTFN_EXPECT_FAILURE ${CMAKE_CURRENT_LIST_DIR}/expect_job_failure.sh)

# Collectives, buckets and synchronised BatchNorm on 2 and 3 ranks (unequal shards).
foreach(np 2 3)
  add_test(NAME dist_collectives_np${np} COMMAND ${MTFN_MPIRUN} -np ${np} $<TARGET_FILE:dist_check> collectives)
  set_tests_properties(dist_collectives_np${np} PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "MTFN_DIST_TIMEOUT=60")
endforeach()
# Two ranks train like one process (float64): losses and final parameters within 1e-12, identical replicas.
add_test(NAME dist_train_np2 COMMAND ${MTFN_MPIRUN} -np 2 $<TARGET_FILE:dist_check> train --steps 24)
set_tests_properties(dist_train_np2 PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "MTFN_DIST_TIMEOUT=60"
  PASS_REGULAR_EXPRESSION "replicas bit-identical after every step")
# A rank killed mid-run: the job must end promptly with an error.
add_test(NAME dist_rank_dies COMMAND ${MTFN_EXPECT_FAILURE} 30 "exited on signal 9|killed|Killed"
  ${MTFN_MPIRUN} -np 2 $<TARGET_FILE:dist_check> train --steps 24 --die-at-step 5 --die-rank 1)
set_tests_properties(dist_rank_dies PROPERTIES LABELS mpi TIMEOUT 90 ENVIRONMENT "MTFN_DIST_TIMEOUT=60")
# A rank that stops answering (alive, so the launcher sees nothing): the others' watchdog ends the job.
add_test(NAME dist_rank_hangs COMMAND ${MTFN_EXPECT_FAILURE} 40 "no progress for [0-9]+ s in .*another rank has died or hangs"
  ${MTFN_MPIRUN} -np 2 $<TARGET_FILE:dist_check> train --steps 24 --hang-at-step 5 --die-rank 1)
set_tests_properties(dist_rank_hangs PROPERTIES LABELS mpi TIMEOUT 90 ENVIRONMENT "MTFN_DIST_TIMEOUT=5")

# MTFN end to end in float64 (2 processes vs one, a killed rank, --resume on 3 and on 1, the plain mode,
# all within 1e-10) and one float32 run of the full model within its derived bound (about 1.5 minutes).
add_executable(compare_runs ${CMAKE_CURRENT_LIST_DIR}/compare_runs.cpp)
target_link_libraries(compare_runs PRIVATE mtfn_nn mtfn_core nlohmann_json::nlohmann_json)
add_test(NAME mtfn_data_parallel COMMAND ${CMAKE_CURRENT_LIST_DIR}/mtfn_data_parallel.sh $<TARGET_FILE:mtfn>
  $<TARGET_FILE:compare_runs> ${MTFN_MPIRUN})
set_tests_properties(mtfn_data_parallel PROPERTIES LABELS mpi TIMEOUT 600 ENVIRONMENT "MTFN_DIST_TIMEOUT=120")

# --ranks-per-seed 1 on 2 processes: two seeds at once, exactly what one process gets one after the other.
add_test(NAME mtfn_ranks_per_seed COMMAND ${CMAKE_CURRENT_LIST_DIR}/ranks_per_seed.sh $<TARGET_FILE:mtfn>
  $<TARGET_FILE:compare_runs> ${MTFN_MPIRUN})
set_tests_properties(mtfn_ranks_per_seed PROPERTIES LABELS mpi TIMEOUT 300 ENVIRONMENT "MTFN_DIST_TIMEOUT=120")

# mtfn tune over 2 ranks (each runs its share of the trials) finds what one process finds.
add_test(NAME mtfn_tune_ranks COMMAND ${CMAKE_CURRENT_LIST_DIR}/tune_ranks.sh $<TARGET_FILE:mtfn> ${MTFN_MPIRUN})
set_tests_properties(mtfn_tune_ranks PROPERTIES LABELS mpi TIMEOUT 300 ENVIRONMENT "MTFN_DIST_TIMEOUT=120")
