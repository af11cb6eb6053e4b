# The sanitizer flags a consumer of a sanitizer build of udrm must compile and link with.
#
# Sets UDRM_CONSUMER_SANITIZE_FLAGS from UDRM_SANITIZE ('' -> empty). The installed static
# libraries of an ASan/TSan build call into the sanitizer runtime, so udrm::framework carries
# these flags as INTERFACE compile and link options of the installed package, and udrm.pc has
# them in Cflags and Libs (the root CMakeLists.txt applies them to the build tree globally).
# TSan also needs the consumer's own code instrumented: udrm's headers hold inline refcounts
# and locks. Included by framework/CMakeLists.txt and cmake/udrm_package.cmake.
if(UDRM_SANITIZE STREQUAL "address")
  set(UDRM_CONSUMER_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer)
elseif(UDRM_SANITIZE STREQUAL "thread")
  set(UDRM_CONSUMER_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
else()
  set(UDRM_CONSUMER_SANITIZE_FLAGS)
endif()
