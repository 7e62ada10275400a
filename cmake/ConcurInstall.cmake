# SPDX-License-Identifier: MIT
# cmake --install: headers, the component libraries, a CMake package and concur.pc.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/concur ${PROJECT_BINARY_DIR}/include/concur
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS concur concur_threading concur_asyncio concur_multiprocessing
  EXPORT concurTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET concur_tool)
  install(TARGETS concur_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(concur_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/concur)
install(EXPORT concurTargets NAMESPACE concur:: DESTINATION ${concur_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/concurConfig.cmake.in
  ${PROJECT_BINARY_DIR}/concurConfig.cmake INSTALL_DESTINATION ${concur_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/concurConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/concurConfig.cmake ${PROJECT_BINARY_DIR}/concurConfigVersion.cmake
  DESTINATION ${concur_cmake_dir})

# The .pc file finds its prefix relative to itself, so the installed tree can be moved
# (and `cmake --install --prefix` works).
file(RELATIVE_PATH CONCUR_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" CONCUR_PC_TO_PREFIX "${CONCUR_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/concur.pc.in ${PROJECT_BINARY_DIR}/concur.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/concur.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
