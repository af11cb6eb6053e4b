// drivers/soc/soc_drv.h — internals of `udrm-soc` (the vc4_drv.h / sun4i_drv.h of this driver).
//
// Four devices, four drivers, one aggregate:
//   "soc-display" (udrm-soc)       the display-subsystem node: the component master. Its bind
//                                  allocates the DRM device (SocDrm), binds the members, registers.
//   "dc"          (udrm-soc-dc)    display controller: 2 CRTCs x (primary, overlay, cursor),
//                                  MMIO, IRQ (vblank / flip done / CRC), bus + pixel clocks.
//                                  Its probe registers the DSI host the panel needs.
//   "hdmi"        (udrm-soc-hdmi)  HDMI bridge: TMDS encoder + "HDMI-A-1", HPD IRQ -> work ->
//                                  helper_hpd_irq_event, EDID over DDC, 5V supply.
//   "panel"       (udrm-soc-panel) DSI panel: DSI encoder + "DSI-1", one fixed mode, supply,
//                                  reset GPIO, backlight. Defers its probe until the DSI host
//                                  exists.
//
// Where things live (the rule of this driver, as vc4_hdmi_bind does it):
//  - hardware resources (MMIO mappings, IRQs, enabled clocks/regulators, GPIOs) are taken in the
//    component's bind, devm against the component device: the component framework releases them
//    at that component's unbind. A device that stays bound while its aggregate is down therefore
//    holds no hardware, and Board::leaks() is empty after unbinding any one member;
//  - everything userspace can reach (SocDrm, CRTCs, planes, encoders, connectors, states) is
//    drmm: it lives until the last open file lets go;
//  - drmm objects reach the devm hardware blocks (DcHw, HdmiHw, PanelHw) through plain pointers
//    that are dereferenced only inside drm->dev_enter() (or from the component's own bind/unbind
//    and the dc IRQ handler, whose lifetimes are inside the binding). After unplug the gate is
//    closed for everyone except the master's unbind task (Gate::TeardownScope), which switches the
//    hardware off before the members unbind.
//
// Teardown order (master unbind, any member removed): drm->unplug() (gate closed, minors
// unregistered, ioctls -ENODEV) -> atomic_helper_shutdown in the teardown section (pipes, TMDS,
// panel, backlight, pixel clocks off; pending events sent) -> wait for every commit's
// cleanup_done -> component_unbind_all (panel, hdmi, dc: HPD IRQ freed and its work cancelled,
// dc IRQ freed, MMIO unmapped, bus clock and 5V off, GPIO released) -> the aggregate's devres
// group drops the binding's DRM reference (final put now, or at the last close).
// The dc IRQ is therefore freed after unregister, as vc4's HVS IRQ is: the handler is not gated
// (it must keep delivering flip-done and vblank events to commits still in flight while
// shutdown waits for them), and both the mapping it reads and the CRTCs it signals outlive it.
//
// Lifetime: SocPlatform lives in the Display (outlives every binding); SocDrm from master bind to
// the final put; DcHw/HdmiHw/PanelHw from their component's bind to its unbind.
// Context: see each function.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "udrm/base/mutex.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/workqueue.h"
#include "udrm/core/component.h"
#include "udrm/core/device.h"
#include "udrm/drm/drm_device.h"
#include "udrm/fakehw/board.h"
#include "udrm/fakehw/dma.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/plane.h"
#include "udrm/perf/pmu.h"

namespace udrm::drivers::soc {

inline constexpr const char* kDriverName = "udrm-soc";
inline constexpr const char* kDcDriverName = "udrm-soc-dc";
inline constexpr const char* kHdmiDriverName = "udrm-soc-hdmi";
inline constexpr const char* kPanelDriverName = "udrm-soc-panel";
inline constexpr const char* kMasterDevName = "soc-display";
inline constexpr const char* kDcDevName = "dc";
inline constexpr const char* kHdmiDevName = "hdmi";
inline constexpr const char* kPanelDevName = "panel";

inline constexpr unsigned kPipes = 2;
inline constexpr unsigned kPlanesPerPipe = 3;

/// What the Display shares with every SocDrm it ever created, zombies included (kept alive by
/// shared_ptr, so a SocDrm may outlive the Display).
struct Tracker {
  std::atomic<int> live_drm{0};
};

class SocDrm;

/// The board description ("device tree") and the state the drivers share. Owned by the Display.
struct SocPlatform {
  SocPlatform(World& w, fakehw::Board& b);

  World& world;
  fakehw::Board& board;
  fakehw::DisplayController* dc = nullptr;
  fakehw::Clock* dc_bus_clk = nullptr;
  fakehw::Clock* pix_clk[kPipes] = {};
  fakehw::HotplugDetect* hpd = nullptr;
  fakehw::Regulator* hdmi_5v = nullptr;
  fakehw::DsiPanel* panel = nullptr;
  fakehw::Regulator* panel_supply = nullptr;
  fakehw::Gpio* panel_reset = nullptr;
  fakehw::Backlight* backlight = nullptr;
  Duration panel_sleep_out{};

  std::shared_ptr<Tracker> tracker = std::make_shared<Tracker>();
  /// system_wq for the HPD work.
  WorkQueue wq;
  /// mipi_dsi_host_register by the dc probe (devm): the panel probe defers without it.
  std::atomic<bool> dsi_host = false;

  /// The bound instance (set at the end of master bind, cleared at the start of master unbind),
  /// under `lock`.
  SpinLock lock;
  SocDrm* drm = nullptr;
  /// The error of the last failed bring-up / probe (Display::bind reports it).
  std::atomic<int> last_err{0};
};

// ---- hardware blocks (devm, per component binding) ------------------------------------------

struct SocCrtc;

/// The dc binding's hardware. Allocated in dc bind on the dc device.
struct DcHw {
  fakehw::IoMem* regs = nullptr;
  fakehw::DisplayController* dc = nullptr;
  fakehw::Clock* pix_clk[kPipes] = {};
  SocDrm* drm = nullptr;
  SocCrtc* crtc[kPipes] = {};
  /// Driver copy of INT_ENABLE (written back with write-and-recheck, no lock held across MMIO:
  /// a register write is a scheduling point).
  std::atomic<uint32_t> int_enable{0};
  /// Serializes read-modify-writes of PIPE_CTRL (commit paths vs CRC source changes). A Mutex,
  /// not a spinlock: a PIPE_CTRL write is a scheduling point. Process context only.
  Mutex ctrl_mu[kPipes] = {Mutex("soc.dc.pipe0_ctrl"), Mutex("soc.dc.pipe1_ctrl")};
  std::atomic<bool> pipe_on[kPipes] = {};  // ENABLE read back 1 after the last enable
  bool clk_on[kPipes] = {};                // commit paths only (serialized per CRTC)
  std::atomic<uint64_t> underruns{0};
  /// soc_pmu.cpp: event counts (SocPmuCounter) and the registered PMU (null without one).
  std::atomic<uint64_t> pmu_counts[4] = {};
  std::atomic<Pmu*> pmu{nullptr};

  void update_int_enable(uint32_t set, uint32_t clear);
};

struct HdmiHw {
  explicit HdmiHw(SocPlatform& p);
  fakehw::IoMem* regs = nullptr;
  fakehw::HotplugDetect* hpd = nullptr;
  SocDrm* drm = nullptr;
  SocPlatform& plat;
  Work hpd_work;
};

struct PanelHw {
  fakehw::DsiPanel* panel = nullptr;
  fakehw::Regulator* supply = nullptr;
  fakehw::Gpio* reset = nullptr;
  fakehw::Backlight* backlight = nullptr;
  Duration sleep_out{};
  bool powered = false;  // encoder enable ran (inside the gate)
};

// ---- KMS objects (drmm) ---------------------------------------------------------------------

struct SocPlaneState : PlaneState {
  /// The framebuffer's GEM memory mapped into the dc's DMA space by prepare_fb (0: none).
  fakehw::dma_addr_t dma_addr = 0;
  /// Set by the commit tail on a state being replaced by a flip that timed out (never
  /// latched): the hardware still scans this buffer, cleanup_fb must not unmap it yet.
  bool still_latched = false;
};

struct SocPlane : Plane {
  unsigned pipe = 0, slot = 0;  // slot: 0 primary, 1 overlay, 2 cursor
  SocDrm* sdrm = nullptr;
};

struct SocCrtc : Crtc {
  unsigned pipe = 0;
  SocDrm* sdrm = nullptr;
  DcHw* hw = nullptr;  // gated
  /// The flip event waiting for FLIP_DONE (vc4_crtc->event), under drm.event_lock. Holds a
  /// vblank reference.
  PendingVblankEvent* event = nullptr;
  std::atomic<bool> crc_on{false};
  /// The last atomic_enable could not light the pipe (pixel clock refused, mode refused): the
  /// state says active, the pipe is dark. The next commit allowing a modeset retries.
  std::atomic<bool> enable_failed{false};
  /// Buffers kept mapped because the flip replacing them never latched (stuck GO, flip_done
  /// timed out): released when a later flip of this pipe completes, or at the dc unbind.
  /// Under sdrm->unmap_lock.
  std::vector<fakehw::dma_addr_t> latched_unmaps;
};

struct SocEncoder : Encoder {
  HdmiHw* hdmi = nullptr;    // gated (TMDS encoder)
  PanelHw* panel = nullptr;  // gated (DSI encoder)
};

struct SocConnector : Connector {
  HdmiHw* hdmi = nullptr;  // gated (HDMI only)
  PanelHw* panel = nullptr;  // gated (DSI only)
};

class SocDrm : public DrmDevice {
 public:
  SocDrm(std::shared_ptr<Tracker> t, fakehw::DmaSpace* dma);
  ~SocDrm() override;

  std::shared_ptr<Tracker> tracker;
  fakehw::DmaSpace* dma;  // the dc's DMA space (Board-owned; outlives the binding)
  SocCrtc* crtc[kPipes] = {};
  SocPlane* planes[kPipes][kPlanesPerPipe] = {};
  SocEncoder* hdmi_encoder = nullptr;
  SocConnector* hdmi_connector = nullptr;
  SocEncoder* dsi_encoder = nullptr;
  SocConnector* dsi_connector = nullptr;

  /// Buffers whose cleanup_fb ran while the hardware could still scan them (gate closed before
  /// the teardown switched the pipes off): unmapped by the dc unbind once the pipes are off.
  SpinLock unmap_lock;
  std::vector<fakehw::dma_addr_t> deferred_unmaps;
  bool hw_quiesced = false;  // under unmap_lock: pipes are off for good
};

/// The drm_driver of the aggregate.
const DrmDriver& soc_drm_driver();

// ---- the drivers ----------------------------------------------------------------------------

class SocMasterDriver final : public Driver, public ComponentMasterOps {
 public:
  explicit SocMasterDriver(SocPlatform& p) : Driver(kDriverName), plat_(p) {}
  int probe(Device& dev, const Bound& bound) override;
  void remove(Device& dev, const Bound& bound) override;
  int bind(Device& master) override;
  void unbind(Device& master) override;

 private:
  SocPlatform& plat_;
};

class SocDcDriver final : public Driver, public ComponentOps {
 public:
  explicit SocDcDriver(SocPlatform& p) : Driver(kDcDriverName), plat_(p) {}
  int probe(Device& dev, const Bound& bound) override;
  void remove(Device& dev, const Bound& bound) override;
  int bind(Device& comp, Device& master, void* data) override;
  void unbind(Device& comp, Device& master, void* data) override;

 private:
  SocPlatform& plat_;
};

class SocHdmiDriver final : public Driver, public ComponentOps {
 public:
  explicit SocHdmiDriver(SocPlatform& p) : Driver(kHdmiDriverName), plat_(p) {}
  int probe(Device& dev, const Bound& bound) override;
  void remove(Device& dev, const Bound& bound) override;
  int bind(Device& comp, Device& master, void* data) override;
  void unbind(Device& comp, Device& master, void* data) override;

 private:
  SocPlatform& plat_;
};

class SocPanelDriver final : public Driver, public ComponentOps {
 public:
  explicit SocPanelDriver(SocPlatform& p) : Driver(kPanelDriverName), plat_(p) {}
  int probe(Device& dev, const Bound& bound) override;
  void remove(Device& dev, const Bound& bound) override;
  int bind(Device& comp, Device& master, void* data) override;
  void unbind(Device& comp, Device& master, void* data) override;

 private:
  SocPlatform& plat_;
};

/// The panel's fixed mode (800x480@60).
DisplayMode panel_mode();

// ---- shared entry points of the blocks ------------------------------------------------------

/// soc_plane.cpp: one plane of `pipe` (slot 0 primary, 1 overlay, 2 cursor), drmm.
int soc_plane_create(SocDrm& drm, unsigned pipe, unsigned slot, SocPlane** out);
/// soc_plane.cpp: unmap a scanout buffer the hardware no longer reads (inside the gate), or
/// defer it to the dc unbind when the gate is closed and the pipes may still run.
void soc_release_dma(SocDrm& drm, fakehw::dma_addr_t a);
/// soc_crtc.cpp: CRTC `pipe` with its planes already created, drmm; hw is the dc binding.
int soc_crtc_create(SocDrm& drm, DcHw& hw, unsigned pipe);
/// soc_crtc.cpp: send the event waiting for FLIP_DONE, if any (IRQ and disable paths).
/// Context: any (atomic included).
void soc_crtc_finish_page_flip(SocCrtc& crtc);
/// soc_crtc.cpp: the dc's commit tail (vc4 / sun4i shape): disables, enables, planes (GO in
/// atomic_flush), hw_done, wait for flip_done (the FLIP_DONE interrupt), cleanup.
void soc_commit_tail(AtomicState& old_state);
/// soc_pmu.cpp: the dc's PMU "udrm-soc-dc" (config = SocPmuCounter) counting what the dc sees.
enum SocPmuCounter : unsigned { kPmuVblank = 0, kPmuFlipDone = 1, kPmuUnderrun = 2, kPmuCommit = 3, kPmuCounters = 4 };
inline constexpr const char* kPmuName = "udrm-soc-dc";
/// Register it on the world's PMU registry, devm on the dc device (unregistered at the dc unbind,
/// after the IRQ is freed when called before devm_request_irq). A name already taken (another
/// soc display in the same world) leaves this one without a PMU. 0 or -errno. Process context.
int soc_pmu_register(World& w, Device& comp, DcHw& hw);
/// Count one event. Context: any (the IRQ handler).
void soc_pmu_count(DcHw& hw, SocPmuCounter c);
/// Count one commit (commit tail; takes the gate itself). Context: process.
void soc_pmu_commit(SocDrm& drm);
/// soc_dc.cpp: the dc interrupt handler. Context: atomic (the fake CPU's interrupt).
fakehw::IrqReturn soc_dc_irq(DcHw& hw);

}  // namespace udrm::drivers::soc
