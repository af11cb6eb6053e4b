// main() for udrm test binaries: GoogleTest plus the WARN listener.
#include <gtest/gtest.h>

namespace udrm::testing {
void install_warn_listener();
void parse_explore_flags(int* argc, char** argv);
void install_timeline_listener();  // UDRM_TRACE=FILE (udrm/trace/scoped_timeline.h)
}

int main(int argc, char** argv) {
  udrm::testing::parse_explore_flags(&argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  udrm::testing::install_warn_listener();
  udrm::testing::install_timeline_listener();
  return RUN_ALL_TESTS();
}
