# SPDX-License-Identifier: MIT
# Compiles SOURCE (a program that must NOT compile) with the project's compiler and checks that
# the compiler says what the user needs to hear.
#   -DCXX=<compiler> -DINCLUDE=<include dirs, "|"-separated> -DSOURCE=<file> -DEXPECT=<regex>
#   [-DCOUNT=<regex> -DCOUNT_EXPECTED=<n>]   the number of matches of COUNT in the output
foreach(var CXX INCLUDE SOURCE EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_diagnostic.cmake needs -D${var}=...")
  endif()
endforeach()
string(REPLACE "|" ";" include_dirs "${INCLUDE}")
set(include_flags)
foreach(dir IN LISTS include_dirs)
  list(APPEND include_flags "-I${dir}")
endforeach()
execute_process(
  COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -Werror -fno-diagnostics-color ${include_flags} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
set(output "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
if(NOT output MATCHES "${EXPECT}")
  message(FATAL_ERROR "the compiler's output does not match '${EXPECT}':\n${output}")
endif()
if(DEFINED COUNT)
  string(REGEX MATCHALL "${COUNT}" matches "${output}")
  list(LENGTH matches n)
  if(NOT n EQUAL COUNT_EXPECTED)
    message(FATAL_ERROR "expected ${COUNT_EXPECTED} matches of '${COUNT}', got ${n}:\n${output}")
  endif()
endif()
message(STATUS "as expected:\n${output}")
