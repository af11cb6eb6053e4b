# Driver of the tests/package CTest tests (see area.cmake): cmake -DSTEP=<step> ... -P this.
#
#   STEP=install    install BUILD_DIR into WORK_DIR/staging, move it to WORK_DIR/prefix, check
#   STEP=consumer   configure, build and run consumer/ against WORK_DIR/prefix
#   STEP=pkgconfig  compile, link and run pkgconfig/main.cpp with pkg-config's flags only
#   STEP=tools      run the installed udrm-run and udrmctl
#
# Every failure ends in message(FATAL_ERROR) naming what failed, so CTest reports it.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS STEP BUILD_DIR SOURCE_ROOT PACKAGE_SOURCE_DIR WORK_DIR LIBDIR BINDIR INCLUDEDIR CXX GENERATOR VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(staging ${WORK_DIR}/staging)

# Run a command; fail the test with its output unless it exits 0. OUTPUT_VAR receives stdout.
function(run what)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_VAR" "COMMAND")
  message(STATUS "${what}: ${arg_COMMAND}")
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${what} failed (exit status: ${rc})")
  endif()
  if(arg_OUTPUT_VAR)
    set(${arg_OUTPUT_VAR} "${out}" PARENT_SCOPE)
  endif()
endfunction()

# Run a test program: exit 0 and its summary line "<name>: N/N checks passed" both required
# (a program that printed nothing, or fewer checks, does not pass).
function(run_checked exe name)
  run("run ${name}" COMMAND ${exe} OUTPUT_VAR out)
  if(NOT out MATCHES "${name}: ([0-9]+)/([0-9]+) checks passed\n" OR NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2
     OR CMAKE_MATCH_1 EQUAL 0)
    message(FATAL_ERROR "${name} exited 0 without its \"${name}: N/N checks passed\" line")
  endif()
  message(STATUS "${name}: ${CMAKE_MATCH_1}/${CMAKE_MATCH_2} checks passed")
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${staging} ${prefix} ${WORK_DIR}/consumer-build ${WORK_DIR}/pkgconfig-build)
  set(config_args)
  if(BUILD_TYPE)
    set(config_args --config ${BUILD_TYPE})
  endif()
  run("cmake --install" COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${staging} ${config_args})
  # Relocatable: everything below must work from where the package was moved to.
  file(RENAME ${staging} ${prefix})
  foreach(f IN ITEMS
      ${BINDIR}/udrm-run ${BINDIR}/udrmctl ${LIBDIR}/udrm/libudrm-preload.so ${LIBDIR}/udrm/udrm-shim.dynlist
      ${LIBDIR}/libudrm-framework.a ${LIBDIR}/libudrm-fakehw.a ${LIBDIR}/libudrm-drivers.a ${LIBDIR}/libudrm-testing.a
      ${LIBDIR}/cmake/udrm/udrmConfig.cmake ${LIBDIR}/cmake/udrm/udrmConfigVersion.cmake
      ${LIBDIR}/cmake/udrm/udrmTargets.cmake ${LIBDIR}/pkgconfig/udrm.pc
      ${INCLUDEDIR}/udrm/core/world.h ${INCLUDEDIR}/udrm/fakehw/board.h ${INCLUDEDIR}/udrm/drivers/display.h
      ${INCLUDEDIR}/udrm/shim/backend.h ${INCLUDEDIR}/udrm/testing/kms_client.h)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
  file(GLOB_RECURSE shim_objects ${prefix}/${LIBDIR}/udrm/objects/*.o)
  if(NOT shim_objects)
    message(FATAL_ERROR "not installed: the libdrm shim's object files under ${LIBDIR}/udrm/objects")
  endif()
  # No installed description may name this machine's source or build tree, or the staging
  # directory it was installed to.
  file(GLOB_RECURSE descriptions ${prefix}/${LIBDIR}/cmake/udrm/*.cmake ${prefix}/${LIBDIR}/pkgconfig/*.pc)
  foreach(f IN LISTS descriptions)
    file(READ ${f} text)
    foreach(path IN ITEMS ${SOURCE_ROOT} ${BUILD_DIR} ${staging})
      string(FIND "${text}" "${path}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "${f} names ${path}: the package is not relocatable")
      endif()
    endforeach()
  endforeach()
  list(LENGTH shim_objects n_objects)
  list(LENGTH descriptions n_descriptions)
  message(STATUS "installed and moved to ${prefix}: ${n_objects} shim objects, ${n_descriptions} package files free of build paths")

elseif(STEP STREQUAL "consumer")
  set(build ${WORK_DIR}/consumer-build)
  file(REMOVE_RECURSE ${build})
  set(configure_args -S ${PACKAGE_SOURCE_DIR}/consumer -B ${build} -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix})
  if(BUILD_TYPE)
    list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
  endif()
  if(LAUNCHER)
    list(APPEND configure_args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
  endif()
  run("configure the consumer" COMMAND ${CMAKE_COMMAND} ${configure_args})
  # It must have found the installed package, not something else on the machine.
  file(STRINGS ${build}/CMakeCache.txt udrm_dir REGEX "^udrm_DIR:")
  if(NOT udrm_dir STREQUAL "udrm_DIR:PATH=${prefix}/${LIBDIR}/cmake/udrm")
    message(FATAL_ERROR "the consumer found udrm elsewhere: ${udrm_dir}")
  endif()
  run("build the consumer" COMMAND ${CMAKE_COMMAND} --build ${build} -j2)
  run_checked(${build}/udrm_consumer udrm-consumer)
  run_checked(${build}/udrm_shim_consumer udrm-shim-consumer)

elseif(STEP STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "no pkg-config executable (PKG_CONFIG)")
  endif()
  set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
  run("pkg-config --modversion udrm" COMMAND ${PKG_CONFIG} --modversion udrm OUTPUT_VAR version)
  string(STRIP "${version}" version)
  if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "udrm.pc says version '${version}', the project is ${VERSION}")
  endif()
  run("pkg-config --cflags --libs udrm" COMMAND ${PKG_CONFIG} --cflags --libs udrm OUTPUT_VAR flags)
  string(STRIP "${flags}" flags)
  string(FIND "${flags}" "-I${prefix}/" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "pkg-config's flags do not point into the installed prefix ${prefix}: ${flags}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(build ${WORK_DIR}/pkgconfig-build)
  file(REMOVE_RECURSE ${build})
  file(MAKE_DIRECTORY ${build})
  run("compile and link with pkg-config's flags"
      COMMAND ${CXX} -Wall -Wextra -Werror ${PACKAGE_SOURCE_DIR}/pkgconfig/main.cpp -o ${build}/udrm_pkgconfig ${flags})
  run("run udrm_pkgconfig" COMMAND ${build}/udrm_pkgconfig OUTPUT_VAR out)
  if(NOT out MATCHES "udrm-pkgconfig: 2/2 checks passed")
    message(FATAL_ERROR "udrm_pkgconfig exited 0 without its \"2/2 checks passed\" line")
  endif()

elseif(STEP STREQUAL "tools")
  set(bin ${prefix}/${BINDIR})
  run("udrm-run --help" COMMAND ${bin}/udrm-run --help OUTPUT_VAR help)
  if(NOT help MATCHES "usage: udrm-run")
    message(FATAL_ERROR "udrm-run --help printed no usage")
  endif()
  # The child's environment names the preload library udrm-run chose: the installed one.
  execute_process(COMMAND ${bin}/udrm-run --driver simple -- env
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  file(REAL_PATH ${prefix}/${LIBDIR}/udrm/libudrm-preload.so installed_preload)
  if(NOT rc STREQUAL "0" OR NOT out MATCHES "(^|\n)LD_PRELOAD=([^:\n]*)")
    message(FATAL_ERROR "udrm-run -- env: exit status ${rc}, no LD_PRELOAD in the child's environment")
  endif()
  set(preload "${CMAKE_MATCH_2}")
  if(NOT preload STREQUAL installed_preload)
    message(FATAL_ERROR "the installed udrm-run preloads '${preload}', not the installed ${installed_preload}")
  endif()
  if(err MATCHES "libudrm-preload.so not found")
    message(FATAL_ERROR "the installed udrm-run did not find libudrm-preload.so")
  endif()
  # The installed udrmctl, run by the installed udrm-run, talks to it (through the preload).
  run("udrm-run -- udrmctl devices" COMMAND ${bin}/udrm-run --driver simple -- ${bin}/udrmctl devices OUTPUT_VAR devices)
  if(NOT devices MATCHES "(^|\n)simple [^ \n]+ bound\n")
    message(FATAL_ERROR "udrmctl devices under udrm-run did not list the bound simple device")
  endif()
  message(STATUS "udrm-run preloads ${preload}; udrmctl devices: ${devices}")

else()
  message(FATAL_ERROR "run_consumer.cmake: unknown STEP '${STEP}' (install, consumer, pkgconfig, tools)")
endif()
