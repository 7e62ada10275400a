# SPDX-License-Identifier: MIT
# The API reference: `cmake --build --preset release --target docs` writes build/<preset>/docs/html
# with Doxygen (Debian's doxygen) from the headers' comments, every public class and member
# included, plus the "Python name -> concur name" page generated from the README's table and the
# headers' first lines (docs/api/python_index.py). Every public class and member is documented:
# any Doxygen warning (an undocumented public class or member, a broken reference) fails the
# target (docs/api/check_warnings.py).
find_package(Doxygen QUIET)
if(NOT DOXYGEN_EXECUTABLE)
  message(STATUS "concur: doxygen not found; no docs target")
  return()
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(CONCUR_DOCS_DIR ${PROJECT_BINARY_DIR}/docs)
set(CONCUR_DOCS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/api/mainpage.md)
set(CONCUR_DOCS_PYTHON_INDEX ${CONCUR_DOCS_DIR}/python_names.md)
# Doxyfile writes the HTML (every public class and member, documented or not); Doxyfile.check
# writes no HTML and lists what is undocumented in warnings.txt.
set(CONCUR_DOCS_EXTRACT_ALL YES)
set(CONCUR_DOCS_GENERATE_HTML YES)
set(CONCUR_DOCS_GENERATE_XML NO)
set(CONCUR_DOCS_WARNINGS ${CONCUR_DOCS_DIR}/html-warnings.txt)
configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in ${CONCUR_DOCS_DIR}/Doxyfile @ONLY)
set(CONCUR_DOCS_EXTRACT_ALL NO)
set(CONCUR_DOCS_GENERATE_HTML NO)
set(CONCUR_DOCS_GENERATE_XML YES)
set(CONCUR_DOCS_WARNINGS ${CONCUR_DOCS_DIR}/warnings.txt)
configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in ${CONCUR_DOCS_DIR}/Doxyfile.check @ONLY)

file(GLOB_RECURSE concur_public_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/concur/*.hpp)
add_custom_command(OUTPUT ${CONCUR_DOCS_DIR}/html/index.html
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${CONCUR_DOCS_DIR}/html ${CONCUR_DOCS_DIR}/check-xml ${CONCUR_DOCS_DIR}/warnings.txt
  COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/docs/api/python_index.py ${PROJECT_SOURCE_DIR} ${CONCUR_DOCS_PYTHON_INDEX}
  COMMAND ${DOXYGEN_EXECUTABLE} ${CONCUR_DOCS_DIR}/Doxyfile.check
  COMMAND ${DOXYGEN_EXECUTABLE} ${CONCUR_DOCS_DIR}/Doxyfile
  COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/docs/api/check_warnings.py
    ${CONCUR_DOCS_DIR}/warnings.txt ${PROJECT_SOURCE_DIR}
  DEPENDS ${concur_public_headers} ${CONCUR_DOCS_DIR}/Doxyfile ${CONCUR_DOCS_DIR}/Doxyfile.check ${CONCUR_DOCS_MAINPAGE}
    ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/api/python_index.py
    ${PROJECT_SOURCE_DIR}/docs/api/check_warnings.py
    ${PROJECT_BINARY_DIR}/include/concur/version.hpp ${PROJECT_BINARY_DIR}/include/concur/export.hpp
  COMMENT "Doxygen: the API reference in ${CONCUR_DOCS_DIR}/html"
  VERBATIM)
add_custom_target(docs DEPENDS ${CONCUR_DOCS_DIR}/html/index.html)
