// udrm/fakehw/edid_builder.h — build EDID blobs for fake monitors.
//
// Produces an EDID 1.4 base block (header, manufacturer/product/serial, week/year, digital
// input, physical size in cm, established/standard timings unused, four 18-byte descriptors,
// checksum) with the preferred detailed timing first, further detailed timings, and a monitor
// name descriptor (0xFC). Detailed timings that do not fit the base block go into a CTA-861
// extension block (tag 0x02, revision 3) when extensions are allowed; the extension count byte
// and every block's checksum are set. Layout per the VESA E-EDID standard (as parsed by
// drm_edid.c).
//
// Lifetime: values. Context: any, never sleeps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace udrm::fakehw {

/// A detailed timing (the fields of an EDID detailed timing descriptor).
struct EdidTiming {
  uint32_t clock_khz = 0;  ///< stored in 10 kHz units
  uint16_t hdisplay = 0, hsync_start = 0, hsync_end = 0, htotal = 0;
  uint16_t vdisplay = 0, vsync_start = 0, vsync_end = 0, vtotal = 0;
  bool hsync_positive = true, vsync_positive = true;
  bool operator==(const EdidTiming&) const = default;
};

/// CEA-861 / DMT timings for tests and drivers.
EdidTiming edid_timing_640x480_60();
EdidTiming edid_timing_1280x720_60();
EdidTiming edid_timing_1920x1080_60();
EdidTiming edid_timing_1024x768_60();

class EdidBuilder {
 public:
  EdidBuilder& manufacturer(const char id[4]);  ///< three letters A–Z, default "UDR"
  EdidBuilder& product(uint16_t code, uint32_t serial = 0);
  EdidBuilder& manufactured(uint8_t week, uint16_t year);  ///< year ≥ 1990
  EdidBuilder& physical_size_mm(uint32_t w, uint32_t h);   ///< stored in cm (rounded)
  /// The preferred (first) detailed timing. Required.
  EdidBuilder& preferred(const EdidTiming& t);
  /// More detailed timings, in order.
  EdidBuilder& add_timing(const EdidTiming& t);
  /// Monitor name (≤ 13 characters; longer is truncated).
  EdidBuilder& monitor_name(std::string name);
  /// Allow a CTA-861 extension block for timings that do not fit (default: allowed).
  /// Force one even if everything fits with force = true.
  EdidBuilder& extension(bool allowed, bool force = false);

  /// The blob (128 bytes, or 256 with an extension). Timings beyond the capacity are dropped.
  std::vector<uint8_t> build() const;

 private:
  char mfg_[3] = {'U', 'D', 'R'};
  uint16_t product_ = 1;
  uint32_t serial_ = 0;
  uint8_t week_ = 1;
  uint16_t year_ = 2024;
  uint32_t w_mm_ = 0, h_mm_ = 0;
  std::vector<EdidTiming> timings_;  // [0] = preferred
  bool has_preferred_ = false;
  std::string name_;
  bool ext_allowed_ = true, ext_force_ = false;
};

/// Sum of all 128 bytes of each block ≡ 0 (mod 256), for every block in `edid`.
bool edid_checksums_ok(const uint8_t* edid, std::size_t len);
/// Decode the 18-byte detailed timing descriptor at `dtd` (pixel clock ≠ 0).
EdidTiming edid_decode_timing(const uint8_t* dtd);

}  // namespace udrm::fakehw
