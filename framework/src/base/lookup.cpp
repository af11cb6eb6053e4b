// LookupTable (udrm/base/lookup.h).
#include "udrm/base/lookup.h"

#include <climits>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"

namespace udrm {

namespace {
std::size_t round_up_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

LookupTable::LookupTable(std::size_t capacity, Reclaim reclaim, void* ctx)
    : mask_(round_up_pow2(capacity ? capacity : 1) - 1),
      slots_(new std::atomic<LookupNode*>[mask_ + 1]),
      reclaim_(reclaim),
      ctx_(ctx) {
  for (std::size_t i = 0; i <= mask_; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

LookupTable::~LookupTable() {
  if (std::size_t n = size()) warn(LogCat::core, "lookup table destroyed with %zu live entries", n);
}

int LookupTable::add(LookupNode* n, uint32_t* id) {
  std::lock_guard<Mutex> l(lock_);
  if (count_.load(std::memory_order_relaxed) > mask_) return -ENOSPC;
  for (std::size_t tries = 0; tries <= mask_; ++tries) {
    if (next_ == 0 || next_ > static_cast<uint32_t>(INT_MAX)) return -ENOSPC;  // never reused
    uint32_t cand = next_++;
    std::atomic<LookupNode*>& s = slots_[cand & mask_];
    if (s.load(std::memory_order_relaxed) != nullptr) continue;  // slot busy: skip this ID
    n->id_.store(cand, std::memory_order_relaxed);
    s.store(n, std::memory_order_release);  // publishes id_ too
    count_.fetch_add(1, std::memory_order_relaxed);
    if (id) *id = cand;
    return 0;
  }
  return -ENOSPC;
}

LookupNode* LookupTable::get(uint32_t id) noexcept {
  if (id == 0) return nullptr;
  GraceDomain::Reader r = grace_.read();
  UDRM_POINT("lookup.read");
  LookupNode* n = slots_[id & mask_].load(std::memory_order_seq_cst);  // pairs with the grace wait
  if (n == nullptr || n->id_.load(std::memory_order_relaxed) != id) return nullptr;
  if (!n->kref_.get_unless_zero()) return nullptr;  // dying: refused, never revived
  return n;
}

void LookupTable::put(LookupNode* n) {
  if (n) n->kref_.put([this, n] { release(n); });
}

void LookupTable::unregister(LookupNode* n) {
  std::lock_guard<Mutex> l(lock_);
  uint32_t id = n->id_.load(std::memory_order_relaxed);
  if (id == 0) return;
  std::atomic<LookupNode*>& s = slots_[id & mask_];
  if (s.load(std::memory_order_relaxed) == n) {
    s.store(nullptr, std::memory_order_seq_cst);
    count_.fetch_sub(1, std::memory_order_relaxed);
  }
  n->id_.store(0, std::memory_order_relaxed);
}

void LookupTable::release(LookupNode* n) {
  {
    std::lock_guard<Mutex> l(lock_);
    UDRM_POINT("lookup.recheck");
    // Re-check under the lock: a revived object is not ours to destroy.
    if (n->kref_.read() != 0) {
      warn(LogCat::core, "lookup: object revived after its final put; not destroying it");
      return;
    }
    uint32_t id = n->id_.load(std::memory_order_relaxed);
    if (id != 0) {
      std::atomic<LookupNode*>& s = slots_[id & mask_];
      if (s.load(std::memory_order_relaxed) == n) {
        s.store(nullptr, std::memory_order_seq_cst);
        count_.fetch_sub(1, std::memory_order_relaxed);
      }
      n->id_.store(0, std::memory_order_relaxed);
    }
  }
  grace_.synchronize();  // no lookup still reads n
  reclaim_(n, ctx_);
}

}  // namespace udrm
