// `modetest -a -s ... -P ...` (atomic), `modetest -w` / `proptest` (property sets), `vbltest`
// and the render node (libdrm-clients.md §2, §4).
#include <poll.h>

#include "uapi_fixture.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm::uapi {
namespace {

struct AtomicTools : Uapi {};

using Props = std::map<std::string, std::pair<uint32_t, uint64_t>>;

struct AtomicSetup {
  Output o;
  Props crtc, conn, primary;
  uint32_t mode_blob = 0;
};

::testing::AssertionResult atomic_setup(KmsClient& c, AtomicSetup* s) {
  if (int e = c.enable_atomic()) return ::testing::AssertionFailure() << "caps " << e;
  auto ok = find_output(c, &s->o);
  if (!ok) return ok;
  s->crtc = props_by_name(c, s->o.crtc_id, DRM_MODE_OBJECT_CRTC);
  s->conn = props_by_name(c, s->o.conn_id, DRM_MODE_OBJECT_CONNECTOR);
  s->primary = props_by_name(c, s->o.primary, DRM_MODE_OBJECT_PLANE);
  if (int e = c.create_blob(&s->o.mode, sizeof(s->o.mode), &s->mode_blob))
    return ::testing::AssertionFailure() << "CREATEPROPBLOB " << e;
  return ::testing::AssertionSuccess();
}

void add_plane(KmsClient::Atomic& a, const Props& p, uint32_t plane, uint32_t crtc, uint32_t fb, int32_t x, int32_t y,
               uint32_t w, uint32_t h) {
  a.add(plane, p.at("FB_ID").first, fb);
  a.add(plane, p.at("CRTC_ID").first, crtc);
  a.add(plane, p.at("SRC_X").first, 0);
  a.add(plane, p.at("SRC_Y").first, 0);
  a.add(plane, p.at("SRC_W").first, uint64_t{w} << 16);
  a.add(plane, p.at("SRC_H").first, uint64_t{h} << 16);
  a.add(plane, p.at("CRTC_X").first, static_cast<uint64_t>(static_cast<int64_t>(x)));
  a.add(plane, p.at("CRTC_Y").first, static_cast<uint64_t>(static_cast<int64_t>(y)));
  a.add(plane, p.at("CRTC_W").first, w);
  a.add(plane, p.at("CRTC_H").first, h);
}

KmsClient::Atomic modeset_req(const AtomicSetup& s, uint32_t fb) {
  KmsClient::Atomic a;
  a.add(s.o.conn_id, s.conn.at("CRTC_ID").first, s.o.crtc_id);
  a.add(s.o.crtc_id, s.crtc.at("MODE_ID").first, s.mode_blob);
  a.add(s.o.crtc_id, s.crtc.at("ACTIVE").first, 1);
  add_plane(a, s.primary, s.o.primary, s.o.crtc_id, fb, 0, 0, s.o.mode.hdisplay, s.o.mode.vdisplay);
  return a;
}

// modetest -a -s CONN:WxH -P PLANE@CRTC: CREATEPROPBLOB(MODE_ID), ATOMIC(ALLOW_MODESET) twice
// (the modeset, then the planes). Without ALLOW_MODESET the modeset is refused; TEST_ONLY
// changes nothing.
TEST_P(AtomicTools, AtomicModesetAndPlanes_AllowModesetRule_TestOnlyChangesNothing) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    AtomicSetup s;
    ASSERT_TRUE(atomic_setup(*c, &s));
    Buffer b, ov;
    ASSERT_TRUE(make_buffer(*c, s.o.mode.hdisplay, s.o.mode.vdisplay, 40, &b));
    ASSERT_TRUE(make_buffer(*c, 64, 48, 41, &ov));
    DrmDevice& dev = *d.drm();
    Crtc* crtc = crtc_find(dev, s.o.crtc_id);
    auto req = modeset_req(s, b.fb);
    EXPECT_EQ(c->atomic_commit(req, 0), -EINVAL);  // a modeset needs ALLOW_MODESET
    EXPECT_FALSE(crtc->state->active);
    EXPECT_EQ(c->atomic_commit(req, DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    EXPECT_FALSE(crtc->state->active);  // TEST_ONLY changes nothing
    EXPECT_EQ(c->atomic_commit(req, DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_PAGE_FLIP_EVENT), -EINVAL);
    ASSERT_EQ(c->atomic_commit(req, DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    EXPECT_TRUE(crtc->state->active);
    EXPECT_EQ(props_by_name(*c, s.o.crtc_id, DRM_MODE_OBJECT_CRTC)["MODE_ID"].second != 0, true);
    EXPECT_EQ(props_by_name(*c, s.o.crtc_id, DRM_MODE_OBJECT_CRTC)["ACTIVE"].second, 1u);
    EXPECT_EQ(props_by_name(*c, s.o.conn_id, DRM_MODE_OBJECT_CONNECTOR)["CRTC_ID"].second, s.o.crtc_id);
    // The second commit: the overlay (modetest -P), with ALLOW_MODESET as modetest sends it.
    const uint32_t overlay = c->find_plane(s.o.crtc_index, DRM_PLANE_TYPE_OVERLAY);
    ASSERT_NE(overlay, 0u);
    auto op = props_by_name(*c, overlay, DRM_MODE_OBJECT_PLANE);
    KmsClient::Atomic pa;
    add_plane(pa, op, overlay, s.o.crtc_id, ov.fb, 8, 8, 64, 48);
    EXPECT_EQ(c->atomic_commit(pa, DRM_MODE_ATOMIC_TEST_ONLY), 0);
    Plane* p = plane_find(dev, overlay);
    EXPECT_FALSE(p->state->fb);  // test only
    ASSERT_EQ(c->atomic_commit(pa, DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    ASSERT_TRUE(p->state->fb);
    EXPECT_EQ(p->state->fb->id, ov.fb);
    EXPECT_EQ(props_by_name(*c, overlay, DRM_MODE_OBJECT_PLANE)["CRTC_X"].second, 8u);
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    EXPECT_TRUE(crc_shows(dev, s.o.crtc_id,
                          expected_crc(s.o.mode.hdisplay, s.o.mode.vdisplay,
                                       {{&b.dumb, DRM_FORMAT_XRGB8888, 0, 0, s.o.mode.hdisplay, s.o.mode.vdisplay},
                                        {&ov.dumb, DRM_FORMAT_XRGB8888, 8, 8, 64, 48}})));
    crtc_crc_close(*crtc);
    // Bad requests: unknown object, property of another object, bad flags, non-master.
    KmsClient::Atomic bad;
    bad.add(0x7ffffff0, s.crtc.at("ACTIVE").first, 1);
    EXPECT_EQ(c->atomic_commit(bad, 0), -ENOENT);
    KmsClient::Atomic bad2;
    bad2.add(s.o.crtc_id, s.primary.at("FB_ID").first, b.fb);
    EXPECT_EQ(c->atomic_commit(bad2, 0), -ENOENT);
    EXPECT_EQ(c->atomic_commit(pa, 0x80000000u), -EINVAL);
    KmsClient::Atomic badblob;
    badblob.add(s.o.crtc_id, s.crtc.at("MODE_ID").first, 0x7ffffff0);
    EXPECT_EQ(c->atomic_commit(badblob, DRM_MODE_ATOMIC_ALLOW_MODESET), -EINVAL);
    auto other = open(d);
    ASSERT_EQ(other->enable_atomic(), 0);
    EXPECT_EQ(other->atomic_commit(pa, 0), -EACCES);
    EXPECT_TRUE(crtc->state->active);
    EXPECT_EQ(c->destroy_blob(s.mode_blob), 0);
    // Still alive (the CRTC state holds it) but no longer the file's: -EPERM.
    EXPECT_EQ(c->destroy_blob(s.mode_blob), -EPERM);
    EXPECT_EQ(c->destroy_blob(0x7ffffff0), -ENOENT);
  });
}

// modetest -a -s ... -v: blocking commits in a loop; each waits for the next vblank, so
// virtual time advances by one frame per commit (the libdrm-clients trap: a commit that
// returns at once makes modetest spin millions of times).
TEST_P(AtomicTools, BlockingCommitLoop_EachCommitWaitsOneFrame) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    AtomicSetup s;
    ASSERT_TRUE(atomic_setup(*c, &s));
    Buffer b[2];
    ASSERT_TRUE(make_buffer(*c, s.o.mode.hdisplay, s.o.mode.vdisplay, 50, &b[0]));
    ASSERT_TRUE(make_buffer(*c, s.o.mode.hdisplay, s.o.mode.vdisplay, 51, &b[1]));
    ASSERT_EQ(c->atomic_commit(modeset_req(s, b[0].fb), DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    Crtc* crtc = crtc_find(*d.drm(), s.o.crtc_id);
    const int64_t period = s.o.period_ns();
    std::vector<int64_t> done;
    std::vector<uint64_t> counts;
    for (int i = 0; i < 8; ++i) {
      KmsClient::Atomic a;
      a.add(s.o.primary, s.primary.at("FB_ID").first, b[(i + 1) & 1].fb);
      const TimePoint t0 = now();
      ASSERT_EQ(c->atomic_commit(a, 0), 0) << i;
      const int64_t took = (now() - t0).count();
      EXPECT_GT(took, 0) << "a blocking commit returned without waiting for a vblank (" << i << ")";
      EXPECT_LE(took, period + period / 10) << i;
      done.push_back(now().time_since_epoch().count());
      counts.push_back(crtc_vblank_count(*crtc));
    }
    for (std::size_t i = 1; i < done.size(); ++i) {
      EXPECT_NEAR(static_cast<double>(done[i] - done[i - 1]), static_cast<double>(period), period * 0.05) << i;
      EXPECT_EQ(counts[i], counts[i - 1] + 1) << i;
    }
  });
}

// modetest -w CONN:DPMS:3 / proptest: OBJ_SETPROPERTY (and legacy SETPROPERTY) on DPMS really
// switches the pipe off and on again; an atomic property set through OBJ_SETPROPERTY commits.
TEST_P(AtomicTools, SetProperty_DpmsSwitchesPipe_AtomicPropertyCommits) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    AtomicSetup s;
    ASSERT_TRUE(atomic_setup(*c, &s));
    Buffer b, ov;
    ASSERT_TRUE(make_buffer(*c, s.o.mode.hdisplay, s.o.mode.vdisplay, 60, &b));
    ASSERT_TRUE(make_buffer(*c, 32, 32, 61, &ov));
    ASSERT_EQ(c->atomic_commit(modeset_req(s, b.fb), DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    DrmDevice& dev = *d.drm();
    Crtc* crtc = crtc_find(dev, s.o.crtc_id);
    Connector* conn = connector_find(dev, s.o.conn_id);
    ASSERT_TRUE(crtc && conn);
    const uint32_t dpms = s.conn.at("DPMS").first;
    EXPECT_EQ(props_by_name(*c, s.o.conn_id, DRM_MODE_OBJECT_CONNECTOR)["DPMS"].second, uint64_t{DRM_MODE_DPMS_ON});
    // The pipe runs iff its vblank interrupt can be enabled and ticks (vbltest's check).
    const uint32_t hi = (s.o.crtc_index << _DRM_VBLANK_HIGH_CRTC_SHIFT) & _DRM_VBLANK_HIGH_CRTC_MASK;
    auto frames_advance = [&] {
      drm_wait_vblank w{};
      w.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | hi);
      w.request.sequence = 2;
      const TimePoint t0 = now();
      if (c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w) != 0) return false;
      return (now() - t0).count() > s.o.period_ns();
    };
    EXPECT_TRUE(frames_advance());
    // proptest -M x CONN connector DPMS 3
    drm_mode_obj_set_property sp{};
    sp.obj_id = s.o.conn_id;
    sp.obj_type = DRM_MODE_OBJECT_CONNECTOR;
    sp.prop_id = dpms;
    sp.value = DRM_MODE_DPMS_OFF;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp), 0);
    EXPECT_FALSE(crtc->state->active);
    EXPECT_TRUE(crtc->state->enable);  // DPMS keeps the mode
    EXPECT_FALSE(frames_advance()) << "the timing generator still runs after DPMS Off";
    EXPECT_EQ(props_by_name(*c, s.o.conn_id, DRM_MODE_OBJECT_CONNECTOR)["DPMS"].second, uint64_t{DRM_MODE_DPMS_OFF});
    // Legacy SETPROPERTY (the connector-only ioctl) switches it back on.
    drm_mode_connector_set_property lp{};
    lp.connector_id = s.o.conn_id;
    lp.prop_id = dpms;
    lp.value = DRM_MODE_DPMS_ON;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPROPERTY, &lp), 0);
    EXPECT_TRUE(crtc->state->active);
    EXPECT_TRUE(frames_advance());
    // Setting the current value again commits nothing (drm_atomic_connector_commit_dpms).
    {
      const TimePoint t0 = now();
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_SETPROPERTY, &lp), 0);
      EXPECT_EQ((now() - t0).count(), 0) << "a no-op DPMS set waited for a commit";
    }
    // Standby/Suspend count as Off.
    sp.value = DRM_MODE_DPMS_STANDBY;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp), 0);
    EXPECT_FALSE(crtc->state->active);
    sp.value = DRM_MODE_DPMS_ON;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp), 0);
    EXPECT_TRUE(crtc->state->active);
    // DPMS on a CRTC is not a property of it; out-of-range enum values are refused.
    drm_mode_obj_set_property bad = sp;
    bad.obj_id = s.o.crtc_id;
    bad.obj_type = DRM_MODE_OBJECT_CRTC;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &bad), -EINVAL);
    // Any value but On is Off: drm_atomic_connector_commit_dpms does not validate the enum.
    bad = sp;
    bad.value = 7;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &bad), 0);
    EXPECT_FALSE(crtc->state->active);
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp), 0);
    EXPECT_TRUE(crtc->state->active);
    bad = sp;
    bad.obj_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &bad), -ENOENT);
    auto other = open(d);
    EXPECT_EQ(other->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp), -EACCES);

    // An atomic property on a plane and on the CRTC through OBJ_SETPROPERTY (proptest).
    const uint32_t overlay = c->find_plane(s.o.crtc_index, DRM_PLANE_TYPE_OVERLAY);
    auto op = props_by_name(*c, overlay, DRM_MODE_OBJECT_PLANE);
    Plane* p = plane_find(dev, overlay);
    drm_mode_obj_set_property pp{};
    pp.obj_id = overlay;
    pp.obj_type = DRM_MODE_OBJECT_PLANE;
    pp.prop_id = op.at("CRTC_X").first;
    pp.value = 5;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &pp), 0);
    EXPECT_EQ(p->state->crtc_x, 5);
    pp.prop_id = op.at("FB_ID").first;
    pp.value = 0x7ffffff0;  // drm_property_change_valid_get: no such object → -EINVAL
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &pp), -EINVAL);
    drm_mode_obj_set_property cp{};
    cp.obj_id = s.o.crtc_id;
    cp.obj_type = DRM_MODE_OBJECT_CRTC;
    cp.prop_id = s.crtc.at("ACTIVE").first;
    cp.value = 0;
    // A modeset through OBJ_SETPROPERTY: legacy property sets allow modesets (the kernel's
    // drm_atomic_state_init sets allow_modeset; only the ATOMIC ioctl clears it).
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &cp), 0);
    EXPECT_FALSE(crtc->state->active);
    EXPECT_FALSE(frames_advance());
    cp.value = 1;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &cp), 0);
    EXPECT_TRUE(crtc->state->active);
    EXPECT_TRUE(frames_advance());
  });
}

// vbltest: WAIT_VBLANK(RELATIVE), then WAIT_VBLANK(RELATIVE|EVENT) re-armed from each event;
// select() + read() of VBLANK events, sequence +1, timestamps one frame apart.
TEST_P(AtomicTools, Vbltest_RelativeWaitThenEventsRearmed) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    AtomicSetup s;
    ASSERT_TRUE(atomic_setup(*c, &s));
    Buffer b;
    ASSERT_TRUE(make_buffer(*c, s.o.mode.hdisplay, s.o.mode.vdisplay, 70, &b));
    ASSERT_EQ(c->atomic_commit(modeset_req(s, b.fb), DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    const uint32_t hi = (s.o.crtc_index << _DRM_VBLANK_HIGH_CRTC_SHIFT) & _DRM_VBLANK_HIGH_CRTC_MASK;
    const uint32_t sec = s.o.crtc_index == 1 ? _DRM_VBLANK_SECONDARY : 0;
    drm_wait_vblank w{};
    w.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | hi);
    w.request.sequence = 1;
    const TimePoint t0 = now();
    ASSERT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), 0);
    EXPECT_GT((now() - t0).count(), 0);
    uint32_t seq = w.reply.sequence;
    int64_t prev_us = int64_t{w.reply.tval_sec} * 1'000'000 + w.reply.tval_usec;
    // The legacy SECONDARY flag addresses pipe 1 (vbltest -s).
    if (sec) {
      drm_wait_vblank w2{};
      w2.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | sec);
      w2.request.sequence = 0;
      ASSERT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w2), 0);
      EXPECT_EQ(w2.reply.sequence, seq);
    }
    for (int i = 0; i < 5; ++i) {
      w = {};
      w.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT | hi);
      w.request.sequence = 1;
      w.request.signal = 500 + static_cast<unsigned long>(i);
      ASSERT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), 0);
      EXPECT_EQ(w.reply.sequence, seq + 1);  // the target
      ASSERT_TRUE(wait_readable(*c));
      drm_event_vblank ev{};
      ASSERT_TRUE(read_one_event(*c, &ev));
      EXPECT_EQ(ev.base.type, uint32_t{DRM_EVENT_VBLANK});
      EXPECT_EQ(ev.user_data, 500u + static_cast<unsigned>(i));
      EXPECT_EQ(ev.sequence, seq + 1);
      EXPECT_EQ(ev.crtc_id, s.o.crtc_id);  // DRM_CAP_CRTC_IN_VBLANK_EVENT
      const int64_t us = int64_t{ev.tv_sec} * 1'000'000 + ev.tv_usec;
      EXPECT_NEAR(static_cast<double>(us - prev_us), s.o.period_ns() / 1000.0, 2.0) << i;
      seq = ev.sequence;
      prev_us = us;
    }
    pollfd p{c->file().poll_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
    // Bad requests.
    w = {};
    w.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | (31u << _DRM_VBLANK_HIGH_CRTC_SHIFT));
    EXPECT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), -EINVAL);
    w.request.type = static_cast<drm_vblank_seq_type>(0x00100000u);  // unknown bit
    EXPECT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), -EINVAL);
    // A pipe that is off: -EINVAL (vblank disabled).
    ASSERT_EQ(c->atomic_commit([&] {
      KmsClient::Atomic a;
      a.add(s.o.crtc_id, s.crtc.at("ACTIVE").first, 0);
      return a;
    }(), DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    w = {};
    w.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE | hi);
    w.request.sequence = 1;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), -EINVAL);
  });
}

// The render node: VERSION, GET_CAP, GEM_CLOSE, PRIME work or answer; KMS ioctls → -EACCES.
TEST_P(AtomicTools, RenderNode_AllowedIoctlsWork_ModeIoctlsEacces) {
  run([](drivers::Display& d) {
    if (!d.drm()->has_feature(DRIVER_RENDER)) {
      // No DRIVER_RENDER (soc, like most display-only drivers): no render node at all.
      Ref<DrmFile> f;
      EXPECT_NE(d.open(&f, MinorType::render), 0);
      return;
    }
    auto r = open(d, MinorType::render);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->file().minor_type(), MinorType::render);
    drm_version v{};
    ASSERT_EQ(r->ioctl(DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(v.name_len, std::strlen(d.drm_name()));
    drm_get_cap cap{DRM_CAP_TIMESTAMP_MONOTONIC, 0};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_GET_CAP, &cap), 0);
    EXPECT_EQ(cap.value, 1u);
    drm_gem_close gc{42, 0};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_GEM_CLOSE, &gc), -EINVAL);  // allowed, bad handle
    drm_prime_handle ph{};
    const int prime = r->ioctl(DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph);
    EXPECT_NE(prime, -EACCES);
    // Not DRM_RENDER_ALLOW: every mode ioctl, GET_UNIQUE, SET_CLIENT_CAP, WAIT_VBLANK, SET_MASTER.
    drm_mode_card_res res{};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res), -EACCES);
    drm_mode_get_connector gc2{};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &gc2), -EACCES);
    drm_mode_atomic a{};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_MODE_ATOMIC, &a), -EACCES);
    drm_unique u{};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_GET_UNIQUE, &u), -EACCES);
    drm_set_client_cap cc{DRM_CLIENT_CAP_ATOMIC, 1};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_SET_CLIENT_CAP, &cc), -EACCES);
    drm_wait_vblank w{};
    EXPECT_EQ(r->ioctl(DRM_IOCTL_WAIT_VBLANK, &w), -EACCES);
    EXPECT_EQ(r->ioctl(DRM_IOCTL_SET_MASTER, nullptr), -EACCES);
    // The render file is never master; the card node opened afterwards is.
    EXPECT_FALSE(r->file().is_master());
    auto card = open(d);
    EXPECT_TRUE(card->file().is_master());
  });
}

UDRM_UAPI_INSTANTIATE(AtomicTools);

}  // namespace
}  // namespace udrm::uapi
