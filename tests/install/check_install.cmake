# SPDX-License-Identifier: MIT
# Script mode: builds the consumer programs (consumer/) against an installed concur, once with
# find_package(concur) and once per pkg-config file, and runs each.
#   -DCONCUR_BINARY_DIR=<build>  install that build into WORK_DIR/prefix first, or
#   -DPREFIX=<dir>               use concur already installed there (e.g. unpacked .deb files)
#   -DLIBDIR=<dir>               the libraries' directory under the prefix (CMAKE_INSTALL_LIBDIR)
#   -DCONSUMER_SOURCE_DIR, -DWORK_DIR, -DCXX
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

if(NOT PREFIX)
  set(PREFIX ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${CONCUR_BINARY_DIR} --prefix ${PREFIX})
endif()
# Shared libraries installed outside the loader's paths: the programs find them here.
set(run_env ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${PREFIX}/${LIBDIR})

# program -> what it prints when it worked
set(expect_consumer "consumer ok")
set(expect_threading_consumer "consumer ok")
set(expect_asyncio_consumer "asyncio consumer ok")
set(expect_multiprocessing_consumer "multiprocessing consumer ok")
function(expect_ok program)
  run(${run_env} ${program})
  get_filename_component(name ${program} NAME)
  string(REGEX REPLACE "^pc-" "" name ${name})
  if(NOT last_output MATCHES "${expect_${name}}")
    message(FATAL_ERROR "${program} printed: ${last_output}")
  endif()
endfunction()

# 1. CMake package: concur::concur and each component target.
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/cmake-build -G Ninja
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${PREFIX})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
foreach(program IN ITEMS consumer threading_consumer asyncio_consumer multiprocessing_consumer)
  expect_ok(${WORK_DIR}/cmake-build/${program})
endforeach()

# 2. pkg-config: concur.pc, and each component's own file.
set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
foreach(case IN ITEMS "concur:main.cpp:consumer" "concur-threading:main.cpp:threading_consumer"
                      "concur-asyncio:asyncio_main.cpp:asyncio_consumer"
                      "concur-multiprocessing:multiprocessing_main.cpp:multiprocessing_consumer")
  string(REPLACE ":" ";" case "${case}")
  list(GET case 0 module)
  list(GET case 1 source)
  list(GET case 2 program)
  run(pkg-config --modversion ${module})
  run(pkg-config --cflags --libs ${module})
  string(STRIP "${last_output}" flags)
  # The .pc files find the prefix relative to themselves (${pcfiledir}/../..): the include
  # directory they give must be this prefix's.
  string(REGEX MATCH "-I([^ ]+)" _ "${flags}")
  file(REAL_PATH "${CMAKE_MATCH_1}" include_dir)
  file(REAL_PATH "${PREFIX}/include" expected_include_dir)
  if(NOT include_dir STREQUAL expected_include_dir)
    message(FATAL_ERROR "pkg-config ${module} does not point into ${PREFIX}: ${flags}")
  endif()
  # A program that uses threads only links neither libuv nor the other components.
  if(module STREQUAL "concur-threading" AND flags MATCHES "-luv|-lconcur_asyncio|-lconcur_multiprocessing")
    message(FATAL_ERROR "concur-threading.pc pulls in more than threading: ${flags}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} ${CONSUMER_SOURCE_DIR}/${source} -o ${WORK_DIR}/pc-${program} ${flags})
  expect_ok(${WORK_DIR}/pc-${program})
endforeach()
