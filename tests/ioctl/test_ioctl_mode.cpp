// KMS ioctls on a one-pipe test device (primary + cursor + overlay plane, one CRTC, a virtual
// encoder and connector, no vblank interrupt so commits use the fake vblank): the two-pass
// protocol, client caps, bad IDs / formats / pointers, and a legacy + atomic modeset with events.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <drm_fourcc.h>

#include <cstring>
#include <vector>

#include "drmfile/test_rig.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using testrig::io;
using testrig::Rig;
using testrig::run_sim;
using testrig::TDrm;
using testrig::uptr;

constexpr uint32_t kKms = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;

int get_modes(Connector& c) {
  DisplayMode a = mode_cvt(1024, 768, 60);
  a.type |= DRM_MODE_TYPE_PREFERRED;
  connector_add_mode(c, a);
  connector_add_mode(c, mode_cvt(640, 480, 60));
  return 2;
}
const ConnectorHelperFuncs kConnHelpers = [] {
  ConnectorHelperFuncs f;
  f.get_modes = &get_modes;
  return f;
}();

int kms_setup(TDrm& d) {
  if (int r = drmm_mode_config_init(d)) return r;
  static const uint32_t fmts[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888};
  static const uint32_t cursor_fmts[] = {DRM_FORMAT_ARGB8888};
  auto* primary = drmm_new<Plane>(d, "primary");
  auto* cursor = drmm_new<Plane>(d, "cursor");
  auto* overlay = drmm_new<Plane>(d, "overlay");
  auto* crtc = drmm_new<Crtc>(d, "crtc");
  auto* enc = drmm_new<Encoder>(d, "encoder");
  auto* conn = drmm_new<Connector>(d, "connector");
  if (!primary || !cursor || !overlay || !crtc || !enc || !conn) return -ENOMEM;
  if (int r = drmm_universal_plane_init(d, *primary, 1, nullptr, fmts, 2, nullptr, PlaneType::primary)) return r;
  if (int r = drmm_universal_plane_init(d, *cursor, 1, nullptr, cursor_fmts, 1, nullptr, PlaneType::cursor)) return r;
  if (int r = drmm_universal_plane_init(d, *overlay, 1, nullptr, fmts, 2, nullptr, PlaneType::overlay)) return r;
  if (int r = drmm_crtc_init_with_planes(d, *crtc, primary, cursor, nullptr)) return r;
  if (int r = drmm_encoder_init(d, *enc, DRM_MODE_ENCODER_VIRTUAL)) return r;
  enc->possible_crtcs = 1;
  if (int r = drmm_connector_init(d, *conn, nullptr, DRM_MODE_CONNECTOR_VIRTUAL)) return r;
  connector_helper_add(*conn, &kConnHelpers);
  if (int r = connector_attach_encoder(*conn, *enc)) return r;
  mode_config_reset(d);
  return 0;
}

struct KmsRig : Rig {
  explicit KmsRig(Executor& ex) : Rig(ex, kKms) {
    // Rebind with the KMS setup (the base constructor bound a bare device first).
    EXPECT_EQ(unbind(), 0);
    drv.setup = &kms_setup;
    EXPECT_EQ(bind(), 0);
  }
  ModeConfig& mc() { return *mode_config(*drm()); }
};

struct Res {
  std::vector<uint32_t> fbs, crtcs, conns, encs;
};
Res get_resources(DrmFile& f) {
  drm_mode_card_res r{};
  EXPECT_EQ(io(f, DRM_IOCTL_MODE_GETRESOURCES, &r), 0);
  Res out;
  out.fbs.resize(r.count_fbs);
  out.crtcs.resize(r.count_crtcs);
  out.conns.resize(r.count_connectors);
  out.encs.resize(r.count_encoders);
  r.fb_id_ptr = uptr(out.fbs.data());
  r.crtc_id_ptr = uptr(out.crtcs.data());
  r.connector_id_ptr = uptr(out.conns.data());
  r.encoder_id_ptr = uptr(out.encs.data());
  EXPECT_EQ(io(f, DRM_IOCTL_MODE_GETRESOURCES, &r), 0);
  return out;
}

TEST(IoctlMode, GetResourcesTwoPassAndBadPointers) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    Res res = get_resources(*f);
    ASSERT_EQ(res.crtcs.size(), 1u);
    ASSERT_EQ(res.encs.size(), 1u);
    ASSERT_EQ(res.conns.size(), 1u);
    EXPECT_TRUE(res.fbs.empty());
    EXPECT_EQ(res.crtcs[0], rig.mc().crtcs[0]->id);
    drm_mode_card_res r{};
    r.count_crtcs = 1;
    r.crtc_id_ptr = 0x10;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETRESOURCES, &r), -EFAULT);
    drm_mode_card_res z{};
    z.crtc_id_ptr = 0x10;  // no count: nothing copied, no fault
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETRESOURCES, &z), 0);
    EXPECT_EQ(z.count_crtcs, 1u);
    EXPECT_EQ(z.max_width, rig.mc().max_width);
    f->close();
  });
}

TEST(IoctlMode, BadIdsAreEnoent) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_mode_crtc c{};
    c.crtc_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETCRTC, &c), -ENOENT);
    drm_mode_get_encoder e{};
    e.encoder_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETENCODER, &e), -ENOENT);
    drm_mode_get_connector gc{};
    gc.connector_id = rig.mc().crtcs[0]->id;  // an ID of the wrong type
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &gc), -ENOENT);
    drm_mode_get_plane p{};
    p.plane_id = 0;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANE, &p), -ENOENT);
    drm_mode_get_property gp{};
    gp.prop_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETPROPERTY, &gp), -ENOENT);
    drm_mode_get_blob gb{};
    gb.blob_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETPROPBLOB, &gb), -ENOENT);
    drm_mode_obj_get_properties op{};
    op.obj_id = 9999;
    op.obj_type = DRM_MODE_OBJECT_CRTC;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op), -ENOENT);
    drm_mode_fb_cmd fb{};
    fb.fb_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETFB, &fb), -ENOENT);
    uint32_t id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_RMFB, &id), -ENOENT);
    drm_mode_crtc_page_flip pf{};
    pf.crtc_id = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -ENOENT);
    f->close();
  });
}

TEST(IoctlMode, GetConnectorProbesAndHidesAtomicProps) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    uint32_t conn_id = rig.mc().connectors[0]->id;
    drm_mode_get_connector c{};
    c.connector_id = conn_id;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &c), 0);
    EXPECT_EQ(c.count_modes, 2u) << "count_modes == 0 probes";
    EXPECT_EQ(c.count_encoders, 1u);
    EXPECT_EQ(c.connection, 1u);
    EXPECT_EQ(c.connector_type, uint32_t(DRM_MODE_CONNECTOR_VIRTUAL));
    const uint32_t legacy_props = c.count_props;
    std::vector<drm_mode_modeinfo> modes(c.count_modes);
    std::vector<uint32_t> encs(c.count_encoders), props(c.count_props);
    std::vector<uint64_t> vals(c.count_props);
    c.modes_ptr = uptr(modes.data());
    c.encoders_ptr = uptr(encs.data());
    c.props_ptr = uptr(props.data());
    c.prop_values_ptr = uptr(vals.data());
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &c), 0);
    EXPECT_EQ(modes[0].hdisplay, 1024);
    EXPECT_EQ(modes[1].hdisplay, 640);
    EXPECT_EQ(encs[0], rig.mc().encoders[0]->id);
    drm_set_client_cap cap{DRM_CLIENT_CAP_ATOMIC, 1};
    ASSERT_EQ(io(*f, DRM_IOCTL_SET_CLIENT_CAP, &cap), 0);
    drm_mode_get_connector a{};
    a.connector_id = conn_id;
    a.count_modes = 1;  // no probe; only the count comes back (a short buffer gets nothing)
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &a), 0);
    EXPECT_EQ(a.count_modes, 2u);
    EXPECT_GT(a.count_props, legacy_props) << "CRTC_ID is visible to atomic clients only";
    drm_mode_get_connector bad = a;
    bad.count_modes = 2;
    bad.modes_ptr = 0xdead0000ull << 20;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &bad), -EFAULT);
    f->close();
  });
}

TEST(IoctlMode, PlaneResourcesDependOnUniversalPlanes) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_mode_get_plane_res r{};
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANERESOURCES, &r), 0);
    EXPECT_EQ(r.count_planes, 1u) << "only the overlay without the cap";
    drm_set_client_cap cap{DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1};
    ASSERT_EQ(io(*f, DRM_IOCTL_SET_CLIENT_CAP, &cap), 0);
    r = {};
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANERESOURCES, &r), 0);
    ASSERT_EQ(r.count_planes, 3u);
    std::vector<uint32_t> ids(2);
    r.count_planes = 2;
    r.plane_id_ptr = uptr(ids.data());
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANERESOURCES, &r), 0);
    EXPECT_EQ(r.count_planes, 3u) << "the actual count comes back";
    drm_mode_get_plane p{};
    p.plane_id = ids[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANE, &p), 0);
    EXPECT_EQ(p.count_format_types, 2u);
    EXPECT_EQ(p.possible_crtcs, 1u);
    uint32_t fmts[2] = {};
    p.format_type_ptr = uptr(fmts);
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETPLANE, &p), 0);
    EXPECT_EQ(fmts[0], uint32_t(DRM_FORMAT_XRGB8888));
    f->close();
  });
}

TEST(IoctlMode, PropertyBlobsTwoPassAndOwnership) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open(), g = rig.open();
    uint8_t data[20];
    for (int i = 0; i < 20; ++i) data[i] = uint8_t(i);
    drm_mode_create_blob c{};
    c.data = uptr(data);
    c.length = sizeof(data);
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_CREATEPROPBLOB, &c), 0);
    EXPECT_NE(c.blob_id, 0u);
    drm_mode_get_blob gb{};
    gb.blob_id = c.blob_id;
    ASSERT_EQ(io(*g, DRM_IOCTL_MODE_GETPROPBLOB, &gb), 0);
    EXPECT_EQ(gb.length, 20u);
    uint8_t out[20] = {};
    gb.data = uptr(out);
    gb.length = 19;  // not exactly the blob's length: nothing copied
    ASSERT_EQ(io(*g, DRM_IOCTL_MODE_GETPROPBLOB, &gb), 0);
    EXPECT_EQ(out[5], 0);
    gb.length = 20;
    ASSERT_EQ(io(*g, DRM_IOCTL_MODE_GETPROPBLOB, &gb), 0);
    EXPECT_EQ(out[5], 5);
    drm_mode_destroy_blob d{c.blob_id};
    EXPECT_EQ(io(*g, DRM_IOCTL_MODE_DESTROYPROPBLOB, &d), -EPERM);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_DESTROYPROPBLOB, &d), 0);
    EXPECT_EQ(io(*g, DRM_IOCTL_MODE_GETPROPBLOB, &gb), -ENOENT);
    drm_mode_create_blob z{};
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_CREATEPROPBLOB, &z), -EINVAL) << "length 0";
    drm_mode_create_blob nf{};
    nf.length = 8;
    nf.data = 0x10;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_CREATEPROPBLOB, &nf), -EFAULT);
    // A blob left behind is destroyed at close.
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_CREATEPROPBLOB, &c), 0);
    f->close();
    gb.blob_id = c.blob_id;
    EXPECT_EQ(io(*g, DRM_IOCTL_MODE_GETPROPBLOB, &gb), -ENOENT);
    g->close();
  });
}

// A dumb buffer wrapped in a framebuffer.
uint32_t make_fb(DrmFile& f, uint32_t w, uint32_t h, uint32_t fourcc = DRM_FORMAT_XRGB8888, int* err = nullptr) {
  drm_mode_create_dumb c{};
  c.width = w;
  c.height = h;
  c.bpp = 32;
  EXPECT_EQ(io(f, DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
  drm_mode_fb_cmd2 r{};
  r.width = w;
  r.height = h;
  r.pixel_format = fourcc;
  r.handles[0] = c.handle;
  r.pitches[0] = c.pitch;
  int ret = io(f, DRM_IOCTL_MODE_ADDFB2, &r);
  if (err) *err = ret;
  else EXPECT_EQ(ret, 0);
  return r.fb_id;
}

TEST(IoctlMode, AddFbBadInput) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    int err = 0;
    make_fb(*f, 64, 64, fourcc_code('N', 'O', 'P', 'E'), &err);
    EXPECT_EQ(err, -EINVAL) << "unknown format";
    drm_mode_fb_cmd2 r{};
    r.width = 64;
    r.height = 64;
    r.pixel_format = DRM_FORMAT_XRGB8888;
    r.pitches[0] = 256;
    r.handles[0] = 77;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ADDFB2, &r), -ENOENT) << "no such GEM handle";
    drm_mode_fb_cmd old{};
    old.width = old.height = 8;
    old.bpp = 13;
    old.depth = 7;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ADDFB, &old), -EINVAL) << "no legacy format for 13/7";
    uint32_t id = make_fb(*f, 64, 64);
    ASSERT_NE(id, 0u);
    Res res = get_resources(*f);
    ASSERT_EQ(res.fbs.size(), 1u);
    EXPECT_EQ(res.fbs[0], id);
    drm_mode_fb_cmd gf{};
    gf.fb_id = id;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETFB, &gf), 0);
    EXPECT_EQ(gf.width, 64u);
    EXPECT_EQ(gf.bpp, 32u);
    EXPECT_EQ(gf.depth, 24u);
    EXPECT_NE(gf.handle, 0u);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_RMFB, &id), 0);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_RMFB, &id), -ENOENT);
    f->close();
  });
}

TEST(IoctlMode, LegacySetCrtcThenPageFlipEvent) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    Res res = get_resources(*f);
    drm_mode_get_connector gc{};
    gc.connector_id = res.conns[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &gc), 0);
    std::vector<drm_mode_modeinfo> modes(gc.count_modes);
    gc.modes_ptr = uptr(modes.data());
    gc.count_props = 0;
    gc.count_encoders = 0;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCONNECTOR, &gc), 0);
    uint32_t fb1 = make_fb(*f, 1024, 768), fb2 = make_fb(*f, 1024, 768);
    drm_mode_crtc set{};
    set.crtc_id = res.crtcs[0];
    set.fb_id = fb1;
    set.set_connectors_ptr = uptr(res.conns.data());
    set.count_connectors = 1;
    set.mode = modes[0];
    set.mode_valid = 1;
    // Bad input first.
    drm_mode_crtc bad = set;
    bad.x = 0x10000;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -ERANGE);
    bad = set;
    bad.count_connectors = 0;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -EINVAL) << "a mode needs connectors";
    bad = set;
    bad.count_connectors = 1000;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -EINVAL) << "more connectors than exist";
    bad = set;
    bad.set_connectors_ptr = 0x10;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -EFAULT);
    bad = set;
    bad.x = 8;  // the viewport runs past the framebuffer
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -ENOSPC);
    bad = set;
    bad.fb_id = 4242;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &bad), -ENOENT);
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &set), 0);
    drm_mode_crtc get{};
    get.crtc_id = res.crtcs[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCRTC, &get), 0);
    EXPECT_EQ(get.mode_valid, 1u);
    EXPECT_EQ(get.fb_id, fb1);
    EXPECT_EQ(get.mode.hdisplay, 1024);
    drm_mode_get_encoder ge{};
    ge.encoder_id = res.encs[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETENCODER, &ge), 0);
    EXPECT_EQ(ge.crtc_id, res.crtcs[0]);
    // Page flip: flag validation, then a flip with an event.
    drm_mode_crtc_page_flip pf{};
    pf.crtc_id = res.crtcs[0];
    pf.fb_id = fb2;
    pf.flags = 0x80;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -EINVAL);
    pf.flags = DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_TARGET;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -EINVAL);
    pf.flags = DRM_MODE_PAGE_FLIP_ASYNC;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -EINVAL) << "no async_page_flip";
    pf.flags = DRM_MODE_PAGE_FLIP_EVENT;
    pf.reserved = 1;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -EINVAL) << "a sequence without TARGET";
    pf.reserved = 0;
    pf.user_data = 0xfeed;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), 0);
    drm_event_vblank ev{};
    ASSERT_EQ(f->read(&ev, sizeof(ev), true), long(sizeof(ev)));
    EXPECT_EQ(ev.base.type, uint32_t(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(ev.user_data, 0xfeedu);
    EXPECT_EQ(ev.crtc_id, res.crtcs[0]);
    // Disable: no mode, no connectors.
    drm_mode_crtc off{};
    off.crtc_id = res.crtcs[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_SETCRTC, &off), 0);
    get = {};
    get.crtc_id = res.crtcs[0];
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_GETCRTC, &get), 0);
    EXPECT_EQ(get.mode_valid, 0u);
    f->close();
  });
}

TEST(IoctlMode, AtomicFlagsObjectsAndProperties) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_mode_atomic a{};
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL) << "needs the ATOMIC client cap";
    drm_set_client_cap cap{DRM_CLIENT_CAP_ATOMIC, 1};
    ASSERT_EQ(io(*f, DRM_IOCTL_SET_CLIENT_CAP, &cap), 0);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), 0) << "an empty commit";
    a.flags = 0x8000;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL);
    a.flags = DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_PAGE_FLIP_EVENT;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL);
    a.flags = DRM_MODE_PAGE_FLIP_EVENT;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL) << "an event with no CRTC to deliver it";
    a.flags = 0;
    a.reserved = 1;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL);
    a.reserved = 0;
    a.count_objs = 1;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EFAULT) << "objs_ptr to nowhere";
    // props/vals have room for a second entry (used below); in-process "user memory" must be
    // real memory, a count past the arrays would read the test's own stack.
    uint32_t objs[1] = {9999}, counts[1] = {1}, props[2] = {0, 0};
    uint64_t vals[2] = {0, 0};
    a.objs_ptr = uptr(objs);
    a.count_props_ptr = uptr(counts);
    a.props_ptr = uptr(props);
    a.prop_values_ptr = uptr(vals);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -ENOENT) << "no such object";
    Crtc* crtc = rig.mc().crtcs[0];
    objs[0] = crtc->id;
    props[0] = 9999;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -ENOENT) << "no such property on the object";
    props[0] = rig.mc().props.crtc_active->id;
    vals[0] = 1;
    a.flags = DRM_MODE_ATOMIC_TEST_ONLY;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL) << "activating a CRTC without a mode";
    counts[0] = 2;  // the second entry names property 0: no such property
    a.flags = 0;
    EXPECT_NE(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), 0);
    EXPECT_EQ(f->event_space(), DrmFile::kEventSpace) << "no event budget leaked by failed commits";
    f->close();
  });
}

TEST(IoctlMode, NonKmsDeviceAnswersEopnotsupp) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim, DRIVER_GEM);
    Ref<DrmFile> f = rig.open();
    drm_mode_card_res r{};
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETRESOURCES, &r), -EOPNOTSUPP);
    drm_mode_atomic a{};
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_ATOMIC, &a), -EOPNOTSUPP);
    drm_wait_vblank w{};
    EXPECT_EQ(io(*f, DRM_IOCTL_WAIT_VBLANK, &w), -EOPNOTSUPP);
    f->close();
  });
}

}  // namespace
}  // namespace udrm
