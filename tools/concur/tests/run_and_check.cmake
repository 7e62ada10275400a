# SPDX-License-Identifier: MIT
# Runs PROGRAM with ARGS ("|"-separated) and checks:
#   - its exit status (EXPECT: zero or nonzero; a crash is never "nonzero");
#   - that its output, stdout and stderr together, contains every CONTAINS string
#     ("|"-separated, plain text, not regular expressions);
#   - with VALIDATE on: that stdout is JSON which VALIDATOR (run by PYTHON) accepts against
#     SCHEMA as a complete run (VALIDATE_FLAGS, "|"-separated, are passed on to it);
#   - with MAX_WIDTH set: that no line of stdout is wider than MAX_WIDTH characters;
#   - with PLOT set: that the file PLOT (relative to WORK_DIR) was written as an SVG with the
#     charts of `concur compare`.
# With WORK_DIR set, the program runs in that directory, emptied first. With LONELY_DIR set, a
# copy of PROGRAM runs from that otherwise empty directory.
string(REPLACE "|" ";" args "${ARGS}")

set(program "${PROGRAM}")
if(LONELY_DIR)
  file(REMOVE_RECURSE "${LONELY_DIR}")
  file(MAKE_DIRECTORY "${LONELY_DIR}")
  file(COPY "${PROGRAM}" DESTINATION "${LONELY_DIR}")
  get_filename_component(name "${PROGRAM}" NAME)
  set(program "${LONELY_DIR}/${name}")
endif()
set(work_dir_option "")
if(WORK_DIR)
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  set(work_dir_option WORKING_DIRECTORY "${WORK_DIR}")
endif()

execute_process(COMMAND "${program}" ${args} ${work_dir_option}
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

if(VALIDATE)
  set(json "${WORK_DIR}/out.json")
  file(WRITE "${json}" "${out}")
  string(REPLACE "|" ";" validate_flags "${VALIDATE_FLAGS}")
  execute_process(COMMAND "${PYTHON}" "${VALIDATOR}" "${SCHEMA}" "${json}" --complete ${validate_flags}
    RESULT_VARIABLE vstatus OUTPUT_VARIABLE vout ERROR_VARIABLE verr)
  message("---- validation\n${vout}${verr}")
  if(NOT vstatus STREQUAL "0")
    string(APPEND failures "the JSON output does not validate\n")
  endif()
endif()

if(MAX_WIDTH)
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    string(LENGTH "${line}" length)
    if(length GREATER MAX_WIDTH)
      string(APPEND failures "a line of ${length} characters, wider than ${MAX_WIDTH}: ${line}\n")
    endif()
  endforeach()
endif()

if(PLOT)
  if(NOT EXISTS "${WORK_DIR}/${PLOT}")
    string(APPEND failures "${PLOT} was not written\n")
  else()
    file(READ "${WORK_DIR}/${PLOT}" svg)
    foreach(text "<svg" "Start-up cost per unit" "I/O-bound" "CPU-bound" "</svg>")
      string(FIND "${svg}" "${text}" at)
      if(at EQUAL -1)
        string(APPEND failures "${PLOT} lacks '${text}'\n")
      endif()
    endforeach()
  endif()
endif()

if(failures)
  message(FATAL_ERROR "${failures}")
endif()
