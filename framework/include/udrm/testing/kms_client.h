// udrm/testing/kms_client.h — a small libdrm-like client over drm_ioctl, for tests.
//
// Tests talk to a udrm device the way userspace does: through the DRM uAPI structs of libdrm's
// drm.h / drm_mode.h and drm_ioctl(), with the two-pass count protocol, property lookup by
// name, dumb buffers mapped with DrmFile::mmap, atomic requests and event reads. (Real libdrm
// reaches udrm devices through the shim of issue 4; this client keeps the framework's own
// tests independent of it.)
//
// Lifetime: holds a reference to the file; close() closes it. The dumb-buffer mappings it
// made go when it goes (like a process exiting: a mapping holds the file, so one left behind
// would keep the file and the device alive). Context: process context.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <drm.h>
#include <drm_mode.h>

#include "udrm/drm/file.h"

namespace udrm::testing {

class KmsClient {
 public:
  explicit KmsClient(Ref<DrmFile> file) : file_(std::move(file)) {}
  ~KmsClient();
  KmsClient(const KmsClient&) = delete;
  KmsClient& operator=(const KmsClient&) = delete;
  DrmFile& file() const { return *file_; }
  Ref<DrmFile> file_ref() const { return file_; }

  /// drm_ioctl: 0 or -errno.
  int ioctl(unsigned long cmd, void* arg);
  int close();

  int set_client_cap(uint64_t cap, uint64_t value);
  /// Both UNIVERSAL_PLANES and ATOMIC.
  int enable_atomic();

  struct Resources {
    std::vector<uint32_t> fbs, crtcs, connectors, encoders;
  };
  int get_resources(Resources* out);
  struct Connector {
    uint32_t id = 0, encoder_id = 0, type = 0, status = 0;
    std::vector<drm_mode_modeinfo> modes;
    std::vector<uint32_t> encoders;
  };
  int get_connector(uint32_t id, Connector* out);
  int get_plane_ids(std::vector<uint32_t>* out);
  int get_plane(uint32_t id, drm_mode_get_plane* out, std::vector<uint32_t>* formats = nullptr);
  /// Properties of an object: name → (property id, value).
  int get_properties(uint32_t obj_id, uint32_t obj_type, std::map<std::string, std::pair<uint32_t, uint64_t>>* out);
  /// The id of property `name` on the object, 0 if absent.
  uint32_t prop_id(uint32_t obj_id, uint32_t obj_type, const std::string& name);
  /// The first plane of `type` (DRM_PLANE_TYPE_* value of the "type" property) usable on crtc_index.
  uint32_t find_plane(unsigned crtc_index, uint64_t type);

  struct Dumb {
    uint32_t handle = 0, pitch = 0, width = 0, height = 0, bpp = 0;
    uint64_t size = 0;
    uint8_t* map = nullptr;
  };
  /// CREATE_DUMB + MAP_DUMB + mmap.
  int create_dumb(uint32_t width, uint32_t height, uint32_t bpp, Dumb* out);
  int destroy_dumb(Dumb& d);  // munmap + DESTROY_DUMB
  /// ADDFB2 with one plane.
  int add_fb(const Dumb& d, uint32_t fourcc, uint32_t* fb_id);
  int rm_fb(uint32_t fb_id);

  /// An atomic request under construction.
  class Atomic {
   public:
    void add(uint32_t obj, uint32_t prop, uint64_t value);
    std::vector<uint32_t> objs, counts, props;
    std::vector<uint64_t> values;
  };
  int atomic_commit(const Atomic& req, uint32_t flags, uint64_t user_data = 0);
  int create_blob(const void* data, std::size_t len, uint32_t* id);
  int destroy_blob(uint32_t id);

  /// A full modeset with the atomic API: connector → crtc with mode, primary plane showing fb
  /// full screen. flags: e.g. DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT.
  int atomic_modeset(uint32_t crtc_id, uint32_t conn_id, uint32_t plane_id, uint32_t fb_id,
                     const drm_mode_modeinfo& mode, uint32_t flags, uint64_t user_data = 0);
  /// A plane-only flip of plane_id to fb_id (atomic).
  int atomic_flip(uint32_t plane_id, uint32_t fb_id, uint32_t flags, uint64_t user_data = 0);
  /// Switch crtc (and its connector/plane) off.
  int atomic_disable(uint32_t crtc_id, uint32_t conn_id, uint32_t plane_id, uint32_t flags, uint64_t user_data = 0);
  /// Legacy PAGE_FLIP.
  int page_flip(uint32_t crtc_id, uint32_t fb_id, uint32_t flags, uint64_t user_data);

  /// Read every queued event without blocking (vblank / flip-complete events).
  std::vector<drm_event_vblank> read_events();

 private:
  Ref<DrmFile> file_;
  std::vector<std::pair<void*, std::size_t>> maps_;  // mappings made by create_dumb
};

/// Fill a dumb XRGB8888 buffer with a deterministic pattern (seed selects it).
void fill_pattern(const KmsClient::Dumb& d, uint32_t seed);

}  // namespace udrm::testing
