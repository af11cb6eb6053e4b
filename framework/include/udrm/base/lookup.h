// udrm/base/lookup.h — ID -> object registries whose lookups race the final put safely.
//
// Two layers:
//  - LookupIndex: non-zero 32-bit IDs -> (pointer, kind), read without any lock inside a
//    read-side section of its GraceDomain (an SRCU), written under its mutex. Open addressing
//    with linear probing; it grows and sheds tombstones by building a new array, publishing it
//    and freeing the old one after a grace period, so it has no fixed capacity. A removed ID's
//    slot becomes a tombstone and is never refilled before the next rebuild: a reader that
//    matched an ID in a slot reads that ID's pointer, never a newer object's.
//  - LookupTable / Lookup<T>: the refcounted registry on top (LookupNode carries the kref),
//    with the rules from the uprobes put/lookup fixes:
//     - lookup (get) takes a reference only if the object is not already dying
//       (get_unless_zero), inside a read-side section, without the writer lock;
//     - the final put is the one destructor: it takes the lock, re-checks that the count is
//       still zero (an object a concurrent lookup revived is not destroyed — that holder's own
//       final put destroys it later), removes the ID, and only then reclaims;
//     - memory is reclaimed after a grace period, so a lookup that loaded the pointer before
//       the removal never reads freed memory.
//
// The same rules carry the driver paths: ObjectIdr (kms/object.h: framebuffers, blobs and
// every other mode object) and the minor table at open (drm/minor.cpp) are LookupIndex users.
//
// Revalidation: a lookup that took its reference may still be racing an unregister that
// tombstoned the ID after the lookup read it. still_published() (a seq_cst fence, then the
// slot again) pairs with the fence remove_locked() ends with: either the lookup sees the
// tombstone, or the remover's refcount reads after the removal see the lookup's reference.
// That is what lets drm_framebuffer_remove trust "count == 1: nobody else holds it".
//
// Lifetime: an index must outlive its readers and every pointer in it; a LookupTable must
// outlive every object in it (~LookupTable WARNs about live entries).
// Context: read()/find()/still_published(): any context, never sleep. Writers (the *_locked
// calls, under lock()): process context; insert_locked() may wait a grace period (a rebuild).
// synchronize(): process context, sleeps, never inside a section of the same index.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "udrm/base/grace.h"
#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"

namespace udrm {

class LookupIndex {
  struct Array;

 public:
  /// One slot's contents as a reader saw them. Empty (false) when the ID is absent.
  struct Hit {
    void* ptr = nullptr;
    uint32_t kind = 0;
    uint32_t id = 0;
    const void* slot = nullptr;  // for still_published()
    explicit operator bool() const noexcept { return ptr != nullptr; }
  };

  /// A read-side section (srcu_read_lock .. srcu_read_unlock), pinned to one array.
  class [[nodiscard]] Section {
   public:
    Section(const Section&) = delete;
    Section& operator=(const Section&) = delete;

   private:
    friend class LookupIndex;
    Section(GraceDomain& g, const std::atomic<Array*>& cur) noexcept;
    GraceDomain::Reader reader_;
    const Array* array_;
  };

  explicit LookupIndex(const char* name = "lookup") noexcept;
  ~LookupIndex();
  LookupIndex(const LookupIndex&) = delete;
  LookupIndex& operator=(const LookupIndex&) = delete;

  // ---- readers ----
  Section read() noexcept { return Section(grace_, cur_); }
  /// The object published under `id` (id 0 never is), or an empty Hit.
  Hit find(const Section& s, uint32_t id) const noexcept;
  /// After taking a reference on h's object: is it still published under h.id? false means an
  /// unregister raced the lookup; drop the reference (after leaving the section).
  bool still_published(const Section& s, const Hit& h) const noexcept;

  // ---- writers: hold lock() ----
  Mutex& lock() noexcept { return lock_; }
  /// Publish ptr (non-null) under id with a caller-defined kind. -EINVAL for id 0 / ~0u or a
  /// null ptr, -EEXIST if id is published, -ENOMEM if a needed rebuild cannot allocate.
  int insert_locked(uint32_t id, void* ptr, uint32_t kind);
  /// Unpublish id if it is published with ptr; true if it was. Ends with a seq_cst fence (see
  /// the revalidation note above). The memory behind ptr stays readable for lookups that
  /// loaded it until a synchronize() that starts after this call returns.
  bool remove_locked(uint32_t id, const void* ptr);
  /// Published IDs (racy snapshot outside the lock).
  std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }

  /// Wait until every section that began before this call has ended (synchronize_srcu).
  void synchronize() { grace_.synchronize(); }

 private:
  static constexpr uint32_t kTomb = ~0u;
  int rebuild_locked(std::size_t min_slots);
  static std::size_t probe_start(const Array& a, uint32_t id) noexcept;

  Mutex lock_;
  std::atomic<Array*> cur_{nullptr};
  std::atomic<std::size_t> live_{0};
  GraceDomain grace_;
};

class LookupNode {
 public:
  LookupNode() = default;
  LookupNode(const LookupNode&) = delete;
  LookupNode& operator=(const LookupNode&) = delete;
  /// The ID while registered, 0 after unregister/removal.
  uint32_t lookup_id() const noexcept { return id_.load(std::memory_order_relaxed); }
  unsigned refcount() const noexcept { return kref_.read(); }
  /// Take another reference (the caller holds one).
  void get() noexcept { kref_.get(); }

 protected:
  ~LookupNode() = default;

 private:
  friend class LookupTable;
  Kref kref_{1};  // the creator's reference
  std::atomic<uint32_t> id_{0};
};

class LookupTable {
 public:
  /// reclaim(node, ctx) frees a node; called once per node, after a grace period.
  using Reclaim = void (*)(LookupNode*, void* ctx);
  /// capacity: the most objects registered at once (add() says -ENOSPC beyond).
  LookupTable(std::size_t capacity, Reclaim reclaim, void* ctx);
  ~LookupTable();
  LookupTable(const LookupTable&) = delete;
  LookupTable& operator=(const LookupTable&) = delete;

  /// Publish n (holding its creator's reference) under a fresh ID: cyclic, never reused.
  /// -ENOSPC when full or the ID space is exhausted, -ENOMEM if the index cannot grow.
  int add(LookupNode* n, uint32_t* id);
  /// A referenced object, or nullptr if absent, dying or unregistered under the lookup. Never
  /// sleeps, except that losing a race with unregister() drops the reference it took, which
  /// may be that object's final put (then: process context).
  LookupNode* get(uint32_t id) noexcept;
  /// Drop a reference; the final one removes, waits a grace period and reclaims.
  void put(LookupNode* n);
  /// The ID disappears from lookups now (the object lives on until its final put).
  void unregister(LookupNode* n);
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  void release(LookupNode* n);

  LookupIndex index_{"lookup"};
  std::size_t capacity_;
  std::atomic<std::size_t> count_{0};
  uint32_t next_ = 1;
  Reclaim reclaim_;
  void* ctx_;
};

/// Typed front end: T derives from LookupNode; reclaim defaults to delete.
template <class T>
class Lookup {
 public:
  explicit Lookup(std::size_t capacity = 1024, void (*reclaim)(T*) = &Lookup::default_reclaim)
      : reclaim_(reclaim), table_(capacity, &Lookup::trampoline, this) {}
  int add(T* obj, uint32_t* id) { return table_.add(obj, id); }
  T* get(uint32_t id) noexcept { return static_cast<T*>(table_.get(id)); }
  void put(T* obj) { table_.put(obj); }
  void unregister(T* obj) { table_.unregister(obj); }
  std::size_t size() const noexcept { return table_.size(); }

 private:
  static void default_reclaim(T* p) { delete p; }
  static void trampoline(LookupNode* n, void* ctx) { static_cast<Lookup*>(ctx)->reclaim_(static_cast<T*>(n)); }
  void (*reclaim_)(T*);
  LookupTable table_;
};

}  // namespace udrm
