# run_spin.cmake — verify one Promela model with spin, for CTest (cmake -P).
#
# Generates the verifier (spin -a) in a scratch directory, compiles pan.c, runs ./pan and
# decides from its report:
#   EXPECT=pass  "errors: 0" and the search was not cut short by the depth bound;
#   EXPECT=fail  "errors: N" with N > 0, and the output contains MATCH (the kind of error the
#                broken variant must produce: an assertion, an invalid end state, an
#                acceptance cycle). The counterexample is replayed (spin -t) into the log.
#
# Arguments (-D, before -P); lists use ',' (CTest splits ';'):
#   SPIN, CC       the programs
#   MODEL          the .pml file
#   WORK_DIR       scratch directory (emptied first)
#   SPIN_DEFINES   e.g. -DBROKEN_NO_WAIT,-DLIVENESS (handed to spin's preprocessor)
#   CC_FLAGS       e.g. -O0,-DSAFETY (pan.c compile flags)
#   PAN_FLAGS      e.g. -m100000,-n   or   -a,-f,-m100000,-n
#   EXPECT         pass | fail
#   MATCH          (fail only) a substring pan must print
#
# Lifetime: one run; leaves pan, pan.c and any trail in WORK_DIR for inspection.
# Context: cmake -P from CTest; needs a C compiler and spin, nothing from the C++ build.

cmake_minimum_required(VERSION 3.25)

foreach(var SPIN CC MODEL WORK_DIR EXPECT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_spin.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXPECT MATCHES "^(pass|fail)$")
  message(FATAL_ERROR "run_spin.cmake: EXPECT must be pass or fail, not '${EXPECT}'")
endif()
if(NOT EXISTS "${MODEL}")
  message(FATAL_ERROR "run_spin.cmake: no model ${MODEL}")
endif()

foreach(var SPIN_DEFINES CC_FLAGS PAN_FLAGS)
  if(DEFINED ${var})
    string(REPLACE "," ";" ${var} "${${var}}")
  else()
    set(${var} "")
  endif()
endforeach()

list(JOIN SPIN_DEFINES " " defines_text)
list(JOIN CC_FLAGS " " cc_text)
list(JOIN PAN_FLAGS " " pan_text)

# Work on a copy: spin and pan name the trail after the model and write it next to it.
get_filename_component(model_name "${MODEL}" NAME)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
configure_file("${MODEL}" "${WORK_DIR}/${model_name}" COPYONLY)

execute_process(COMMAND "${SPIN}" ${SPIN_DEFINES} -a "${model_name}"
                WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS "${WORK_DIR}/pan.c" OR "${out}${err}" MATCHES "Error:")
  message(FATAL_ERROR "spin ${defines_text} -a ${model_name} failed (${rc}):\n${out}${err}")
endif()

execute_process(COMMAND "${CC}" ${CC_FLAGS} -o pan pan.c
                WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CC} ${cc_text} pan.c failed (${rc}):\n${out}${err}")
endif()

execute_process(COMMAND "${WORK_DIR}/pan" ${PAN_FLAGS}
                WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(report "${out}${err}")
message("spin ${defines_text} -a ${model_name}; cc ${cc_text}; ./pan ${pan_text}\n${report}")

if(NOT report MATCHES "errors: ([0-9]+)")
  message(FATAL_ERROR "pan did not report an error count (exit ${rc})")
endif()
set(errors "${CMAKE_MATCH_1}")

if(EXPECT STREQUAL "pass")
  if(NOT errors EQUAL 0)
    execute_process(COMMAND "${SPIN}" ${SPIN_DEFINES} -t -p -g "${model_name}"
                    WORKING_DIRECTORY "${WORK_DIR}" OUTPUT_VARIABLE trail ERROR_VARIABLE trail_err)
    message("counterexample (spin -t -p -g):\n${trail}${trail_err}")
    message(FATAL_ERROR "${model_name}: spin found ${errors} error(s); the model must verify")
  endif()
  if(report MATCHES "max search depth too small")
    message(FATAL_ERROR "${model_name}: the search hit the depth bound (-m): not a full verification")
  endif()
  message(STATUS "${model_name}: verified, errors: 0")
else()
  if(errors EQUAL 0)
    message(FATAL_ERROR "${model_name} ${defines_text}: spin found no error in a broken variant: "
                        "the model no longer tells the broken protocol from the real one")
  endif()
  if(DEFINED MATCH AND NOT MATCH STREQUAL "")
    string(FIND "${report}" "${MATCH}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${model_name} ${defines_text}: spin found an error, but not '${MATCH}'")
    endif()
  endif()
  execute_process(COMMAND "${SPIN}" ${SPIN_DEFINES} -t -p -g "${model_name}"
                  WORKING_DIRECTORY "${WORK_DIR}" OUTPUT_VARIABLE trail ERROR_VARIABLE trail_err)
  message("counterexample (spin -t -p -g):\n${trail}${trail_err}")
  message(STATUS "${model_name} ${defines_text}: broken variant caught, errors: ${errors}")
endif()
