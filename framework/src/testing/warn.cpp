// WARN accounting for tests (udrm/testing/warn.h).
#include "udrm/testing/warn.h"

#include <gtest/gtest.h>

#include "udrm/base/log.h"

namespace udrm::testing {
namespace {

uint64_t g_test_start = 0;
uint64_t g_expected = 0;

// Runs before the result printer, so a failure it adds shows in the test's own verdict.
class WarnListener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override {
    g_test_start = warn_count();
    g_expected = 0;
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    uint64_t n = unexpected_warnings();
    if (n != 0) ADD_FAILURE() << n << " unexpected WARN(s); last: " << last_warning();
  }
};

}  // namespace

void install_warn_listener() {
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  auto* printer = listeners.Release(listeners.default_result_printer());
  listeners.Append(new WarnListener);
  if (printer) listeners.Append(printer);
}

uint64_t unexpected_warnings() { return warn_count() - g_test_start - g_expected; }

ExpectWarn::ExpectWarn(int n, std::string substring) : n_(n), substring_(std::move(substring)), start_(warn_count()) {}

uint64_t ExpectWarn::seen() const { return warn_count() - start_; }

ExpectWarn::~ExpectWarn() {
  uint64_t got = seen();
  g_expected += got;
  if (n_ == kAny) return;
  if (n_ >= 0) {
    EXPECT_EQ(got, static_cast<uint64_t>(n_)) << "expected " << n_ << " WARN(s), last: " << last_warning();
  } else {
    EXPECT_GE(got, 1u) << "expected at least one WARN";
  }
  if (!substring_.empty() && got > 0) {
    EXPECT_NE(last_warning().find(substring_), std::string::npos)
        << "last WARN '" << last_warning() << "' does not mention '" << substring_ << "'";
  }
}

}  // namespace udrm::testing
