// Device-managed resources (udrm/core/devres.h). Semantics: drivers/base/devres.c.
#include "udrm/core/devres.h"
#include "udrm/core/poison.h"
#include "udrm/core/release_trace.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

#include "udrm/base/log.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"

extern "C" {
// Section boundaries from the linker (glibc crt): read-only data lies in [etext, __data_start).
extern char etext;
extern char __data_start;
}

namespace udrm {
namespace detail {
namespace {

constexpr std::size_t kHeader = (sizeof(DevresNode) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);

}  // namespace

struct DevresGroup {
  DevresNode open;
  DevresNode close;
  void* id = nullptr;
  int color = 0;
};

DevresNode* devres_node_alloc(std::size_t size, const Point& site) {
  if (size > std::numeric_limits<std::size_t>::max() - kHeader) return nullptr;
  if (should_fail(site)) return nullptr;
  void* mem = poison_calloc(kHeader + size);
  if (!mem) return nullptr;
  auto* n = ::new (mem) DevresNode();
  n->payload = static_cast<char*>(mem) + kHeader;
  n->size = size;
  n->owner = current_module();
  if (n->owner) module_pin_code(n->owner);
  return n;
}

// The code pin is dropped by destroy_node() after the node's (possibly module-provided)
// destroy function has returned, never from inside it.
namespace {
thread_local const char* t_releasing_owner = nullptr;  // device name during release_nodes
}

void devres_node_free(DevresNode* n) {
  void* payload = n->payload;
  const std::size_t size = n->size;
  const char* name = n->name;
  n->~DevresNode();
  if (!poison_quarantine(n, payload, size, t_releasing_owner, name)) poison_free(n);
}

DevresNode* devres_node_of(void* payload) {
  return reinterpret_cast<DevresNode*>(static_cast<char*>(payload) - kHeader);
}

namespace {

void destroy_plain(DevresNode* n) { devres_node_free(n); }

void destroy_node(DevresNode* n) {
  Module* owner = n->owner;
  if (n->destroy) {
    n->destroy(n);
  } else {
    destroy_plain(n);
  }
  if (owner) module_unpin_code(owner);
}

void devm_kmalloc_release(Device&, void*) {}

bool in_rodata(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  return a >= reinterpret_cast<uintptr_t>(&etext) && a < reinterpret_cast<uintptr_t>(&__data_start);
}

}  // namespace

void devm_action_release(Device&, void* res) {
  auto* a = static_cast<ActionPayload*>(res);
  a->call(a->action, a->data);
}

// Use-after-unload check before a node's release runs (udrm/core/module.h).
bool release_code_ok(Device& dev, DevresNode& n) {
  if (n.release == &devm_action_release) {
    auto* a = static_cast<ActionPayload*>(n.payload);
    return !release_code_gone("devm action", dev.name().c_str(), n.name,
                              {reinterpret_cast<const void*>(a->call), reinterpret_cast<const void*>(a->action)});
  }
  return !release_code_gone("devm resource", dev.name().c_str(), n.name, {reinterpret_cast<const void*>(n.release)});
}

int devm_add_node_checked(Device& dev, DevresNode* n) {
  dev.devres().add(n);
  return 0;
}

int devm_add_action_node(Device& dev, ActionPayload a, const char* name) {
  static constexpr Point site{"devm.add_action"};
  DevresNode* n = devres_node_alloc(sizeof(ActionPayload), site);
  if (!n) return -ENOMEM;
  *static_cast<ActionPayload*>(n->payload) = a;
  n->name = name;
  n->release = &devm_action_release;
  return devm_add_node_checked(dev, n);
}

int devm_remove_action_impl(Device& dev, erased_fn action, void* data, bool release, bool warn_missing) {
  DevresNode* n = dev.devres().find_if(
      [&](DevresNode& node) {
        if (node.release != &devm_action_release) return false;
        auto* a = static_cast<ActionPayload*>(node.payload);
        return a->action == action && a->data == data;
      },
      true);
  if (!n) {
    if (warn_missing)
      warn(LogCat::devres, "%s: devm_%s_action: no such action registered", dev.name().c_str(),
           release ? "release" : "remove");
    return -ENOENT;
  }
  if (release) {
    log_dbg(LogCat::devres, "%s: RELEASE %s", dev.name().c_str(), n->name);
    trace_release(TraceRelease::devm, dev.name().c_str(), n->name);
    if (release_code_ok(dev, *n)) n->release(dev, n->payload);
  }
  destroy_node(n);
  return 0;
}

bool devm_is_action_added_impl(Device& dev, erased_fn action, void* data) {
  std::lock_guard<SpinLock> l(dev.devres().lock());
  for (auto& node : dev.devres().list()) {
    if (node.kind != DevresNode::Kind::resource || node.release != &devm_action_release) continue;
    auto* a = static_cast<ActionPayload*>(node.payload);
    if (a->action == action && a->data == data) return true;
  }
  return false;
}

}  // namespace detail

using detail::DevresGroup;
using detail::DevresList;
using detail::DevresNode;

// ---- the list -------------------------------------------------------------------------------

DevresHead::~DevresHead() {
  // Whatever is still here when the device object dies is released now (device_release).
  if (list_.empty()) return;
  release_all();
  // A release callback that adds a resource to a device in its final put is a use-after-free
  // in the kernel. Here the list dies with the device, so anything added now would leak
  // silently: report it and release it too (bounded, in case a callback keeps re-adding).
  for (int pass = 0; !list_.empty(); ++pass) {
    if (pass == 16) {
      warn(LogCat::devres, "%s: resources keep being added during device_release; leaking them",
           owner_.name().c_str());
      list_.clear();
      return;
    }
    warn(LogCat::devres, "%s: resources added during device_release (final put); releasing them too",
         owner_.name().c_str());
    release_all();
  }
}

bool DevresHead::empty() const {
  std::lock_guard<SpinLock> l(lock_);
  return list_.empty();
}

std::size_t DevresHead::count() const {
  std::lock_guard<SpinLock> l(lock_);
  std::size_t n = 0;
  for (const auto& node : list_) n += node.kind == DevresNode::Kind::resource;
  return n;
}

std::vector<std::string> DevresHead::names() const {
  std::lock_guard<SpinLock> l(lock_);
  std::vector<std::string> out;
  for (const auto& node : list_) {
    if (node.kind == DevresNode::Kind::resource) {
      out.emplace_back(node.name);
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "group<%s %p>", node.kind == DevresNode::Kind::group_open ? "open" : "close",
                    node.group->id);
      out.emplace_back(buf);
    }
  }
  return out;
}

void DevresHead::add(DevresNode* n) {
  UDRM_POINT("devres.add");
  n->name = detail::module_stable_name(n->name);  // a plugin's literal must outlive its dlclose
  std::lock_guard<SpinLock> l(lock_);
  list_.push_back(*n);
  if (n->kind == DevresNode::Kind::resource)
    if (ReleaseTracer* t = detail::release_tracer())
      t->added(ReleaseTracer::Kind::devm, &owner_, owner_.name().c_str(), n, n->name);
  log_dbg(LogCat::devres, "%s: ADD %p %s (%zu bytes)", owner_.name().c_str(), n->payload, n->name, n->size);
}

DevresNode* DevresHead::find(dr_release_t release, dr_match_t match, void* data, bool unlink) {
  return find_if([&](DevresNode& n) { return n.release == release && (!match || match(owner_, n.payload, data)); },
                 unlink);
}

DevresNode* DevresHead::find_node(const void* payload, bool unlink) {
  return find_if([&](DevresNode& n) { return n.payload == payload; }, unlink);
}

void DevresHead::release_nodes(DevresList& todo) {
  // Strict LIFO: the newest node (tail) first. The list lock is not held here.
  const char* prev_owner = detail::t_releasing_owner;
  detail::t_releasing_owner = owner_.name().c_str();
  ReleaseTracer* tracer = detail::release_tracer();
  if (tracer) tracer->batch(ReleaseTracer::Kind::devm, &owner_, true);
  while (!todo.empty()) {
    DevresNode& n = todo.back();
    todo.pop_back();
    if (n.kind == DevresNode::Kind::group_open) {
      delete n.group;  // a wholly-contained group: both markers go
      continue;
    }
    log_dbg(LogCat::devres, "%s: RELEASE %p %s (%zu bytes)", owner_.name().c_str(), n.payload, n.name, n.size);
    if (tracer) tracer->releasing(ReleaseTracer::Kind::devm, &owner_, owner_.name().c_str(), &n, n.name);
    trace_release(TraceRelease::devm, owner_.name().c_str(), n.name);
    if (n.release && detail::release_code_ok(owner_, n)) n.release(owner_, n.payload);
    detail::destroy_node(&n);
  }
  if (tracer) tracer->batch(ReleaseTracer::Kind::devm, &owner_, false);
  detail::t_releasing_owner = prev_owner;
}

int DevresHead::release_all() {
  UDRM_POINT("devres.release_all");
  DevresList todo;
  int cnt = 0;
  {
    std::lock_guard<SpinLock> l(lock_);
    if (list_.empty()) return 0;
    cnt = remove_nodes(list_.begin(), list_.end(), todo);
  }
  release_nodes(todo);
  return cnt;
}

// Two-pass rule of devres.c: every resource in [first, end) is released; a group in the range
// goes away only if wholly contained (both markers inside, or open with its open marker inside).
int DevresHead::remove_nodes(DevresList::iterator first, DevresList::iterator end, DevresList& todo) {
  int cnt = 0, groups = 0;
  // The node before the range survives both passes; pass 2 restarts after it.
  const auto anchor = std::prev(first);
  // Pass 1: take resources out; reset the colour of every group that has a marker in range.
  for (auto it = first; it != end;) {
    DevresNode& n = *it++;
    if (n.kind == DevresNode::Kind::resource) {
      list_.erase(list_.iterator_to(n));
      todo.push_back(n);
      ++cnt;
    } else {
      n.group->color = 0;
      ++groups;
    }
  }
  if (!groups) return cnt;
  // Pass 2: only markers remain in range. Colour 2 = wholly contained.
  for (auto it = std::next(anchor); it != end;) {
    DevresNode& n = *it++;
    DevresGroup* g = n.group;
    g->color++;
    if (!g->close.is_linked()) g->color++;
    if (g->color == 2) {
      list_.erase(list_.iterator_to(g->open));
      todo.push_back(g->open);
      if (g->close.is_linked()) list_.erase(list_.iterator_to(g->close));
    }
  }
  return cnt;
}

// ---- groups ---------------------------------------------------------------------------------

DevresGroup* DevresHead::find_group(void* id) {
  for (auto it = list_.rbegin(); it != list_.rend(); ++it) {
    if (it->kind != DevresNode::Kind::group_open) continue;
    DevresGroup* g = it->group;
    if (id) {
      if (g->id == id) return g;
    } else if (!g->close.is_linked()) {
      return g;
    }
  }
  return nullptr;
}

void* DevresHead::open_group(void* id) {
  static constexpr Point site{"devres.open_group"};
  if (should_fail(site)) return nullptr;
  auto* g = new (std::nothrow) DevresGroup();
  if (!g) return nullptr;
  g->id = id ? id : g;
  for (DevresNode* m : {&g->open, &g->close}) {
    m->group = g;
    m->name = "group";
  }
  g->open.kind = DevresNode::Kind::group_open;
  g->close.kind = DevresNode::Kind::group_close;
  std::lock_guard<SpinLock> l(lock_);
  list_.push_back(g->open);
  return g->id;
}

void DevresHead::close_group(void* id) {
  std::lock_guard<SpinLock> l(lock_);
  DevresGroup* g = find_group(id);
  if (!g) {
    warn(LogCat::devres, "%s: devres_close_group: no such group %p", owner_.name().c_str(), id);
    return;
  }
  if (g->close.is_linked()) {
    warn(LogCat::devres, "%s: devres_close_group: group %p already closed", owner_.name().c_str(), id);
    return;
  }
  list_.push_back(g->close);
}

void DevresHead::remove_group(void* id) {
  DevresGroup* g;
  {
    std::lock_guard<SpinLock> l(lock_);
    g = find_group(id);
    if (g) {
      list_.erase(list_.iterator_to(g->open));
      if (g->close.is_linked()) list_.erase(list_.iterator_to(g->close));
    }
  }
  if (!g) {
    warn(LogCat::devres, "%s: devres_remove_group: no such group %p", owner_.name().c_str(), id);
    return;
  }
  delete g;
}

int DevresHead::release_group(void* id) {
  UDRM_POINT("devres.release_group");
  DevresList todo;
  int cnt;
  {
    std::lock_guard<SpinLock> l(lock_);
    DevresGroup* g = find_group(id);
    if (!g) {
      // devres.c: an empty list means the device is dying (release_all already took the
      // groups away) -- don't warn then.
      if (!list_.empty())
        warn(LogCat::devres, "%s: devres_release_group: no such group %p", owner_.name().c_str(), id);
      return 0;
    }
    auto first = list_.iterator_to(g->open);
    auto end = g->close.is_linked() ? std::next(list_.iterator_to(g->close)) : list_.end();
    cnt = remove_nodes(first, end, todo);
  }
  release_nodes(todo);
  return cnt;
}

// ---- generic API ------------------------------------------------------------------------------

void* devres_alloc(dr_release_t release, std::size_t size, const char* name) {
  static constexpr Point site{"devres.alloc"};
  DevresNode* n = detail::devres_node_alloc(size, site);
  if (!n) return nullptr;
  n->release = release;
  n->name = name;
  return n->payload;
}

void devres_free(void* res) {
  if (!res) return;
  DevresNode* n = detail::devres_node_of(res);
  if (n->is_linked()) {
    warn(LogCat::devres, "devres_free: %s (%p) is still on a device's list", n->name, res);
    return;
  }
  detail::destroy_node(n);
}

void devres_add(Device& dev, void* res) {
  DevresNode* n = detail::devres_node_of(res);
  if (n->is_linked()) {
    warn(LogCat::devres, "%s: devres_add: %s (%p) is already on a list", dev.name().c_str(), n->name, res);
    return;
  }
  dev.devres().add(n);
}

void* devres_find(Device& dev, dr_release_t release, dr_match_t match, void* match_data) {
  DevresNode* n = dev.devres().find(release, match, match_data, false);
  return n ? n->payload : nullptr;
}

void* devres_get(Device& dev, void* new_res, dr_match_t match, void* match_data) {
  DevresNode* fresh = detail::devres_node_of(new_res);
  void* existing = nullptr;
  {
    DevresHead& d = dev.devres();
    std::lock_guard<SpinLock> l(d.lock());
    for (auto it = d.list().rbegin(); it != d.list().rend(); ++it) {
      if (it->kind == DevresNode::Kind::resource && it->release == fresh->release &&
          (!match || match(dev, it->payload, match_data))) {
        existing = it->payload;  // read under the lock: the node may go once it is dropped
        break;
      }
    }
    if (!existing) d.list().push_back(*fresh);
  }
  if (existing) {
    detail::destroy_node(fresh);
    return existing;
  }
  return new_res;
}

void* devres_remove(Device& dev, dr_release_t release, dr_match_t match, void* match_data) {
  DevresNode* n = dev.devres().find(release, match, match_data, true);
  return n ? n->payload : nullptr;
}

int devres_destroy(Device& dev, dr_release_t release, dr_match_t match, void* match_data) {
  DevresNode* n = dev.devres().find(release, match, match_data, true);
  if (!n) return -ENOENT;
  detail::destroy_node(n);
  return 0;
}

int devres_release(Device& dev, dr_release_t release, dr_match_t match, void* match_data) {
  DevresNode* n = dev.devres().find(release, match, match_data, true);
  if (!n) return -ENOENT;
  trace_release(TraceRelease::devm, dev.name().c_str(), n->name);
  if (detail::release_code_ok(dev, *n)) n->release(dev, n->payload);
  detail::destroy_node(n);
  return 0;
}

void devres_for_each_res(Device& dev, dr_release_t release, dr_match_t match, void* match_data,
                         void (*fn)(Device&, void*, void*), void* data) {
  DevresHead& d = dev.devres();
  std::lock_guard<SpinLock> l(d.lock());
  for (auto it = d.list().rbegin(); it != d.list().rend(); ++it) {
    if (it->kind == DevresNode::Kind::resource && it->release == release &&
        (!match || match(dev, it->payload, match_data)))
      fn(dev, it->payload, data);
  }
}

void* devres_open_group(Device& dev, void* id) { return dev.devres().open_group(id); }
void devres_close_group(Device& dev, void* id) { dev.devres().close_group(id); }
void devres_remove_group(Device& dev, void* id) { dev.devres().remove_group(id); }
int devres_release_group(Device& dev, void* id) { return dev.devres().release_group(id); }

// ---- managed memory -----------------------------------------------------------------------------

void* devm_kmalloc(Device& dev, std::size_t size, const char* name) {
  if (size == 0) return ZERO_SIZE_PTR;
  static constexpr Point site{"devm.kmalloc"};
  DevresNode* n = detail::devres_node_alloc(size, site);
  if (!n) return nullptr;
  n->release = &detail::devm_kmalloc_release;
  n->name = name ? name : "devm_kmalloc";
  dev.devres().add(n);
  return n->payload;
}

void* devm_kzalloc(Device& dev, std::size_t size, const char* name) {
  return devm_kmalloc(dev, size, name);  // nodes are always zeroed
}

void* devm_kmalloc_array(Device& dev, std::size_t n, std::size_t size, const char* name) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  return devm_kmalloc(dev, bytes, name);
}

void* devm_kcalloc(Device& dev, std::size_t n, std::size_t size, const char* name) {
  return devm_kmalloc_array(dev, n, size, name);
}

char* devm_kstrdup(Device& dev, const char* s) {
  if (!s) return nullptr;
  std::size_t len = std::strlen(s) + 1;
  auto* p = static_cast<char*>(devm_kmalloc(dev, len, "devm_kstrdup"));
  if (p) std::memcpy(p, s, len);
  return p;
}

const char* devm_kstrdup_const(Device& dev, const char* s) {
  if (s && detail::in_rodata(s)) return s;
  return devm_kstrdup(dev, s);
}

void* devm_kmemdup(Device& dev, const void* src, std::size_t len) {
  void* p = devm_kmalloc(dev, len, "devm_kmemdup");
  if (p && !zero_or_null_ptr(p)) std::memcpy(p, src, len);
  return p;
}

char* devm_kasprintf(Device& dev, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  if (len < 0) return nullptr;
  auto* p = static_cast<char*>(devm_kmalloc(dev, static_cast<std::size_t>(len) + 1, "devm_kasprintf"));
  if (!p) return nullptr;
  va_start(ap, fmt);
  std::vsnprintf(p, static_cast<std::size_t>(len) + 1, fmt, ap);
  va_end(ap);
  return p;
}

void* devm_krealloc(Device& dev, void* p, std::size_t new_size) {
  if (zero_or_null_ptr(p)) return devm_kmalloc(dev, new_size);
  if (new_size == 0) {
    devm_kfree(dev, p);
    return ZERO_SIZE_PTR;
  }
  DevresHead& d = dev.devres();
  auto is_block = [p](DevresNode& n) {
    return n.kind == DevresNode::Kind::resource && n.payload == p && n.release == &detail::devm_kmalloc_release;
  };
  auto not_managed = [&] {
    warn(LogCat::devres, "%s: devm_krealloc: %p is not a devm allocation of this device", dev.name().c_str(), p);
    return nullptr;
  };
  std::size_t old_size = 0;
  {
    std::lock_guard<SpinLock> l(d.lock());
    DevresNode* old = nullptr;
    for (auto& n : d.list())
      if (is_block(n)) old = &n;
    if (!old) return not_managed();
    old_size = old->size;
  }
  if (new_size <= old_size) return p;
  static constexpr Point site{"devm.kmalloc"};
  DevresNode* n = detail::devres_node_alloc(new_size, site);
  if (!n) return nullptr;
  n->release = &detail::devm_kmalloc_release;
  DevresNode* old = nullptr;
  {
    // As devres.c: look the block up again under the lock that replaces it (the lock was
    // dropped to allocate), and take the old node's place so release order is unchanged.
    std::lock_guard<SpinLock> l(d.lock());
    for (auto& node : d.list())
      if (is_block(node)) old = &node;
    if (old) {
      n->name = old->name;
      d.list().insert(d.list().iterator_to(*old), *n);
      d.list().erase(d.list().iterator_to(*old));
    }
  }
  if (!old) {
    detail::destroy_node(n);
    return not_managed();
  }
  // The list links are no longer shared; the contents can be copied without the lock.
  std::memcpy(n->payload, old->payload, std::min(old->size, new_size));
  detail::destroy_node(old);
  return n->payload;
}

void devm_kfree(Device& dev, const void* p) {
  if (zero_or_null_ptr(p) || detail::in_rodata(p)) return;
  DevresNode* n = dev.devres().find_if(
      [&](DevresNode& node) { return node.payload == p && node.release == &detail::devm_kmalloc_release; }, true);
  if (!n) {
    warn(LogCat::devres, "%s: devm_kfree: %p is not a devm allocation of this device (foreign pointer or double free)",
         dev.name().c_str(), p);
    return;
  }
  const char* prev_owner = detail::t_releasing_owner;  // names the owner in a poison report
  detail::t_releasing_owner = dev.name().c_str();
  detail::destroy_node(n);
  detail::t_releasing_owner = prev_owner;
}

}  // namespace udrm
