// The explorer's devm/drmm release-order oracle: within one release-all batch of an owner
// (unbind / probe failure for devm, the final put for drmm), nodes must go newest first.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "udrm/core/release_trace.h"

namespace udrm::explore::detail {

class ReleaseLog final : public ReleaseTracer {
 public:
  void added(Kind k, const void* owner, const char* owner_name, const void* node, const char* name) override;
  void batch(Kind k, const void* owner, bool begin) override;
  void releasing(Kind k, const void* owner, const char* owner_name, const void* node, const char* name) override;
  /// One line per out-of-order release seen so far.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  struct Node {
    uint64_t seq;
    std::string name;
  };
  struct Batch {
    uint64_t last_seq = ~uint64_t{0};
    std::string last_name;
  };
  uint64_t seq_ = 0;
  std::unordered_map<const void*, Node> nodes_;
  std::unordered_map<const void*, Batch> batches_;  // owner -> open batch
  std::vector<std::string> problems_;
};

}  // namespace udrm::explore::detail
