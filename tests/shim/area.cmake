# The in-process libdrm shim suite: real libdrm (xf86drm.h / xf86drmMode.h) against udrm devices
# of the test's own World. udrm::libdrm_shim puts the interposed libc symbols into the executable
# and exports them (its INTERFACE link options), so libdrm's open64/ioctl/mmap64/... land there.
if(TARGET udrm_test_shim)
  target_link_libraries(udrm_test_shim PRIVATE udrm::libdrm_shim PkgConfig::LIBDRM)
  # The scanout CRC helpers of the uAPI suite (expected_crc, crc_shows).
  target_sources(udrm_test_shim PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../uapi/uapi_fixture.cpp)
endif()
