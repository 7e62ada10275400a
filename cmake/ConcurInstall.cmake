# SPDX-License-Identifier: MIT
# cmake --install: headers, the component libraries, a CMake package, one pkg-config file per
# component and concur.pc, and the concur command. Three install components:
#   runtime      the shared libraries (libconcur_*.so.N) — nothing in a static build
#   development  headers, the libraries' link names (.so) and static archives (.a), the CMake
#                package, the .pc files
#   tools        the concur command
# (cmake --install build --component development, or cpack: see cmake/ConcurPackaging.cmake).
include(CMakePackageConfigHelpers)

# The MPI component's headers go with its own packages (mpi-development, below).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/concur ${PROJECT_BINARY_DIR}/include/concur
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
  PATTERN mpi EXCLUDE PATTERN mpi.hpp EXCLUDE)
set(concur_installed_libraries concur concur_threading concur_asyncio concur_multiprocessing)
if(BUILD_SHARED_LIBS)
  # A shared build also has static archives of the same objects (see src/CMakeLists.txt).
  list(APPEND concur_installed_libraries concur_threading_static concur_asyncio_static concur_multiprocessing_static)
endif()
install(TARGETS ${concur_installed_libraries}
  EXPORT concurTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET concur_tool)
  install(TARGETS concur_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
endif()

set(concur_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/concur)
install(EXPORT concurTargets NAMESPACE concur:: DESTINATION ${concur_cmake_dir} COMPONENT development)

# The MPI component, when built, in install components of its own (mpi: the shared library;
# mpi-development: its headers, link name, static archive, CMake targets and .pc file), so that
# nothing else of concur depends on an MPI library. concurConfig.cmake loads its targets when
# they are installed (find_package(concur COMPONENTS mpi) requires them).
if(TARGET concur_mpi)
  set(concur_mpi_libraries concur_mpi)
  if(BUILD_SHARED_LIBS)
    list(APPEND concur_mpi_libraries concur_mpi_static)
  endif()
  install(TARGETS ${concur_mpi_libraries}
    EXPORT concurMpiTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpi-development
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpi NAMELINK_COMPONENT mpi-development
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT concurMpiTargets NAMESPACE concur:: DESTINATION ${concur_cmake_dir} COMPONENT mpi-development)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/concur/mpi
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/concur COMPONENT mpi-development)
  install(FILES ${PROJECT_SOURCE_DIR}/include/concur/mpi.hpp
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/concur COMPONENT mpi-development)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/concurConfig.cmake.in
  ${PROJECT_BINARY_DIR}/concurConfig.cmake INSTALL_DESTINATION ${concur_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/concurConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/concurConfig.cmake ${PROJECT_BINARY_DIR}/concurConfigVersion.cmake
  DESTINATION ${concur_cmake_dir} COMPONENT development)

# pkg-config files. Each finds its prefix relative to itself, so the installed tree can be
# moved (and `cmake --install --prefix` and `dpkg -x` work). They carry only what a consumer
# needs: the include path, C++20 and -pthread (the headers use std::thread), the library.
# A component's private dependencies (fmt; libuv and OpenSSL for asyncio) are Requires.private when the
# libraries are shared, and Requires when they are static archives, which need them at link time.
file(RELATIVE_PATH CONCUR_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" CONCUR_PC_TO_PREFIX "${CONCUR_PC_TO_PREFIX}")
function(concur_pkg_config component description)
  cmake_parse_arguments(ARG "" "COMPONENT" "REQUIRES;PRIVATE" ${ARGN})
  if(NOT ARG_COMPONENT)
    set(ARG_COMPONENT development)
  endif()
  set(CONCUR_PC_COMPONENT ${component})
  set(CONCUR_PC_DESCRIPTION "${description}")
  set(requires ${ARG_REQUIRES})
  if(BUILD_SHARED_LIBS)
    set(requires_private ${ARG_PRIVATE})
  else()
    list(APPEND requires ${ARG_PRIVATE})
    set(requires_private)
  endif()
  list(JOIN requires ", " CONCUR_PC_REQUIRES)
  list(JOIN requires_private ", " CONCUR_PC_REQUIRES_PRIVATE)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/concur-component.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/concur-${component}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/concur-${component}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT ${ARG_COMPONENT})
endfunction()
concur_pkg_config(threading "concur threading, queue and concurrent.futures (thread pools)"
  PRIVATE fmt)
concur_pkg_config(asyncio "concur asyncio: coroutines on an event loop (libuv), TLS streams (OpenSSL)"
  REQUIRES "concur-threading = ${PROJECT_VERSION}" PRIVATE libuv fmt libssl libcrypto)
concur_pkg_config(multiprocessing "concur multiprocessing: processes, pools, IPC, shared memory"
  REQUIRES "concur-threading = ${PROJECT_VERSION}" PRIVATE fmt)
if(TARGET concur_mpi)
  # Open MPI's own pkg-config module for its C library.
  concur_pkg_config(mpi "concur mpi: the multiprocessing Pool across the ranks of an MPI job"
    REQUIRES "concur-multiprocessing = ${PROJECT_VERSION}" PRIVATE ompi-c fmt COMPONENT mpi-development)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/concur.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/concur.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/concur.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)
