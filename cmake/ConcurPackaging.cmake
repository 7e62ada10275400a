# SPDX-License-Identifier: MIT
# Debian packages with CPack (`cpack -G DEB` in a build directory, or `make package` at the top):
#   libconcur0     runtime component: the shared libraries (libconcur_*.so.<major>)
#   libconcur-dev  development component: headers, link names, static libraries, CMake package,
#                  pkg-config files
#   concur-tools   tools component: the concur command
# Depends of the binaries are computed by dpkg-shlibdeps; the packages' dependencies on each
# other come from the component graph (development and tools depend on runtime); only
# libconcur-dev's -dev dependencies, which no tool can see in headers, are listed by hand.
# Each package carries /usr/share/doc/<package>/copyright (from LICENSE), changelog.Debian.gz
# and changelog.gz (CHANGELOG.md), as Debian policy asks.
if(NOT BUILD_SHARED_LIBS)
  message(STATUS "concur: Debian packages need BUILD_SHARED_LIBS=ON (the release preset); cpack disabled")
  return()
endif()

set(CONCUR_PACKAGE_MAINTAINER "The concur authors <concur@users.noreply.github.com>"
  CACHE STRING "Maintainer of the Debian packages (name <email>)")
set(CONCUR_PACKAGE_RELEASE 1 CACHE STRING "Debian revision of the packages")
set(CONCUR_DEB_VERSION ${PROJECT_VERSION}-${CONCUR_PACKAGE_RELEASE})

set(CPACK_PACKAGE_NAME concur)
set(CPACK_PACKAGE_VENDOR "The concur authors")
set(CPACK_PACKAGE_CONTACT "${CONCUR_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each component's description below starts with its own summary line. CPack puts
# CPACK_PACKAGE_DESCRIPTION_SUMMARY (by default the project's description) before it unless the
# summary is CPack's placeholder, so the placeholder it is; it appears in no package.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime development)
if(TARGET concur_tool)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
if(TARGET concur_mpi)
  list(APPEND CPACK_COMPONENTS_ALL mpi mpi-development)
endif()

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CONCUR_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SOURCE concur)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libconcur_*.so.<major> here while building libconcur0 and concur-tools;
# the dependency on them is the component dependency (libconcur0 (= version)).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)

set(CPACK_COMPONENT_RUNTIME_DISPLAY_NAME "concur shared libraries")
set(CPACK_COMPONENT_DEVELOPMENT_DEPENDS runtime)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libconcur${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# A shlibs file for libconcur0 (only it holds shared objects), so that packages built against
# it get their dependency from dpkg-shlibdeps too.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/triggers)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "Python's concurrency models as a C++20 library - shared libraries
concur brings Python's threading, queue, concurrent.futures, multiprocessing
and asyncio to C++20 with Python's names and semantics.
.
This package contains the shared libraries: libconcur_threading (threads,
locks, queues, thread pools), libconcur_asyncio (coroutines on a libuv event
loop) and libconcur_multiprocessing (processes, pools, pipes, shared memory).")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libconcur-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# What the installed headers and CMake package need from other -dev packages.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "libuv1-dev, libfmt-dev, libcereal-dev, libssl-dev")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SHLIBDEPS OFF)
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "Python's concurrency models as a C++20 library - development files
concur brings Python's threading, queue, concurrent.futures, multiprocessing
and asyncio to C++20 with Python's names and semantics.
.
This package contains the headers, the static libraries, the CMake package
(find_package(concur)) and the pkg-config files (concur, concur-threading,
concur-asyncio, concur-multiprocessing).")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME concur-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "Python's concurrency models as a C++20 library - the concur command
concur brings Python's threading, queue, concurrent.futures, multiprocessing
and asyncio to C++20 with Python's names and semantics.
.
This package contains the concur command: 'concur compare' measures threads,
processes and asyncio tasks on this machine (start-up cost, memory per unit,
hand-off latency, I/O-bound and CPU-bound throughput).")

# The MPI component, in packages of its own so that nothing else of concur pulls in Open MPI:
#   libconcur-mpi0     mpi component: libconcur_mpi.so.<major>
#   libconcur-mpi-dev  mpi-development component: its headers, link name, static library,
#                      CMake targets and .pc file
set(CPACK_COMPONENT_MPI_DEPENDS runtime)
set(CPACK_COMPONENT_MPI-DEVELOPMENT_DEPENDS mpi development)
set(CPACK_DEBIAN_MPI_PACKAGE_NAME libconcur-mpi${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_MPI_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_MPI_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/triggers)
set(CPACK_COMPONENT_MPI_DESCRIPTION "Python's concurrency models as a C++20 library - MPI pool
concur brings Python's threading, queue, concurrent.futures, multiprocessing
and asyncio to C++20 with Python's names and semantics.
.
This package contains libconcur_mpi: the multiprocessing Pool and a
concurrent.futures executor across the ranks of an MPI job (Open MPI).")
set(CPACK_DEBIAN_MPI-DEVELOPMENT_PACKAGE_NAME libconcur-mpi-dev)
set(CPACK_DEBIAN_MPI-DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_MPI-DEVELOPMENT_PACKAGE_DEPENDS "libopenmpi-dev")
set(CPACK_DEBIAN_MPI-DEVELOPMENT_PACKAGE_SHLIBDEPS OFF)
set(CPACK_COMPONENT_MPI-DEVELOPMENT_DESCRIPTION "Python's concurrency models as a C++20 library - MPI development files
concur brings Python's threading, queue, concurrent.futures, multiprocessing
and asyncio to C++20 with Python's names and semantics.
.
This package contains the headers of the MPI component (concur/mpi.hpp), its
static library, its CMake targets (find_package(concur COMPONENTS mpi)) and
its pkg-config file (concur-mpi).")

# /usr/share/doc/<package>/: copyright (machine-readable, from LICENSE), changelog.Debian.gz and
# the upstream changelog.gz, compressed reproducibly (gzip -n: no name or time stamp).
find_program(CONCUR_GZIP gzip REQUIRED)
file(READ ${PROJECT_SOURCE_DIR}/LICENSE concur_license)
string(REGEX REPLACE "\n+$" "" concur_license "${concur_license}")
string(REGEX MATCH "Copyright \\(c\\) ([^\n]+)" _ "${concur_license}")
set(concur_copyright "${CMAKE_MATCH_1}")
string(REGEX REPLACE "^MIT License\n\n[^\n]*\n\n" "" concur_license_text "${concur_license}")
string(REGEX REPLACE "\n\n" "\n.\n" concur_license_text "${concur_license_text}")
string(REGEX REPLACE "\n" "\n " concur_license_text "${concur_license_text}")
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  set(concur_epoch $ENV{SOURCE_DATE_EPOCH})
else()
  execute_process(COMMAND git -C ${PROJECT_SOURCE_DIR} log -1 --format=%ct
    OUTPUT_VARIABLE concur_epoch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(concur_epoch)
  execute_process(COMMAND date -u -R -d @${concur_epoch} OUTPUT_VARIABLE CONCUR_DEB_DATE OUTPUT_STRIP_TRAILING_WHITESPACE)
else()
  execute_process(COMMAND date -u -R OUTPUT_VARIABLE CONCUR_DEB_DATE OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

set(concur_doc_dir ${PROJECT_BINARY_DIR}/debian-doc)
file(WRITE ${concur_doc_dir}/copyright
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: concur

Files: *
Copyright: ${concur_copyright}
License: Expat
 ${concur_license_text}
")
foreach(component IN LISTS CPACK_COMPONENTS_ALL)
  string(TOUPPER ${component} upper)
  set(CONCUR_DEB_PACKAGE ${CPACK_DEBIAN_${upper}_PACKAGE_NAME})
  set(dir ${concur_doc_dir}/${CONCUR_DEB_PACKAGE})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.Debian ${dir}/changelog.Debian @ONLY)
  configure_file(${PROJECT_SOURCE_DIR}/CHANGELOG.md ${dir}/changelog COPYONLY)
  foreach(file IN ITEMS changelog.Debian changelog)
    execute_process(COMMAND ${CONCUR_GZIP} -9nf ${dir}/${file} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip ${dir}/${file} failed")
    endif()
  endforeach()
  # Only in packages (EXCLUDE_FROM_ALL: a plain `cmake --install` leaves them out).
  install(FILES ${concur_doc_dir}/copyright ${dir}/changelog.Debian.gz ${dir}/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CONCUR_DEB_PACKAGE} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
