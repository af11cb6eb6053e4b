// bench/flip_client.h — a KMS client with an active output and two framebuffers, and the
// nonblocking flip + event round trip the KMS benchmarks time (bench_kms, bench_commit_latency).
//
// Lifetime: a Client lives inside with_flip_client(); its display, World and files are gone
// when that returns.
// Context: process context (a benchmark thread, or the SimExecutor's main task).
#pragma once
#include <drm_fourcc.h>

#include <cstdint>
#include <memory>

#include "udrm/base/executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/testing/kms_client.h"

namespace udrm_bench {

namespace drivers = udrm::drivers;
using udrm::testing::KmsClient;

// A client with an active output (smallest connected mode) and two framebuffers.
struct Client {
  std::unique_ptr<KmsClient> c;
  uint32_t crtc = 0, conn = 0, plane = 0, fb[2] = {0, 0};
  drm_mode_modeinfo mode{};
  KmsClient::Dumb buf[2];
};

inline bool setup_client(drivers::Display& d, Client* cl) {
  udrm::Ref<udrm::DrmFile> f;
  if (d.open(&f)) return false;
  cl->c = std::make_unique<KmsClient>(f);
  KmsClient& c = *cl->c;
  if (c.enable_atomic()) return false;
  KmsClient::Resources res;
  if (c.get_resources(&res)) return false;
  for (uint32_t conn_id : res.connectors) {
    KmsClient::Connector conn;
    if (c.get_connector(conn_id, &conn) || conn.status != 1 || conn.modes.empty() || conn.encoders.empty()) continue;
    drm_mode_get_encoder enc{};
    enc.encoder_id = conn.encoders[0];
    if (c.ioctl(DRM_IOCTL_MODE_GETENCODER, &enc)) return false;
    for (uint32_t i = 0; i < res.crtcs.size(); ++i) {
      if (!(enc.possible_crtcs & (1u << i))) continue;
      cl->crtc = res.crtcs[i];
      cl->conn = conn_id;
      cl->plane = c.find_plane(i, 1);
      cl->mode = conn.modes.back();  // the smallest is usually last; size does not matter here
      break;
    }
    if (cl->plane) break;
  }
  if (!cl->plane) return false;
  for (int i = 0; i < 2; ++i) {
    if (c.create_dumb(cl->mode.hdisplay, cl->mode.vdisplay, 32, &cl->buf[i])) return false;
    udrm::testing::fill_pattern(cl->buf[i], static_cast<uint32_t>(i));
    if (c.add_fb(cl->buf[i], DRM_FORMAT_XRGB8888, &cl->fb[i])) return false;
  }
  return c.atomic_modeset(cl->crtc, cl->conn, cl->plane, cl->fb[0], cl->mode, DRM_MODE_ATOMIC_ALLOW_MODESET) == 0;
}

inline void teardown_client(Client& cl) {
  for (auto& b : cl.buf) cl.c->destroy_dumb(b);
  cl.c->close();
}

// One nonblocking flip with an event, then a blocking read of that event.
inline bool flip_round_trip(Client& cl, uint64_t i) {
  if (cl.c->atomic_flip(cl.plane, cl.fb[i & 1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, i)) return false;
  alignas(8) char buf[64];
  return cl.c->file().read(buf, sizeof(buf), true) == static_cast<long>(sizeof(drm_event_vblank));
}

// A display of `kind` (vblank as soon as a flip is armed) on `ex`, a client with an active
// output, then body(client); false if anything failed.
template <class Body>
bool with_flip_client(udrm::Executor& ex, drivers::Kind kind, Body&& body) {
  udrm::World world(ex);
  drivers::DisplayOptions opts;
  opts.kind = kind;
  opts.immediate_vblank = true;
  auto d = drivers::create_display(world, opts);
  Client cl;
  bool ok = d->bind() == 0 && setup_client(*d, &cl);
  if (ok) {
    ok = body(cl);
    teardown_client(cl);
  }
  d.reset();
  return ok;
}

}  // namespace udrm_bench
