# SPDX-License-Identifier: MIT
# Script mode: builds the consumer programs (consumer/) with concur's source tree as a
# subproject (add_subdirectory, as FetchContent does) and runs them. The consumer's
# CMakeLists.txt fails if the subproject defines a test, example, benchmark or tool target.
#   -DCONCUR_SOURCE_DIR, -DCONSUMER_SOURCE_DIR, -DWORK_DIR, -DCXX, -DLAUNCHER, -DSHARED
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR} -G Ninja -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}"
    -DBUILD_SHARED_LIBS=${SHARED} -DCONCUR_SOURCE_DIR=${CONCUR_SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK_DIR} -j2)
foreach(case IN ITEMS "consumer:consumer ok" "threading_consumer:consumer ok"
                      "asyncio_consumer:asyncio consumer ok"
                      "multiprocessing_consumer:multiprocessing consumer ok")
  string(REPLACE ":" ";" case "${case}")
  list(GET case 0 program)
  list(GET case 1 expected)
  run(${WORK_DIR}/${program})
  if(NOT last_output MATCHES "${expected}")
    message(FATAL_ERROR "${program} printed: ${last_output}")
  endif()
endforeach()
