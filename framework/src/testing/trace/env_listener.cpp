// UDRM_TRACE=FILE in udrm test binaries (udrm/trace/scoped_timeline.h): a GoogleTest listener
// records one timeline per test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "udrm/trace/scoped_timeline.h"

namespace udrm::testing {
namespace {

class TimelineListener : public ::testing::EmptyTestEventListener {
 public:
  explicit TimelineListener(std::string pattern) : pattern_(std::move(pattern)) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    std::string name = std::string(info.test_suite_name()) + "." + info.name();
    for (char& c : name)
      if (c == '/') c = '_';
    std::string path = pattern_;
    for (std::size_t at; (at = path.find("%t")) != std::string::npos;) path.replace(at, 2, name);
    current_ = std::make_unique<ScopedTimeline>(path);
    if (current_->status())
      std::fprintf(stderr, "UDRM_TRACE: cannot record %s: %s\n", path.c_str(), std::strerror(-current_->status()));
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    if (current_ && !current_->status())
      if (int r = current_->finish()) std::fprintf(stderr, "UDRM_TRACE: writing %s: %s\n", current_->path().c_str(),
                                                   std::strerror(-r));
    current_.reset();
  }

 private:
  std::string pattern_;
  std::unique_ptr<ScopedTimeline> current_;
};

}  // namespace

void install_timeline_listener() {
  const char* p = std::getenv("UDRM_TRACE");
  if (!p || !*p) return;
  ::testing::UnitTest::GetInstance()->listeners().Append(new TimelineListener(p));
}

}  // namespace udrm::testing
