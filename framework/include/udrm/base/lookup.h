// udrm/base/lookup.h — an ID -> object registry whose lookups race the final put safely.
//
// LookupTable maps non-zero IDs to LookupNode objects (embed one in yours; it carries the
// kref). The rules, from the uprobes put/lookup fixes:
//  - lookup (get) takes a reference only if the object is not already dying (get_unless_zero),
//    inside a read-side section, without the writer lock;
//  - the final put is the one destructor: it takes the lock, re-checks that the count is still
//    zero (an object a concurrent lookup revived is not destroyed — that holder's own final
//    put destroys it later) and that the slot still holds this object, removes it, and only
//    then reclaims;
//  - memory is reclaimed after a grace period of the lookup's read-side scheme (GraceDomain),
//    so a lookup that loaded the pointer before the removal never reads freed memory.
// IDs are allocated cyclically and never reused (the table is open-addressed by id & mask:
// an ID is only handed out if its slot is free). Capacity is fixed at construction.
//
// Lifetime: the table must outlive every object in it; ~LookupTable WARNs about live entries.
// Context: get(): any context, never sleeps. add/unregister: process context. put(): process
// context when it may be the final put (it waits a grace period), as drm_framebuffer_put.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "udrm/base/grace.h"
#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"

namespace udrm {

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
  LookupTable(std::size_t capacity, Reclaim reclaim, void* ctx);
  ~LookupTable();
  LookupTable(const LookupTable&) = delete;
  LookupTable& operator=(const LookupTable&) = delete;

  /// Publish n (holding its creator's reference) under a fresh ID. -ENOSPC when full or the
  /// ID space is exhausted.
  int add(LookupNode* n, uint32_t* id);
  /// A referenced object, or nullptr if absent or dying.
  LookupNode* get(uint32_t id) noexcept;
  /// Drop a reference; the final one removes, waits a grace period and reclaims.
  void put(LookupNode* n);
  /// The ID disappears from lookups now (the object lives on until its final put).
  void unregister(LookupNode* n);
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  void release(LookupNode* n);

  Mutex lock_{"lookup"};
  std::size_t mask_;
  std::unique_ptr<std::atomic<LookupNode*>[]> slots_;
  std::atomic<std::size_t> count_{0};
  uint32_t next_ = 1;
  Reclaim reclaim_;
  void* ctx_;
  GraceDomain grace_;
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
