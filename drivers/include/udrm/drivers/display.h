// udrm/drivers/display.h — one reference display on a fake board, driven like a machine:
// bind, unbind, remove (hot-unplug), rescan, open its nodes.
//
// A Display owns the fake hardware and the device objects of one reference driver instance
// (`simple`: one carrier device; `soc`: a display controller, an HDMI bridge and a DSI panel
// bound as one aggregate) and registers its drivers on the world's platform bus. It is what
// tests, benchmarks, the explorer and `udrm-run` drive: the operations are the sysfs ones igt's
// core_hotunplug uses (driver unbind/bind, device remove/rescan).
//
// Lifetime: must outlive every operation on it; destroying a Display unbinds and unregisters
// everything (open files keep their DRM device alive beyond it — close them first or accept
// that the device is freed at their close).
// Context: process context (operations may sleep: unbind waits for ioctls in flight).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "udrm/base/refcount.h"
#include "udrm/core/device.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"

namespace udrm::fakehw {
class Board;
}

namespace udrm::drivers {

enum class Kind { simple, soc };

struct DisplayOptions {
  Kind kind = Kind::simple;
  /// Vblank as soon as a flip is armed instead of once per frame (benchmarks).
  bool immediate_vblank = false;
  /// soc: register the component drivers in this order (names: "dc", "hdmi", "panel");
  /// empty = dc, hdmi, panel. Probe order exercises deferred probe.
  std::vector<std::string> probe_order;
  /// soc: whether the HDMI sink is plugged at start.
  bool hdmi_connected = true;
};

class Display {
 public:
  virtual ~Display() = default;

  /// "udrm-simple" / "udrm-soc" (DRM_IOCTL_VERSION name).
  virtual const char* drm_name() const = 0;
  virtual Kind kind() const = 0;
  virtual fakehw::Board& board() = 0;

  /// The devices of this display, by short name ("simple"; "dc", "hdmi", "panel").
  virtual std::vector<std::string> device_names() const = 0;
  virtual Device* device(const std::string& short_name) = 0;

  /// Bind every device to its driver (the aggregate comes up when complete). 0 or -errno.
  virtual int bind() = 0;
  /// sysfs driver unbind of one device (default: the one the DRM device hangs off). Returns
  /// when the DRM device is unplugged and every devm resource released; open files stay.
  virtual int unbind(const std::string& short_name = "") = 0;
  /// Bind one device back.
  virtual int rebind(const std::string& short_name = "") = 0;
  /// Device removal (PCI "remove" / hot-unplug): unbind + device_del of every device.
  virtual void remove() = 0;
  /// Bus rescan: re-create and re-add the devices; they probe again.
  virtual int rescan() = 0;

  /// The DRM device of the current binding (nullptr while unbound).
  virtual DrmDevice* drm() = 0;
  /// Open the current primary node (card) or render node. -ENODEV/-ENOENT while unbound.
  virtual int open(Ref<DrmFile>* out, MinorType type = MinorType::primary) = 0;

  /// Fake hardware left on after an unbind (clocks, regulators, IRQs, mappings, pipes).
  virtual std::vector<std::string> leaks() const = 0;
  /// Number of fully initialised DRM devices of this display that are still alive (zombies
  /// held by open files + the bound one). Final puts make it drop.
  virtual int live_drm_devices() const = 0;
};

/// Build a display of the given kind on `world` (creates its own Board).
std::unique_ptr<Display> create_display(World& world, const DisplayOptions& opts);

}  // namespace udrm::drivers
