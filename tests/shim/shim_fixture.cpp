// Shared machinery of the in-process libdrm shim tests (shim_fixture.h).
#include "shim_fixture.h"

#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <future>

#include <drm_fourcc.h>

#include "udrm/base/asio_executor.h"
#include "udrm/base/time.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/testing/kms_client.h"

namespace udrm::shimtest {

void settle() { sleep_for(std::chrono::milliseconds(50)); }

bool wait_until(const std::function<bool()>& pred) {
  for (int i = 0; i < 10000; ++i) {
    if (pred()) return true;
    sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

void run_on_asio(const std::vector<Kind>& kinds,
                 const std::function<void(World&, std::vector<drivers::Display*>&)>& body) {
  AsioExecutor ex(6);
  std::promise<void> done;
  auto finished = done.get_future();
  ex.post(
      [&] {
        {
          World world(ex);
          std::vector<std::unique_ptr<drivers::Display>> owned;
          std::vector<drivers::Display*> displays;
          bool bound = true;
          for (Kind k : kinds) {
            drivers::DisplayOptions opts;
            opts.kind = k;
            owned.push_back(drivers::create_display(world, opts));
            displays.push_back(owned.back().get());
            int r = owned.back()->bind();
            EXPECT_EQ(r, 0) << "bind " << kind_name(k);
            bound = bound && r == 0;
          }
          if (bound) body(world, displays);
          for (auto& d : owned) {
            d->remove();  // unbind whatever is bound: nothing may stay on
            EXPECT_TRUE(wait_until([&] { return d->leaks().empty(); })) << d->leaks().front();
          }
          owned.clear();
          settle();
          EXPECT_TRUE(world.violations().empty()) << world.violations().front().message;
        }
        done.set_value();
      },
      "shim-test");
  if (finished.wait_for(std::chrono::seconds(90)) != std::future_status::ready) {
    ADD_FAILURE() << "test body hung";
    std::abort();  // the body still uses this frame: no way to unwind
  }
  ex.shutdown();
}

void run_one(Kind kind, const std::function<void(drivers::Display&)>& body) {
  run_on_asio({kind}, [&](World&, std::vector<drivers::Display*>& ds) { body(*ds[0]); });
}

int open_by_name(Kind k) { return drmOpen(k == Kind::simple ? "udrm-simple" : "udrm-soc", nullptr); }

uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char* name, uint64_t* value) {
  drmModeObjectProperties* props = drmModeObjectGetProperties(fd, obj, type);
  if (!props) return 0;
  uint32_t id = 0;
  for (uint32_t i = 0; i < props->count_props && !id; ++i) {
    drmModePropertyRes* p = drmModeGetProperty(fd, props->props[i]);
    if (p && std::strcmp(p->name, name) == 0) {
      id = p->prop_id;
      if (value) *value = props->prop_values[i];
    }
    drmModeFreeProperty(p);
  }
  drmModeFreeObjectProperties(props);
  return id;
}

namespace {
uint32_t primary_plane(int fd, uint32_t crtc_index) {
  drmModePlaneRes* pr = drmModeGetPlaneResources(fd);
  if (!pr) return 0;
  uint32_t found = 0;
  for (uint32_t i = 0; i < pr->count_planes && !found; ++i) {
    drmModePlane* p = drmModeGetPlane(fd, pr->planes[i]);
    uint64_t type = ~uint64_t{0};
    if (p && (p->possible_crtcs & (1u << crtc_index)) && prop_id(fd, p->plane_id, DRM_MODE_OBJECT_PLANE, "type", &type) &&
        type == DRM_PLANE_TYPE_PRIMARY)
      found = p->plane_id;
    drmModeFreePlane(p);
  }
  drmModeFreePlaneResources(pr);
  return found;
}
}  // namespace

::testing::AssertionResult find_output(int fd, Output* out) {
  if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) || drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1))
    return ::testing::AssertionFailure() << "client caps: " << std::strerror(errno);
  drmModeRes* res = drmModeGetResources(fd);
  if (!res) return ::testing::AssertionFailure() << "drmModeGetResources: " << std::strerror(errno);
  bool found = false;
  for (int c = 0; c < res->count_connectors && !found; ++c) {
    drmModeConnector* conn = drmModeGetConnector(fd, res->connectors[c]);
    if (conn && conn->connection == DRM_MODE_CONNECTED && conn->count_modes > 0 && conn->count_encoders > 0) {
      drmModeEncoder* enc = drmModeGetEncoder(fd, conn->encoders[0]);
      const drmModeModeInfo* best = &conn->modes[0];
      for (int m = 1; m < conn->count_modes; ++m)
        if (uint64_t{conn->modes[m].hdisplay} * conn->modes[m].vdisplay < uint64_t{best->hdisplay} * best->vdisplay)
          best = &conn->modes[m];
      for (int i = 0; enc && i < res->count_crtcs && !found; ++i) {
        if (!(enc->possible_crtcs & (1u << i))) continue;
        uint32_t plane = primary_plane(fd, static_cast<uint32_t>(i));
        if (!plane) continue;
        *out = Output{res->crtcs[i], static_cast<uint32_t>(i), conn->connector_id, plane,
                      prop_id(fd, plane, DRM_MODE_OBJECT_PLANE, "FB_ID"), *best};
        found = true;
      }
      drmModeFreeEncoder(enc);
    }
    drmModeFreeConnector(conn);
  }
  drmModeFreeResources(res);
  if (!found) return ::testing::AssertionFailure() << "no connected output";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult create_fb(int fd, uint32_t w, uint32_t h, uint32_t seed, Fb* out) {
  Fb fb;
  fb.width = w;
  fb.height = h;
  if (drmModeCreateDumbBuffer(fd, w, h, 32, 0, &fb.handle, &fb.pitch, &fb.size))
    return ::testing::AssertionFailure() << "CREATE_DUMB: " << std::strerror(errno);
  uint64_t offset = 0;
  if (drmModeMapDumbBuffer(fd, fb.handle, &offset))
    return ::testing::AssertionFailure() << "MAP_DUMB: " << std::strerror(errno);
  void* map = mmap(nullptr, fb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (map == MAP_FAILED) return ::testing::AssertionFailure() << "mmap: " << std::strerror(errno);
  fb.map = static_cast<uint8_t*>(map);
  testing::KmsClient::Dumb d{fb.handle, fb.pitch, w, h, 32, fb.size, fb.map};
  testing::fill_pattern(d, seed);
  uint32_t handles[4] = {fb.handle}, pitches[4] = {fb.pitch}, offsets[4] = {0};
  if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb.fb_id, 0))
    return ::testing::AssertionFailure() << "ADDFB2: " << std::strerror(errno);
  *out = fb;
  return ::testing::AssertionSuccess();
}

void destroy_fb(int fd, Fb& fb) {
  if (fb.map) munmap(fb.map, fb.size);
  fb.map = nullptr;
  if (fb.fb_id) drmModeRmFB(fd, fb.fb_id);
  if (fb.handle) drmModeDestroyDumbBuffer(fd, fb.handle);
  fb.fb_id = fb.handle = 0;
}

int atomic_modeset(int fd, const Output& out, uint32_t fb_id) {
  uint32_t blob = 0;
  if (drmModeCreatePropertyBlob(fd, &out.mode, sizeof(out.mode), &blob)) return -errno;
  const uint32_t w = out.mode.hdisplay, h = out.mode.vdisplay;
  drmModeAtomicReq* req = drmModeAtomicAlloc();
  auto add = [&](uint32_t obj, uint32_t type, const char* name, uint64_t v) {
    drmModeAtomicAddProperty(req, obj, prop_id(fd, obj, type, name), v);
  };
  add(out.conn_id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", out.crtc_id);
  add(out.crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID", blob);
  add(out.crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE", 1);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID", fb_id);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_ID", out.crtc_id);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "SRC_X", 0);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "SRC_Y", 0);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "SRC_W", uint64_t{w} << 16);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "SRC_H", uint64_t{h} << 16);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_X", 0);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_Y", 0);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_W", w);
  add(out.plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_H", h);
  int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, nullptr) ? -errno : 0;
  drmModeAtomicFree(req);
  drmModeDestroyPropertyBlob(fd, blob);
  return r;
}

int atomic_flip(int fd, const Output& out, uint32_t fb_id, uint64_t user_data) {
  drmModeAtomicReq* req = drmModeAtomicAlloc();
  drmModeAtomicAddProperty(req, out.plane_id, out.fb_prop, fb_id);
  int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT,
                              reinterpret_cast<void*>(static_cast<uintptr_t>(user_data)))
              ? -errno
              : 0;
  drmModeAtomicFree(req);
  return r;
}

namespace {
// Where on_flip puts events: libdrm hands the handler the commit's user_data, not a context.
thread_local std::vector<FlipEvent>* t_sink = nullptr;
void on_flip(int, unsigned sequence, unsigned, unsigned, unsigned crtc_id, void* data) {
  if (t_sink) t_sink->push_back(FlipEvent{reinterpret_cast<uintptr_t>(data), crtc_id, sequence});
}
}  // namespace

int handle_events(int fd, std::vector<FlipEvent>* got) {
  drmEventContext ctx{};
  ctx.version = 3;
  ctx.page_flip_handler2 = on_flip;
  t_sink = got;
  int r = drmHandleEvent(fd, &ctx);
  t_sink = nullptr;
  return r;
}

::testing::AssertionResult wait_flip_events(int fd, std::vector<FlipEvent>* got, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n != 1 || !(p.revents & POLLIN))
    return ::testing::AssertionFailure() << "poll: " << n << " revents " << p.revents << " " << std::strerror(errno);
  std::size_t before = got->size();
  if (handle_events(fd, got)) return ::testing::AssertionFailure() << "drmHandleEvent: " << std::strerror(errno);
  if (got->size() == before) return ::testing::AssertionFailure() << "no flip event in what was read";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult scanout_shows(drivers::Display& d, uint32_t crtc_id, const Fb& fb) {
  DrmDevice* dev = d.drm();
  if (!dev) return ::testing::AssertionFailure() << "no bound DRM device";
  Crtc* crtc = crtc_find(*dev, crtc_id);
  if (!crtc) return ::testing::AssertionFailure() << "crtc lookup";
  if (int r = crtc_crc_open(*crtc)) return ::testing::AssertionFailure() << "crc open " << r;
  testing::KmsClient::Dumb dumb{fb.handle, fb.pitch, fb.width, fb.height, 32, fb.size, fb.map};
  auto r = crc_shows_fullscreen(*dev, crtc_id, dumb);
  crtc_crc_close(*crtc);
  return r;
}

}  // namespace udrm::shimtest
