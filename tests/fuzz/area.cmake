# tests/fuzz: the ioctl fuzz harness (see tests/fuzz/harness.h, docs/reliability.md "Fuzzing").
#
# Normal builds: udrm_fuzz_ioctl is a replay program and CTest's fuzz_corpus_replay (label
# "fuzz") runs the seed corpus through it, so every CI stage (g++, ASan, TSan) replays it.
# -DUDRM_FUZZ=ON with clang++: udrm_fuzz_ioctl is the libFuzzer binary (ASan + UBSan), and the
# udrm libraries are built with coverage instrumentation for it (tools/dev.sh fuzz).
option(UDRM_FUZZ "Build udrm_fuzz_ioctl as a libFuzzer binary (clang, ASan+UBSan)" OFF)

if(NOT TARGET udrm::drivers)
  return()
endif()

set(_fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
set(_fuzz_harness ${_fuzz_dir}/fuzz_ioctl.cpp ${_fuzz_dir}/harness.cpp ${_fuzz_dir}/decoder.cpp ${_fuzz_dir}/oracle.cpp)

if(UDRM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "UDRM_FUZZ needs clang++ (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(NOT UDRM_SANITIZE STREQUAL "")
    message(FATAL_ERROR "UDRM_FUZZ brings its own sanitizers (ASan+UBSan): configure with -DUDRM_SANITIZE=")
  endif()
  set(_fuzz_san address,undefined)
  # -Wno-unused-private-field: SimExecutor's TSan-only fiber field (sim_executor.h) is unused in
  # a clang build without TSan, and clang warns about it (g++ does not).
  set(_fuzz_copts -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-unused-private-field)
  # Coverage for libFuzzer in the code under test; anything else linking these libraries gets
  # the sanitizer runtimes they call into.
  foreach(lib IN ITEMS udrm_framework udrm_fakehw udrm_drivers)
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link,${_fuzz_san} ${_fuzz_copts})
    target_link_options(${lib} INTERFACE -fsanitize=${_fuzz_san})
  endforeach()
  add_executable(udrm_fuzz_ioctl ${_fuzz_harness})
  target_compile_definitions(udrm_fuzz_ioctl PRIVATE UDRM_LIBFUZZER=1)
  target_compile_options(udrm_fuzz_ioctl PRIVATE -fsanitize=fuzzer,${_fuzz_san} ${_fuzz_copts})
  target_link_options(udrm_fuzz_ioctl PRIVATE -fsanitize=fuzzer,${_fuzz_san})
  target_link_libraries(udrm_fuzz_ioctl PRIVATE udrm::framework udrm::fakehw udrm::drivers)
  # -runs=0: run every corpus file once and exit (libFuzzer would otherwise start fuzzing).
  add_test(NAME fuzz_corpus_replay COMMAND udrm_fuzz_ioctl -runs=0 ${_fuzz_dir}/corpus)
else()
  add_executable(udrm_fuzz_ioctl ${_fuzz_harness})
  target_link_libraries(udrm_fuzz_ioctl PRIVATE udrm::framework udrm::fakehw udrm::drivers)
  target_compile_options(udrm_fuzz_ioctl PRIVATE -O1)
  add_test(NAME fuzz_corpus_replay COMMAND udrm_fuzz_ioctl --require-kms ${_fuzz_dir}/corpus)
  # The converter from udrm-run --record-ioctls traces to harness inputs (make_corpus.sh).
  add_executable(udrm_fuzz_trace2corpus ${_fuzz_dir}/trace_to_corpus.cpp ${_fuzz_dir}/decoder.cpp
                                        ${_fuzz_dir}/oracle.cpp)
  target_link_libraries(udrm_fuzz_trace2corpus PRIVATE udrm::framework)
  target_compile_options(udrm_fuzz_trace2corpus PRIVATE -O1)
  # The recording path of make_corpus.sh end to end (skipped without modetest).
  if(TARGET udrm-run)
    add_test(NAME fuzz_record_roundtrip
             COMMAND ${_fuzz_dir}/record_roundtrip.sh $<TARGET_FILE:udrm-run> $<TARGET_FILE:udrm_fuzz_trace2corpus>
                     $<TARGET_FILE:udrm_fuzz_ioctl> ${CMAKE_CURRENT_BINARY_DIR}/fuzz_record_roundtrip)
    set_tests_properties(fuzz_record_roundtrip PROPERTIES LABELS fuzz TIMEOUT 120 SKIP_RETURN_CODE 77)
  endif()
  # The harness's own parts: input format, errno rules, a clean session on both drivers.
  if(TARGET GTest::gtest)
    add_executable(udrm_test_fuzz ${_fuzz_dir}/test_fuzz_harness.cpp ${_fuzz_dir}/harness.cpp
                                  ${_fuzz_dir}/decoder.cpp ${_fuzz_dir}/oracle.cpp)
    target_link_libraries(udrm_test_fuzz PRIVATE udrm::framework udrm::fakehw udrm::drivers udrm::testing GTest::gtest)
    target_compile_options(udrm_test_fuzz PRIVATE -O1)
    gtest_discover_tests(udrm_test_fuzz PROPERTIES LABELS fuzz TIMEOUT 120 DISCOVERY_TIMEOUT 60)
  endif()
endif()
set_tests_properties(fuzz_corpus_replay PROPERTIES LABELS fuzz TIMEOUT 600)
