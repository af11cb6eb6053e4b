// udrm/testing/warn.h — WARNs fail tests unless a test expects them.
//
// udrm::testing's main() installs a GoogleTest listener: a test during which a WARN was
// emitted fails, naming the last warning, unless the warnings happened inside an ExpectWarn
// scope that expected them. This is "warnings the kernel would WARN on fail tests by default".
//
// Context: the test's thread.
#pragma once
#include <cstdint>
#include <string>

namespace udrm::testing {

/// Expect exactly `n` WARNs (n < 0: at least one) while this object lives; a mismatch fails
/// the test. The expected warnings do not trip the listener.
class ExpectWarn {
 public:
  /// n = kAny: any number of WARNs, including none (they are accounted elsewhere).
  static constexpr int kAny = -1000;
  explicit ExpectWarn(int n = 1, std::string substring = "");
  ~ExpectWarn();
  ExpectWarn(const ExpectWarn&) = delete;
  ExpectWarn& operator=(const ExpectWarn&) = delete;
  /// WARNs seen so far in this scope.
  uint64_t seen() const;

 private:
  int n_;
  std::string substring_;
  uint64_t start_;
};

/// WARNs not covered by an ExpectWarn since the current test started.
uint64_t unexpected_warnings();

/// Put the listener in front of the result printer (udrm's test main does this).
void install_warn_listener();

}  // namespace udrm::testing
