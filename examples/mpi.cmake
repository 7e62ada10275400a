# SPDX-License-Identifier: MIT
# The MPI example, when the MPI component is built: smoke-tested on one rank (the pool falls
# back to local processes) and across three ranks under mpiexec.
if(NOT TARGET concur_mpi)
  return()
endif()
concur_example(distributed_pool LINK concur_mpi SMOKE_ARGS --images 100 --size 32)
# MPI_Init leaves about 120 KB that Open MPI 4.1 never frees, in components it has unloaded by
# exit (so no suppression can name them): under AddressSanitizer the one-rank run checks memory
# errors but not leaks. Every Pool test checks concur's own leaks.
if(CONCUR_BUILD_TESTS AND CONCUR_SANITIZE MATCHES "address")
  set_tests_properties(example.distributed_pool PROPERTIES
    ENVIRONMENT_MODIFICATION "ASAN_OPTIONS=string_append::detect_leaks=0")
endif()
# Across ranks only unsanitized: a sanitizer reports Open MPI's own races (tests/CMakeLists.txt).
if(CONCUR_BUILD_TESTS AND NOT CONCUR_SANITIZE)
  add_test(NAME example.distributed_pool_across_three_ranks
    COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root ${MPIEXEC_NUMPROC_FLAG} 3
            $<TARGET_FILE:distributed_pool> --images 100 --size 32)
  set_tests_properties(example.distributed_pool_across_three_ranks PROPERTIES
    TIMEOUT 120 LABELS "example;mpi" PASS_REGULAR_EXPRESSION "tasks ran on ranks: 1, 2")
endif()
