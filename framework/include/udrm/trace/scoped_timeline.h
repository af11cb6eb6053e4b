// udrm/trace/scoped_timeline.h — record a timeline (udrm/trace/timeline.h) for one scope.
//
//   udrm::testing::ScopedTimeline tl("/tmp/commit.json");   // records until tl goes
//
// Test binaries linked with udrm::testing also honour UDRM_TRACE=FILE: every test records its
// own timeline into FILE, "%t" in FILE replaced by the test's name (Suite.Test, '/' -> '_');
// without "%t" each test rewrites FILE (pair it with --gtest_filter).
//
// Lifetime: the file is complete (closing bracket written) when the object is destroyed or
// finish() returned. Context: process context (construction and destruction may sleep).
#pragma once
#include <string>

#include "udrm/trace/timeline.h"

namespace udrm::testing {

class ScopedTimeline {
 public:
  /// Starts recording into path; status() is start()'s result (0 or -errno).
  explicit ScopedTimeline(const std::string& path) : path_(path), status_(tl_.start(path)) {}
  ~ScopedTimeline() { tl_.finish(); }
  ScopedTimeline(const ScopedTimeline&) = delete;
  ScopedTimeline& operator=(const ScopedTimeline&) = delete;

  int status() const noexcept { return status_; }
  const std::string& path() const noexcept { return path_; }
  trace::Timeline& timeline() noexcept { return tl_; }
  /// Stop and write the file now (0 or -errno).
  int finish() { return tl_.finish(); }

 private:
  trace::Timeline tl_;
  std::string path_;
  int status_;
};

}  // namespace udrm::testing
