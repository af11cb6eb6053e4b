# tests/package: the installed package, used from outside (label "package"). Included by
# tests/CMakeLists.txt.
#
#   package.install    FIXTURES_SETUP: `cmake --install` of this build tree into a staging
#                      directory, which is then moved (the package must be relocatable);
#                      checks the layout and that no installed CMake/pkg-config file names
#                      this machine's source or build tree
#   package.consumer   consumer/: find_package(udrm) with CMAKE_PREFIX_PATH=<prefix>, the same
#                      compiler; builds and runs udrm_consumer and udrm_shim_consumer
#   package.pkgconfig  pkgconfig/main.cpp compiled and linked with ${CMAKE_CXX_COMPILER} and
#                      `pkg-config --cflags --libs udrm` alone, then run
#   package.tools      the installed udrm-run finds the installed libudrm-preload.so and
#                      serves the installed udrmctl
#
# They run after the build (ctest), on what it made: package.install fails with cmake's
# "cannot find" error if a target was not built. Sanitizer builds (UDRM_SANITIZE): the
# installed package carries its -fsanitize flags (udrm::framework's INTERFACE options, udrm.pc),
# so the consumers are built with them and the tests run there too.
set(_udrm_pkg_script ${CMAKE_CURRENT_LIST_DIR}/run_consumer.cmake)
set(_udrm_pkg_args
  -DBUILD_DIR=${CMAKE_BINARY_DIR}
  -DSOURCE_ROOT=${PROJECT_SOURCE_DIR}
  -DPACKAGE_SOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}
  -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package
  -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
  -DBINDIR=${CMAKE_INSTALL_BINDIR}
  -DINCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
  -DCXX=${CMAKE_CXX_COMPILER}
  "-DGENERATOR=${CMAKE_GENERATOR}"
  -DBUILD_TYPE=$<CONFIG>
  "-DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}"
  -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE}
  -DVERSION=${PROJECT_VERSION})

foreach(_step IN ITEMS install consumer pkgconfig tools)
  add_test(NAME package.${_step} COMMAND ${CMAKE_COMMAND} ${_udrm_pkg_args} -DSTEP=${_step} -P ${_udrm_pkg_script})
  set_tests_properties(package.${_step} PROPERTIES LABELS package TIMEOUT 300)
  if(_step STREQUAL "install")
    set_tests_properties(package.${_step} PROPERTIES FIXTURES_SETUP udrm_package)
  else()
    set_tests_properties(package.${_step} PROPERTIES FIXTURES_REQUIRED udrm_package)
  endif()
endforeach()
