# check_labels.cmake — the spin models' point labels still name real scheduling points.
#
# Every model (tests/spin/*.pml) opens with a header comment listing the udrm points it models:
#     * points: gate.enter gate.unplug
#     *         drm.ioctl                  (continues until an empty comment line)
# For each listed point "a.b" this checks that
#   - UDRM_POINT("a.b") occurs (outside a // comment) in a source file under framework/,
#     drivers/ or fakehw/: renaming or removing a point breaks the model's claim, and this test;
#   - the model has the label a_b (or a_b__why for a second site in one process) at the start
#     of a line;
# and for every line-start label of the model that spells a real point ('.' -> '_'), that the
# point is listed in the header (a label that models a point must say so).
#
# Arguments (-D, before -P):
#   ROOT             source root (default: two levels above this file)
#   MODELS           ','-separated model files (default: every tests/spin/*.pml)
#   PRETEND_MISSING  self-test: behave as if UDRM_POINT("<this point>") had been renamed away
#
# Lifetime: one run. Context: cmake -P from CTest; reads sources, writes nothing.

cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED ROOT OR ROOT STREQUAL "")
  get_filename_component(ROOT "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
endif()
if(DEFINED MODELS AND NOT MODELS STREQUAL "")
  string(REPLACE "," ";" models "${MODELS}")
else()
  file(GLOB models "${ROOT}/tests/spin/*.pml")
endif()
if(NOT models)
  message(FATAL_ERROR "check_labels: no models (ROOT=${ROOT})")
endif()

# ---- the points the sources define ----------------------------------------------------------
set(sources "")
foreach(dir framework drivers fakehw)
  file(GLOB_RECURSE found LIST_DIRECTORIES false
       "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.cc" "${ROOT}/${dir}/*.h" "${ROOT}/${dir}/*.hpp")
  list(APPEND sources ${found})
endforeach()
if(NOT sources)
  message(FATAL_ERROR "check_labels: no sources under ${ROOT}/{framework,drivers,fakehw}")
endif()

set(known "")
foreach(src IN LISTS sources)
  file(STRINGS "${src}" lines REGEX "UDRM_POINT\\(\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "//.*$" "" code "${line}")  # UDRM_POINT("area.what") in a comment
    string(REGEX MATCHALL "UDRM_POINT\\(\"[^\"]+\"\\)" calls "${code}")
    foreach(call IN LISTS calls)
      string(REGEX REPLACE "^UDRM_POINT\\(\"([^\"]+)\"\\)$" "\\1" name "${call}")
      list(APPEND known "${name}")
    endforeach()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES known)
if(DEFINED PRETEND_MISSING AND NOT PRETEND_MISSING STREQUAL "")
  list(REMOVE_ITEM known "${PRETEND_MISSING}")
  message(STATUS "check_labels: pretending UDRM_POINT(\"${PRETEND_MISSING}\") was renamed")
endif()
set(known_labels "")
foreach(p IN LISTS known)
  string(REPLACE "." "_" l "${p}")
  list(APPEND known_labels "${l}")
endforeach()

# ---- each model -----------------------------------------------------------------------------
set(problems "")
set(checked 0)
foreach(model IN LISTS models)
  get_filename_component(mname "${model}" NAME)
  if(NOT EXISTS "${model}")
    list(APPEND problems "${mname}: no such file")
    continue()
  endif()
  file(READ "${model}" text)

  # The header: from "points:" to the first empty comment line (or the end of the comment).
  string(FIND "${text}" "points:" at)
  if(at EQUAL -1)
    list(APPEND problems "${mname}: no '/* points: ... */' header")
    continue()
  endif()
  math(EXPR at "${at} + 7")
  string(SUBSTRING "${text}" ${at} -1 rest)
  string(REPLACE ";" " " rest "${rest}")
  string(REPLACE "\n" ";" rest_lines "${rest}")
  set(points "")
  foreach(line IN LISTS rest_lines)
    string(FIND "${line}" "*/" close)
    if(NOT close EQUAL -1)
      string(SUBSTRING "${line}" 0 ${close} line)
    endif()
    string(REGEX REPLACE "^[ \t]*\\*" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      break()
    endif()
    string(REGEX REPLACE "[ \t]+" ";" words "${line}")
    list(APPEND points ${words})
    if(NOT close EQUAL -1)
      break()
    endif()
  endforeach()
  if(NOT points)
    list(APPEND problems "${mname}: the points header lists nothing")
    continue()
  endif()

  # Line-start labels (a label may carry a "__why" suffix).
  string(REGEX MATCHALL "\n[A-Za-z_][A-Za-z0-9_]*:" raw "${text}")
  set(labels "")
  foreach(r IN LISTS raw)
    string(REGEX REPLACE "^\n([A-Za-z0-9_]+):$" "\\1" l "${r}")
    string(REGEX REPLACE "__[A-Za-z0-9_]*$" "" l "${l}")
    list(APPEND labels "${l}")
  endforeach()

  set(header_labels "")
  foreach(p IN LISTS points)
    math(EXPR checked "${checked} + 1")
    if(NOT p MATCHES "^[a-z0-9_]+(\\.[a-z0-9_]+)+$")
      list(APPEND problems "${mname}: '${p}' in the points header is not a point name (area.what)")
      continue()
    endif()
    string(REPLACE "." "_" l "${p}")
    list(APPEND header_labels "${l}")
    if(NOT p IN_LIST known)
      list(APPEND problems "${mname}: claims point '${p}', but no UDRM_POINT(\"${p}\") exists under framework/, drivers/ or fakehw/ (renamed? update the model and its header)")
    endif()
    if(NOT l IN_LIST labels)
      list(APPEND problems "${mname}: lists point '${p}' but has no line-start label '${l}:'")
    endif()
  endforeach()
  foreach(l IN LISTS labels)
    if(l IN_LIST known_labels AND NOT l IN_LIST header_labels)
      list(APPEND problems "${mname}: label '${l}' spells a udrm point but is not in the points header")
    endif()
  endforeach()
endforeach()

list(LENGTH models nmodels)
list(LENGTH known nknown)
if(problems)
  list(JOIN problems "\n  " msg)
  message(FATAL_ERROR "check_labels: ${nmodels} model(s), ${checked} point claim(s) against ${nknown} source points:\n  ${msg}")
endif()
message(STATUS "check_labels: ${nmodels} model(s), ${checked} point claim(s), all found among ${nknown} UDRM_POINT names")
