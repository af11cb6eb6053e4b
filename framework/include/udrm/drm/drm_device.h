// udrm/drm/drm_device.h — struct drm_device: the refcounted DRM device object.
//
// A driver embeds DrmDevice in its own container (struct my_drm : udrm::DrmDevice) and
// allocates it with devm_drm_dev_alloc<T>(parent, driver): the container is the drmm "final
// kfree" (freed last, after every drmm action), the DrmDevice holds a reference to the parent
// device object until its last drmm action, and a devm action on the parent drops the
// binding's reference at unbind. Open files and in-flight work hold their own references, so
// the object (and everything drmm) outlives the binding until the last of them lets go.
//
// Hardware access and ioctls run inside dev_enter() sections; unplug() (drm_dev_unplug) closes
// the gate, waits for every section, and unregisters: afterwards every ioctl is -ENODEV while
// close() and reading queued events keep working. The gate is per device.
//
// Lifetime: Ref<DrmDevice> (drm_dev_get/put). Final put: driver release hook, drmm actions
// LIFO, then the container. Unplug is terminal; a rebind creates a new instance.
// Context: dev_enter/exit: any context, never sleep. unplug/register/unregister: process
// context, may sleep. Final put: whatever context drops the last reference (process context).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/base/spinlock.h"
#include "udrm/core/device.h"
#include "udrm/core/gate.h"
#include "udrm/drm/managed.h"

namespace udrm {

class Module;
class World;
class ModeConfig;
struct VblankSet;

/// struct drm_driver: what the driver is (static description and hooks).
/// drm_driver.driver_features bits (DRIVER_*).
enum DriverFeature : uint32_t {
  DRIVER_GEM = 1u << 0,
  DRIVER_MODESET = 1u << 1,
  DRIVER_RENDER = 1u << 3,
  DRIVER_ATOMIC = 1u << 4,
};

class DrmFile;

struct DrmDriver {
  const char* name = "udrm";
  const char* desc = "";
  const char* date = "20260101";
  int major = 1, minor = 0, patchlevel = 0;
  uint32_t features = 0;  // DriverFeature bits
  /// Called at the final put, before drmm actions (struct drm_driver.release).
  void (*release)(DrmDevice& dev) = nullptr;
  /// drm_driver.open / postclose / lastclose. Process context; open may fail (-errno).
  int (*open)(DrmDevice& dev, DrmFile& file) = nullptr;
  void (*postclose)(DrmDevice& dev, DrmFile& file) = nullptr;
  void (*lastclose)(DrmDevice& dev) = nullptr;
};

namespace detail {
struct DrmmNode : boost::intrusive::list_base_hook<> {
  const char* name = "";
  void (*release)(DrmDevice&, void*) = nullptr;
  void (*destroy)(DrmmNode*) = nullptr;
  void* payload = nullptr;
  std::size_t size = 0;
  Module* owner = nullptr;
};
DrmmNode* drmm_node_alloc(std::size_t size, const Point& site);
void drmm_node_free(DrmmNode* n);
void drmm_add_node(DrmDevice& dev, DrmmNode* n);
}  // namespace detail

class DrmDevice : public RefCounted<DrmDevice> {
 public:
  DrmDevice(const DrmDevice&) = delete;
  DrmDevice& operator=(const DrmDevice&) = delete;

  /// The parent device object (held until the last drmm action; nullptr after).
  Device* dev() const noexcept { return parent_.get(); }
  const DrmDriver& driver() const noexcept { return *driver_; }
  World& world() const noexcept { return *world_; }
  /// The module whose code the driver is (pinned by open files).
  Module* owner() const noexcept { return owner_; }

  /// drm_dev_enter. `if (auto g = drm.dev_enter()) { ...hardware... }`
  EnterGuard dev_enter() noexcept { return gate_.enter(); }
  /// The teardown section (core/gate.h): inside it, on this task only, dev_enter() keeps
  /// succeeding after unplug so remove()'s disable commit still switches the hardware off.
  /// atomic_helper_shutdown opens one itself.
  [[nodiscard]] Gate::TeardownScope teardown_scope() noexcept { return Gate::TeardownScope(gate_); }
  /// drm_dev_is_unplugged.
  bool is_unplugged() const noexcept { return gate_.is_unplugged(); }
  /// drm_dev_unplug: close the gate, wait for every section, unregister. Idempotent, terminal.
  void unplug();

  /// drm_dev_register: publish the device. -EINVAL if already registered or unplugged.
  int register_device();
  /// drm_dev_unregister: unpublish (open files keep working unless the device is unplugged).
  void unregister_device();
  bool is_registered() const noexcept { return registered_.load(std::memory_order_acquire); }

  bool has_feature(uint32_t f) const noexcept { return driver_ && (driver_->features & f) == f; }

  /// KMS and file state (owned by the layers that create them; freed by drmm or at the final
  /// put). See kms/mode_config.h, kms/vblank.h, drm/minor.h, drm/file.h.
  class ModeConfig* mode_config = nullptr;
  struct VblankSet* vblank = nullptr;
  int minor_primary = -1, minor_render = -1;
  /// event_lock: protects every file's event lists and every CRTC state's event hand-off.
  SpinLock event_lock;
  /// filelist (drm_device.filelist) under filelist_mutex; open_count for lastclose.
  Mutex filelist_mutex{"drm.filelist"};
  std::vector<DrmFile*> filelist;
  int open_count = 0;
  /// The current master file (the first opener becomes master), under filelist_mutex.
  DrmFile* master = nullptr;

  /// Names of drmm nodes, oldest first (diagnostics, tests).
  std::vector<std::string> drmm_names() const;
  std::size_t drmm_count() const;

  void kref_release() noexcept;

  /// drm_dev_init for a container allocated by the caller (the deprecated drm_dev_alloc path and
  /// devm_drm_dev_alloc use it). On failure the partial drmm state has been released.
  int init(const DrmDriver& driver, Device& parent);

 protected:
  DrmDevice();
  virtual ~DrmDevice();

 private:
  friend void detail::drmm_add_node(DrmDevice&, detail::DrmmNode*);
  friend void detail::drmm_release_action_impl(DrmDevice&, detail::drmm_erased_fn, void*);
  friend void drmm_kfree(DrmDevice&, const void*);
  void managed_release();
  static void init_release(DrmDevice& dev, void*);

  const DrmDriver* driver_ = nullptr;
  World* world_ = nullptr;
  Module* owner_ = nullptr;
  Ref<Device> parent_;
  Gate gate_{"drm_dev"};
  std::atomic<bool> registered_{false};
  mutable SpinLock managed_lock_;
  boost::intrusive::list<detail::DrmmNode> managed_;  // newest at the head
};

/// drm_dev_get / drm_dev_put (NULL-safe).
inline void drm_dev_get(DrmDevice* d) noexcept {
  if (d) d->get();
}
inline void drm_dev_put(DrmDevice* d) {
  if (d) d->put();
}

namespace detail {
void devm_drm_dev_put(DrmDevice* d);
}

/// devm_drm_dev_alloc: allocate the driver's container T (derived from DrmDevice, constructed
/// with args), init it against parent, and register a devm action on parent that drops the
/// initial reference at unbind. Returns nullptr (and *err) on failure; the container is freed.
template <class T, class... Args>
T* devm_drm_dev_alloc(Device& parent, const DrmDriver& driver, int* err, Args&&... args) {
  static_assert(std::is_base_of_v<DrmDevice, T>, "the container must derive from udrm::DrmDevice");
  int e = 0;
  T* obj = nullptr;
  if (UDRM_SHOULD_FAIL("drm.dev_alloc")) {
    e = -ENOMEM;
  } else {
    obj = new (std::nothrow) T(std::forward<Args>(args)...);
    if (!obj) e = -ENOMEM;
  }
  if (obj) {
    e = obj->init(driver, parent);
    if (e) {
      obj->put();  // frees the container (drmm state already rolled back)
      obj = nullptr;
    } else {
      e = devm_add_action_or_reset(parent, &detail::devm_drm_dev_put, static_cast<DrmDevice*>(obj),
                                   "devm_drm_dev_init_release");
      if (e) obj = nullptr;  // the action ran: the container is gone
    }
  }
  if (err) *err = e;
  return obj;
}

template <class T, class... Args>
T* drmm_new(DrmDevice& dev, const char* name, Args&&... args) {
  static constexpr Point site{"drmm.alloc"};
  detail::DrmmNode* n = detail::drmm_node_alloc(sizeof(T), site);
  if (!n) return nullptr;
  T* obj = ::new (n->payload) T(std::forward<Args>(args)...);
  n->name = name;
  n->destroy = [](detail::DrmmNode* node) {
    static_cast<T*>(node->payload)->~T();
    detail::drmm_node_free(node);
  };
  detail::drmm_add_node(dev, n);
  return obj;
}

}  // namespace udrm
