// A small KMS client over the remote backend (udrm/shim/backend.h) for the udrm-run tests:
// the ioctls libdrm's tools make, issued through File::ioctl with this process's memory.
//
// Lifetime: holds the File; close() (or the destructor) closes it. Context: test thread.
#pragma once
#include <drm.h>
#include <drm_mode.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "udrm/shim/backend.h"

namespace udrm::run::test {

struct Output {
  uint32_t crtc_id = 0, conn_id = 0, plane_id = 0;
  drm_mode_modeinfo mode{};
};

struct Buffer {
  uint32_t handle = 0, pitch = 0, width = 0, height = 0, fb = 0;
  uint64_t size = 0;
  uint8_t* map = nullptr;
};

class RemoteClient {
 public:
  explicit RemoteClient(std::shared_ptr<shim::File> f) : f_(std::move(f)) {}
  ~RemoteClient() { close(); }

  shim::File& file() { return *f_; }
  int ioctl(unsigned long cmd, void* arg) { return f_->ioctl(cmd, arg); }
  /// VERSION (two-pass) → driver name, or "" on error.
  std::string driver_name();
  int enable_atomic();
  /// First connected connector, its first mode, CRTC 0's primary plane (needs atomic cap).
  int find_output(Output* out);
  /// CREATE_DUMB + MAP_DUMB + mmap + pattern + ADDFB2 (XRGB8888).
  int create_buffer(uint32_t w, uint32_t h, uint32_t seed, Buffer* out);
  void destroy_buffer(Buffer* b);
  int atomic_modeset(const Output& o, uint32_t fb);
  int atomic_flip(const Output& o, uint32_t fb, uint32_t flags, uint64_t user_data);
  /// Blocking read of one event; returns its type (or -errno).
  int read_event(drm_event_vblank* ev);
  void close();

 private:
  int set_props(const std::vector<uint32_t>& objs, const std::vector<std::vector<std::pair<uint32_t, uint64_t>>>& props,
                uint32_t flags, uint64_t user_data);
  uint32_t prop_id(uint32_t obj, uint32_t type, const char* name);
  std::shared_ptr<shim::File> f_;
  bool closed_ = false;
};

/// The pattern the tests draw (same as udrm::testing::fill_pattern) and its CRC as the
/// composer computes it for a full-screen XRGB8888 plane.
void fill_pattern(const Buffer& b, uint32_t seed);
uint32_t pattern_crc(const Buffer& b);

}  // namespace udrm::run::test
