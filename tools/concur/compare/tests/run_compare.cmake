# Runs PROGRAM with ARGS ("|"-separated) in WORK_DIR and checks: the exit status (EXPECT: zero
# or nonzero), that stdout + stderr contain every CONTAINS string ("|"-separated, plain text),
# with VALIDATE on that stdout is JSON that validate_json.py accepts against SCHEMA, and with
# PLOT set that the file PLOT (relative to WORK_DIR) was written as an SVG.
string(REPLACE "|" ";" args "${ARGS}")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

execute_process(COMMAND "${PROGRAM}" ${args} WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- stdout\n${out}---- stderr\n${err}---- exit status: ${status}")

set(failures "")
if(EXPECT STREQUAL "zero" AND NOT status STREQUAL "0")
  string(APPEND failures "expected exit status 0, got '${status}'\n")
elseif(EXPECT STREQUAL "nonzero" AND (status STREQUAL "0" OR NOT status MATCHES "^[0-9]+$"))
  string(APPEND failures "expected a non-zero exit status, got '${status}'\n")
endif()

set(rest "${CONTAINS}")
while(NOT rest STREQUAL "")
  string(FIND "${rest}" "|" bar)
  if(bar EQUAL -1)
    set(needle "${rest}")
    set(rest "")
  else()
    string(SUBSTRING "${rest}" 0 ${bar} needle)
    math(EXPR next "${bar} + 1")
    string(SUBSTRING "${rest}" ${next} -1 rest)
  endif()
  string(FIND "${out}${err}" "${needle}" at)
  if(at EQUAL -1)
    string(APPEND failures "output does not contain '${needle}'\n")
  endif()
endwhile()

if(VALIDATE)
  file(WRITE "${WORK_DIR}/out.json" "${out}")
  execute_process(COMMAND "${PYTHON}" "${VALIDATOR}" "${SCHEMA}" "${WORK_DIR}/out.json" --complete
    RESULT_VARIABLE vstatus OUTPUT_VARIABLE vout ERROR_VARIABLE verr)
  message("---- validation\n${vout}${verr}")
  if(NOT vstatus STREQUAL "0")
    string(APPEND failures "the JSON output does not validate\n")
  endif()
endif()

if(PLOT)
  if(NOT EXISTS "${WORK_DIR}/${PLOT}")
    string(APPEND failures "${PLOT} was not written\n")
  else()
    file(READ "${WORK_DIR}/${PLOT}" svg)
    foreach(needle "<svg" "Start-up cost per unit" "I/O-bound" "CPU-bound" "</svg>")
      string(FIND "${svg}" "${needle}" at)
      if(at EQUAL -1)
        string(APPEND failures "${PLOT} does not contain '${needle}'\n")
      endif()
    endforeach()
  endif()
endif()

if(failures)
  message(FATAL_ERROR "${failures}")
endif()
