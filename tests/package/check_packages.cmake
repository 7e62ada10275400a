# SPDX-License-Identifier: MIT
# Script mode: builds the Debian packages of a shared build with CPack, checks their control
# fields and runs lintian on them (an error fails, warnings are printed), unpacks them into a
# scratch root with dpkg -x, runs the packaged concur command, and builds the consumer programs
# against the unpacked tree with find_package(concur) and with pkg-config
# (../install/check_install.cmake).
#   -DBINARY_DIR, -DWORK_DIR, -DCONSUMER_SOURCE_DIR, -DCHECK_INSTALL, -DLIBDIR, -DCXX, -DVERSION
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
  set(last_error "${err}" PARENT_SCOPE)
endfunction()

run(cpack -G DEB --config ${BINARY_DIR}/CPackConfig.cmake -B ${WORK_DIR}/packages)
file(GLOB debs ${WORK_DIR}/packages/*.deb)
set(names)
foreach(deb IN LISTS debs)
  run(dpkg-deb -f ${deb} Package)
  string(STRIP "${last_output}" name)
  list(APPEND names ${name})
  run(dpkg-deb -f ${deb} Depends)
  string(STRIP "${last_output}" depends_${name})
  run(dpkg-deb -c ${deb})
  set(contents_${name} "${last_output}")
  set(deb_${name} ${deb})
endforeach()
list(SORT names)
set(expected_names "concur-tools;libconcur-dev;libconcur0")
if(MPI)
  set(expected_names "concur-tools;libconcur-dev;libconcur-mpi-dev;libconcur-mpi0;libconcur0")
endif()
if(NOT names STREQUAL expected_names)
  message(FATAL_ERROR "expected the packages ${expected_names}, got: ${names}")
endif()
if(MPI)
  # The MPI component stays in its own packages: only they depend on Open MPI.
  if(NOT contents_libconcur-mpi0 MATCHES "libconcur_mpi\\.so\\.${VERSION}" OR contents_libconcur0 MATCHES "libconcur_mpi")
    message(FATAL_ERROR "libconcur_mpi.so.${VERSION} is not (only) in libconcur-mpi0:\n${contents_libconcur-mpi0}")
  endif()
  if(NOT contents_libconcur-mpi-dev MATCHES "include/concur/mpi/pool\\.hpp" OR NOT contents_libconcur-mpi-dev MATCHES "concur-mpi\\.pc"
     OR NOT contents_libconcur-mpi-dev MATCHES "concurMpiTargets\\.cmake" OR contents_libconcur-dev MATCHES "include/concur/mpi")
    message(FATAL_ERROR "libconcur-mpi-dev lacks the MPI headers, .pc file or CMake targets (or libconcur-dev has them):\n${contents_libconcur-mpi-dev}")
  endif()
  if(NOT depends_libconcur-mpi0 MATCHES "libopenmpi" OR depends_libconcur0 MATCHES "openmpi")
    message(FATAL_ERROR "only libconcur-mpi0 depends on Open MPI: ${depends_libconcur-mpi0} / ${depends_libconcur0}")
  endif()
endif()
message(STATUS "packages: ${debs}")

# Contents: the runtime package holds the versioned libraries and no link names; the -dev
# package the link names, static archives, headers, CMake package and .pc files; each has its
# copyright and changelog.
foreach(lib IN ITEMS threading asyncio multiprocessing)
  if(NOT contents_libconcur0 MATCHES "libconcur_${lib}\\.so\\.${VERSION}")
    message(FATAL_ERROR "libconcur0 lacks libconcur_${lib}.so.${VERSION}:\n${contents_libconcur0}")
  endif()
  if(NOT contents_libconcur-dev MATCHES "libconcur_${lib}\\.so -> " OR NOT contents_libconcur-dev MATCHES "libconcur_${lib}\\.a"
     OR NOT contents_libconcur-dev MATCHES "concur-${lib}\\.pc")
    message(FATAL_ERROR "libconcur-dev lacks the link name, the static archive or the .pc file of ${lib}:\n${contents_libconcur-dev}")
  endif()
endforeach()
if(contents_libconcur0 MATCHES "\\.so -> |/include/")
  message(FATAL_ERROR "libconcur0 holds development files:\n${contents_libconcur0}")
endif()
foreach(name IN LISTS names)
  if(NOT contents_${name} MATCHES "usr/share/doc/${name}/copyright" OR NOT contents_${name} MATCHES "usr/share/doc/${name}/changelog.Debian.gz")
    message(FATAL_ERROR "${name} lacks usr/share/doc/${name}/copyright or changelog.Debian.gz:\n${contents_${name}}")
  endif()
endforeach()

# Depends: dpkg-shlibdeps found the shared libraries the binaries use; the component graph
# made -dev and tools depend on the exact libconcur0.
foreach(expected IN ITEMS libc6 libstdc\\+\\+6 libuv1 libfmt libssl3)
  if(NOT depends_libconcur0 MATCHES "${expected}")
    message(FATAL_ERROR "libconcur0 Depends lacks ${expected}: ${depends_libconcur0}")
  endif()
endforeach()
foreach(name IN ITEMS libconcur-dev concur-tools)
  if(NOT depends_${name} MATCHES "libconcur0 \\(= ${VERSION}")
    message(FATAL_ERROR "${name} does not depend on libconcur0 (= ${VERSION}...): ${depends_${name}}")
  endif()
endforeach()
foreach(expected IN ITEMS libuv1-dev libfmt-dev libcereal-dev libssl-dev)
  if(NOT depends_libconcur-dev MATCHES "${expected}")
    message(FATAL_ERROR "libconcur-dev Depends lacks ${expected}: ${depends_libconcur-dev}")
  endif()
endforeach()
if(NOT depends_concur-tools MATCHES "libc6")
  message(FATAL_ERROR "concur-tools Depends were not computed by dpkg-shlibdeps: ${depends_concur-tools}")
endif()

# lintian: no error ("E:" lines); warnings are shown.
find_program(LINTIAN lintian)
if(LINTIAN)
  execute_process(COMMAND ${LINTIAN} --tag-display-limit 0 ${debs} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "lintian:\n${out}${err}")
  if(out MATCHES "(^|\n)E: " OR NOT rc EQUAL 0)
    message(FATAL_ERROR "lintian reports errors (exit status ${rc})")
  endif()
else()
  message(WARNING "lintian not found: the packages were not checked by it")
endif()

# Unpack into a scratch root; run the command; build the consumers against it.
set(root ${WORK_DIR}/root)
foreach(deb IN LISTS debs)
  run(dpkg -x ${deb} ${root})
endforeach()
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${root}/usr/${LIBDIR} ${root}/usr/bin/concur --version)
if(NOT last_output MATCHES "${VERSION}")
  message(FATAL_ERROR "the packaged concur --version printed: ${last_output}")
endif()
run(${CMAKE_COMMAND} -DPREFIX=${root}/usr -DLIBDIR=${LIBDIR} -DCONSUMER_SOURCE_DIR=${CONSUMER_SOURCE_DIR}
    -DWORK_DIR=${WORK_DIR}/consumer -DCXX=${CXX} -P ${CHECK_INSTALL})
