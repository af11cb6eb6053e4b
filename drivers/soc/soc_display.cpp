// drivers/soc/soc_display.cpp — the `udrm-soc` Display (udrm/drivers/display.h): the board,
// the four devices and their drivers, and the sysfs-like operations.
//
// Hardware on the board: display controller "dc" (2 pipes x 3 planes; MMIO + IRQ "dc"),
// clocks "dc-bus", "dc-pix0", "dc-pix1"; HDMI hot-plug block "hdmi" (MMIO + IRQ + DDC) with
// regulator "hdmi-5v" and a sink whose EDID offers 1920x1080@60 (preferred), 1280x720@60,
// 1024x768@60; DSI panel "panel" with regulator "panel-vdd", reset GPIO "panel-reset" and
// backlight "panel-backlight" (800x480@60).
// Devices on the platform bus: "soc-display" (master, driver udrm-soc), "dc", "hdmi", "panel"
// (drivers udrm-soc-dc/-hdmi/-panel). The first bind() adds the devices and registers the
// master's driver, then the members' drivers in opts.probe_order, so each order is a real probe
// order (the panel defers until the dc's probe registered the DSI host).
// Encoders: HDMI and DSI can each be driven by either CRTC (possible_crtcs 0x3).
#include <algorithm>

#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/core/world.h"
#include "udrm/drivers/soc.h"
#include "udrm/drm/minor.h"
#include "udrm/fakehw/edid_builder.h"

namespace udrm::drivers {

namespace {

using namespace soc;

std::vector<uint8_t> soc_hdmi_sink_edid() {
  return fakehw::EdidBuilder()
      .manufacturer("UDR")
      .product(0x50c, 1)
      .monitor_name("udrm HDMI")
      .physical_size_mm(510, 290)
      .preferred(fakehw::edid_timing_1920x1080_60())
      .add_timing(fakehw::edid_timing_1280x720_60())
      .add_timing(fakehw::edid_timing_1024x768_60())
      .build();
}

class SocDisplay final : public Display {
 public:
  SocDisplay(World& w, const DisplayOptions& o)
      : world_(w), opts_(o), board_(w), plat_(w, board_), master_drv_(plat_), dc_drv_(plat_), hdmi_drv_(plat_),
        panel_drv_(plat_) {
    plat_.dc = &board_.add_display(kDcDevName);
    plat_.dc_bus_clk = &board_.add_clock("dc-bus", 200'000'000);
    plat_.pix_clk[0] = &board_.add_clock("dc-pix0", 148'500'000);
    plat_.pix_clk[1] = &board_.add_clock("dc-pix1", 148'500'000);
    plat_.hpd = &board_.add_hotplug(kHdmiDevName);
    plat_.hdmi_5v = &board_.add_regulator("hdmi-5v");
    plat_.panel_sleep_out = std::chrono::milliseconds(5);
    plat_.panel = &board_.add_panel(kPanelDevName, fakehw::PanelConfig{"panel-vdd", "panel-reset", plat_.panel_sleep_out});
    plat_.panel_supply = board_.regulator("panel-vdd");
    plat_.panel_reset = board_.gpio("panel-reset");
    plat_.backlight = &board_.add_backlight("panel-backlight", 255);
    if (opts_.immediate_vblank) plat_.dc->set_immediate(true);
    if (opts_.hdmi_connected) plat_.hpd->plug(soc_hdmi_sink_edid());

    order_ = opts_.probe_order.empty() ? std::vector<std::string>{kDcDevName, kHdmiDevName, kPanelDevName}
                                       : opts_.probe_order;
    create_devices();
  }

  ~SocDisplay() override {
    remove();
    Bus& bus = world_.bus();
    bus.wait_for_probe();
    for (Driver* d : drivers_in_order())
      if (d->bus()) bus.unregister_driver(*d);
  }

  const char* drm_name() const override { return kDriverName; }
  Kind kind() const override { return Kind::soc; }
  fakehw::Board& board() override { return board_; }

  std::vector<std::string> device_names() const override { return {kDcDevName, kHdmiDevName, kPanelDevName}; }

  Device* device(const std::string& short_name) override {
    auto it = devs_.find(short_name);
    return it == devs_.end() ? nullptr : it->second.get();
  }

  int bind() override {
    Bus& bus = world_.bus();
    plat_.last_err.store(0);
    if (removed_) return rescan();
    if (!added_) {
      // Devices first (no driver yet: nothing probes), then the drivers in probe order. A
      // device_add that failed part-way is retried for the devices not yet added.
      for (const std::string& n : all_names())
        if (!devs_[n]->is_registered())
          if (int ret = bus.add_device(*devs_[n])) return ret;
      added_ = true;
      for (Driver* d : drivers_in_order())
        if (!d->bus())
          if (int ret = bus.register_driver(*d)) return ret;
    } else {
      for (const std::string& n : all_names()) {
        Device& dev = *devs_[n];
        if (dev.is_bound()) continue;
        int ret = bus.bind(dev.name(), driver_for(n)->name());
        if (ret && ret != -EPROBE_DEFER && ret != -EBUSY) plat_.last_err.store(ret);
      }
    }
    return settle();
  }

  int unbind(const std::string& short_name) override {
    const std::string n = short_name.empty() ? std::string(kDcDevName) : short_name;
    Device* dev = device(n);
    if (!dev || !dev->is_registered()) return -ENODEV;
    return world_.bus().unbind(dev->name());
  }

  int rebind(const std::string& short_name) override {
    const std::string n = short_name.empty() ? std::string(kDcDevName) : short_name;
    Device* dev = device(n);
    Driver* drv = driver_for(n);
    if (!dev || !drv || !dev->is_registered()) return -ENODEV;
    plat_.last_err.store(0);
    int ret = world_.bus().bind(dev->name(), drv->name());
    world_.bus().wait_for_probe();
    if (ret == -EPROBE_DEFER) return settle();
    return ret;
  }

  void remove() override {
    if (removed_ || !added_) return;
    Bus& bus = world_.bus();
    // The members first (the first one takes the aggregate down), the display node last.
    for (const std::string& n : device_names())
      if (devs_[n]->is_registered()) bus.del_device(*devs_[n]);
    if (devs_[kMasterDevName]->is_registered()) bus.del_device(*devs_[kMasterDevName]);
    removed_ = true;
  }

  int rescan() override {
    if (!removed_) return bind();
    Bus& bus = world_.bus();
    plat_.last_err.store(0);
    create_devices();
    removed_ = false;
    bool drivers = false;
    for (Driver* d : drivers_in_order()) drivers |= d->bus() != nullptr;
    if (!drivers) {
      added_ = false;
      return bind();
    }
    for (const std::string& n : all_names())
      if (!devs_[n]->is_registered())
        if (int ret = bus.add_device(*devs_[n])) return ret;
    return settle();
  }

  DrmDevice* drm() override {
    std::lock_guard<SpinLock> l(plat_.lock);
    return plat_.drm;
  }

  int open(Ref<DrmFile>* out, MinorType type) override {
    Ref<DrmDevice> dev;
    {
      std::lock_guard<SpinLock> l(plat_.lock);
      if (!plat_.drm) return -ENODEV;
      dev = Ref<DrmDevice>(plat_.drm);
    }
    const int idx = drm_minor_index(*dev, type);
    if (idx < 0) return -ENODEV;
    return drm_open_minor(world_, idx, out);
  }

  std::vector<std::string> leaks() const override { return board_.leaks(); }
  int live_drm_devices() const override { return plat_.tracker->live_drm.load(); }

 private:
  std::vector<std::string> all_names() const {
    std::vector<std::string> v{kMasterDevName};
    v.insert(v.end(), order_.begin(), order_.end());
    return v;
  }

  Driver* driver_for(const std::string& n) {
    if (n == kMasterDevName) return &master_drv_;
    if (n == kDcDevName) return &dc_drv_;
    if (n == kHdmiDevName) return &hdmi_drv_;
    if (n == kPanelDevName) return &panel_drv_;
    return nullptr;
  }

  std::vector<Driver*> drivers_in_order() {
    std::vector<Driver*> v;
    for (const std::string& n : all_names())
      if (Driver* d = driver_for(n)) v.push_back(d);
    return v;
  }

  void create_devices() {
    devs_[kMasterDevName] = Device::create(world_, kMasterDevName, nullptr, kDriverName);
    devs_[kDcDevName] = Device::create(world_, kDcDevName, nullptr, kDcDriverName);
    devs_[kHdmiDevName] = Device::create(world_, kHdmiDevName, nullptr, kHdmiDriverName);
    devs_[kPanelDevName] = Device::create(world_, kPanelDevName, nullptr, kPanelDriverName);
  }

  // Let deferred probes run, then report: 0 when the aggregate is up.
  int settle() {
    world_.bus().wait_for_probe();
    if (drm()) return 0;
    const int err = plat_.last_err.load();
    return err ? err : -EPROBE_DEFER;
  }

  World& world_;
  DisplayOptions opts_;
  fakehw::Board board_;
  SocPlatform plat_;
  SocMasterDriver master_drv_;
  SocDcDriver dc_drv_;
  SocHdmiDriver hdmi_drv_;
  SocPanelDriver panel_drv_;
  std::vector<std::string> order_;
  std::map<std::string, Ref<Device>> devs_;
  bool added_ = false;
  bool removed_ = false;
};

}  // namespace

std::unique_ptr<Display> create_soc_display(World& world, const DisplayOptions& opts) {
  return std::make_unique<SocDisplay>(world, opts);
}

}  // namespace udrm::drivers
