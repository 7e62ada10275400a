# SPDX-License-Identifier: MIT
# Runs 4_asyncio at --speed SPEED and checks that its total time is near the longest task
# (10 s / SPEED) and far from the sum of the tasks (21 s / SPEED): the tasks ran concurrently.
# Usage: cmake -DEXAMPLE=<path to 4_asyncio> -DSPEED=<n> -P asyncio_check_total.cmake
execute_process(COMMAND ${EXAMPLE} --speed ${SPEED} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "4_asyncio exited with ${rc}:\n${out}")
endif()
if(NOT out MATCHES "Total time: ([0-9]+\\.[0-9]+) seconds")
  message(FATAL_ERROR "no 'Total time' line in:\n${out}")
endif()
set(total ${CMAKE_MATCH_1})
# Bounds in milliseconds: at least the longest task (sleeps never end early), and below the
# midpoint between the longest task and the sum (generous for a loaded machine).
math(EXPR longest_ms "10000 / ${SPEED}")
math(EXPR sum_ms "21000 / ${SPEED}")
math(EXPR limit_ms "(${longest_ms} + ${sum_ms}) / 2")
string(REPLACE "." ";" parts ${total})
list(GET parts 0 whole)
list(GET parts 1 frac)
math(EXPR total_ms "${whole} * 1000 + ${frac} * 10")
string(REGEX MATCHALL "Task-[ABC]: " lines "${out}")
list(LENGTH lines nlines)
if(NOT nlines EQUAL 14)
  message(FATAL_ERROR "expected 14 task lines (5 + 5 + 4), got ${nlines}:\n${out}")
endif()
if(total_ms LESS longest_ms OR NOT total_ms LESS limit_ms)
  message(FATAL_ERROR "total ${total} s: expected about ${longest_ms} ms (the longest task), "
                      "well under ${limit_ms} ms; one after another would be ${sum_ms} ms\n${out}")
endif()
message(STATUS "total ${total_ms} ms: near the longest task (${longest_ms} ms), not the sum (${sum_ms} ms)")
