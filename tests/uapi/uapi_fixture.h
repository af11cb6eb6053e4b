// Shared fixture of the uAPI tests: one reference display (simple or soc) on the simulated
// executor, and raw two-pass wrappers that replay what libdrm's drmModeGet*() functions send
// (libdrm-clients.md §2–§3), with the drm.h / drm_mode.h structs.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/drm/ioctl.h"
#include "udrm/testing/kms_client.h"

namespace udrm::uapi {

using drivers::Kind;
using testing::KmsClient;

// libdrm's xf86drmMode.h values (not in drm_mode.h).
inline constexpr uint32_t DRM_MODE_CONNECTED = 1;
inline constexpr uint64_t DRM_PLANE_TYPE_OVERLAY = 0, DRM_PLANE_TYPE_PRIMARY = 1, DRM_PLANE_TYPE_CURSOR = 2;

template <class T>
inline uint64_t uptr(T* p) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
}

inline const char* kind_name(Kind k) { return k == Kind::simple ? "simple" : "soc"; }

/// A client that closes its file when it goes (tests close before the display goes).
struct Client : KmsClient {
  explicit Client(Ref<DrmFile> f) : KmsClient(std::move(f)) {}
  ~Client() {
    if (file().is_open()) close();
  }
};

struct Uapi : ::testing::TestWithParam<Kind> {
  template <class F>
  void run(F&& body) {
    SimExecutor sim;
    auto r = sim.run([&] {
      World world(sim);
      drivers::DisplayOptions opts;
      opts.kind = GetParam();
      auto d = drivers::create_display(world, opts);
      ASSERT_TRUE(d);
      ASSERT_EQ(d->bind(), 0);
      body(*d);
      d.reset();
      sleep_for(std::chrono::milliseconds(20));  // deferred frees run while the World still exists
    });
    ASSERT_TRUE(r) << r.report;
  }
  static std::unique_ptr<Client> open(drivers::Display& d, MinorType type = MinorType::primary) {
    Ref<DrmFile> f;
    if (d.open(&f, type)) return nullptr;
    return std::make_unique<Client>(f);
  }
};

inline std::string param_name(const ::testing::TestParamInfo<Kind>& i) { return kind_name(i.param); }

#define UDRM_UAPI_INSTANTIATE(Suite) \
  INSTANTIATE_TEST_SUITE_P(Drivers, Suite, ::testing::Values(Kind::simple, Kind::soc), ::udrm::uapi::param_name)

// --- raw two-pass wrappers (what libdrm sends) --------------------------------------------

struct Res {
  drm_mode_card_res hdr{};
  std::vector<uint32_t> fbs, crtcs, connectors, encoders;
};
/// drmModeGetResources: counts first, then the arrays.
inline int get_resources(KmsClient& c, Res* out) {
  drm_mode_card_res r{};
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETRESOURCES, &r)) return e;
  out->fbs.resize(r.count_fbs);
  out->crtcs.resize(r.count_crtcs);
  out->connectors.resize(r.count_connectors);
  out->encoders.resize(r.count_encoders);
  r.fb_id_ptr = uptr(out->fbs.data());
  r.crtc_id_ptr = uptr(out->crtcs.data());
  r.connector_id_ptr = uptr(out->connectors.data());
  r.encoder_id_ptr = uptr(out->encoders.data());
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETRESOURCES, &r)) return e;
  out->hdr = r;
  return 0;
}

struct Conn {
  drm_mode_get_connector hdr{};
  std::vector<uint32_t> encoders, props;
  std::vector<uint64_t> values;
  std::vector<drm_mode_modeinfo> modes;
  uint64_t prop(const std::map<uint32_t, std::string>& names, const std::string& n, bool* found = nullptr) const {
    for (std::size_t i = 0; i < props.size(); ++i) {
      auto it = names.find(props[i]);
      if (it != names.end() && it->second == n) {
        if (found) *found = true;
        return values[i];
      }
    }
    if (found) *found = false;
    return 0;
  }
};
/// drmModeGetConnector: the first call has count_modes 0 (a probe), the second the arrays.
inline int get_connector(KmsClient& c, uint32_t id, Conn* out) {
  drm_mode_get_connector r{};
  r.connector_id = id;
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &r)) return e;
  out->encoders.resize(r.count_encoders);
  out->props.resize(r.count_props);
  out->values.resize(r.count_props);
  out->modes.resize(r.count_modes);
  r.encoders_ptr = uptr(out->encoders.data());
  r.props_ptr = uptr(out->props.data());
  r.prop_values_ptr = uptr(out->values.data());
  r.modes_ptr = uptr(out->modes.data());
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &r)) return e;
  out->hdr = r;
  return 0;
}

struct ObjProps {
  std::vector<uint32_t> ids;
  std::vector<uint64_t> values;
};
inline int get_obj_props(KmsClient& c, uint32_t obj, uint32_t type, ObjProps* out) {
  drm_mode_obj_get_properties r{};
  r.obj_id = obj;
  r.obj_type = type;
  if (int e = c.ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &r)) return e;
  out->ids.resize(r.count_props);
  out->values.resize(r.count_props);
  r.props_ptr = uptr(out->ids.data());
  r.prop_values_ptr = uptr(out->values.data());
  if (int e = c.ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &r)) return e;
  out->ids.resize(r.count_props);
  out->values.resize(r.count_props);
  return 0;
}

struct PropInfo {
  drm_mode_get_property hdr{};
  std::string name;
  std::vector<uint64_t> values;
  std::vector<drm_mode_property_enum> enums;
  uint32_t type() const { return hdr.flags & (DRM_MODE_PROP_LEGACY_TYPE | DRM_MODE_PROP_EXTENDED_TYPE); }
};
/// drmModeGetProperty: enum_blob_ptr sized per type (40-byte enums for ENUM/BITMASK).
inline int get_property(KmsClient& c, uint32_t id, PropInfo* out) {
  drm_mode_get_property r{};
  r.prop_id = id;
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETPROPERTY, &r)) return e;
  out->values.resize(r.count_values);
  out->enums.resize(r.count_enum_blobs);
  r.values_ptr = uptr(out->values.data());
  r.enum_blob_ptr = uptr(out->enums.data());
  if (int e = c.ioctl(DRM_IOCTL_MODE_GETPROPERTY, &r)) return e;
  out->hdr = r;
  out->name = r.name;
  return 0;
}

/// Property names of an object (id → name).
inline std::map<std::string, std::pair<uint32_t, uint64_t>> props_by_name(KmsClient& c, uint32_t obj, uint32_t type) {
  std::map<std::string, std::pair<uint32_t, uint64_t>> out;
  ObjProps p;
  if (get_obj_props(c, obj, type, &p)) return out;
  for (std::size_t i = 0; i < p.ids.size(); ++i) {
    PropInfo pi;
    if (get_property(c, p.ids[i], &pi)) continue;
    out[pi.name] = {p.ids[i], p.values[i]};
  }
  return out;
}

inline std::vector<uint8_t> get_blob(KmsClient& c, uint32_t id, int* err = nullptr) {
  drm_mode_get_blob b{};
  b.blob_id = id;
  int e = c.ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &b);
  std::vector<uint8_t> data(b.length);
  if (!e) {
    b.data = uptr(data.data());
    e = c.ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &b);
  }
  if (err) *err = e;
  if (e) data.clear();
  return data;
}

/// One output: a connected connector, a CRTC its first encoder can drive, the CRTC's primary
/// plane, and the connector's smallest mode.
struct Output {
  uint32_t crtc_id = 0, crtc_index = 0, conn_id = 0, enc_id = 0, primary = 0;
  drm_mode_modeinfo mode{};
  int64_t period_ns() const {
    return static_cast<int64_t>(mode.htotal) * mode.vtotal * 1'000'000 / static_cast<int64_t>(mode.clock);
  }
};
inline ::testing::AssertionResult find_output(KmsClient& c, Output* out) {
  Res res;
  if (int e = get_resources(c, &res)) return ::testing::AssertionFailure() << "GETRESOURCES " << e;
  for (uint32_t id : res.connectors) {
    Conn conn;
    if (int e = get_connector(c, id, &conn)) return ::testing::AssertionFailure() << "GETCONNECTOR " << e;
    if (conn.hdr.connection != DRM_MODE_CONNECTED || conn.modes.empty() || conn.encoders.empty()) continue;
    drm_mode_get_encoder enc{};
    enc.encoder_id = conn.encoders[0];
    if (int e = c.ioctl(DRM_IOCTL_MODE_GETENCODER, &enc)) return ::testing::AssertionFailure() << "GETENCODER " << e;
    const drm_mode_modeinfo* best = nullptr;
    for (const auto& m : conn.modes)
      if (!best || uint64_t{m.hdisplay} * m.vdisplay < uint64_t{best->hdisplay} * best->vdisplay) best = &m;
    for (uint32_t i = 0; i < res.crtcs.size(); ++i) {
      if (!(enc.possible_crtcs & (1u << i))) continue;
      uint32_t plane = c.find_plane(i, DRM_PLANE_TYPE_PRIMARY);
      if (!plane) continue;
      *out = Output{res.crtcs[i], i, id, enc.encoder_id, plane, *best};
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no connected output";
}

/// A full-screen dumb buffer with its framebuffer.
struct Buffer {
  KmsClient::Dumb dumb;
  uint32_t fb = 0;
};
inline ::testing::AssertionResult make_buffer(KmsClient& c, uint32_t w, uint32_t h, uint32_t seed, Buffer* b,
                                              uint32_t fourcc = DRM_FORMAT_XRGB8888) {
  if (int e = c.create_dumb(w, h, 32, &b->dumb)) return ::testing::AssertionFailure() << "CREATE_DUMB " << e;
  testing::fill_pattern(b->dumb, seed);
  if (int e = c.add_fb(b->dumb, fourcc, &b->fb)) return ::testing::AssertionFailure() << "ADDFB2 " << e;
  return ::testing::AssertionSuccess();
}

/// Poll the client's event fd (the select()/poll() of the tools) in 1 ms steps of virtual time.
bool wait_readable(KmsClient& c, int max_ms = 1000);
/// One read() of exactly one 32-byte vblank event.
::testing::AssertionResult read_one_event(KmsClient& c, drm_event_vblank* ev);

/// Expected CRC of a frame composed from the given planes (fakehw::Composer, XRGB8888).
struct PlaneImage {
  const KmsClient::Dumb* d = nullptr;
  uint32_t fourcc = DRM_FORMAT_XRGB8888;
  int32_t x = 0, y = 0;
  uint32_t w = 0, h = 0;  // size on screen (= source size, no scaling)
};
uint32_t expected_crc(uint32_t frame_w, uint32_t frame_h, const std::vector<PlaneImage>& planes);
/// Wait until a CRC entry of the CRTC equals `want` (capture must be open).
::testing::AssertionResult crc_shows(DrmDevice& dev, uint32_t crtc_id, uint32_t want);

}  // namespace udrm::uapi
