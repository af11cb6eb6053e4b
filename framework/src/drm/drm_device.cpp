// The DRM device object and drmm (udrm/drm/drm_device.h, udrm/drm/managed.h).
#include "udrm/drm/drm_device.h"
#include "udrm/core/release_trace.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

#include "udrm/base/log.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"
#include "udrm/drm/minor.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace detail {
namespace {
constexpr std::size_t kHeader = (sizeof(DrmmNode) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);

void drmm_kmalloc_release(DrmDevice&, void*) {}

void drmm_action_release(DrmDevice& dev, void* res) {
  auto* a = static_cast<DrmmAction*>(res);
  a->call(a->action, dev, a->data);
}
}  // namespace

// Use-after-unload check before a node's release runs (udrm/core/module.h).
bool drmm_release_code_ok(DrmDevice& dev, DrmmNode& n) {
  const char* owner = dev.driver().name;
  if (n.release == &drmm_action_release) {
    auto* a = static_cast<DrmmAction*>(n.payload);
    return !release_code_gone("drmm action", owner, n.name,
                              {reinterpret_cast<const void*>(a->call), reinterpret_cast<const void*>(a->action)});
  }
  return !release_code_gone("drmm resource", owner, n.name, {reinterpret_cast<const void*>(n.release)});
}

namespace {

void destroy(DrmmNode* n) {
  Module* owner = n->owner;
  if (n->destroy) {
    n->destroy(n);
  } else {
    drmm_node_free(n);
  }
  if (owner) module_unpin_code(owner);
}
}  // namespace

DrmmNode* drmm_node_alloc(std::size_t size, const Point& site) {
  if (size > std::numeric_limits<std::size_t>::max() - kHeader) return nullptr;
  if (should_fail(site)) return nullptr;
  void* mem = std::calloc(1, kHeader + size);
  if (!mem) return nullptr;
  auto* n = ::new (mem) DrmmNode();
  n->payload = static_cast<char*>(mem) + kHeader;
  n->size = size;
  n->owner = current_module();
  if (n->owner) module_pin_code(n->owner);
  return n;
}

// The code pin is dropped by destroy() after the node's (possibly module-provided) destroy
// function has returned, never from inside it.
void drmm_node_free(DrmmNode* n) {
  n->~DrmmNode();
  std::free(n);
}

void drmm_add_node(DrmDevice& dev, DrmmNode* n) {
  UDRM_POINT("drmm.add");
  n->name = module_stable_name(n->name);  // a plugin's literal must outlive its dlclose
  std::lock_guard<SpinLock> l(dev.managed_lock_);
  dev.managed_.push_front(*n);
  if (ReleaseTracer* t = release_tracer())
    t->added(ReleaseTracer::Kind::drmm, &dev, dev.driver().name, n, n->name);
  log_dbg(LogCat::drmm, "%s: ADD %p %s (%zu bytes)", dev.driver().name, n->payload, n->name, n->size);
}

int drmm_add_action_impl(DrmDevice& dev, DrmmAction a, const char* name) {
  static constexpr Point site{"drmm.add_action"};
  DrmmNode* n = drmm_node_alloc(sizeof(DrmmAction), site);
  if (!n) return -ENOMEM;
  *static_cast<DrmmAction*>(n->payload) = a;
  n->name = name;
  n->release = &drmm_action_release;
  drmm_add_node(dev, n);
  return 0;
}

void drmm_release_action_impl(DrmDevice& dev, drmm_erased_fn action, void* data) {
  DrmmNode* found = nullptr;
  {
    std::lock_guard<SpinLock> l(dev.managed_lock_);
    // Oldest first (the list has the newest at its head), data == nullptr matches any.
    for (auto it = dev.managed_.rbegin(); it != dev.managed_.rend(); ++it) {
      if (it->release != &drmm_action_release) continue;
      auto* a = static_cast<DrmmAction*>(it->payload);
      if (a->action == action && (data == nullptr || a->data == data)) {
        found = &*it;
        dev.managed_.erase(dev.managed_.iterator_to(*found));
        break;
      }
    }
  }
  if (!found) {
    warn(LogCat::drmm, "%s: drmm_release_action: no such action", dev.driver().name);
    return;
  }
  // The kernel quirk: the caller's data, not the stored data.
  auto* a = static_cast<DrmmAction*>(found->payload);
  a->call(a->action, dev, data);
  destroy(found);
}
}  // namespace detail

// ---- drmm allocations ------------------------------------------------------------------------

void* drmm_kmalloc(DrmDevice& dev, std::size_t size, const char* name) {
  static constexpr Point site{"drmm.kmalloc"};
  detail::DrmmNode* n = detail::drmm_node_alloc(size, site);
  if (!n) return nullptr;
  n->name = name ? name : "drmm_kmalloc";
  n->release = &detail::drmm_kmalloc_release;
  detail::drmm_add_node(dev, n);
  return n->payload;
}

void* drmm_kzalloc(DrmDevice& dev, std::size_t size, const char* name) { return drmm_kmalloc(dev, size, name); }

void* drmm_kmalloc_array(DrmDevice& dev, std::size_t n, std::size_t size, const char* name) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  return drmm_kmalloc(dev, bytes, name);
}

void* drmm_kcalloc(DrmDevice& dev, std::size_t n, std::size_t size, const char* name) {
  return drmm_kmalloc_array(dev, n, size, name);
}

char* drmm_kstrdup(DrmDevice& dev, const char* s) {
  if (!s) return nullptr;
  std::size_t len = std::strlen(s) + 1;
  auto* p = static_cast<char*>(drmm_kmalloc(dev, len, "drmm_kstrdup"));
  if (p) std::memcpy(p, s, len);
  return p;
}

void drmm_kfree(DrmDevice& dev, const void* p) {
  if (!p) return;
  detail::DrmmNode* found = nullptr;
  {
    std::lock_guard<SpinLock> l(dev.managed_lock_);
    for (auto& n : dev.managed_) {
      if (n.payload == p) {
        found = &n;
        dev.managed_.erase(dev.managed_.iterator_to(n));
        break;
      }
    }
  }
  if (!found) {
    warn(LogCat::drmm, "%s: drmm_kfree: %p is not a drmm allocation of this device", dev.driver().name, p);
    return;
  }
  detail::destroy(found);
}

Mutex* drmm_mutex_init(DrmDevice& dev, const char* name) { return drmm_new<Mutex>(dev, "drmm_mutex", name); }

// ---- DrmDevice --------------------------------------------------------------------------------

DrmDevice::DrmDevice() = default;

DrmDevice::~DrmDevice() { UDRM_WARN_ON(!managed_.empty(), LogCat::drmm); }

void DrmDevice::init_release(DrmDevice& dev, void*) {
  // The first drmm action, so the last to run: the parent reference goes only now.
  log_dbg(LogCat::drm, "%s: drm_dev_init_release", dev.driver().name);
  dev.parent_.reset();
}

int DrmDevice::init(const DrmDriver& driver, Device& parent) {
  driver_ = &driver;
  world_ = &parent.world();
  owner_ = parent.driver() ? parent.driver()->owner() : current_module();
  // The container's destructor is the driver's code: pinned until it has run (kref_release).
  if (owner_) module_pin_code(owner_);
  parent_ = &parent;
  int ret = drmm_add_action_or_reset<void>(*this, &DrmDevice::init_release, nullptr, "drm_dev_init_release");
  if (ret) return ret;
  if (UDRM_SHOULD_FAIL("drm.dev_init")) {
    managed_release();  // partial rollback, LIFO
    return -ENOMEM;
  }
  // The minor indices are reserved from here to the final put (drm_minor_alloc).
  ret = drm_minors_alloc(*this);
  if (ret) {
    managed_release();
    return ret;
  }
  return 0;
}

void DrmDevice::managed_release() {
  // Only at the final put (or init rollback): nothing else can touch the list now.
  ReleaseTracer* tracer = detail::release_tracer();
  if (tracer) tracer->batch(ReleaseTracer::Kind::drmm, this, true);
  for (;;) {
    detail::DrmmNode* n;
    {
      std::lock_guard<SpinLock> l(managed_lock_);
      if (managed_.empty()) break;
      n = &managed_.front();
      managed_.pop_front();
    }
    log_dbg(LogCat::drmm, "%s: RELEASE %p %s", driver_ ? driver_->name : "?", n->payload, n->name);
    if (tracer) tracer->releasing(ReleaseTracer::Kind::drmm, this, driver_ ? driver_->name : "?", n, n->name);
    trace_release(TraceRelease::drmm, driver_ ? driver_->name : "?", n->name);
    if (n->release && detail::drmm_release_code_ok(*this, *n)) n->release(*this, n->payload);
    detail::destroy(n);
  }
  if (tracer) tracer->batch(ReleaseTracer::Kind::drmm, this, false);
}

void DrmDevice::kref_release() noexcept {
  UDRM_POINT("drm.dev_release");
  log_dbg(LogCat::drm, "%s: drm_dev_release", driver_ ? driver_->name : "?");
  if (driver_ && driver_->release) driver_->release(*this);
  managed_release();
  if (world_) drm_minors_free(*this);  // the indices stay reserved until now
  Module* owner = owner_;
  delete this;  // the container goes last
  if (owner) module_unpin_code(owner);
}

int DrmDevice::register_device() {
  if (is_unplugged()) return -ENODEV;
  if (UDRM_SHOULD_FAIL("drm.dev_register")) return -ENOMEM;
  bool expected = false;
  if (!registered_.compare_exchange_strong(expected, true)) {
    warn(LogCat::drm, "%s: drm_dev_register called twice", driver_->name);
    return -EINVAL;
  }
  drm_minors_register(*this);
  log_dbg(LogCat::drm, "%s: registered", driver_->name);
  return 0;
}

void DrmDevice::unregister_device() {
  if (!registered_.exchange(false)) return;
  drm_minors_unregister(*this);
  log_dbg(LogCat::drm, "%s: unregistered", driver_->name);
}

void DrmDevice::unplug() {
  UDRM_POINT("drm.dev_unplug");
  trace_device(TraceDevice::unplug, driver_ ? driver_->name : "?");
  gate_.unplug();
  unregister_device();
}

std::vector<std::string> DrmDevice::drmm_names() const {
  std::lock_guard<SpinLock> l(managed_lock_);
  std::vector<std::string> out;
  for (auto it = managed_.rbegin(); it != managed_.rend(); ++it) out.emplace_back(it->name);
  return out;
}

std::size_t DrmDevice::drmm_count() const {
  std::lock_guard<SpinLock> l(managed_lock_);
  return managed_.size();
}

// The binding ends (devm release after remove()). A CRTC still active here means remove()
// never switched the outputs off (no atomic_helper_shutdown, or one whose disable paths were
// skipped): the hardware keeps scanning out memory that is about to be freed. The kernel
// says nothing; udrm WARNs, so the unplug-before-shutdown trap is never silent.
void detail::devm_drm_dev_put(DrmDevice* d) {
  if (d && d->mode_config) {
    for (Crtc* crtc : d->mode_config->crtcs) {
      if (crtc && crtc->state && crtc->state->active)
        warn(LogCat::drm, "%s: [CRTC:%u:%s] still active at unbind: remove() must switch outputs off "
             "(atomic_helper_shutdown)", d->driver().name, crtc->id, crtc->name.c_str());
    }
  }
  drm_dev_put(d);
}

}  // namespace udrm
