# tests/udrmrun: the udrm-run server, the remote backend and the real libdrm tools under
# udrm-run. Included by tests/CMakeLists.txt after the udrm_test_udrmrun target exists.
if(TARGET udrm_test_udrmrun AND TARGET udrm_server)
  # The remote backend is tested directly (the in-process shim flavour is not linked here: it
  # would interpose this executable's libc calls).
  target_sources(udrm_test_udrmrun PRIVATE ${PROJECT_SOURCE_DIR}/shim/src/backend_remote.cpp)
  target_link_libraries(udrm_test_udrmrun PRIVATE udrm_server)
  add_dependencies(udrm_test_udrmrun udrm-run udrmctl)
  target_compile_definitions(udrm_test_udrmrun PRIVATE
    UDRM_RUN_PATH="$<TARGET_FILE:udrm-run>"
    UDRMCTL_PATH="$<TARGET_FILE:udrmctl>")
  if(TARGET udrm_preload)
    add_dependencies(udrm_test_udrmrun udrm_preload)
    target_compile_definitions(udrm_test_udrmrun PRIVATE UDRM_PRELOAD_PATH="$<TARGET_FILE:udrm_preload>")
  endif()
endif()
