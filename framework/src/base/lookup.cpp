// LookupIndex and LookupTable (udrm/base/lookup.h).
#include "udrm/base/lookup.h"

#include <climits>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"

namespace udrm {

// ---- LookupIndex ------------------------------------------------------------------------------

// A slot goes empty (id 0) -> live (id) -> tombstone (kTomb) and stays a tombstone until the
// array is rebuilt. ptr and kind are written before the id (release) and never change while
// the array is published.
struct LookupIndex::Array {
  struct Slot {
    std::atomic<uint32_t> id{0};
    std::atomic<uint32_t> kind{0};
    std::atomic<void*> ptr{nullptr};
  };
  explicit Array(std::size_t n) : mask(n - 1), slots(new (std::nothrow) Slot[n]) {}
  std::size_t mask;
  std::size_t used = 0;  // live + tombstones (writer side, under the lock)
  std::unique_ptr<Slot[]> slots;
};

namespace {
constexpr std::size_t kMinSlots = 16;

std::size_t round_up_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

LookupIndex::Section::Section(GraceDomain& g, const std::atomic<Array*>& cur) noexcept
    : reader_(g.read()), array_(cur.load(std::memory_order_seq_cst)) {}  // seq_cst: pairs with the grace wait

LookupIndex::LookupIndex(const char* name) noexcept : lock_(name) {}

LookupIndex::~LookupIndex() { delete cur_.load(std::memory_order_relaxed); }

std::size_t LookupIndex::probe_start(const Array& a, uint32_t id) noexcept {
  // Consecutive IDs land in consecutive slots: cyclic allocators never collide until the
  // array wraps.
  return id & a.mask;
}

LookupIndex::Hit LookupIndex::find(const Section& s, uint32_t id) const noexcept {
  UDRM_POINT("lookup.read");
  const Array* a = s.array_;
  if (!a || id == 0 || id == kTomb) return {};
  std::size_t i = probe_start(*a, id);
  for (std::size_t n = 0; n <= a->mask; ++n, i = (i + 1) & a->mask) {
    const Array::Slot& slot = a->slots[i];
    // seq_cst: a tombstone stored before a grace wait began is seen by every later section.
    uint32_t k = slot.id.load(std::memory_order_seq_cst);
    if (k == 0) return {};  // the end of this probe run
    if (k != id) continue;  // another ID or a tombstone
    return Hit{slot.ptr.load(std::memory_order_relaxed), slot.kind.load(std::memory_order_relaxed), id, &slot};
  }
  return {};
}

bool LookupIndex::still_published(const Section& s, const Hit& h) const noexcept {
  UDRM_POINT("lookup.revalidate");
  (void)s;  // the slot belongs to the section's array, which cannot be retired before it ends
  // Pairs with the fence at the end of remove_locked(): the caller's reference (taken before
  // this fence) is visible to the remover's later refcount reads, or the tombstone is visible
  // here.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return static_cast<const Array::Slot*>(h.slot)->id.load(std::memory_order_seq_cst) == h.id;
}

int LookupIndex::rebuild_locked(std::size_t min_slots) {
  Array* old = cur_.load(std::memory_order_relaxed);
  const std::size_t n = round_up_pow2(min_slots < kMinSlots ? kMinSlots : min_slots);
  auto* a = new (std::nothrow) Array(n);
  if (!a || !a->slots) {
    delete a;
    return -ENOMEM;
  }
  if (old) {
    for (std::size_t i = 0; i <= old->mask; ++i) {
      const Array::Slot& from = old->slots[i];
      uint32_t id = from.id.load(std::memory_order_relaxed);
      if (id == 0 || id == kTomb) continue;
      std::size_t j = probe_start(*a, id);
      while (a->slots[j].id.load(std::memory_order_relaxed) != 0) j = (j + 1) & a->mask;
      a->slots[j].ptr.store(from.ptr.load(std::memory_order_relaxed), std::memory_order_relaxed);
      a->slots[j].kind.store(from.kind.load(std::memory_order_relaxed), std::memory_order_relaxed);
      a->slots[j].id.store(id, std::memory_order_relaxed);
      ++a->used;
    }
  }
  cur_.store(a, std::memory_order_seq_cst);  // publishes the slots too
  if (old) {
    UDRM_POINT("lookup.rebuild");
    grace_.synchronize();  // no section still reads the old array
    delete old;
  }
  return 0;
}

int LookupIndex::insert_locked(uint32_t id, void* ptr, uint32_t kind) {
  if (id == 0 || id == kTomb || !ptr) return -EINVAL;
  Array* a = cur_.load(std::memory_order_relaxed);
  if (a) {
    // Refuse duplicates before anything changes.
    std::size_t i = probe_start(*a, id);
    for (std::size_t n = 0; n <= a->mask; ++n, i = (i + 1) & a->mask) {
      uint32_t k = a->slots[i].id.load(std::memory_order_relaxed);
      if (k == 0) break;
      if (k == id) return -EEXIST;
    }
  }
  // Keep at least half the slots empty (probe runs stay short and end at an empty slot);
  // a rebuild sizes for four times the live entries, dropping the tombstones.
  if (!a || (a->used + 1) * 2 > a->mask + 1) {
    if (int ret = rebuild_locked((live() + 1) * 4)) return ret;
    a = cur_.load(std::memory_order_relaxed);
  }
  std::size_t i = probe_start(*a, id);
  while (a->slots[i].id.load(std::memory_order_relaxed) != 0) i = (i + 1) & a->mask;
  Array::Slot& slot = a->slots[i];
  slot.ptr.store(ptr, std::memory_order_relaxed);
  slot.kind.store(kind, std::memory_order_relaxed);
  slot.id.store(id, std::memory_order_seq_cst);  // publishes ptr and kind
  ++a->used;
  live_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

bool LookupIndex::remove_locked(uint32_t id, const void* ptr) {
  Array* a = cur_.load(std::memory_order_relaxed);
  if (!a || id == 0 || id == kTomb) return false;
  std::size_t i = probe_start(*a, id);
  for (std::size_t n = 0; n <= a->mask; ++n, i = (i + 1) & a->mask) {
    Array::Slot& slot = a->slots[i];
    uint32_t k = slot.id.load(std::memory_order_relaxed);
    if (k == 0) return false;
    if (k != id) continue;
    if (slot.ptr.load(std::memory_order_relaxed) != ptr) return false;
    slot.id.store(kTomb, std::memory_order_seq_cst);
    live_.fetch_sub(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // see still_published()
    return true;
  }
  return false;
}

// ---- LookupTable ------------------------------------------------------------------------------

LookupTable::LookupTable(std::size_t capacity, Reclaim reclaim, void* ctx)
    : capacity_(capacity ? capacity : 1), reclaim_(reclaim), ctx_(ctx) {}

LookupTable::~LookupTable() {
  if (std::size_t n = size()) warn(LogCat::core, "lookup table destroyed with %zu live entries", n);
}

int LookupTable::add(LookupNode* n, uint32_t* id) {
  if (UDRM_WARN_ON(!n, LogCat::core)) return -EINVAL;
  std::lock_guard<Mutex> l(index_.lock());
  if (count_.load(std::memory_order_relaxed) >= capacity_) return -ENOSPC;
  if (next_ == 0 || next_ > static_cast<uint32_t>(INT_MAX)) return -ENOSPC;  // never reused
  const uint32_t cand = next_;
  n->id_.store(cand, std::memory_order_relaxed);
  if (int ret = index_.insert_locked(cand, n, 0)) {
    n->id_.store(0, std::memory_order_relaxed);
    return ret;
  }
  ++next_;
  count_.fetch_add(1, std::memory_order_relaxed);
  if (id) *id = cand;
  return 0;
}

LookupNode* LookupTable::get(uint32_t id) noexcept {
  if (id == 0) return nullptr;
  LookupNode* n = nullptr;
  {
    LookupIndex::Section s = index_.read();
    LookupIndex::Hit h = index_.find(s, id);
    if (!h) return nullptr;
    n = static_cast<LookupNode*>(h.ptr);
    if (!n->kref_.get_unless_zero()) return nullptr;  // dying: refused, never revived
    if (index_.still_published(s, h)) return n;
  }
  put(n);  // unregistered under us: outside the section, as it may be the final put
  return nullptr;
}

void LookupTable::put(LookupNode* n) {
  if (n) n->kref_.put([this, n] { release(n); });
}

void LookupTable::unregister(LookupNode* n) {
  std::lock_guard<Mutex> l(index_.lock());
  uint32_t id = n->id_.load(std::memory_order_relaxed);
  if (id == 0) return;
  index_.remove_locked(id, n);
  count_.fetch_sub(1, std::memory_order_relaxed);
  n->id_.store(0, std::memory_order_relaxed);
}

void LookupTable::release(LookupNode* n) {
  {
    std::lock_guard<Mutex> l(index_.lock());
    UDRM_POINT("lookup.recheck");
    // Re-check under the lock: a revived object is not ours to destroy.
    if (n->kref_.read() != 0) {
      warn(LogCat::core, "lookup: object revived after its final put; not destroying it");
      return;
    }
    uint32_t id = n->id_.load(std::memory_order_relaxed);
    if (id != 0) {
      index_.remove_locked(id, n);
      count_.fetch_sub(1, std::memory_order_relaxed);
      n->id_.store(0, std::memory_order_relaxed);
    }
  }
  index_.synchronize();  // no lookup still reads n
  reclaim_(n, ctx_);
}

}  // namespace udrm
