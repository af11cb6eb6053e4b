# The installed package: `cmake --install <build> [--prefix DIR]` gives
#
#   include/udrm/...                          public headers (framework, fakehw, drivers, shim)
#   lib/libudrm-{framework,fakehw,drivers,testing}.a
#   lib/udrm/objects/...                      the libdrm shim's object files (an OBJECT library)
#   lib/udrm/udrm-shim.dynlist                the symbols a shim consumer exports
#   lib/udrm/libudrm-preload.so               what udrm-run LD_PRELOADs
#   bin/udrm-run, bin/udrmctl
#   lib/cmake/udrm/udrm{Config,ConfigVersion,Targets*}.cmake
#                                             find_package(udrm): udrm::framework, ::fakehw,
#                                             ::drivers, ::testing, ::libdrm_shim
#   lib/pkgconfig/udrm.pc                     framework + fakehw + drivers
#
# The install() rules of the targets are next to them (framework/, fakehw/, drivers/, shim/,
# tools/); this file installs what describes them. Included by the root CMakeLists.txt after
# every target exists. Nothing exported names a path of the build machine: the package can be
# moved (tests/package checks both).
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/udrm_sanitize_flags.cmake)

set(UDRM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/udrm)
# What udrmConfig.cmake must find before it can load the targets.
if(TARGET udrm_testing)
  set(UDRM_PACKAGE_HAS_TESTING ON)
else()
  set(UDRM_PACKAGE_HAS_TESTING OFF)
endif()
set(UDRM_PACKAGE_BOOST_VERSION 1.81)

install(EXPORT udrmTargets NAMESPACE udrm:: FILE udrmTargets.cmake DESTINATION ${UDRM_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/udrmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/udrmConfig.cmake
  INSTALL_DESTINATION ${UDRM_INSTALL_CMAKEDIR}
  NO_SET_AND_CHECK_MACRO NO_CHECK_REQUIRED_COMPONENTS_MACRO)
# 0.x: a minor version may break the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/udrmConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/udrmConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/udrmConfigVersion.cmake
        DESTINATION ${UDRM_INSTALL_CMAKEDIR})

# udrm.pc: ${pcfiledir}-relative prefix, so a moved package still works.
file(RELATIVE_PATH UDRM_PC_PREFIX_FROM_PCFILEDIR ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" UDRM_PC_PREFIX_FROM_PCFILEDIR "${UDRM_PC_PREFIX_FROM_PCFILEDIR}")
list(JOIN UDRM_CONSUMER_SANITIZE_FLAGS " " UDRM_PC_SANITIZE_FLAGS)
# Most dependent first, as a static link needs them.
set(UDRM_PC_LIBS)
foreach(target IN ITEMS udrm_drivers udrm_fakehw udrm_framework)
  if(TARGET ${target})
    string(APPEND UDRM_PC_LIBS " -l$<TARGET_PROPERTY:${target},OUTPUT_NAME>")
  endif()
endforeach()
string(APPEND UDRM_PC_LIBS " -lpthread")
foreach(lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND UDRM_PC_LIBS " -l${lib}")
endforeach()
# (configure_file, then file(GENERATE) for the library names.)
configure_file(${CMAKE_CURRENT_LIST_DIR}/udrm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/udrm.pc.gen @ONLY)
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/udrm.pc INPUT ${CMAKE_CURRENT_BINARY_DIR}/udrm.pc.gen)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/udrm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
