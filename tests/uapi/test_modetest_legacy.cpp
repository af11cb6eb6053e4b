// `modetest -s CONN:WxH` and its -v, -C, -P variants through the legacy ioctls, plus
// `modeprint` after a modeset (libdrm-clients.md §2). Each test checks what the device shows:
// the CRTC/plane state and the CRC of the scanned-out frame.
#include <poll.h>
#include <sys/mman.h>

#include "uapi_fixture.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm::uapi {
namespace {

struct ModetestLegacy : Uapi {};

int setcrtc(KmsClient& c, const Output& o, uint32_t fb, const drm_mode_modeinfo* mode = nullptr) {
  drm_mode_crtc s{};
  uint32_t conn = o.conn_id;
  s.crtc_id = o.crtc_id;
  s.fb_id = fb;
  s.set_connectors_ptr = uptr(&conn);
  s.count_connectors = 1;
  s.mode = mode ? *mode : o.mode;
  s.mode_valid = 1;
  return c.ioctl(DRM_IOCTL_MODE_SETCRTC, &s);
}

// modetest -s: GET_CAP(DUMB_BUFFER), CREATE_DUMB, MAP_DUMB, mmap, ADDFB2, SETCRTC, DIRTYFB,
// SETGAMMA; on exit RMFB, DESTROY_DUMB. The CRC is the pattern's.
TEST_P(ModetestLegacy, SetMode_DumbBufferScannedOut_CrcMatches) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);  // modetest always sets it
    drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &cap), 0);
    EXPECT_EQ(cap.value, 1u);
    Output o;
    ASSERT_TRUE(find_output(*c, &o));
    // The dumb buffer by hand: CREATE_DUMB, MAP_DUMB, mmap.
    drm_mode_create_dumb cd{};
    cd.width = o.mode.hdisplay;
    cd.height = o.mode.vdisplay;
    cd.bpp = 32;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CREATE_DUMB, &cd), 0);
    EXPECT_NE(cd.handle, 0u);
    EXPECT_GE(cd.pitch, cd.width * 4);
    EXPECT_GE(cd.size, uint64_t{cd.pitch} * cd.height);
    drm_mode_map_dumb md{};
    md.handle = cd.handle;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_MAP_DUMB, &md), 0);
    EXPECT_EQ(md.offset % 4096, 0u);
    EXPECT_NE(md.offset, 0u);
    void* map = nullptr;
    ASSERT_EQ(c->file().mmap(md.offset, cd.size, PROT_READ | PROT_WRITE, &map), 0);
    KmsClient::Dumb dumb;
    dumb.handle = cd.handle;
    dumb.pitch = cd.pitch;
    dumb.width = cd.width;
    dumb.height = cd.height;
    dumb.bpp = 32;
    dumb.size = cd.size;
    dumb.map = static_cast<uint8_t*>(map);
    testing::fill_pattern(dumb, 7);
    drm_mode_fb_cmd2 f{};
    f.width = cd.width;
    f.height = cd.height;
    f.pixel_format = DRM_FORMAT_XRGB8888;
    f.handles[0] = cd.handle;
    f.pitches[0] = cd.pitch;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_ADDFB2, &f), 0);
    ASSERT_NE(f.fb_id, 0u);
    ASSERT_EQ(setcrtc(*c, o, f.fb_id), 0);

    DrmDevice& dev = *d.drm();
    Crtc* crtc = crtc_find(dev, o.crtc_id);
    ASSERT_TRUE(crtc && crtc->state);
    EXPECT_TRUE(crtc->state->active);
    EXPECT_EQ(crtc->state->mode.hdisplay, o.mode.hdisplay);
    Plane* primary = plane_find(dev, o.primary);
    ASSERT_TRUE(primary && primary->state);
    ASSERT_TRUE(primary->state->fb);
    EXPECT_EQ(primary->state->fb->id, f.fb_id);

    // DIRTYFB: neither driver has a .dirty hook → -ENOSYS (drm_mode_dirtyfb_ioctl).
    drm_mode_fb_dirty_cmd dirty{};
    dirty.fb_id = f.fb_id;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_DIRTYFB, &dirty), -ENOSYS);
    dirty.num_clips = 1;  // clips without a pointer
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_DIRTYFB, &dirty), -EINVAL);
    dirty.fb_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_DIRTYFB, &dirty), -ENOENT);

    // SETGAMMA (modetest: 256 entries, ENOSYS tolerated) / GETGAMMA with the CRTC's size.
    drm_mode_crtc cr{};
    cr.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETCRTC, &cr), 0);
    std::vector<uint16_t> lut(256 * 3);
    for (int i = 0; i < 256; ++i) lut[i] = lut[256 + i] = lut[512 + i] = static_cast<uint16_t>(i << 8);
    drm_mode_crtc_lut g{};
    g.crtc_id = o.crtc_id;
    g.gamma_size = 256;
    g.red = uptr(lut.data());
    g.green = uptr(lut.data() + 256);
    g.blue = uptr(lut.data() + 512);
    if (cr.gamma_size == 0) {
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETGAMMA, &g), -ENOSYS);  // !drm_crtc_supports_legacy_gamma
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETGAMMA, &g), -EINVAL);  // size mismatch
      g.gamma_size = 0;
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETGAMMA, &g), 0);
    } else {
      g.gamma_size = cr.gamma_size;
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETGAMMA, &g), 0);
    }
    g.crtc_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETGAMMA, &g), -ENOENT);

    // What the device scans out.
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    EXPECT_TRUE(crc_shows(dev, o.crtc_id, expected_crc(cd.width, cd.height, {{&dumb, DRM_FORMAT_XRGB8888, 0, 0, cd.width, cd.height}})));
    crtc_crc_close(*crtc);

    // modeprint after the modeset: GETCRTC reports the mode and fb; the encoder its CRTC.
    cr = {};
    cr.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETCRTC, &cr), 0);
    EXPECT_EQ(cr.mode_valid, 1u);
    EXPECT_EQ(cr.fb_id, f.fb_id);
    EXPECT_EQ(cr.mode.hdisplay, o.mode.hdisplay);
    EXPECT_EQ(cr.mode.vdisplay, o.mode.vdisplay);
    EXPECT_EQ(cr.mode.clock, o.mode.clock);
    EXPECT_EQ(std::string(cr.mode.name), std::string(o.mode.name));
    drm_mode_get_encoder enc{};
    enc.encoder_id = o.enc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETENCODER, &enc), 0);
    EXPECT_EQ(enc.crtc_id, o.crtc_id);
    Conn conn;
    ASSERT_EQ(get_connector(*c, o.conn_id, &conn), 0);
    EXPECT_EQ(conn.hdr.encoder_id, o.enc_id);
    // GETFB: the framebuffer's geometry and a fresh handle to its BO.
    drm_mode_fb_cmd gf{};
    gf.fb_id = f.fb_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETFB, &gf), 0);
    EXPECT_EQ(gf.width, cd.width);
    EXPECT_EQ(gf.height, cd.height);
    EXPECT_EQ(gf.pitch, cd.pitch);
    EXPECT_EQ(gf.bpp, 32u);
    EXPECT_EQ(gf.depth, 24u);
    EXPECT_NE(gf.handle, 0u);
    drm_gem_close gc{gf.handle, 0};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_GEM_CLOSE, &gc), 0);
    // The fb is listed in GETRESOURCES for its owner only.
    Res res;
    ASSERT_EQ(get_resources(*c, &res), 0);
    ASSERT_EQ(res.fbs.size(), 1u);
    EXPECT_EQ(res.fbs[0], f.fb_id);

    // Exit: RMFB takes the fb off the screen (atomic_remove_fb: the primary plane is disabled;
    // the CRTC only if the driver refuses an active CRTC without it), DESTROY_DUMB.
    uint32_t id = f.fb_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_RMFB, &id), 0);
    EXPECT_FALSE(primary->state->fb);
    cr = {};
    cr.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETCRTC, &cr), 0);
    EXPECT_EQ(cr.fb_id, 0u);
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_RMFB, &id), -ENOENT);
    ASSERT_EQ(c->file().munmap(map, cd.size), 0);
    drm_mode_destroy_dumb dd{cd.handle};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &dd), 0);
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &dd), -EINVAL);
  });
}

TEST_P(ModetestLegacy, SetCrtc_BadInputErrnos) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);  // modetest always sets it
    Output o;
    ASSERT_TRUE(find_output(*c, &o));
    Buffer b;
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 1, &b));
    drm_mode_crtc s{};
    uint32_t conn = o.conn_id;
    s.crtc_id = o.crtc_id;
    s.fb_id = b.fb;
    s.set_connectors_ptr = uptr(&conn);
    s.count_connectors = 1;
    s.mode = o.mode;
    s.mode_valid = 1;
    auto t = s;
    t.x = 0x10000;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -ERANGE);
    t = s;
    t.crtc_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -ENOENT);
    t = s;
    t.fb_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -ENOENT);
    t = s;
    t.fb_id = static_cast<uint32_t>(-1);  // no current fb
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -EINVAL);
    t = s;
    t.x = 8;  // viewport past the fb
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -ENOSPC);
    t = s;
    t.count_connectors = 0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -EINVAL);
    t = s;
    conn = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -ENOENT);
    conn = o.conn_id;
    t = s;
    t.set_connectors_ptr = 8;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -EFAULT);
    t = s;
    t.count_connectors = 100;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), -EINVAL);
    EXPECT_FALSE(crtc_find(*d.drm(), o.crtc_id)->state->active);
    // A non-master is refused.
    auto other = open(d);
    EXPECT_EQ(other->ioctl(DRM_IOCTL_MODE_SETCRTC, &s), -EACCES);
    // fb -1 keeps the current one once there is one; disabling needs no connectors.
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &s), 0);
    t = s;
    t.fb_id = static_cast<uint32_t>(-1);
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &t), 0);
    drm_mode_crtc off{};
    off.crtc_id = o.crtc_id;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &off), 0);
    EXPECT_FALSE(crtc_find(*d.drm(), o.crtc_id)->state->active);
  });
}

// modetest -s ... -v: PAGE_FLIP(EVENT) every frame, select() then read() of 32-byte
// FLIP_COMPLETE events; the sequence goes up by one and tv by one frame period.
TEST_P(ModetestLegacy, PageFlipLoop_EventsOneFrameApart_EbusyWhilePending) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);  // modetest always sets it
    Output o;
    ASSERT_TRUE(find_output(*c, &o));
    Buffer b[2];
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 10, &b[0]));
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 11, &b[1]));
    ASSERT_EQ(setcrtc(*c, o, b[0].fb), 0);
    DrmDevice& dev = *d.drm();
    Crtc* crtc = crtc_find(dev, o.crtc_id);
    Plane* primary = plane_find(dev, o.primary);
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    uint32_t prev_seq = 0;
    int64_t prev_us = 0;
    for (int i = 1; i <= 6; ++i) {
      drm_mode_crtc_page_flip fl{};
      fl.crtc_id = o.crtc_id;
      fl.fb_id = b[i & 1].fb;
      fl.flags = DRM_MODE_PAGE_FLIP_EVENT;
      fl.user_data = 1000 + static_cast<uint64_t>(i);
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), 0) << i;
      // Flipping again before the event: the previous flip is still pending.
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -EBUSY) << i;
      pollfd p{c->file().poll_fd(), POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 0), 0) << "event before the vblank";
      ASSERT_TRUE(wait_readable(*c)) << i;
      drm_event_vblank ev{};
      ASSERT_TRUE(read_one_event(*c, &ev));
      EXPECT_EQ(ev.base.type, uint32_t{DRM_EVENT_FLIP_COMPLETE});
      EXPECT_EQ(ev.user_data, fl.user_data);
      EXPECT_EQ(ev.crtc_id, o.crtc_id);
      const int64_t us = int64_t{ev.tv_sec} * 1'000'000 + ev.tv_usec;
      if (i > 1) {
        EXPECT_EQ(ev.sequence, prev_seq + 1) << i;
        EXPECT_NEAR(static_cast<double>(us - prev_us), o.period_ns() / 1000.0, 2.0) << i;
      }
      prev_seq = ev.sequence;
      prev_us = us;
      ASSERT_TRUE(primary->state->fb);
      EXPECT_EQ(primary->state->fb->id, b[i & 1].fb);
    }
    EXPECT_TRUE(crc_shows(dev, o.crtc_id,
                          expected_crc(o.mode.hdisplay, o.mode.vdisplay,
                                       {{&b[0].dumb, DRM_FORMAT_XRGB8888, 0, 0, o.mode.hdisplay, o.mode.vdisplay}})));
    crtc_crc_close(*crtc);
    // Bad flips.
    drm_mode_crtc_page_flip fl{};
    fl.crtc_id = o.crtc_id;
    fl.fb_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -ENOENT);
    fl.fb_id = b[1].fb;
    fl.flags = 0x80000000u;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -EINVAL);
    drm_mode_crtc_page_flip_target ft{};
    ft.crtc_id = o.crtc_id;
    ft.fb_id = b[1].fb;
    ft.flags = DRM_MODE_PAGE_FLIP_TARGET_RELATIVE;  // no page_flip_target
    ft.sequence = 1;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &ft), -EINVAL);
    ft.flags = 0;
    ft.sequence = 1;  // a sequence without TARGET
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &ft), -EINVAL);
    Buffer small;
    ASSERT_TRUE(make_buffer(*c, 64, 64, 3, &small));
    fl = {};
    fl.crtc_id = o.crtc_id;
    fl.fb_id = small.fb;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -ENOSPC);  // src rect outside the new fb
    Buffer argb;
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 4, &argb, DRM_FORMAT_ARGB8888));
    fl.fb_id = argb.fb;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -EINVAL);  // format change
    // With the CRTC off there is no fb to flip from.
    drm_mode_crtc off{};
    off.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETCRTC, &off), 0);
    fl.fb_id = b[0].fb;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &fl), -EBUSY);
  });
}

// modetest -s ... -C: GET_CAP(CURSOR_WIDTH/HEIGHT), MODE_CURSOR set bo / move / hide, CURSOR2.
TEST_P(ModetestLegacy, Cursor_SetMoveHide_CursorPlaneFollows) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);  // modetest always sets it
    Output o;
    ASSERT_TRUE(find_output(*c, &o));
    Buffer b;
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 20, &b));
    ASSERT_EQ(setcrtc(*c, o, b.fb), 0);
    drm_get_cap cw{DRM_CAP_CURSOR_WIDTH, 0}, ch{DRM_CAP_CURSOR_HEIGHT, 0};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &cw), 0);
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &ch), 0);
    EXPECT_EQ(cw.value, 64u);
    EXPECT_EQ(ch.value, 64u);
    KmsClient::Dumb cur;
    ASSERT_EQ(c->create_dumb(static_cast<uint32_t>(cw.value), static_cast<uint32_t>(ch.value), 32, &cur), 0);
    testing::fill_pattern(cur, 21);
    DrmDevice& dev = *d.drm();
    Crtc* crtc = crtc_find(dev, o.crtc_id);
    ASSERT_TRUE(crtc && crtc->cursor);
    Plane& cp = *crtc->cursor;
    const uint32_t files_fbs_before = [&] {
      Res r;
      get_resources(*c, &r);
      return static_cast<uint32_t>(r.fbs.size());
    }();

    drm_mode_cursor m{};
    m.flags = DRM_MODE_CURSOR_BO;
    m.crtc_id = o.crtc_id;
    m.width = 64;
    m.height = 64;
    m.handle = cur.handle;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    ASSERT_TRUE(cp.state->fb);
    EXPECT_EQ(cp.state->crtc, crtc);
    EXPECT_EQ(cp.state->fb->width, 64u);
    EXPECT_EQ(cp.state->crtc_w, 64u);
    EXPECT_EQ(cp.state->crtc_x, 0);
    // The internal cursor fb is no file's framebuffer.
    {
      Res r;
      ASSERT_EQ(get_resources(*c, &r), 0);
      EXPECT_EQ(r.fbs.size(), files_fbs_before);
    }
    m = {};
    m.flags = DRM_MODE_CURSOR_MOVE;
    m.crtc_id = o.crtc_id;
    m.x = 100;
    m.y = 50;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    EXPECT_EQ(cp.state->crtc_x, 100);
    EXPECT_EQ(cp.state->crtc_y, 50);
    ASSERT_TRUE(cp.state->fb);  // the bo stays
    // The CRC shows primary + cursor at (100, 50).
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    EXPECT_TRUE(crc_shows(dev, o.crtc_id,
                          expected_crc(o.mode.hdisplay, o.mode.vdisplay,
                                       {{&b.dumb, DRM_FORMAT_XRGB8888, 0, 0, o.mode.hdisplay, o.mode.vdisplay},
                                        {&cur, DRM_FORMAT_ARGB8888, 100, 50, 64, 64}})));
    crtc_crc_close(*crtc);
    // Hide: BO with handle 0.
    m = {};
    m.flags = DRM_MODE_CURSOR_BO;
    m.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    EXPECT_FALSE(cp.state->fb);
    EXPECT_EQ(cp.state->crtc, nullptr);
    // Show again without MOVE: at the remembered position (crtc->cursor_x/y), not at 0,0.
    drm_mode_cursor2 m2{};
    m2.flags = DRM_MODE_CURSOR_BO;
    m2.crtc_id = o.crtc_id;
    m2.width = 64;
    m2.height = 64;
    m2.handle = cur.handle;
    m2.hot_x = 3;
    m2.hot_y = 4;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR2, &m2), 0);
    ASSERT_TRUE(cp.state->fb);
    EXPECT_EQ(cp.state->crtc_x, 100);
    EXPECT_EQ(cp.state->crtc_y, 50);
    // Moving a hidden cursor remembers the position too.
    m = {};
    m.flags = DRM_MODE_CURSOR_BO;
    m.crtc_id = o.crtc_id;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    m.flags = DRM_MODE_CURSOR_MOVE;
    m.x = 7;
    m.y = 9;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    EXPECT_FALSE(cp.state->fb);
    m = {};
    m.flags = DRM_MODE_CURSOR_BO;
    m.crtc_id = o.crtc_id;
    m.width = 64;
    m.height = 64;
    m.handle = cur.handle;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), 0);
    EXPECT_EQ(cp.state->crtc_x, 7);
    EXPECT_EQ(cp.state->crtc_y, 9);
    // Bad input.
    m.flags = 0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), -EINVAL);
    m.flags = 0x80;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), -EINVAL);
    m.flags = DRM_MODE_CURSOR_BO;
    m.crtc_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), -ENOENT);
    m.crtc_id = o.crtc_id;
    m.handle = 0x7777;  // no such GEM handle
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), -ENOENT);
    m.handle = cur.handle;
    m.width = 128;  // larger than the bo
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_CURSOR, &m), -EINVAL);
    EXPECT_EQ(c->destroy_dumb(cur), 0);
  });
}

// modetest -P PLANE@CRTC:WxH: SETPLANE on the overlay, then off with fb 0.
TEST_P(ModetestLegacy, SetPlane_OverlayShown_DisabledWithFb0_BadInput) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);  // modetest always sets it
    Output o;
    ASSERT_TRUE(find_output(*c, &o));
    Buffer b, ov;
    ASSERT_TRUE(make_buffer(*c, o.mode.hdisplay, o.mode.vdisplay, 30, &b));
    ASSERT_TRUE(make_buffer(*c, 128, 96, 31, &ov));
    ASSERT_EQ(setcrtc(*c, o, b.fb), 0);
    // modetest without -a lists only overlays (no universal planes cap needed).
    const uint32_t overlay = c->find_plane(o.crtc_index, DRM_PLANE_TYPE_OVERLAY);
    ASSERT_NE(overlay, 0u);
    drm_mode_set_plane sp{};
    sp.plane_id = overlay;
    sp.crtc_id = o.crtc_id;
    sp.fb_id = ov.fb;
    sp.crtc_x = 32;
    sp.crtc_y = 16;
    sp.crtc_w = 128;
    sp.crtc_h = 96;
    sp.src_w = 128 << 16;
    sp.src_h = 96 << 16;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &sp), 0);
    DrmDevice& dev = *d.drm();
    Plane* p = plane_find(dev, overlay);
    ASSERT_TRUE(p->state->fb);
    EXPECT_EQ(p->state->fb->id, ov.fb);
    EXPECT_TRUE(p->state->visible);
    drm_mode_get_plane gp{};
    gp.plane_id = overlay;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPLANE, &gp), 0);
    EXPECT_EQ(gp.fb_id, ov.fb);
    EXPECT_EQ(gp.crtc_id, o.crtc_id);
    Crtc* crtc = crtc_find(dev, o.crtc_id);
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    EXPECT_TRUE(crc_shows(dev, o.crtc_id,
                          expected_crc(o.mode.hdisplay, o.mode.vdisplay,
                                       {{&b.dumb, DRM_FORMAT_XRGB8888, 0, 0, o.mode.hdisplay, o.mode.vdisplay},
                                        {&ov.dumb, DRM_FORMAT_XRGB8888, 32, 16, 128, 96}})));
    // Scaling: neither driver scales → -ERANGE (drm_atomic_helper_check_plane_state).
    auto t = sp;
    t.src_w = 64 << 16;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ERANGE);
    // Source outside the fb → -ENOSPC; overflowing destination → -ERANGE.
    t = sp;
    t.src_x = 1 << 16;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ENOSPC);
    t = sp;
    t.crtc_x = 0x7fffffff;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ERANGE);
    // Bad plane / crtc / fb ids → -ENOENT.
    t = sp;
    t.plane_id = o.crtc_id;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ENOENT);
    t = sp;
    t.crtc_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ENOENT);
    t = sp;
    t.fb_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -ENOENT);
    // A plane on a CRTC it cannot serve → -EINVAL (soc: the other pipe).
    Res res;
    ASSERT_EQ(get_resources(*c, &res), 0);
    if (res.crtcs.size() > 1) {
      t = sp;
      t.crtc_id = res.crtcs[o.crtc_index == 0 ? 1 : 0];
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -EINVAL);
    }
    // Unsupported format (the cursor plane takes ARGB8888 only).
    if (crtc->cursor) {
      t = sp;
      t.plane_id = crtc->cursor->id;
      EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), -EINVAL);
    }
    // The failed calls changed nothing.
    ASSERT_TRUE(p->state->fb);
    EXPECT_EQ(p->state->crtc_x, 32);
    EXPECT_EQ(p->state->src_w, uint32_t{128} << 16);
    // Off with fb 0 (crtc id ignored then).
    t = {};
    t.plane_id = overlay;
    t.crtc_id = 0x7ffffff0;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPLANE, &t), 0);
    EXPECT_FALSE(p->state->fb);
    EXPECT_EQ(p->state->crtc, nullptr);
    EXPECT_TRUE(crc_shows(dev, o.crtc_id,
                          expected_crc(o.mode.hdisplay, o.mode.vdisplay,
                                       {{&b.dumb, DRM_FORMAT_XRGB8888, 0, 0, o.mode.hdisplay, o.mode.vdisplay}})));
    crtc_crc_close(*crtc);
  });
}

UDRM_UAPI_INSTANTIATE(ModetestLegacy);

}  // namespace
}  // namespace udrm::uapi
