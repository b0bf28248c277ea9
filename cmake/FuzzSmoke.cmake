# The fuzz smoke test of the main test suite: scripts/fuzz/ci.sh builds the libFuzzer targets in
# build-fuzz/ (clang, incrementally) and runs each 20 s on its seed corpus, two at a time
# (docs/SECURITY.md, "Fuzzing"). Added only when clang++ links a libFuzzer + ASan + UBSan program
# here (scripts/fuzz/toolchain.sh); without them the suite is as before. Label `fuzz`:
# `ctest -LE fuzz` leaves it out.
find_program(VPIPE_BASH bash)
if(VPIPE_BASH)
  execute_process(COMMAND ${VPIPE_BASH} ${PROJECT_SOURCE_DIR}/scripts/fuzz/toolchain.sh
                  RESULT_VARIABLE vpipe_fuzz_toolchain OUTPUT_QUIET ERROR_QUIET)
endif()
if(VPIPE_BASH AND vpipe_fuzz_toolchain EQUAL 0)
  message(STATUS "vpipe: clang + libFuzzer found: fuzz smoke test added (scripts/fuzz/ci.sh)")
  add_test(NAME fuzz_smoke COMMAND ${VPIPE_BASH} scripts/fuzz/ci.sh
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(fuzz_smoke PROPERTIES LABELS fuzz TIMEOUT 1200 SKIP_RETURN_CODE 77)
else()
  message(STATUS "vpipe: clang + libFuzzer not found: no fuzz smoke test")
endif()
