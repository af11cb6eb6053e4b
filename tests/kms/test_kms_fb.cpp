// Framebuffers (ADDFB2 checks with the kernel's errnos, lookup, file ownership) and pipe CRC.
#include <gtest/gtest.h>

#include "kms_rig.h"
#include <mutex>

#include "udrm/kms/atomic.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/testing/warn.h"

namespace udrm::kmstest {
namespace {

struct FbRig {
  KmsRig& rig;
  Ref<DrmFile> file;
  uint32_t handle = 0, small_handle = 0;
  explicit FbRig(KmsRig& r) : rig(r), file(r.open()) {
    Ref<GemObject> obj, small;
    EXPECT_EQ(GemObject::create(r.drm(), 640 * 4 * 480, &obj), 0);
    EXPECT_EQ(file->gem_handle_create(*obj, &handle), 0);
    EXPECT_EQ(GemObject::create(r.drm(), 4096, &small), 0);
    EXPECT_EQ(file->gem_handle_create(*small, &small_handle), 0);
  }
  drm_mode_fb_cmd2 cmd() const {
    drm_mode_fb_cmd2 c{};
    c.width = 640;
    c.height = 480;
    c.pixel_format = DRM_FORMAT_XRGB8888;
    c.handles[0] = handle;
    c.pitches[0] = 640 * 4;
    return c;
  }
  int create(const drm_mode_fb_cmd2& c) {
    Ref<Framebuffer> fb;
    return gem_fb_create(rig.drm(), *file, c, &fb);
  }
};

TEST(KmsFramebuffer, GemFbCreateRejectsBadRequestsWithTheKernelsErrno) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    FbRig f(rig);
    auto with = [&](auto&& edit) {
      drm_mode_fb_cmd2 c = f.cmd();
      edit(c);
      return f.create(c);
    };
    EXPECT_EQ(f.create(f.cmd()), 0);
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.pixel_format = 0x12345678; }), -EINVAL) << "unknown format";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.pixel_format = DRM_FORMAT_NV12; }), -EINVAL)
        << "no plane scans it out";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.width = 0; }), -EINVAL);
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.height = 0; }), -EINVAL);
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.width = 8193; }), -EINVAL) << "beyond max_width";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.flags = 0x80; }), -EINVAL) << "unknown flag";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.handles[0] = 0; }), -EINVAL) << "no handle";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.handles[0] = 777; }), -ENOENT) << "bad handle";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.pitches[0] = 640 * 4 - 1; }), -EINVAL) << "pitch too small";
    EXPECT_EQ(with([&](drm_mode_fb_cmd2& c) { c.handles[0] = f.small_handle; }), -EINVAL) << "object too small";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.offsets[0] = 4096; }), -EINVAL) << "offset pushes past the end";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.pitches[0] = 0x10000000; }), -ERANGE) << "height*pitch overflows";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.modifier[0] = 1; }), -EINVAL) << "modifier without the flag";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.modifier[1] = 1; }), -EINVAL) << "modifier on an unused plane";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) {
                c.flags = DRM_MODE_FB_MODIFIERS;
                c.handles[1] = c.handles[0];
              }),
              -EINVAL)
        << "handle on an unused plane";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.handles[1] = c.handles[0]; }), 0)
        << "pre-modifier userspace may leave garbage in unused planes";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) { c.flags = DRM_MODE_FB_MODIFIERS; }), 0) << "LINEAR";
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) {
                c.flags = DRM_MODE_FB_MODIFIERS;
                c.modifier[0] = fourcc_mod_code(VIVANTE, 1);
              }),
              -EINVAL)
        << "modifier no plane supports";
    // The last line only needs width * cpp bytes, not a whole pitch.
    EXPECT_EQ(with([](drm_mode_fb_cmd2& c) {
                c.width = 16;
                c.height = 4;
                c.pitches[0] = 1024;
                c.offsets[0] = 4096 * 4 - (3 * 1024 + 64);
              }),
              0);
    f.file->close();
  });
}

TEST(KmsFramebuffer, CreateLookupPixelPtrAndFileOwnership) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    FbRig f(rig);
    Ref<Framebuffer> fb;
    ASSERT_EQ(gem_fb_create(d, *f.file, f.cmd(), &fb), 0);
    EXPECT_EQ(fb->refcount(), 1u);
    EXPECT_EQ(fb->format->format, uint32_t(DRM_FORMAT_XRGB8888));
    EXPECT_EQ(fb->modifier, DRM_FORMAT_MOD_LINEAR);
    EXPECT_EQ(framebuffer_lookup(d, fb->id), fb);
    EXPECT_EQ(crtc_find(d, fb->id), nullptr);
    ASSERT_NE(fb->pixel_ptr(0, 0, 0), nullptr);
    EXPECT_EQ(fb->pixel_ptr(0, 1, 2) - fb->pixel_ptr(0, 0, 0), 2 * 640 * 4 + 4);
    EXPECT_EQ(fb->pixel_ptr(0, 640, 0), nullptr);
    EXPECT_EQ(fb->pixel_ptr(1, 0, 0), nullptr);
    const uint32_t id = fb->id;
    fb.reset();
    EXPECT_EQ(framebuffer_lookup(d, id), nullptr);

    // ADDFB2 hands the reference to the file; close drops it.
    drm_mode_fb_cmd2 c = f.cmd();
    ASSERT_EQ(framebuffer_addfb2(d, *f.file, c), 0);
    ASSERT_NE(c.fb_id, 0u);
    ASSERT_EQ(f.file->fbs.size(), 1u);
    Ref<Framebuffer> live = framebuffer_lookup(d, c.fb_id);
    ASSERT_TRUE(live);
    EXPECT_EQ(live->file, f.file.get());
    EXPECT_EQ(d.mc().fb_list.size(), 1u);
    live.reset();
    f.file->close();
    EXPECT_EQ(framebuffer_lookup(d, c.fb_id), nullptr);
    EXPECT_EQ(d.mc().fb_list.size(), 0u);
  });
}

// ---- CRC -------------------------------------------------------------------------------------

std::vector<std::string> g_sources;

TEST(KmsCrc, RingOverflowDropsTheOldestAndCounts) {
  run_sim([](SimExecutor& sim) {
    static const CrtcFuncs funcs = {
        .set_crc_source =
            [](Crtc&, const char* src) {
              g_sources.push_back(src);
              return 0;
            },
    };
    g_sources.clear();
    Crtc crtc2;
    Plane primary2;
    KmsRig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC, [&](KDrm& d) {
      if (int r = drmm_universal_plane_init(d, primary2, 2, nullptr, kFormats, 1, nullptr, PlaneType::primary))
        return r;
      return drmm_crtc_init_with_planes(d, crtc2, &primary2, nullptr, &funcs);
    });
    KDrm& d = rig.drm();
    EXPECT_EQ(crtc_crc_open(d.crtc), -EINVAL) << "no CRC support";
    EXPECT_EQ(crtc_add_crc_entry(crtc2, 1, 0xabc), -EINVAL) << "no capture open";
    ASSERT_EQ(crtc_crc_open(crtc2), 0);
    EXPECT_EQ(crtc_crc_open(crtc2), -EBUSY);
    EXPECT_EQ(g_sources, (std::vector<std::string>{"auto"}));
    for (uint64_t frame = 0; frame < 130; ++frame) ASSERT_EQ(crtc_add_crc_entry(crtc2, frame, uint32_t(frame * 7)), 0);
    EXPECT_EQ(crtc_crc_overflows(crtc2), 2u);
    std::vector<CrcEntry> e = crtc_crc_read(crtc2);
    ASSERT_EQ(e.size(), 128u);
    EXPECT_EQ(e.front().frame, 2u);
    EXPECT_EQ(e.back().frame, 129u);
    EXPECT_EQ(e.back().crc, 129u * 7);
    EXPECT_TRUE(crtc_crc_read(crtc2).empty());

    // Waiting: consumes older entries; times out on the virtual clock.
    crtc_add_crc_entry(crtc2, 200, 1);
    crtc_add_crc_entry(crtc2, 201, 2);
    auto got = crtc_crc_wait(crtc2, 201, 10);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->crc, 2u);
    EXPECT_FALSE(crtc_crc_wait(crtc2, 300, 50));
    crtc_crc_close(crtc2);
    EXPECT_EQ(g_sources, (std::vector<std::string>{"auto", "none"}));
    EXPECT_EQ(crtc_add_crc_entry(crtc2, 301, 3), -EINVAL);

    d.unplug();
    EXPECT_EQ(crtc_crc_open(crtc2), -ENODEV);
  });
}

}  // namespace
}  // namespace udrm::kmstest

namespace udrm::kmstest {
namespace {

// Scan a framebuffer out on the rig's CRTC with one blocking commit.
int light_up(KDrm& d, Framebuffer* fb) {
  Ref<AtomicState> st = atomic_state_alloc(d);
  if (!st) return -ENOMEM;
  st->allow_modeset = true;
  std::lock_guard<Mutex> l(d.mc().mutex);
  CrtcState* cs = atomic_get_crtc_state(*st, d.crtc);
  PlaneState* ps = atomic_get_plane_state(*st, d.primary);
  ConnectorState* con = atomic_get_connector_state(*st, d.connector);
  if (!cs || !ps || !con) return -ENOMEM;
  DisplayMode m = mode_cvt(640, 480, 60);
  cs->active = true;
  if (int r = atomic_set_mode_for_crtc(*cs, &m)) return r;
  if (int r = atomic_set_crtc_for_connector(*con, &d.crtc)) return r;
  if (int r = atomic_set_crtc_for_plane(*ps, &d.crtc)) return r;
  atomic_set_fb_for_plane(*ps, fb);
  ps->crtc_w = 640, ps->crtc_h = 480;
  ps->src_w = 640 << 16, ps->src_h = 480 << 16;
  return atomic_commit(*st);
}

int g_reject_primary_off = 0;

TEST(KmsFramebuffer, RmfbOfAScannedOutFramebufferTakesItOffThePlane) {
  run_sim([](SimExecutor& sim) {
    static const PlaneHelperFuncs strict = {
        // A primary plane that cannot be switched off alone while its CRTC stays on.
        .atomic_check =
            [](Plane& p, AtomicState& s) {
              PlaneState* ps = atomic_get_new_plane_state(s, p);
              CrtcState* cs = p.state && p.state->crtc ? atomic_get_new_crtc_state(s, *p.state->crtc) : nullptr;
              if (g_reject_primary_off && ps && !ps->fb && cs && cs->active) {
                ++g_reject_primary_off;
                return -EINVAL;
              }
              return 0;
            },
    };
    for (int strict_mode = 0; strict_mode < 2; ++strict_mode) {
      g_reject_primary_off = strict_mode;
      KmsRig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC, [&](KDrm& d) {
        plane_helper_add(d.primary, &strict);
        return 0;
      });
      KDrm& d = rig.drm();
      FbRig f(rig);
      drm_mode_fb_cmd2 c = f.cmd();
      ASSERT_EQ(framebuffer_addfb2(d, *f.file, c), 0);
      {
        Ref<Framebuffer> fb = framebuffer_lookup(d, c.fb_id);
        ASSERT_EQ(light_up(d, fb.get()), 0);
      }
      ASSERT_TRUE(d.primary.state->fb);
      ASSERT_TRUE(d.crtc.state->active);
      EXPECT_EQ(framebuffer_rmfb(d, *f.file, 0xdead), -ENOENT);
      ASSERT_EQ(framebuffer_rmfb(d, *f.file, c.fb_id), 0);
      EXPECT_FALSE(d.primary.state->fb) << "RMFB took it off the screen";
      EXPECT_EQ(d.primary.state->crtc, nullptr);
      EXPECT_EQ(framebuffer_lookup(d, c.fb_id), nullptr);
      EXPECT_EQ(framebuffer_rmfb(d, *f.file, c.fb_id), -ENOENT);
      if (strict_mode) {
        EXPECT_GT(g_reject_primary_off, 1) << "the plane-only commit was refused";
        EXPECT_FALSE(d.crtc.state->active) << "then the CRTC went off with it";
      } else {
        EXPECT_TRUE(d.crtc.state->active) << "a plane-only disable suffices";
        // Close with a framebuffer on screen: drm_fb_release takes it off too.
        drm_mode_fb_cmd2 c2 = f.cmd();
        ASSERT_EQ(framebuffer_addfb2(d, *f.file, c2), 0);
        {
          Ref<Framebuffer> fb = framebuffer_lookup(d, c2.fb_id);
          ASSERT_EQ(light_up(d, fb.get()), 0);
        }
        ASSERT_TRUE(d.primary.state->fb);
        f.file->close();
        EXPECT_FALSE(d.primary.state->fb);
        EXPECT_EQ(framebuffer_lookup(d, c2.fb_id), nullptr);
      }
      f.file->close();
    }
  });
}

}  // namespace
}  // namespace udrm::kmstest
