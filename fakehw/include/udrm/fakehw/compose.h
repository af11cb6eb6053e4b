// udrm/fakehw/compose.h — software plane composition and the frame CRC.
//
// What a scanout engine (or vkms's composer worker) does: blend a stack of planes, lowest
// zpos first (ties: list order), onto a black XRGB8888 frame and compute a CRC of the result.
// Planes are plain descriptors — no KMS types — with libdrm drm_fourcc.h format codes:
// XRGB8888, ARGB8888, XBGR8888, ABGR8888, RGB565. Alpha formats blend per pixel (pre-multiplied
// by default, the DRM "pixel blend mode" default; "Coverage" and "None" are available) with an
// optional 16-bit plane alpha. Source and destination rectangles are integer pixels; a src size
// different from the dst size scales by nearest neighbour; a dst rectangle partly outside the
// frame is clipped (src adjusted to match). Memory comes from a CPU pointer or through a DmaSpace
// (each plane's rows are checked against its mapping; a bad range is a DMA violation and the
// plane reads as transparent black).
//
// Output: frame pixels are XRGB8888 with the X byte always 0, pitch = width·4. The CRC is
// CRC-32/IEEE 802.3 — bit-identical to Boost.CRC's crc_32_type, computed table-sliced — over
// the frame bytes in memory order (little-endian pixels, rows top to bottom), so the same
// content always gives the same CRC.
//
// Lifetime: values; a Composer reuses its frame buffer across calls.
// Context: any context, never sleeps (no allocation once the buffer has its size). Not
// reentrant per Composer object.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "udrm/fakehw/dma.h"

namespace udrm::fakehw {

struct Rect {
  int32_t x = 0, y = 0;
  uint32_t w = 0, h = 0;
  bool operator==(const Rect&) const = default;
};

enum class BlendMode : uint8_t { premultiplied, coverage, none };

struct PlaneDesc {
  uint32_t fourcc = 0;          ///< DRM_FORMAT_*
  // Source memory: either a CPU pointer ...
  const void* pixels = nullptr;
  // ... or a DMA address read through `dma`.
  DmaSpace* dma = nullptr;
  dma_addr_t addr = 0;
  uint32_t pitch = 0;           ///< bytes per source row
  Rect src;                     ///< in source pixels (x, y ≥ 0)
  Rect dst;                     ///< in frame pixels (may extend past the frame: clipped)
  int32_t zpos = 0;
  BlendMode blend = BlendMode::premultiplied;
  uint16_t alpha = 0xffff;      ///< plane alpha
  const char* name = "plane";   ///< the reader named in DMA violations
};

/// Bytes per pixel of a supported format, 0 if unsupported.
uint32_t compose_format_cpp(uint32_t fourcc) noexcept;
bool compose_format_supported(uint32_t fourcc) noexcept;
/// The formats compose() accepts (for plane format lists).
std::span<const uint32_t> compose_formats() noexcept;

/// CRC-32 of `bytes` (the frame CRC function).
uint32_t frame_crc(const void* bytes, std::size_t len) noexcept;

/// Convert one XRGB8888/ARGB8888 value (A,R,G,B 8 bit) — test helpers to build patterns.
constexpr uint32_t argb(uint8_t a, uint8_t r, uint8_t g, uint8_t b) {
  return (uint32_t{a} << 24) | (uint32_t{r} << 16) | (uint32_t{g} << 8) | b;
}

class Composer {
 public:
  /// Compose planes into a width×height frame and return 0, or -EINVAL (unsupported format,
  /// bad src rectangle: negative or beyond the pitch, zero-size output); the frame is then black.
  /// Planes with a zero-size src or dst are skipped.
  int compose(uint32_t width, uint32_t height, std::span<const PlaneDesc> planes);
  /// Read-check only: touch each plane's memory range exactly as compose() would (DMA
  /// violations included) without composing. Returns the number of planes that faulted.
  uint32_t check(uint32_t width, uint32_t height, std::span<const PlaneDesc> planes);
  /// Planes whose memory could not be read in the last compose()/check() (DMA faults).
  uint32_t faults() const noexcept { return faults_; }
  /// The last composed frame and its CRC.
  uint32_t crc() const noexcept { return crc_; }
  uint32_t width() const noexcept { return w_; }
  uint32_t height() const noexcept { return h_; }
  const std::vector<uint32_t>& frame() const noexcept { return frame_; }
  uint32_t pixel(uint32_t x, uint32_t y) const noexcept { return frame_[size_t{y} * w_ + x]; }

 private:
  struct Span;
  int prepare(const PlaneDesc& p, uint32_t width, uint32_t height, Span* out);
  uint32_t w_ = 0, h_ = 0, crc_ = 0, faults_ = 0;
  std::vector<uint32_t> frame_;
  std::vector<uint32_t> row_;       // one converted source row
  std::vector<uint32_t> xmap_;      // nearest-neighbour column map
  std::vector<const PlaneDesc*> order_;
};

}  // namespace udrm::fakehw
