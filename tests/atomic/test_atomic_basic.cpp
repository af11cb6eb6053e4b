// Atomic core basics: modeset, flips with events, blocking commits waiting for their vblank,
// check rules (ALLOW_MODESET, plane/CRTC sanity), properties, legacy helpers, shutdown, and
// the object balance (every AtomicState and CrtcCommit freed).
#include <gtest/gtest.h>

#include "atomic/kms_test_driver.h"
#include "udrm/testing/warn.h"

namespace udrm::kmstest {
namespace {

// Runs body in a fresh simulated world and checks that nothing KMS-side leaked.
template <class F>
void run(F&& body, bool with_vblank = true) {
  const long states0 = atomic_state_live_count(), commits0 = crtc_commit_live_count();
  {
    SimExecutor sim;
    World world(sim);
    auto r = sim.run([&] {
      Rig rig(world, with_vblank);
      ASSERT_NE(rig.dev, nullptr);
      body(rig);
      rig.tear_down();
    });
    ASSERT_TRUE(r) << r.report;
  }
  EXPECT_EQ(KmsDev::live, 0) << "the device was not freed";
  EXPECT_EQ(atomic_state_live_count(), states0) << "AtomicState leaked";
  EXPECT_EQ(crtc_commit_live_count(), commits0) << "CrtcCommit leaked";
}

TEST(AtomicBasic, ModesetLightsCrtcAndUpdatesLegacyPointers) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d);
    ASSERT_EQ(modeset(d, 0, fb.get()), 0);
    EXPECT_TRUE(d.crtc[0].state->active);
    EXPECT_TRUE(d.crtc[0].state->enable);
    EXPECT_NE(d.crtc[0].state->mode_blob, nullptr);
    EXPECT_EQ(d.st.crtc_enable, 1);
    EXPECT_EQ(d.primary[0].crtc, &d.crtc[0]);
    EXPECT_EQ(d.primary[0].fb, fb);
    EXPECT_EQ(d.conn[0].encoder, &d.enc[0]);
    EXPECT_EQ(d.enc[0].crtc, &d.crtc[0]);
    EXPECT_EQ(d.conn[0].dpms, DRM_MODE_DPMS_ON);
    EXPECT_EQ(crtc_frame_duration_ns(d.crtc[0]), 20'000'000);
    EXPECT_TRUE(d.primary[0].state->visible);
    fb.reset();
  });
}

TEST(AtomicBasic, BlockingCommitReturnsOnlyAfterTheNextVblank) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d), fb2 = make_fb(d);
    ASSERT_EQ(modeset(d, 0, fb.get()), 0);
    const uint64_t before = crtc_vblank_count(d.crtc[0]);
    const TimePoint t0 = now();
    ASSERT_EQ(flip(d, 0, fb2.get(), false), 0);
    EXPECT_GT(crtc_vblank_count(d.crtc[0]), before);
    EXPECT_GT(now(), t0);
    EXPECT_LE(now() - t0, kFrame + 1ms);
  });
}

TEST(AtomicBasic, NonblockingFlipEventArrivesAtNextVblankWithItsSequence) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d), fb2 = make_fb(d);
    ASSERT_EQ(modeset(d, 0, fb.get()), 0);
    ASSERT_EQ(flip(d, 0, fb2.get(), true, flip_event(d, *rig.file, 42)), 0);
    const uint64_t seq_at_submit = crtc_vblank_count(d.crtc[0]);
    EXPECT_TRUE(read_events(*rig.file).empty());
    sleep_for(kFrame + 1ms);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, static_cast<uint32_t>(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(ev[0].user_data, 42u);
    EXPECT_EQ(ev[0].sequence, seq_at_submit + 1);
    EXPECT_EQ(ev[0].crtc_id, d.crtc[0].id);
    EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace);
  });
}

TEST(AtomicBasic, ModesetWithoutAllowModesetIsEinvalAndChangesNothing) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d);
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    Ref<AtomicState> st = atomic_state_alloc(d);
    ASSERT_EQ(build_modeset(*st, d, 0, fb.get(), mode_50hz()), 0);
    st->allow_modeset = false;
    EXPECT_EQ(atomic_commit(*st), -EINVAL);
    EXPECT_FALSE(d.crtc[0].state->active);
    EXPECT_EQ(d.st.crtc_enable, 0);
  });
}

TEST(AtomicBasic, CheckOnlyRejectsBrokenPlaneAndCrtcStates) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d, 64, 64);
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    {  // FB without CRTC
      Ref<AtomicState> st = atomic_state_alloc(d);
      PlaneState* ps = atomic_get_plane_state(*st, d.overlay);
      atomic_set_fb_for_plane(*ps, fb.get());
      EXPECT_EQ(atomic_check_only(*st), -EINVAL);
    }
    {  // plane on a CRTC it cannot reach
      Ref<AtomicState> st = atomic_state_alloc(d);
      PlaneState* ps = atomic_get_plane_state(*st, d.primary[1]);
      ASSERT_EQ(atomic_set_crtc_for_plane(*ps, &d.crtc[0]), 0);
      atomic_set_fb_for_plane(*ps, fb.get());
      EXPECT_EQ(atomic_check_only(*st), -EINVAL);
    }
    {  // source rectangle outside the framebuffer
      Ref<AtomicState> st = atomic_state_alloc(d);
      PlaneState* ps = atomic_get_plane_state(*st, d.overlay);
      ASSERT_EQ(atomic_set_crtc_for_plane(*ps, &d.crtc[0]), 0);
      atomic_set_fb_for_plane(*ps, fb.get());
      ps->src_w = 65u << 16;
      ps->src_h = 64u << 16;
      ps->crtc_w = ps->crtc_h = 64;
      EXPECT_EQ(atomic_check_only(*st), -ENOSPC);
    }
    {  // active without a mode
      Ref<AtomicState> st = atomic_state_alloc(d);
      atomic_get_crtc_state(*st, d.crtc[1])->active = true;
      EXPECT_EQ(atomic_check_only(*st), -EINVAL);
    }
    {  // an event on a CRTC that is off and stays off
      Ref<AtomicState> st = atomic_state_alloc(d);
      CrtcState* cs = atomic_get_crtc_state(*st, d.crtc[1]);
      cs->event = flip_event(d, *rig.file, 1);
      EXPECT_EQ(atomic_check_only(*st), -EINVAL);
      EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace - 32) << "reserved until the state goes";
    }
    EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace) << "the refused event was cancelled";
    fb.reset();
  });
}

TEST(AtomicBasic, PropertiesSetThroughTheUapiPathAndReadBack) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d);
    auto& P = mode_config(d)->props;
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    Ref<PropertyBlob> mode_blob;
    drm_mode_modeinfo um{};
    mode_to_umode(mode_50hz(), &um);
    ASSERT_EQ(property_blob_create(d, &um, sizeof um, &mode_blob), 0);
    Ref<AtomicState> st = atomic_state_alloc(d);
    st->allow_modeset = true;
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.crtc[0], *P.crtc_active, 1), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.crtc[0], *P.crtc_mode_id, mode_blob->id), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.crtc[0], *P.crtc_mode_id, 999999), -EINVAL);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.conn[0], *P.prop_crtc_id, d.crtc[0].id), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.conn[0], *P.prop_crtc_id, 999999), -EINVAL);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.conn[0], *P.dpms, DRM_MODE_DPMS_ON), -EINVAL);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_fb_id, 999999), -EINVAL);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_fb_id, fb->id), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_crtc_id, d.crtc[0].id), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_crtc_w, 640), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_crtc_h, 480), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_src_w, 640u << 16), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.prop_src_h, 480u << 16), 0);
    EXPECT_EQ(atomic_set_property(*st, rig.file.get(), d.primary[0], *P.plane_type, 0), -EINVAL) << "immutable";
    ASSERT_EQ(atomic_commit(*st), 0);
    uint64_t v = 0;
    EXPECT_EQ(atomic_get_property(d.crtc[0], *P.crtc_active, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(atomic_get_property(d.crtc[0], *P.crtc_mode_id, &v), 0);
    EXPECT_EQ(v, mode_blob->id);
    EXPECT_EQ(atomic_get_property(d.primary[0], *P.prop_fb_id, &v), 0);
    EXPECT_EQ(v, fb->id);
    EXPECT_EQ(atomic_get_property(d.conn[0], *P.prop_crtc_id, &v), 0);
    EXPECT_EQ(v, d.crtc[0].id);
    st.reset();
    mode_blob.reset();
    fb.reset();
  });
}

TEST(AtomicBasic, LegacySetCrtcPageFlipDpmsAndDisable) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d), fb2 = make_fb(d);
    const DisplayMode m = mode_50hz();
    Connector* conns[] = {&d.conn[1]};
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    ASSERT_EQ(atomic_helper_set_config(d.crtc[1], fb.get(), &m, 0, 0, conns, 1, rig.file.get()), 0);
    EXPECT_TRUE(d.crtc[1].state->active);
    EXPECT_EQ(d.conn[1].state->crtc, &d.crtc[1]);
    // Flip with an event, then a second one while it is pending: -EBUSY, event budget back.
    ASSERT_EQ(atomic_helper_page_flip(d.crtc[1], fb2.get(), DRM_MODE_PAGE_FLIP_EVENT, 7, rig.file.get()), 0);
    EXPECT_EQ(atomic_helper_page_flip(d.crtc[1], fb.get(), DRM_MODE_PAGE_FLIP_EVENT, 8, rig.file.get()), -EBUSY);
    EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace - 32);
    sleep_for(kFrame);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].user_data, 7u);
    // DPMS off keeps the mode but deactivates; on again.
    ASSERT_EQ(atomic_helper_connector_dpms(d.conn[1], DRM_MODE_DPMS_OFF), 0);
    EXPECT_FALSE(d.crtc[1].state->active);
    EXPECT_TRUE(d.crtc[1].state->enable);
    ASSERT_EQ(atomic_helper_connector_dpms(d.conn[1], DRM_MODE_DPMS_ON), 0);
    EXPECT_TRUE(d.crtc[1].state->active);
    // A flip on an inactive CRTC is refused.
    EXPECT_EQ(atomic_helper_page_flip(d.crtc[0], fb2.get(), 0, 0, rig.file.get()), -EINVAL);
    // Gamma through a GAMMA_LUT blob.
    uint16_t ramp[4] = {0, 100, 200, 300};
    ASSERT_EQ(atomic_helper_legacy_gamma_set(d.crtc[1], ramp, ramp, ramp, 4), 0);
    ASSERT_NE(d.crtc[1].state->gamma_lut, nullptr);
    EXPECT_EQ(d.crtc[1].state->gamma_lut->data.size(), 4 * sizeof(drm_color_lut));
    // Overlay via SETPLANE, then off.
    ASSERT_EQ(atomic_helper_update_plane(d.overlay, d.crtc[1], fb.get(), 10, 10, 100, 100, 0, 0, 100u << 16,
                                         100u << 16, false, rig.file.get()),
              0);
    EXPECT_EQ(d.overlay.crtc, &d.crtc[1]);
    ASSERT_EQ(atomic_helper_disable_plane(d.overlay, rig.file.get()), 0);
    EXPECT_EQ(d.overlay.crtc, nullptr);
    // SETCRTC with no mode switches the CRTC off.
    ASSERT_EQ(atomic_helper_set_config(d.crtc[1], nullptr, nullptr, 0, 0, nullptr, 0, rig.file.get()), 0);
    EXPECT_FALSE(d.crtc[1].state->enable);
    EXPECT_EQ(d.conn[1].state->crtc, nullptr);
    EXPECT_EQ(d.conn[1].dpms, DRM_MODE_DPMS_OFF);
    fb.reset();
    fb2.reset();
  });
}

TEST(AtomicBasic, CheckPlaneStateClipsAndComputesVisibility) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d);
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    Ref<AtomicState> st = atomic_state_alloc(d);
    ASSERT_EQ(build_modeset(*st, d, 0, fb.get(), mode_50hz()), 0);
    CrtcState* cs = atomic_get_new_crtc_state(*st, d.crtc[0]);
    PlaneState* ps = atomic_get_plane_state(*st, d.overlay);
    ASSERT_EQ(atomic_set_crtc_for_plane(*ps, &d.crtc[0]), 0);
    atomic_set_fb_for_plane(*ps, fb.get());
    // Half off the right edge at 1:1: the source is clipped to match.
    ps->crtc_x = 600;
    ps->crtc_y = 0;
    ps->crtc_w = 80;
    ps->crtc_h = 80;
    ps->src_w = 80u << 16;
    ps->src_h = 80u << 16;
    ASSERT_EQ(atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, true, false), 0);
    EXPECT_TRUE(ps->visible);
    EXPECT_EQ(ps->dst.x2, 640);
    EXPECT_EQ(ps->src.x2 - ps->src.x1, 40 << 16);
    // Completely outside: invisible.
    ps->crtc_x = 700;
    ASSERT_EQ(atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, true, false), 0);
    EXPECT_FALSE(ps->visible);
    // Scaling 2:1 where none is allowed.
    ps->crtc_x = 0;
    ps->crtc_w = 40;
    EXPECT_EQ(atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, true, false), -ERANGE);
    // Must cover the whole CRTC when it cannot be positioned.
    ps->crtc_w = 80;
    EXPECT_EQ(atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, false, false), -EINVAL);
    st.reset();
    fb.reset();
  });
}

TEST(AtomicBasic, DriverWithoutVblankGetsFakeVblankEvents) {
  run(
      [](Rig& rig) {
        KmsDev& d = *rig.dev;
        auto fb = make_fb(d), fb2 = make_fb(d);
        ASSERT_EQ(modeset(d, 0, fb.get()), 0);
        ASSERT_EQ(flip(d, 0, fb2.get(), true, flip_event(d, *rig.file, 5)), 0);
        system_unbound_wq(rig.world).flush();
        auto ev = read_events(*rig.file);
        ASSERT_EQ(ev.size(), 1u);
        EXPECT_EQ(ev[0].sequence, 0u) << "no vblank counter: sequence 0";
      },
      false);
}

TEST(AtomicBasic, FailedPrepareFbAndAllocationsUnwindCleanly) {
  for (uint64_t n = 1; n <= 12; ++n) {
    run([n](Rig& rig) {
      KmsDev& d = *rig.dev;
      auto fb = make_fb(d);
      ASSERT_EQ(modeset(d, 0, fb.get()), 0);
      FailNth fail(n, "kms.");
      int ret;
      {
        ScopedFaultInjector inj(fail);
        ret = flip(d, 0, fb.get(), true, flip_event(d, *rig.file, 9));
      }
      if (fail.fired()) {
        EXPECT_EQ(ret, -ENOMEM) << "n=" << n;
        EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace);
      } else {
        EXPECT_EQ(ret, 0);
        sleep_for(kFrame);
        EXPECT_EQ(read_events(*rig.file).size(), 1u);
      }
      fb.reset();
    });
  }
}

}  // namespace
}  // namespace udrm::kmstest
