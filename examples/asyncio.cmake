# SPDX-License-Identifier: MIT
# The asyncio examples: the classic guide's fourth program and asyncio's scenarios. Each runs as a smoke
# test (ctest -L example) at a high --speed.
concur_example(4_asyncio LINK concur_asyncio SMOKE_ARGS --speed 50)
concur_example(async_producer_consumer LINK concur_asyncio SMOKE_ARGS --speed 50)
concur_example(taskgroup_failure LINK concur_asyncio SMOKE_ARGS --speed 50)
concur_example(async_timeout LINK concur_asyncio SMOKE_ARGS --speed 50)

if(CONCUR_BUILD_TESTS)
  # The point of the classic program: the three tasks take about as long as the longest (10 s), not the sum
  # (21 s). At --speed 10: about 1 s, against 2.1 s one after another.
  add_test(NAME example.4_asyncio.total_is_the_longest_task_not_the_sum
    COMMAND ${CMAKE_COMMAND} -DEXAMPLE=$<TARGET_FILE:4_asyncio> -DSPEED=10
            -P ${CMAKE_CURRENT_SOURCE_DIR}/asyncio_check_total.cmake)
  set_tests_properties(example.4_asyncio.total_is_the_longest_task_not_the_sum PROPERTIES TIMEOUT 60 LABELS example)
endif()
