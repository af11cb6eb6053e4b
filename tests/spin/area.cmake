# tests/spin/area.cmake — spin models of udrm's lifetime protocols as CTest entries (label
# "spin"); docs/spin.md describes the models. Included (OPTIONAL) from tests/CMakeLists.txt.
#
# Each model is verified as it is (must report "errors: 0") and in its deliberately broken
# variants (spin must find the named kind of error), through run_spin.cmake; check_labels.cmake
# keeps the models' point labels in step with the UDRM_POINT names in the sources.
#
# Lifetime: configure time; the tests run pan in ${CMAKE_CURRENT_BINARY_DIR}/spin/<test>/.
# Context: needs spin and a C compiler; without either, nothing is added.

find_program(UDRM_SPIN NAMES spin)
find_program(UDRM_CC NAMES cc gcc)
if(NOT UDRM_SPIN OR NOT UDRM_CC)
  message(STATUS "spin models: not added (spin: ${UDRM_SPIN}, C compiler: ${UDRM_CC}); "
                 "tools/dev.sh installs spin")
  return()
endif()

set(_udrm_spin_dir "${CMAKE_CURRENT_LIST_DIR}")
get_filename_component(_udrm_spin_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# udrm_spin_test(<name> <model> pass|fail [DEFINES -DX ...] [LIVENESS] [MATCH "text"])
#   pass: the model verifies; fail: a broken variant, pan must report an error containing MATCH.
#   LIVENESS: acceptance cycles under weak fairness (pan -a -f) instead of a safety run.
function(udrm_spin_test name model expect)
  cmake_parse_arguments(PARSE_ARGV 3 arg "LIVENESS" "MATCH" "DEFINES")
  set(defines ${arg_DEFINES})
  # -O0: the state spaces are small (at most ~10^6 states), so compiling pan.c dominates and
  # -O2 would double the run time. MEMLIM (MB) turns a runaway model into an error, not swap.
  if(arg_LIVENESS)
    list(APPEND defines -DLIVENESS)
    set(cc_flags "-O0,-DMEMLIM=1024")
    set(pan_flags "-a,-f,-m200000,-n")
  else()
    set(cc_flags "-O0,-DSAFETY,-DMEMLIM=1024")
    set(pan_flags "-m200000,-n")
  endif()
  list(JOIN defines "," defines)
  add_test(NAME spin_${name}
           COMMAND ${CMAKE_COMMAND}
                   -DSPIN=${UDRM_SPIN} -DCC=${UDRM_CC}
                   -DMODEL=${_udrm_spin_dir}/${model}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/spin/${name}
                   -DSPIN_DEFINES=${defines} -DCC_FLAGS=${cc_flags} -DPAN_FLAGS=${pan_flags}
                   -DEXPECT=${expect} -DMATCH=${arg_MATCH}
                   -P ${_udrm_spin_dir}/run_spin.cmake)
  set_tests_properties(spin_${name} PROPERTIES LABELS spin TIMEOUT 120)
endfunction()

# drm_dev_enter / drm_dev_exit / drm_dev_unplug (core/gate.cpp).
udrm_spin_test(gate_unplug gate_unplug.pml pass)
udrm_spin_test(gate_unplug_liveness gate_unplug.pml pass LIVENESS)
udrm_spin_test(gate_unplug_broken_no_wait gate_unplug.pml fail
               DEFINES -DBROKEN_NO_WAIT MATCH "assertion violated")
udrm_spin_test(gate_unplug_broken_flag_first gate_unplug.pml fail
               DEFINES -DBROKEN_FLAG_FIRST MATCH "assertion violated")
udrm_spin_test(gate_unplug_broken_count_own gate_unplug.pml fail LIVENESS
               DEFINES -DBROKEN_COUNT_OWN MATCH "acceptance cycle")

# A nonblocking flip in flight while udrm-soc is unbound (kms/commit.cpp, drivers/soc/).
udrm_spin_test(commit_unbind commit_unbind.pml pass)
udrm_spin_test(commit_unbind_broken_unlocked_take commit_unbind.pml fail
               DEFINES -DBROKEN_UNLOCKED_TAKE MATCH "assertion violated")
udrm_spin_test(commit_unbind_broken_no_disable_send commit_unbind.pml fail
               DEFINES -DBROKEN_NO_DISABLE_SEND MATCH "assertion violated")
udrm_spin_test(commit_unbind_broken_ungated_flush commit_unbind.pml fail
               DEFINES -DBROKEN_UNGATED_FLUSH MATCH "assertion violated")

# close() against calls, mappings, an in-flight event and unbind; the final put (drm/file.cpp).
udrm_spin_test(file_close file_close.pml pass)
udrm_spin_test(file_close_broken_send_no_check file_close.pml fail
               DEFINES -DBROKEN_SEND_NO_CHECK MATCH "assertion violated")
udrm_spin_test(file_close_broken_put_not_atomic file_close.pml fail
               DEFINES -DBROKEN_PUT_NOT_ATOMIC MATCH "assertion violated")
udrm_spin_test(file_close_broken_no_state_ref file_close.pml fail
               DEFINES -DBROKEN_NO_STATE_REF MATCH "assertion violated")

# The models' point labels name points that exist; a renamed point fails the check.
add_test(NAME spin_check_labels
         COMMAND ${CMAKE_COMMAND} -DROOT=${_udrm_spin_root} -P ${_udrm_spin_dir}/check_labels.cmake)
add_test(NAME spin_check_labels_catches_rename
         COMMAND ${CMAKE_COMMAND} -DROOT=${_udrm_spin_root} -DPRETEND_MISSING=gate.unplug
                 -P ${_udrm_spin_dir}/check_labels.cmake)
set_tests_properties(spin_check_labels spin_check_labels_catches_rename PROPERTIES LABELS spin TIMEOUT 60)
set_tests_properties(spin_check_labels_catches_rename PROPERTIES
                     PASS_REGULAR_EXPRESSION "no UDRM_POINT\\(\"gate\\.unplug\"\\) exists")
