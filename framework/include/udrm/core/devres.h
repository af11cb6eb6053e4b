// udrm/core/devres.h — device-managed resources (drivers/base/devres.c).
//
// Each Device owns one ordered list. Resources are appended; lookups go newest first; on
// unbind (after remove()), on any probe failure (including -EPROBE_DEFER), at device removal
// for driverless devices and at the final put, the list is released strictly LIFO. Release
// callbacks run without the list lock. Groups open/close/remove/release ranges of the list
// with the kernel's nesting rule (a group is dropped only if wholly inside the released range;
// a straddling group keeps its markers and loses the resources inside the range).
//
// Every node has a name (the action's name, "kmalloc(64)", a group id) used in traces and in
// reports. An action with a small capture costs one allocation: the node itself.
//
// Nothing here is reference counted against users: after release, what was handed out is
// gone. Anything userspace can still reach after unbind must be drmm-managed instead.
//
// Lifetime: nodes live from add until release/destroy; the list dies with its Device.
// Context: process or atomic context (the list lock is a spinlock); release callbacks run in
// the caller's context (unbind/probe failure: process context). Callable after unplug.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/fault.h"
#include "udrm/base/spinlock.h"

namespace udrm {

class Device;
class Module;

using dr_release_t = void (*)(Device& dev, void* res);
using dr_match_t = bool (*)(Device& dev, void* res, void* match_data);

/// What devm_kmalloc(dev, 0) returns: not NULL, not dereferenceable, not tracked.
inline void* const ZERO_SIZE_PTR = reinterpret_cast<void*>(16);
inline bool zero_or_null_ptr(const void* p) noexcept { return reinterpret_cast<uintptr_t>(p) <= 16; }

namespace detail {

struct DevresGroup;

struct DevresNode : boost::intrusive::list_base_hook<> {
  enum class Kind : uint8_t { resource, group_open, group_close };
  Kind kind = Kind::resource;
  const char* name = "";
  dr_release_t release = nullptr;        // identity for lookups; nullptr for markers
  void (*destroy)(DevresNode*) = nullptr;  // runs payload destructors and frees the node
  void* payload = nullptr;
  std::size_t size = 0;                  // payload size (memory resources)
  DevresGroup* group = nullptr;          // markers only
  Module* owner = nullptr;               // module whose code the release runs (pinned)
};

using DevresList = boost::intrusive::list<DevresNode>;

/// Allocate a node with room for `size` payload bytes (aligned for any type), zeroed.
/// Returns nullptr on overflow or (injected) allocation failure at `site`.
DevresNode* devres_node_alloc(std::size_t size, const Point& site);
void devres_node_free(DevresNode* n);
DevresNode* devres_node_of(void* payload);

}  // namespace detail

/// The per-device list (struct device's devres_head + devres_lock).
class DevresHead {
 public:
  explicit DevresHead(Device& owner) noexcept : owner_(owner) {}
  ~DevresHead();
  DevresHead(const DevresHead&) = delete;
  DevresHead& operator=(const DevresHead&) = delete;

  bool empty() const;
  /// Number of resource nodes (group markers not counted).
  std::size_t count() const;
  /// Names of the nodes, oldest first; markers as "group<open id>" / "group<close id>".
  std::vector<std::string> names() const;

  /// devres_release_all: release every resource, newest first. Returns how many.
  int release_all();

  // Internal interface of the devm_/devres_ functions below.
  void add(detail::DevresNode* n);
  detail::DevresNode* find(dr_release_t release, dr_match_t match, void* data, bool unlink);
  detail::DevresNode* find_node(const void* payload, bool unlink);
  template <class Pred>
  detail::DevresNode* find_if(Pred pred, bool unlink) {
    std::lock_guard<SpinLock> l(lock_);
    for (auto it = list_.rbegin(); it != list_.rend(); ++it) {
      if (it->kind != detail::DevresNode::Kind::resource || !pred(*it)) continue;
      detail::DevresNode* n = &*it;
      if (unlink) list_.erase(list_.iterator_to(*n));
      return n;
    }
    return nullptr;
  }
  void* open_group(void* id);
  void close_group(void* id);
  void remove_group(void* id);
  int release_group(void* id);
  SpinLock& lock() noexcept { return lock_; }
  detail::DevresList& list() noexcept { return list_; }
  /// Release (LIFO) and free nodes already taken off the list, in `todo` order reversed.
  void release_nodes(detail::DevresList& todo);

 private:
  detail::DevresGroup* find_group(void* id);
  int remove_nodes(detail::DevresList::iterator first, detail::DevresList::iterator end, detail::DevresList& todo);

  Device& owner_;
  mutable SpinLock lock_;
  detail::DevresList list_;
};

// ---- generic devres API --------------------------------------------------------------------

/// devres_alloc: a zeroed payload of `size` bytes not yet on any list; nullptr on failure.
void* devres_alloc(dr_release_t release, std::size_t size, const char* name = "devres");
/// devres_free: free a payload that was never added (WARNs if it is on a list).
void devres_free(void* res);
/// devres_add: append to dev's list (WARNs, and does nothing, if already on a list).
void devres_add(Device& dev, void* res);
/// devres_find: newest payload with this release function (and match), or nullptr.
void* devres_find(Device& dev, dr_release_t release, dr_match_t match = nullptr, void* match_data = nullptr);
/// devres_get: find-or-add; if a match exists new_res is freed and the existing one returned.
void* devres_get(Device& dev, void* new_res, dr_match_t match = nullptr, void* match_data = nullptr);
/// devres_remove: unlink the newest match and return it (not released, not freed).
void* devres_remove(Device& dev, dr_release_t release, dr_match_t match = nullptr, void* match_data = nullptr);
/// devres_destroy: unlink and free the newest match without calling release. -ENOENT if none.
int devres_destroy(Device& dev, dr_release_t release, dr_match_t match = nullptr, void* match_data = nullptr);
/// devres_release: unlink, call release, free. -ENOENT if none.
int devres_release(Device& dev, dr_release_t release, dr_match_t match = nullptr, void* match_data = nullptr);
/// devres_for_each_res: call fn for every match, newest first, under the list lock.
void devres_for_each_res(Device& dev, dr_release_t release, dr_match_t match, void* match_data,
                         void (*fn)(Device&, void* res, void* data), void* data);

// ---- groups --------------------------------------------------------------------------------

/// devres_open_group: returns the group id (id, or the group's own address if id is nullptr);
/// nullptr on allocation failure.
void* devres_open_group(Device& dev, void* id = nullptr);
/// devres_close_group: close the group `id` (nullptr: the newest open group). WARNs if none.
void devres_close_group(Device& dev, void* id);
/// devres_remove_group: drop the group's markers; its resources stay (now owned by the
/// enclosing group or the device). WARNs if none.
void devres_remove_group(Device& dev, void* id);
/// devres_release_group: release the group's resources LIFO and remove it. Returns the number
/// released; WARNs and returns 0 if the group does not exist.
int devres_release_group(Device& dev, void* id);

// ---- managed actions -----------------------------------------------------------------------

namespace detail {
using erased_fn = void (*)();
struct ActionPayload {
  erased_fn action;
  void (*call)(erased_fn, void*);
  void* data;
};
template <class T>
void call_action(erased_fn f, void* data) {
  reinterpret_cast<void (*)(T*)>(f)(static_cast<T*>(data));
}
void devm_action_release(Device& dev, void* res);
int devm_add_action_node(Device& dev, ActionPayload a, const char* name);
int devm_remove_action_impl(Device& dev, erased_fn action, void* data, bool release, bool warn);
bool devm_is_action_added_impl(Device& dev, erased_fn action, void* data);

template <class F>
void closure_release(Device&, void* res) {
  (*static_cast<F*>(res))();
}
template <class F>
void closure_destroy(DevresNode* n) {
  static_cast<F*>(n->payload)->~F();
  devres_node_free(n);
}
int devm_add_node_checked(Device& dev, DevresNode* n);
}  // namespace detail

/// devm_add_action: run action(data) at release time. 0 or -ENOMEM (action not run).
template <class T>
[[nodiscard]] int devm_add_action(Device& dev, void (*action)(T*), T* data, const char* name = "devm_action") {
  return detail::devm_add_action_node(
      dev, {reinterpret_cast<detail::erased_fn>(action), &detail::call_action<T>, data}, name);
}
/// devm_add_action_or_reset: as devm_add_action, but on failure run action(data) now.
template <class T>
[[nodiscard]] int devm_add_action_or_reset(Device& dev, void (*action)(T*), T* data,
                                           const char* name = "devm_action") {
  int ret = devm_add_action(dev, action, data, name);
  if (ret) action(data);
  return ret;
}
/// Closure form: fn() runs at release. The closure lives inside the node (no extra allocation).
template <class F, class = std::enable_if_t<std::is_invocable_v<F&>>>
[[nodiscard]] int devm_add_action(Device& dev, F&& fn, const char* name) {
  using Fn = std::decay_t<F>;
  static_assert(alignof(Fn) <= alignof(std::max_align_t), "over-aligned closure");
  static constexpr Point site{"devm.add_action"};
  detail::DevresNode* n = detail::devres_node_alloc(sizeof(Fn), site);
  if (!n) return -ENOMEM;
  ::new (n->payload) Fn(std::forward<F>(fn));
  n->name = name;
  n->release = &detail::closure_release<Fn>;
  n->destroy = &detail::closure_destroy<Fn>;
  return detail::devm_add_node_checked(dev, n);
}
/// Closure form of _or_reset: on failure fn() runs now.
template <class F, class = std::enable_if_t<std::is_invocable_v<F&>>>
[[nodiscard]] int devm_add_action_or_reset(Device& dev, F&& fn, const char* name) {
  using Fn = std::decay_t<F>;
  Fn local(std::forward<F>(fn));
  static constexpr Point site{"devm.add_action"};
  detail::DevresNode* n = detail::devres_node_alloc(sizeof(Fn), site);
  if (!n) {
    local();
    return -ENOMEM;
  }
  ::new (n->payload) Fn(std::move(local));
  n->name = name;
  n->release = &detail::closure_release<Fn>;
  n->destroy = &detail::closure_destroy<Fn>;
  return detail::devm_add_node_checked(dev, n);
}
/// devm_remove_action: unlink the newest (action, data) node without calling it; WARN if none.
template <class T>
void devm_remove_action(Device& dev, void (*action)(T*), T* data) {
  detail::devm_remove_action_impl(dev, reinterpret_cast<detail::erased_fn>(action), data, false, true);
}
/// devm_remove_action_nowarn: as above, -ENOENT instead of a WARN.
template <class T>
int devm_remove_action_nowarn(Device& dev, void (*action)(T*), T* data) {
  return detail::devm_remove_action_impl(dev, reinterpret_cast<detail::erased_fn>(action), data, false, false);
}
/// devm_release_action: unlink the newest (action, data) node and call it now; WARN if none.
template <class T>
void devm_release_action(Device& dev, void (*action)(T*), T* data) {
  detail::devm_remove_action_impl(dev, reinterpret_cast<detail::erased_fn>(action), data, true, true);
}
/// devm_is_action_added.
template <class T>
bool devm_is_action_added(Device& dev, void (*action)(T*), T* data) {
  return detail::devm_is_action_added_impl(dev, reinterpret_cast<detail::erased_fn>(action), data);
}

// ---- managed memory ------------------------------------------------------------------------

/// devm_kmalloc: memory freed at release. size 0 → ZERO_SIZE_PTR (nothing registered).
void* devm_kmalloc(Device& dev, std::size_t size, const char* name = nullptr);
void* devm_kzalloc(Device& dev, std::size_t size, const char* name = nullptr);
/// devm_kmalloc_array / devm_kcalloc: nullptr if n * size overflows.
void* devm_kmalloc_array(Device& dev, std::size_t n, std::size_t size, const char* name = nullptr);
void* devm_kcalloc(Device& dev, std::size_t n, std::size_t size, const char* name = nullptr);
char* devm_kstrdup(Device& dev, const char* s);
/// devm_kstrdup_const: returns s itself when it lives in read-only data of the executable.
const char* devm_kstrdup_const(Device& dev, const char* s);
void* devm_kmemdup(Device& dev, const void* src, std::size_t len);
char* devm_kasprintf(Device& dev, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/// devm_krealloc: resize a devm allocation (same node position in the list); nullptr on failure
/// (the old block stays valid). p == nullptr behaves like devm_kmalloc.
void* devm_krealloc(Device& dev, void* p, std::size_t new_size);
/// devm_kfree: free a devm allocation now. NULL, ZERO_SIZE_PTR and rodata strings are no-ops;
/// anything else that is not a devm allocation of dev WARNs (foreign pointer / double free).
void devm_kfree(Device& dev, const void* p);

/// typed convenience: T constructed in devm memory, destroyed (and freed) at release.
template <class T, class... Args>
T* devm_new(Device& dev, const char* name, Args&&... args) {
  static constexpr Point site{"devm.alloc"};
  detail::DevresNode* n = detail::devres_node_alloc(sizeof(T), site);
  if (!n) return nullptr;
  T* obj = ::new (n->payload) T(std::forward<Args>(args)...);
  n->name = name;
  n->release = [](Device&, void*) {};
  n->destroy = [](detail::DevresNode* node) {
    static_cast<T*>(node->payload)->~T();
    detail::devres_node_free(node);
  };
  if (detail::devm_add_node_checked(dev, n)) return nullptr;
  return obj;
}

}  // namespace udrm
