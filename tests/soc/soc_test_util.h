// tests/soc/soc_test_util.h — helpers for the udrm-soc tests: a simulated world with the soc
// Display, dumb-buffer framebuffers with patterns, atomic modesets/flips through the in-process
// atomic API (the shape the ATOMIC ioctl takes: inside DrmFile::call, under the modeset lock),
// event reads and the reference CRC of a pattern (fakehw::Composer).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drivers/soc.h"
#include "udrm/drm/event.h"
#include "udrm/drm/file.h"
#include "udrm/fakehw/board.h"
#include "udrm/fakehw/compose.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/gem.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/testing/warn.h"

namespace udrm::soctest {

using namespace std::chrono_literals;
using drivers::Display;
using drivers::DisplayOptions;

inline std::unique_ptr<Display> make_soc(World& w, DisplayOptions o = {}) {
  o.kind = drivers::Kind::soc;
  return drivers::create_soc_display(w, o);
}

inline Connector* find_connector(DrmDevice& d, const std::string& name) {
  for (Connector* c : mode_config(d)->connectors)
    if (c->name == name) return c;
  return nullptr;
}

/// GETCONNECTOR's probe: detect + get_modes under the modeset lock.
inline int probe_connector(DrmDevice& d, Connector& c) {
  std::lock_guard<Mutex> l(mode_config(d)->mutex);
  return helper_probe_single_connector_modes(c, 4096, 4096);
}

inline std::optional<DisplayMode> find_mode(const Connector& c, int w, int h) {
  for (const DisplayMode& m : c.modes)
    if (m.hdisplay == w && m.vdisplay == h) return m;
  return std::nullopt;
}

/// A dumb buffer (GEM + handle on `file`) wrapped in an XRGB8888 framebuffer, filled by `pixel`.
struct Fb {
  Ref<GemObject> obj;
  uint32_t handle = 0;
  Ref<Framebuffer> fb;
  uint32_t w = 0, h = 0, pitch = 0;
  uint32_t* pixels() const { return reinterpret_cast<uint32_t*>(obj->vaddr()); }
};

template <class F>
Fb make_fb(DrmDevice& d, DrmFile& file, uint32_t w, uint32_t h, F pixel) {
  Fb b;
  b.w = w;
  b.h = h;
  uint64_t size = 0;
  EXPECT_EQ(dumb_buffer_size(w, h, 32, &b.pitch, &size), 0);
  EXPECT_EQ(GemObject::create(d, size, &b.obj), 0);
  if (!b.obj) return b;
  EXPECT_EQ(file.gem_handle_create(*b.obj, &b.handle), 0);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) b.pixels()[y * (b.pitch / 4) + x] = pixel(x, y);
  drm_mode_fb_cmd2 cmd{};
  cmd.width = w;
  cmd.height = h;
  cmd.pixel_format = DRM_FORMAT_XRGB8888;
  cmd.handles[0] = b.handle;
  cmd.pitches[0] = b.pitch;
  EXPECT_EQ(gem_fb_create(d, file, cmd, &b.fb), 0);
  return b;
}

/// The CRC the pipe must report for `b` scanned out full screen (the Composer on the pattern).
inline uint32_t expected_crc(const Fb& b) {
  fakehw::PlaneDesc p;
  p.fourcc = DRM_FORMAT_XRGB8888;
  p.pixels = b.obj->vaddr();
  p.pitch = b.pitch;
  p.src = {0, 0, b.w, b.h};
  p.dst = {0, 0, b.w, b.h};
  fakehw::Composer c;
  EXPECT_EQ(c.compose(b.w, b.h, std::span<const fakehw::PlaneDesc>(&p, 1)), 0);
  return c.crc();
}

struct Commit {
  Crtc* crtc = nullptr;
  Connector* conn = nullptr;          // nullptr: keep routing
  const DisplayMode* mode = nullptr;  // with conn: modeset
  Framebuffer* fb = nullptr;          // primary plane
  bool disable = false;               // crtc off, planes and connector detached
  uint64_t user_data = 0;             // != 0: request a flip event
  bool nonblock = false;
};

/// What the ATOMIC ioctl does with the request, through the file (so -ENODEV after unplug).
inline int commit(DrmFile& file, const Commit& c) {
  return file.call([&](DrmDevice& d) -> int {
    ModeConfig* mc = mode_config(d);
    std::lock_guard<Mutex> l(mc->mutex);
    Ref<AtomicState> st = atomic_state_alloc(d);
    if (!st) return -ENOMEM;
    st->allow_modeset = true;
    st->file = &file;
    CrtcState* cs = atomic_get_crtc_state(*st, *c.crtc);
    if (!cs) return -ENOMEM;
    PlaneState* ps = atomic_get_plane_state(*st, *c.crtc->primary);
    if (!ps) return -ENOMEM;
    if (c.disable) {
      cs->active = false;
      if (int r = atomic_set_mode_for_crtc(*cs, nullptr)) return r;
      if (int r = atomic_add_affected_connectors(*st, *c.crtc)) return r;
      for (auto& e : st->connectors)
        if (e.new_state && e.new_state->crtc == c.crtc) atomic_set_crtc_for_connector(*e.new_state, nullptr);
      atomic_set_crtc_for_plane(*ps, nullptr);
      atomic_set_fb_for_plane(*ps, nullptr);
    } else {
      if (c.mode) {
        if (int r = atomic_set_mode_for_crtc(*cs, c.mode)) return r;
        cs->active = true;
      }
      if (c.conn) {
        ConnectorState* cos = atomic_get_connector_state(*st, *c.conn);
        if (!cos) return -ENOMEM;
        if (int r = atomic_set_crtc_for_connector(*cos, c.crtc)) return r;
      }
      const DisplayMode& m = c.mode ? *c.mode : c.crtc->state->mode;
      if (int r = atomic_set_crtc_for_plane(*ps, c.crtc)) return r;
      atomic_set_fb_for_plane(*ps, c.fb);
      ps->crtc_x = 0;
      ps->crtc_y = 0;
      ps->crtc_w = m.hdisplay;
      ps->crtc_h = m.vdisplay;
      ps->src_x = 0;
      ps->src_y = 0;
      ps->src_w = c.fb ? c.fb->width << 16 : 0;
      ps->src_h = c.fb ? c.fb->height << 16 : 0;
    }
    if (c.user_data) {
      PendingVblankEvent* e = nullptr;
      if (int r = create_flip_event(d, file, c.user_data, &e)) return r;
      cs->event = e;
    }
    return c.nonblock ? atomic_nonblocking_commit(*st) : atomic_commit(*st);
  });
}

/// Read every queued event (non-blocking).
inline std::vector<drm_event_vblank> read_events(DrmFile& file) {
  std::vector<drm_event_vblank> out;
  alignas(8) char buf[4096];
  long n = file.read(buf, sizeof buf, false);
  for (long off = 0; n > 0 && off + static_cast<long>(sizeof(drm_event)) <= n;) {
    drm_event_vblank ev{};
    std::memcpy(&ev, buf + off, sizeof ev < static_cast<size_t>(n - off) ? sizeof ev : n - off);
    out.push_back(ev);
    off += ev.base.length;
    if (ev.base.length == 0) break;
  }
  return out;
}

/// Sleep (virtual time) until the file has an event or `limit` passed.
inline bool wait_event(DrmFile& file, Duration limit = 200ms) {
  const TimePoint end = now() + limit;
  while (!file.has_events() && now() < end) sleep_for(1ms);
  return file.has_events();
}

inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "; ";
  return s;
}

}  // namespace udrm::soctest
