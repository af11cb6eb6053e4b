// Release-order oracle (release_log.h).
#include "release_log.h"

namespace udrm::explore::detail {

void ReleaseLog::added(Kind, const void*, const char*, const void* node, const char* name) {
  nodes_[node] = Node{++seq_, name ? name : "?"};
}

void ReleaseLog::batch(Kind, const void* owner, bool begin) {
  if (begin)
    batches_[owner] = Batch{};
  else
    batches_.erase(owner);
}

void ReleaseLog::releasing(Kind k, const void* owner, const char* owner_name, const void* node, const char* name) {
  auto n = nodes_.find(node);
  if (n == nodes_.end()) return;  // added before tracing started
  const uint64_t seq = n->second.seq;
  nodes_.erase(n);
  auto b = batches_.find(owner);
  if (b == batches_.end()) return;  // a single release (devm_release_action, drmm_kfree): any order
  if (seq > b->second.last_seq) {
    problems_.push_back(std::string(k == Kind::devm ? "devm" : "drmm") + " resources of '" +
                        (owner_name ? owner_name : "?") + "' released out of LIFO order: '" + (name ? name : "?") +
                        "' after '" + b->second.last_name + "', but it was added later");
  }
  b->second.last_seq = seq;
  b->second.last_name = name ? name : "?";
}

}  // namespace udrm::explore::detail
