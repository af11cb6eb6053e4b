// udrm/fakehw/display.h — a register-level display controller (the `soc` driver's silicon).
//
// N pipes (default 2), each with a TimingGenerator, timing registers, an enable bit and up to 3
// planes (primary, overlay, cursor). Plane registers are double-buffered: the driver writes the
// shadow copies, then sets PIPE_CTRL.GO; at the next vblank the hardware latches every plane of
// that pipe, clears GO and raises FLIP_DONE (flip done). At every vblank of an enabled pipe it
// raises VBLANK, counts the frame, and the scanout engine reads each latched enabled plane
// through the DmaSpace: with PIPE_CTRL.CRC_EN set it composes the frame (compose.h) and stores
// its CRC in PIPE_CRC. Order at a vblank: latch (if GO), then scan out the frame that starts now,
// then interrupt. So the CRC read at the FLIP_DONE interrupt is the CRC of the new content.
// A scanout DMA fault (unmapped/out-of-range plane memory) is a DMA violation and sets UNDERRUN.
// The mappings of latched planes are hw_hold()-ed while their pipe is enabled, so freeing a
// buffer still on screen is caught at unmap time.
//
// Timing registers take effect when the pipe is enabled (ENABLE 0→1); invalid timings (or a
// frame rate > 1000 Hz) make the hardware refuse: ENABLE reads back 0. Disabling a pipe stops
// its timing generator at once and drops the pending GO. GO written while the pipe is disabled
// latches at once (no vblank to wait for; no FLIP_DONE): plane setup before enabling a pipe.
// INT_STATUS is write-1-to-clear; the IRQ line is raised at a vblank whenever
// INT_STATUS & INT_ENABLE is non-zero. RESET (write 1) runs a reset sequence: every pipe off,
// all registers to reset values, STATUS.BUSY set for `reset_time`, then cleared.
// Fault injection: stuck flip (GO never latches, no FLIP_DONE), stuck BUSY, interrupt storm,
// scanout underrun.
//
// The driver reaches the registers only through devm_ioremap(dev, dc.regs()) and the interrupt
// through devm_request_irq(dev, dc.irq(), ...): after unbind both are checked (mmio.h, irq.h).
// Test hooks read the hardware state directly, without going through a driver.
//
// Lifetime: owned by its Board (Board::add_display); outlives every binding of its driver.
// Context: the hardware model runs its vblank in atomic context (timer); register accesses:
// any context, never sleep; test hooks: any context.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"
#include "udrm/fakehw/compose.h"
#include "udrm/fakehw/dma.h"
#include "udrm/fakehw/irq.h"
#include "udrm/fakehw/mmio.h"
#include "udrm/fakehw/timing.h"

namespace udrm::fakehw {

class Board;

/// Register map. Offsets in bytes; per-pipe registers at pipe_base(p) + PIPE_*; per-plane
/// registers at plane_base(p, k) + PLANE_* (k: 0 primary, 1 overlay, 2 cursor).
namespace dcregs {
inline constexpr uint32_t ID = 0x000;          ///< RO: kId
inline constexpr uint32_t RESET = 0x004;       ///< W: bit0 starts a reset (self-clearing)
inline constexpr uint32_t STATUS = 0x008;      ///< RO: STATUS_BUSY
inline constexpr uint32_t INT_STATUS = 0x00c;  ///< W1C: int_vblank(p) | int_flip_done(p) | int_underrun(p)
inline constexpr uint32_t INT_ENABLE = 0x010;  ///< RW: same bits
inline constexpr uint32_t NUM_PIPES = 0x014;   ///< RO: number of pipes
inline constexpr uint32_t kId = 0x55444331;    ///< "UDC1"
inline constexpr uint32_t STATUS_BUSY = 1u << 0;
inline constexpr uint32_t RESET_GO = 1u << 0;

inline constexpr uint32_t kMaxPipes = 8;
inline constexpr uint32_t kPlanesPerPipe = 3;
inline constexpr uint32_t int_vblank(uint32_t p) { return 1u << (p * 4 + 0); }
inline constexpr uint32_t int_flip_done(uint32_t p) { return 1u << (p * 4 + 1); }
inline constexpr uint32_t int_underrun(uint32_t p) { return 1u << (p * 4 + 2); }

inline constexpr uint32_t pipe_base(uint32_t p) { return 0x100 + p * 0x100; }
inline constexpr uint32_t PIPE_CTRL = 0x00;    ///< RW: CTRL_ENABLE | CTRL_GO | CTRL_CRC_EN
inline constexpr uint32_t PIPE_HTIMING = 0x04; ///< RW: hdisplay[15:0] | htotal[31:16]
inline constexpr uint32_t PIPE_VTIMING = 0x08; ///< RW: vdisplay[15:0] | vtotal[31:16]
inline constexpr uint32_t PIPE_CLOCK = 0x0c;   ///< RW: pixel clock in kHz
inline constexpr uint32_t PIPE_FRAME = 0x10;   ///< RO: frame counter (vblanks while enabled)
inline constexpr uint32_t PIPE_CRC = 0x14;     ///< RO: CRC of the frame scanned since the last vblank
inline constexpr uint32_t CTRL_ENABLE = 1u << 0;
inline constexpr uint32_t CTRL_GO = 1u << 1;     ///< set by the driver, cleared by hw at latch
inline constexpr uint32_t CTRL_CRC_EN = 1u << 2;

inline constexpr uint32_t plane_base(uint32_t p, uint32_t k) { return pipe_base(p) + 0x40 + k * 0x40; }
inline constexpr uint32_t PLANE_CTRL = 0x00;     ///< PLANE_ENABLE | zpos[11:8]
inline constexpr uint32_t PLANE_FORMAT = 0x04;   ///< DRM fourcc
inline constexpr uint32_t PLANE_ADDR_LO = 0x08;
inline constexpr uint32_t PLANE_ADDR_HI = 0x0c;
inline constexpr uint32_t PLANE_PITCH = 0x10;    ///< bytes
inline constexpr uint32_t PLANE_SRC_POS = 0x14;  ///< x[15:0] | y[31:16]
inline constexpr uint32_t PLANE_SRC_SIZE = 0x18; ///< w[15:0] | h[31:16]
inline constexpr uint32_t PLANE_DST_POS = 0x1c;  ///< x[15:0] | y[31:16], each signed 16 bit
inline constexpr uint32_t PLANE_DST_SIZE = 0x20; ///< w[15:0] | h[31:16]
inline constexpr uint32_t PLANE_ENABLE = 1u << 0;
inline constexpr uint32_t plane_zpos(uint32_t z) { return (z & 0xf) << 8; }
inline constexpr uint32_t pack(uint32_t lo, uint32_t hi) { return (lo & 0xffff) | (hi << 16); }
}  // namespace dcregs

struct DisplayConfig {
  uint32_t pipes = 2;                 ///< 1..kMaxPipes
  uint32_t planes_per_pipe = 3;       ///< 1..3
  Duration reset_time = std::chrono::microseconds(10);  ///< BUSY after a reset
};

/// One plane's latched (active) configuration, decoded.
struct LatchedPlane {
  bool enabled = false;
  uint32_t fourcc = 0;
  dma_addr_t addr = 0;
  uint32_t pitch = 0;
  Rect src, dst;
  uint32_t zpos = 0;
  bool operator==(const LatchedPlane&) const = default;
};

class DisplayController {
 public:
  /// Prefer Board::add_display, which creates the register block and IRQ line named `name`.
  DisplayController(World& w, std::string name, RegisterBlock& regs, IrqLine& irq, DisplayConfig cfg);
  ~DisplayController();
  DisplayController(const DisplayController&) = delete;
  DisplayController& operator=(const DisplayController&) = delete;

  /// The register layout a DisplayController with `cfg` needs (for Board::add_display).
  static std::vector<RegDesc> register_layout(const DisplayConfig& cfg);

  const std::string& name() const noexcept { return name_; }
  RegisterBlock& regs() const noexcept { return regs_; }
  IrqLine& irq() const noexcept { return irq_; }
  DmaSpace& dma() noexcept { return dma_; }
  uint32_t pipes() const noexcept { return cfg_.pipes; }
  uint32_t planes_per_pipe() const noexcept { return cfg_.planes_per_pipe; }

  /// Benchmarks: vblank as soon as GO is set (no frame wait) on every pipe. Set while all
  /// pipes are off.
  void set_immediate(bool on);

  // ---- fault injection ----
  /// While set, GO on `pipe` never latches: no FLIP_DONE, GO stays set.
  void fault_stuck_flip(uint32_t pipe, bool on);
  /// While set, STATUS.BUSY is set (a reset never finishes).
  void fault_stuck_busy(bool on);
  /// Raise the IRQ line n times back to back, status untouched (an interrupt storm).
  void fault_irq_storm(int n);
  /// The next `frames` vblanks of `pipe` report UNDERRUN.
  void fault_underrun(uint32_t pipe, uint32_t frames = 1);

  // ---- test hooks (no driver involved) ----
  bool pipe_enabled(uint32_t pipe) const;
  uint32_t crc(uint32_t pipe) const;              ///< last computed CRC (0 before any)
  uint64_t frames_scanned(uint32_t pipe) const;   ///< frames whose planes the engine read
  uint64_t vblanks(uint32_t pipe) const;          ///< vblank count (= PIPE_FRAME)
  uint64_t flips(uint32_t pipe) const;            ///< GO latches (flip done)
  uint64_t underruns(uint32_t pipe) const;
  LatchedPlane latched(uint32_t pipe, uint32_t plane) const;
  /// The last composed frame of `pipe` (empty unless CRC_EN was set at that vblank).
  std::vector<uint32_t> last_frame(uint32_t pipe) const;
  TimingGenerator& timing(uint32_t pipe);
  /// Board::leaks() lines: pipes left enabled, interrupts left enabled.
  std::vector<std::string> leaks() const;

 private:
  struct Pipe;
  void on_write(uint32_t offset, uint32_t value);
  void pipe_ctrl_written(uint32_t p, uint32_t value);
  void vblank(uint32_t p);
  bool scanout(Pipe& pp, uint32_t p, bool crc);
  void do_reset();
  LatchedPlane decode_shadow(uint32_t p, uint32_t k) const;

  World& world_;
  std::string name_;
  RegisterBlock& regs_;
  IrqLine& irq_;
  DisplayConfig cfg_;
  DmaSpace dma_;
  mutable SpinLock lock_;
  std::vector<std::unique_ptr<Pipe>> pipes_;
  bool immediate_ = false;
  bool stuck_busy_ = false;
  uint64_t reset_gen_ = 0;
  TimerId reset_timer_ = 0;
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace udrm::fakehw
