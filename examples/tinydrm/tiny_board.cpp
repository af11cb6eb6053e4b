// The machine udrm-tiny runs on (not driver code): the fake board with the DBI host, the panel
// and its TE line, the hardware model that turns TE_CTRL into a TE interrupt per frame, the
// platform device "tiny", and the sysfs-like operations of udrm::drivers::Display on it.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tinydrm.h"
#include "udrm/base/errno.h"
#include "udrm/core/world.h"
#include "udrm/drm/minor.h"
#include "udrm/fakehw/board.h"
#include "udrm/fakehw/timing.h"

namespace udrm::examples::tiny {
namespace {

std::vector<fakehw::RegDesc> dbi_regs() {
  return {
      {kRegCtrl, "CTRL", 0, kCtrlEnable},
      {kRegCmd, "CMD", 0, 0xff},
      {kRegStatus, "STATUS", 0, 0, kStatusErr},
      {kRegWinX, "WIN_X"},
      {kRegWinY, "WIN_Y"},
      {kRegMemWr, "MEMWR"},
      {kRegTeCtrl, "TE_CTRL", 0, kTeEnable},
      {kRegIrqStatus, "IRQ_STATUS", 0, 0, kIrqTe},
  };
}

// The silicon behind the registers: CMD goes to the panel (a failed command sets STATUS.ERR),
// TE_CTRL starts and stops the panel's frame timer, each frame sets IRQ_STATUS.TE and raises
// the TE line. Owned by the Display, destroyed before the Board it points into.
class TinyHwModel {
 public:
  TinyHwModel(World& w, fakehw::Board& b)
      : regs_(*b.mmio(kDbiName)), te_(*b.irq(kTeIrqName)), panel_(*b.panel(kPanelName)),
        frame_(w.executor(), "tiny.te_timer") {
    fakehw::VideoTimings vt;
    vt.clock_khz = kClockKhz;
    vt.hdisplay = kWidth;
    vt.htotal = kHtotal;
    vt.vdisplay = kHeight;
    vt.vtotal = kVtotal;
    frame_.set_timings(vt);
    frame_.set_vblank_handler([this](uint64_t, TimePoint) {
      regs_.hw_set_bits(kRegIrqStatus, kIrqTe);
      te_.raise();
    });
    regs_.set_write_hook([this](fakehw::RegisterBlock& r, uint32_t off, uint32_t v) { on_write(r, off, v); });
  }
  ~TinyHwModel() {
    regs_.set_write_hook(nullptr);
    frame_.stop();
  }
  bool te_running() const { return frame_.running(); }

 private:
  void on_write(fakehw::RegisterBlock& r, uint32_t off, uint32_t v) {
    if (off == kRegCmd) {
      if (panel_.dcs_write(static_cast<uint8_t>(v & 0xff)) != 0) r.hw_set_bits(kRegStatus, kStatusErr);
    } else if (off == kRegTeCtrl) {
      if (v & kTeEnable)
        frame_.start();
      else
        frame_.stop();  // from the driver's atomic context this only cancels
    }
  }

  fakehw::RegisterBlock& regs_;
  fakehw::IrqLine& te_;
  fakehw::DsiPanel& panel_;
  fakehw::TimingGenerator frame_;
};

fakehw::Board& build_board(fakehw::Board& b) {
  b.add_mmio(kDbiName, dbi_regs());
  b.add_irq(kTeIrqName);
  b.add_clock(kSpiClockName, 32'000'000);
  fakehw::PanelConfig pc;
  pc.supply = kVccName;
  pc.reset = kResetName;
  pc.sleep_out_delay = std::chrono::milliseconds(5);
  b.add_panel(kPanelName, pc);  // creates the supply and the reset line
  return b;
}

class TinyDisplay final : public drivers::Display {
 public:
  TinyDisplay(World& world, TinyBugs bugs)
      : world_(world),
        board_(world),
        hw_(world, build_board(board_)),
        live_(std::make_shared<std::atomic<int>>(0)),
        driver_(tiny_driver_create(board_, live_, bugs)) {
    bus().register_driver(*driver_);
    dev_ = Device::create(world_, "tiny", nullptr, kDriverName);
  }
  ~TinyDisplay() override {
    if (dev_ && dev_->is_registered()) bus().del_device(*dev_);
    if (driver_->bus()) bus().unregister_driver(*driver_);
  }

  const char* drm_name() const override { return kDriverName; }
  drivers::Kind kind() const override { return drivers::Kind::simple; }  // see tinydrm.h
  fakehw::Board& board() override { return board_; }
  std::vector<std::string> device_names() const override { return {"tiny"}; }
  Device* device(const std::string& n) override { return (n.empty() || n == "tiny") ? dev_.get() : nullptr; }

  int bind() override {
    if (!dev_) return -ENODEV;
    if (!dev_->is_registered()) {
      if (int ret = bus().add_device(*dev_)) return ret;
      return dev_->is_bound() ? 0 : -ENODEV;
    }
    return bus().bind(dev_->name(), kDriverName);
  }
  int unbind(const std::string& n) override {
    if (!device(n) || !dev_->is_registered()) return -ENODEV;
    return bus().unbind(dev_->name(), kDriverName);
  }
  int rebind(const std::string& n) override {
    if (!device(n) || !dev_->is_registered()) return -ENODEV;
    return bus().bind(dev_->name(), kDriverName);
  }
  void remove() override {
    if (dev_ && dev_->is_registered()) bus().del_device(*dev_);
  }
  int rescan() override {
    if (dev_ && dev_->is_registered()) return 0;
    dev_ = Device::create(world_, "tiny", nullptr, kDriverName);
    return bind();
  }

  DrmDevice* drm() override { return dev_ && dev_->is_bound() ? dev_->drvdata<DrmDevice>() : nullptr; }
  int open(Ref<DrmFile>* out, MinorType type) override {
    DrmDevice* d = drm();
    if (!d) return -ENODEV;
    int index = drm_minor_index(*d, type);
    if (index < 0) return -ENOENT;
    return drm_open_minor(world_, index, out);
  }

  std::vector<std::string> leaks() const override {
    std::vector<std::string> out = board_.leaks();
    fakehw::RegisterBlock& r = *board_.mmio(kDbiName);
    if (r.hw_get(kRegTeCtrl) & kTeEnable) out.push_back("TE interrupt of 'tiny.dbi' left enabled (TE_CTRL)");
    if (r.hw_get(kRegCtrl) & kCtrlEnable) out.push_back("DBI host 'tiny.dbi' left enabled (CTRL)");
    if (hw_.te_running()) out.push_back("panel TE timer still running");
    return out;
  }
  int live_drm_devices() const override { return live_->load(std::memory_order_acquire); }

 private:
  Bus& bus() { return world_.bus("platform"); }

  World& world_;
  fakehw::Board board_;
  TinyHwModel hw_;  // after board_: destroyed before it
  std::shared_ptr<std::atomic<int>> live_;
  std::unique_ptr<Driver> driver_;
  Ref<Device> dev_;
};

}  // namespace

std::unique_ptr<drivers::Display> create_tiny_display(World& world, TinyBugs bugs) {
  return std::make_unique<TinyDisplay>(world, bugs);
}

}  // namespace udrm::examples::tiny
