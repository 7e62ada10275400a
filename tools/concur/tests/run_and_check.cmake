# Runs PROGRAM with ARGS ("|"-separated) and checks its exit status (EXPECT: zero or nonzero)
# and that its output, stdout and stderr together, contains every CONTAINS string
# ("|"-separated, plain text, not regular expressions). With LONELY_DIR set, a copy of PROGRAM
# runs from that otherwise empty directory.
string(REPLACE "|" ";" args "${ARGS}")

set(program "${PROGRAM}")
if(LONELY_DIR)
  file(REMOVE_RECURSE "${LONELY_DIR}")
  file(MAKE_DIRECTORY "${LONELY_DIR}")
  file(COPY "${PROGRAM}" DESTINATION "${LONELY_DIR}")
  get_filename_component(name "${PROGRAM}" NAME)
  set(program "${LONELY_DIR}/${name}")
endif()

execute_process(COMMAND "${program}" ${args}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- stdout\n${out}---- stderr\n${err}---- exit status: ${status}")

set(failures "")
if(EXPECT STREQUAL "zero" AND NOT status STREQUAL "0")
  string(APPEND failures "expected exit status 0, got '${status}'\n")
elseif(EXPECT STREQUAL "nonzero" AND (status STREQUAL "0" OR NOT status MATCHES "^[0-9]+$"))
  # A non-numeric status is a crash ("Segmentation fault" etc.), which is never what we want.
  string(APPEND failures "expected a non-zero exit status, got '${status}'\n")
endif()
# Split CONTAINS by hand: as a CMake list, an element with an unbalanced "]" would swallow the
# separators after it.
set(rest "${CONTAINS}")
while(NOT rest STREQUAL "")
  string(FIND "${rest}" "|" bar)
  if(bar EQUAL -1)
    set(text "${rest}")
    set(rest "")
  else()
    string(SUBSTRING "${rest}" 0 ${bar} text)
    math(EXPR after "${bar} + 1")
    string(SUBSTRING "${rest}" ${after} -1 rest)
  endif()
  string(FIND "${out}${err}" "${text}" at)
  if(at EQUAL -1)
    string(APPEND failures "output lacks '${text}'\n")
  endif()
endwhile()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
