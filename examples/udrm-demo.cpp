// udrm demo: a display driver binds, a client opens its DRM device, the driver is unbound
// while the client holds the file open (and while another thread is inside the device's gate),
// and the DRM device object outlives the binding until the client closes.
//
// This is the lifetime split every hot-unpluggable DRM driver needs:
//   hardware (MMIO mapping, IRQ)     -> devm: gone when unbind returns
//   what userspace can reach         -> drmm: gone at the final drm_dev_put (last close)
//   hardware access and ioctls       -> inside drm_dev_enter/exit; unplug waits for them
#include <atomic>
#include <cstdio>
#include <thread>

#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/core/device.h"
#include "udrm/core/revocable.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"

using namespace udrm;

namespace {

// A pretend register block. Its destructor is the "iounmap".
struct Mmio {
  explicit Mmio(const char* n) : name(n) { std::printf("    devm   : ioremap %s\n", name); }
  ~Mmio() { std::printf("    devm   : iounmap %s\n", name); }
  uint32_t read(uint32_t) const { return 0xC0FFEE; }
  const char* name;
};

// The driver's container: everything userspace can reach lives here (drmm).
struct DemoDrm : DrmDevice {
  Devres<Mmio> regs;  // hardware: revoked at unbind
  ~DemoDrm() { std::printf("    drmm   : container freed (last)\n"); }
};

const DrmDriver kDemoDrmDriver{.name = "udrm-demo", .desc = "udrm lifetime demo"};

char kCrtc[] = "crtc";
char kPlane[] = "plane";
void kms_cleanup(DrmDevice&, char* what) { std::printf("    drmm   : release %s\n", what); }
// Lets the demo's client finish its in-flight ioctl only once remove() has started unplugging,
// so the output shows unplug waiting for it.
Completion g_unplug_started("unplug_started");

void irq_free(int* irq) { std::printf("    devm   : free_irq %d\n", *irq); }

class DemoDriver final : public Driver {
 public:
  DemoDriver() : Driver("demo-display") {}

  int probe(Device& dev, const Bound& bound) override {
    int err = 0;
    auto* drm = devm_drm_dev_alloc<DemoDrm>(dev, kDemoDrmDriver, &err);
    if (!drm) return err;
    drm->regs = Devres<Mmio>::create(bound, "display-regs");
    if (drm->regs.error()) return drm->regs.error();
    static int irq = 42;
    if (int ret = devm_add_action_or_reset(dev, &irq_free, &irq, "irq")) return ret;
    if (int ret = drmm_add_action(*drm, &kms_cleanup, kCrtc, "crtc")) return ret;
    if (int ret = drmm_add_action(*drm, &kms_cleanup, kPlane, "plane")) return ret;
    dev.set_drvdata(drm);
    std::printf("    probe  : register-read 0x%X through the Bound proof token\n",
                drm->regs.access(bound)->read(0));
    return drm->register_device();
  }

  void remove(Device& dev, const Bound&) override {
    auto* drm = dev.drvdata<DemoDrm>();
    std::printf("    remove : drm_dev_unplug (closes the gate, waits for readers)\n");
    g_unplug_started.complete_all();
    drm->unplug();
    std::printf("    remove : unplug returned; devm resources are released next\n");
  }
};

}  // namespace

int main() {
  AsioExecutor exec(2);
  World world(exec);
  Bus& bus = world.bus("platform");
  DemoDriver driver;
  bus.register_driver(driver);

  std::printf("[bind]   platform device 'display0' appears; driver 'demo-display' probes\n");
  Ref<Device> dev = Device::create(world, "display0", nullptr, "demo-display");
  bus.add_device(*dev);
  auto* drm = dev->drvdata<DemoDrm>();
  if (!drm) {
    std::printf("probe failed\n");
    return 1;
  }

  Ref<DrmFile> file;
  int ret = DrmFile::open(*drm, &file);
  std::printf("[open]   client opens the DRM device: %d, refcount now %u\n", ret, drm->refcount());

  // A client thread inside an "ioctl" (a dev_enter section) while we unbind.
  Completion inside("inside");
  std::atomic<bool> left{false};
  std::thread client([&] {
    file->call([&](DrmDevice& d) {
      inside.complete();
      g_unplug_started.wait();
      auto* demo = static_cast<DemoDrm*>(&d);
      demo->regs.try_access_with([](Mmio& m) { std::printf("    ioctl  : still inside, reads 0x%X\n", m.read(0)); });
      left = true;
      return 0;
    });
  });
  inside.wait();

  std::printf("[unbind] echo display0 > unbind   (a client ioctl is in flight)\n");
  std::thread unbinder([&] { bus.unbind("display0"); });
  unbinder.join();
  client.join();
  std::printf("[unbind] done; the in-flight ioctl had finished first: %s\n", left ? "yes" : "NO");

  DrmDevice* zombie = file->device();
  std::printf("[after]  driver unbound; DRM device object alive: refcount %u, %zu drmm nodes pending\n",
              zombie->refcount(), zombie->drmm_count());
  ret = file->call([](DrmDevice&) { return 0; });
  std::printf("[ioctl]  on the old file after unbind: %d (%s)\n", ret, ret == -ENODEV ? "-ENODEV" : "?");

  std::printf("[close]  client closes its file -> final drm_dev_put\n");
  ret = file->close();
  std::printf("[close]  close returned %d; everything released\n", ret);

  bus.unregister_driver(driver);
  bus.del_device(*dev);
  return 0;
}
