# SPDX-License-Identifier: MIT
# concur_build_options: one INTERFACE target carrying warnings and sanitizer flags.
# The libraries link it too (as a BUILD_INTERFACE dependency, so it is never installed),
# which is how sanitizers reach the library's own code, not only the tests.
add_library(concur_build_options INTERFACE)
target_compile_options(concur_build_options INTERFACE -Wall -Wextra -Wpedantic)
if(CONCUR_WERROR)
  target_compile_options(concur_build_options INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CONCUR_WERROR)
  # g++ 12 at -O2/-O3 reports -Wrestrict inside libstdc++'s operator+(const char*, string&&)
  # (GCC bug 105329, a false positive): it stays a warning, not an error.
  target_compile_options(concur_build_options INTERFACE -Wno-error=restrict)
endif()
if(CONCUR_SANITIZE)
  set(_concur_san -fsanitize=${CONCUR_SANITIZE} -fno-omit-frame-pointer)
  if(CONCUR_SANITIZE MATCHES "undefined")
    list(APPEND _concur_san -fno-sanitize-recover=undefined)
    target_compile_definitions(concur_build_options INTERFACE CONCUR_SANITIZE_UNDEFINED=1)
  endif()
  target_compile_options(concur_build_options INTERFACE ${_concur_san})
  target_link_options(concur_build_options INTERFACE ${_concur_san})
  target_compile_definitions(concur_build_options INTERFACE CONCUR_SANITIZED=1)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CONCUR_WERROR)
    # g++ 12's flow-based warnings misfire on sanitizer-instrumented, optimized code (sized
    # deletes of std::vector and std::function buffers reported as "non-heap" or as overflows).
    # They stay warnings there; the dev, release and clang builds still treat them as errors.
    target_compile_options(concur_build_options INTERFACE
      -Wno-error=free-nonheap-object -Wno-error=stringop-overflow -Wno-error=array-bounds)
  endif()
endif()
if(CONCUR_FUZZ)
  # Coverage for libFuzzer in every target, the library included; the fuzz targets add
  # -fsanitize=fuzzer (libFuzzer's main) themselves.
  target_compile_options(concur_build_options INTERFACE -fsanitize=fuzzer-no-link)
  target_link_options(concur_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
