// examples/tinydrm/tinydrm.h — `udrm-tiny`, an example driver: a MIPI-DBI (SPI) panel in the
// style of the kernel's drivers/gpu/drm/tiny/, written against udrm.
//
// The hardware, as a device tree would describe it (the fake board names each piece):
//   "tiny.dbi"    the DBI host's registers (below), mapped with devm_ioremap
//   "tiny.te"     the panel's tearing-effect line, an interrupt once per frame while TE is on:
//                 the driver's vblank
//   "tiny.spi"    the SPI bus clock, on for the whole binding (devm_clk_get_enabled)
//   "tiny.panel"  the panel (MIPI DCS: sleep out, display on/off) behind the DBI host, with
//                 its supply "tiny.vcc" and reset line "tiny.reset" (1 = held in reset)
// One fixed mode, 320x240 at 50 Hz; one CRTC with one primary plane, a "none" encoder and an
// SPI connector. Each page flip uploads the whole framebuffer (MEMWR) and completes at the next
// TE interrupt.
//
// TinyBugs switches on one deliberate lifetime bug each, for the test that shows the explorer
// catches them; the default is the correct driver.
//
// Lifetime: a Display from create_tiny_display owns the board and the driver (display.h).
// Context: process context.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "udrm/drivers/display.h"

namespace udrm::fakehw {
class Board;
}

namespace udrm::examples::tiny {

inline constexpr const char* kDriverName = "udrm-tiny";

// Names of the board's pieces (the "device tree").
inline constexpr const char* kDbiName = "tiny.dbi";
inline constexpr const char* kTeIrqName = "tiny.te";
inline constexpr const char* kSpiClockName = "tiny.spi";
inline constexpr const char* kPanelName = "tiny.panel";
inline constexpr const char* kVccName = "tiny.vcc";
inline constexpr const char* kResetName = "tiny.reset";

// The DBI host's register map.
inline constexpr uint32_t kRegCtrl = 0x00;      // bit 0: host enabled (scanout to the panel)
inline constexpr uint32_t kRegCmd = 0x04;       // write: send this DCS command to the panel
inline constexpr uint32_t kRegStatus = 0x08;    // bit 0: the last command failed (w1c)
inline constexpr uint32_t kRegWinX = 0x0c;      // column window: x0 | x1 << 16
inline constexpr uint32_t kRegWinY = 0x10;      // page window:   y0 | y1 << 16
inline constexpr uint32_t kRegMemWr = 0x14;     // write: upload the buffer at this address
inline constexpr uint32_t kRegTeCtrl = 0x18;    // bit 0: TE interrupt enabled
inline constexpr uint32_t kRegIrqStatus = 0x1c; // bit 0: TE happened (w1c)
inline constexpr uint32_t kCtrlEnable = 1u << 0;
inline constexpr uint32_t kStatusErr = 1u << 0;
inline constexpr uint32_t kTeEnable = 1u << 0;
inline constexpr uint32_t kIrqTe = 1u << 0;

/// The panel's only mode: 320x240, 400x250 total at 5 MHz = 50 Hz (20 ms per frame).
inline constexpr uint32_t kWidth = 320, kHeight = 240, kHtotal = 400, kVtotal = 250, kClockKhz = 5000;

/// One deliberate bug each (all false: the correct driver).
struct TinyBugs {
  /// remove() only unplugs; no atomic_helper_shutdown: the panel, its supply and TE stay on.
  bool remove_without_shutdown = false;
  /// lastclose resets the upload window without drm_dev_enter: the last close may come after
  /// unbind, when devm has unmapped the registers.
  bool lastclose_outside_gate = false;
};

/// The platform driver "udrm-tiny": it finds its hardware on `board` by the names above
/// (the board must outlive it). `live_devices` counts the driver's DRM devices still alive.
std::unique_ptr<Driver> tiny_driver_create(fakehw::Board& board, std::shared_ptr<std::atomic<int>> live_devices,
                                           TinyBugs bugs = {});

/// A machine with the tiny panel on it: the board, its TE model, the platform device "tiny"
/// and the driver, driven like the reference displays (bind, unbind, remove, open, leaks).
/// kind() answers Kind::simple (display.h has no kind for out-of-tree drivers).
std::unique_ptr<drivers::Display> create_tiny_display(World& world, TinyBugs bugs = {});

}  // namespace udrm::examples::tiny
