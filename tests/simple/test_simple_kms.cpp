// udrm-simple through the uAPI: probe result (resources, EDID modes, planes), modeset and the
// CRC of what is on screen, vblank timing and events (kernel-semantics §6.4 V1–V5, V8).
#include <algorithm>

#include "simple_rig.h"

#include "udrm/drm/minor.h"

namespace udrm::drivers::simple_test {
namespace {

TEST(SimpleKms, BindExposesVirtualConnectorWithEdidModes) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    ASSERT_NE(d->drm(), nullptr);
    EXPECT_STREQ(d->drm_name(), "udrm-simple");
    EXPECT_EQ(d->live_drm_devices(), 1);

    Ref<DrmFile> f;
    ASSERT_EQ(d->open(&f), 0);
    KmsClient c(f);
    char name[32] = {};
    drm_version v{};
    v.name = name;
    v.name_len = sizeof(name) - 1;
    ASSERT_EQ(c.ioctl(DRM_IOCTL_VERSION, &v), 0);
    EXPECT_STREQ(name, "udrm-simple");

    ASSERT_EQ(c.set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
    KmsClient::Resources res;
    ASSERT_EQ(c.get_resources(&res), 0);
    EXPECT_EQ(res.crtcs.size(), 1u);
    EXPECT_EQ(res.encoders.size(), 1u);
    ASSERT_EQ(res.connectors.size(), 1u);

    KmsClient::Connector conn;
    ASSERT_EQ(c.get_connector(res.connectors[0], &conn), 0);
    EXPECT_EQ(conn.status, 1u);  // DRM_MODE_CONNECTED
    EXPECT_EQ(conn.type, static_cast<uint32_t>(DRM_MODE_CONNECTOR_VIRTUAL));
    ASSERT_EQ(conn.encoders.size(), 1u);
    EXPECT_EQ(conn.encoders[0], res.encoders[0]);
    ASSERT_GE(conn.modes.size(), 3u);
    EXPECT_STREQ(conn.modes[0].name, "1024x768");  // preferred first
    EXPECT_TRUE(conn.modes[0].type & DRM_MODE_TYPE_PREFERRED);
    EXPECT_EQ(conn.modes[0].vrefresh, 60u);
    auto has = [&](const char* n, uint16_t w_, uint16_t h_) {
      return std::any_of(conn.modes.begin(), conn.modes.end(), [&](const drm_mode_modeinfo& m) {
        return std::strcmp(m.name, n) == 0 && m.hdisplay == w_ && m.vdisplay == h_ && m.vrefresh == 60;
      });
    };
    EXPECT_TRUE(has("1920x1080", 1920, 1080));
    EXPECT_TRUE(has("800x600", 800, 600));

    std::map<std::string, std::pair<uint32_t, uint64_t>> props;
    ASSERT_EQ(c.get_properties(res.connectors[0], DRM_MODE_OBJECT_CONNECTOR, &props), 0);
    ASSERT_TRUE(props.count("EDID"));
    EXPECT_NE(props["EDID"].second, 0u);  // blob id

    std::vector<uint32_t> planes;
    ASSERT_EQ(c.get_plane_ids(&planes), 0);
    EXPECT_EQ(planes.size(), 3u);
    uint32_t cursor = c.find_plane(0, kCursor);
    ASSERT_NE(cursor, 0u);
    EXPECT_NE(c.find_plane(0, kOverlay), 0u);
    drm_mode_get_plane gp{};
    std::vector<uint32_t> formats;
    ASSERT_EQ(c.get_plane(cursor, &gp, &formats), 0);
    EXPECT_EQ(formats, std::vector<uint32_t>{DRM_FORMAT_ARGB8888});
    ASSERT_EQ(c.get_plane(c.find_plane(0, kPrimary), &gp, &formats), 0);
    EXPECT_EQ(formats.size(), 4u);
    EXPECT_NE(std::find(formats.begin(), formats.end(), DRM_FORMAT_RGB565), formats.end());

    EXPECT_EQ(c.close(), 0);

    Ref<DrmFile> r;
    ASSERT_EQ(d->open(&r, MinorType::render), 0);
    EXPECT_EQ(r->minor_type(), MinorType::render);
    EXPECT_GE(drm_minor_index(*d->drm(), MinorType::render), 128);
    EXPECT_EQ(r->close(), 0);

    EXPECT_EQ(d->unbind(), 0);
    EXPECT_EQ(d->live_drm_devices(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

TEST(SimpleKms, CrcOfScanoutMatchesPattern) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    Crtc& crtc = drm_crtc0(*d);
    ASSERT_EQ(crtc_crc_open(crtc), 0);
    uint64_t f0 = crtc_vblank_count(crtc);
    auto e = crtc_crc_wait(crtc, f0 + 1, 1000);
    ASSERT_TRUE(e.has_value());
    const uint32_t crc0 = expected_crc(s.buf[0], 1024, 768);
    EXPECT_EQ(e->crc, crc0);

    // Flip to the other buffer: the CRC follows the content.
    ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 7), 0);
    drm_event_vblank ev = wait_event(s.c());
    EXPECT_EQ(ev.user_data, 7u);
    crtc_crc_read(crtc);  // drop older entries
    e = crtc_crc_wait(crtc, ev.sequence + 1, 1000);
    ASSERT_TRUE(e.has_value());
    const uint32_t crc1 = expected_crc(s.buf[1], 1024, 768);
    EXPECT_NE(crc0, crc1);
    EXPECT_EQ(e->crc, crc1);
    crtc_crc_close(crtc);

    // Capture closed: the composer stays off.
    uint64_t composed = simple_frames_composed(*d->drm());
    sleep_for(10 * kPeriod1024);
    EXPECT_EQ(simple_frames_composed(*d->drm()), composed);

    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(d->leaks().empty());
    EXPECT_EQ(d->live_drm_devices(), 0);
  });
}

TEST(SimpleKms, OverlayAndCursorAreComposed) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s, "800x600"));
    ASSERT_NE(s.cursor, 0u);
    KmsClient::Dumb cur;
    ASSERT_EQ(s.c().create_dumb(64, 64, 32, &cur), 0);
    for (uint32_t y = 0; y < 64; ++y)
      for (uint32_t x = 0; x < 64; ++x) {
        uint32_t px = fakehw::argb(0xff, 0xff, static_cast<uint8_t>(x * 4), static_cast<uint8_t>(y * 4));
        std::memcpy(cur.map + y * cur.pitch + x * 4, &px, 4);
      }
    uint32_t cur_fb = 0;
    ASSERT_EQ(s.c().add_fb(cur, DRM_FORMAT_ARGB8888, &cur_fb), 0);
    KmsClient::Atomic req;
    auto pp = [&](const char* n) { return s.c().prop_id(s.cursor, DRM_MODE_OBJECT_PLANE, n); };
    req.add(s.cursor, pp("FB_ID"), cur_fb);
    req.add(s.cursor, pp("CRTC_ID"), s.crtc);
    req.add(s.cursor, pp("SRC_X"), 0);
    req.add(s.cursor, pp("SRC_Y"), 0);
    req.add(s.cursor, pp("SRC_W"), 64u << 16);
    req.add(s.cursor, pp("SRC_H"), 64u << 16);
    req.add(s.cursor, pp("CRTC_X"), 100);
    req.add(s.cursor, pp("CRTC_Y"), 50);
    req.add(s.cursor, pp("CRTC_W"), 64);
    req.add(s.cursor, pp("CRTC_H"), 64);
    ASSERT_EQ(s.c().atomic_commit(req, 0), 0);

    Crtc& crtc = drm_crtc0(*d);
    ASSERT_EQ(crtc_crc_open(crtc), 0);
    auto e = crtc_crc_wait(crtc, crtc_vblank_count(crtc) + 1, 1000);
    ASSERT_TRUE(e.has_value());
    // Expected: primary full screen, cursor at (100, 50), composed independently.
    fakehw::PlaneDesc p[2];
    p[0].fourcc = DRM_FORMAT_XRGB8888;
    p[0].pixels = s.buf[0].map;
    p[0].pitch = s.buf[0].pitch;
    p[0].src = {0, 0, 800, 600};
    p[0].dst = {0, 0, 800, 600};
    p[1].fourcc = DRM_FORMAT_ARGB8888;
    p[1].pixels = cur.map;
    p[1].pitch = cur.pitch;
    p[1].src = {0, 0, 64, 64};
    p[1].dst = {100, 50, 64, 64};
    p[1].zpos = 2;
    fakehw::Composer comp;
    ASSERT_EQ(comp.compose(800, 600, p), 0);
    EXPECT_EQ(e->crc, comp.crc());
    EXPECT_NE(e->crc, expected_crc(s.buf[0], 800, 600));
    crtc_crc_close(crtc);

    EXPECT_EQ(s.c().file().munmap(cur.map, cur.size), 0);
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_EQ(d->live_drm_devices(), 0);
  });
}

// V1: vblank once per frame period, timestamps advancing by exactly one period.
TEST(SimpleKms, V1_VblankEveryFramePeriod) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    uint64_t prev_seq = 0;
    int64_t prev_us = 0;
    TimePoint prev_now{};
    for (int i = 0; i < 6; ++i) {
      drm_wait_vblank wv{};
      wv.request.type = _DRM_VBLANK_RELATIVE;
      wv.request.sequence = 1;
      ASSERT_EQ(s.c().ioctl(DRM_IOCTL_WAIT_VBLANK, &wv), 0);
      int64_t us = int64_t{wv.reply.tval_sec} * 1'000'000 + wv.reply.tval_usec;
      TimePoint t = now();
      if (i > 0) {
        EXPECT_EQ(wv.reply.sequence, prev_seq + 1);
        EXPECT_NEAR(static_cast<double>(us - prev_us), 16665.6, 1.0);
        EXPECT_EQ(t - prev_now, kPeriod1024);
      }
      prev_seq = wv.reply.sequence;
      prev_us = us;
      prev_now = t;
    }
    EXPECT_TRUE(simple_vblank_timer_running(*d->drm()));
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

// V2: a flip's event comes at the next vblank, with the sequence of the previous one + 1.
TEST(SimpleKms, V2_FlipEventAtNextVblankSeqPlusOne) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 1), 0);
    drm_event_vblank e1 = wait_event(s.c());
    EXPECT_EQ(e1.base.type, static_cast<uint32_t>(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(e1.user_data, 1u);
    const TimePoint t1 = now();
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[i % 2], DRM_MODE_PAGE_FLIP_EVENT, 2 + i), 0);
      drm_event_vblank e2 = wait_event(s.c());
      EXPECT_EQ(e2.user_data, static_cast<uint64_t>(2 + i));
      EXPECT_EQ(e2.sequence, e1.sequence + 1);
      EXPECT_EQ(now() - t1, (i + 1) * kPeriod1024);
      e1 = e2;
    }
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
  });
}

// V3: the vblank timer stops after the last reference (off delay), and restarts on demand.
TEST(SimpleKms, V3_VblankTimerStopsAfterLastPut) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    drm_vblank_set_offdelay(*d->drm(), 50);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 1), 0);
    wait_event(s.c());
    Crtc& crtc = drm_crtc0(*d);
    EXPECT_TRUE(simple_vblank_timer_running(*d->drm()));
    sleep_for(100ms);
    EXPECT_EQ(crtc_vblank_refcount(crtc), 0);
    EXPECT_FALSE(crtc_vblank_irq_enabled(crtc));
    EXPECT_FALSE(simple_vblank_timer_running(*d->drm()));
    const uint64_t frames = simple_vblank_timer_frames(*d->drm());
    sleep_for(100ms);
    EXPECT_EQ(simple_vblank_timer_frames(*d->drm()), frames);  // really stopped

    drm_wait_vblank wv{};
    wv.request.type = _DRM_VBLANK_RELATIVE;
    wv.request.sequence = 1;
    ASSERT_EQ(s.c().ioctl(DRM_IOCTL_WAIT_VBLANK, &wv), 0);
    EXPECT_TRUE(simple_vblank_timer_running(*d->drm()));
    EXPECT_GT(simple_vblank_timer_frames(*d->drm()), frames);
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

// V4 (+A9): disabling the CRTC delivers an armed vblank event at once, and the disable
// commit's own event too.
TEST(SimpleKms, V4_DisableDeliversArmedEvents) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    drm_wait_vblank wv{};
    wv.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT);
    wv.request.sequence = 1000;  // far away
    wv.request.signal = 0x77;
    ASSERT_EQ(s.c().ioctl(DRM_IOCTL_WAIT_VBLANK, &wv), 0);
    const uint64_t target = wv.reply.sequence;
    const TimePoint t0 = now();
    ASSERT_EQ(s.c().atomic_disable(s.crtc, s.conn, s.primary,
                                   DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT, 0x99),
              0);
    auto evs = s.c().read_events();
    ASSERT_EQ(evs.size(), 2u);
    bool saw_vbl = false, saw_flip = false;
    for (auto& e : evs) {
      if (e.base.type == DRM_EVENT_VBLANK) {
        saw_vbl = true;
        EXPECT_EQ(e.user_data, 0x77u);
        EXPECT_LT(e.sequence, target);  // sent early, with the count at vblank_off
      } else if (e.base.type == DRM_EVENT_FLIP_COMPLETE) {
        saw_flip = true;
        EXPECT_EQ(e.user_data, 0x99u);
      }
    }
    EXPECT_TRUE(saw_vbl);
    EXPECT_TRUE(saw_flip);
    EXPECT_LT(now() - t0, 2 * kPeriod1024);
    EXPECT_FALSE(simple_vblank_timer_running(*d->drm()));
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

// V5: a composer that lags behind reports a CRC for every frame it missed.
TEST(SimpleKms, V5_ComposerLagCatchUp) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    Crtc& crtc = drm_crtc0(*d);
    simple_set_composer_delay(*d->drm(), 3 * kPeriod1024 + 1ms);
    const uint64_t composed0 = simple_frames_composed(*d->drm());
    ASSERT_EQ(crtc_crc_open(crtc), 0);
    sleep_for(40 * kPeriod1024);
    auto entries = crtc_crc_read(crtc);
    crtc_crc_close(crtc);
    simple_set_composer_delay(*d->drm(), Duration::zero());
    const uint64_t composed = simple_frames_composed(*d->drm()) - composed0;
    ASSERT_GE(entries.size(), 20u);
    const uint32_t crc = expected_crc(s.buf[0], 1024, 768);
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(entries[i].crc, crc);
      if (i) {
        EXPECT_EQ(entries[i].frame, entries[i - 1].frame + 1) << "gap at " << i;
      }
    }
    EXPECT_GT(composed, 0u);
    EXPECT_LE(composed * 3, entries.size());  // each composition covered several frames
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
  });
}

// V8: modes above 1000 Hz are rejected at check time; 500 Hz is fine.
TEST(SimpleKms, V8_ModeAbove1000HzRejected) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(open_screen(*d, &s));
    drm_mode_modeinfo m{};
    m.hdisplay = 64;
    m.hsync_start = 70;
    m.hsync_end = 80;
    m.htotal = 100;
    m.vdisplay = 64;
    m.vsync_start = 70;
    m.vsync_end = 80;
    m.vtotal = 100;
    m.clock = 20000;  // 10000 pixels / 20 MHz = 0.5 ms: 2000 Hz
    m.vrefresh = 2000;
    std::strcpy(m.name, "64x64");
    EXPECT_EQ(s.c().atomic_modeset(s.crtc, s.conn, s.primary, s.fb[0], m,
                                   DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY),
              -EINVAL);
    EXPECT_EQ(s.c().atomic_modeset(s.crtc, s.conn, s.primary, s.fb[0], m, DRM_MODE_ATOMIC_ALLOW_MODESET), -EINVAL);
    m.clock = 5000;  // 2 ms: 500 Hz
    m.vrefresh = 500;
    EXPECT_EQ(s.c().atomic_modeset(s.crtc, s.conn, s.primary, s.fb[0], m,
                                   DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY),
              0);
    EXPECT_FALSE(simple_vblank_timer_running(*d->drm()));
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
  });
}

// Immediate mode (benchmarks): the flip completes without waiting for a frame period.
TEST(SimpleKms, ImmediateVblankCompletesFlipAtOnce) {
  run_sim([](World& w) {
    DisplayOptions o;
    o.immediate_vblank = true;
    auto d = create_simple_display(w, o);
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    const TimePoint t0 = now();
    uint64_t prev = 0;
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(s.c().atomic_flip(s.primary, s.fb[(i + 1) % 2],
                                  DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 100 + i),
                0);
      drm_event_vblank e = wait_event(s.c());
      EXPECT_EQ(e.user_data, static_cast<uint64_t>(100 + i));
      if (i) {
        EXPECT_EQ(e.sequence, prev + 1);
      }
      prev = e.sequence;
    }
    EXPECT_LT(now() - t0, kPeriod1024);
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

}  // namespace
}  // namespace udrm::drivers::simple_test
