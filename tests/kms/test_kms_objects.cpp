// KMS object model: IDs and lookups, properties, blobs, object init, IN_FORMATS, state
// helpers, mode config teardown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "kms_rig.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/fault.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/property.h"
#include "udrm/testing/warn.h"

namespace udrm::kmstest {
namespace {

const uint32_t kAtomic = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;

// A framebuffer without GEM objects whose destruction is counted.
std::atomic<int> g_fb_destroyed{0};
const FramebufferFuncs kCountingFbFuncs = {
    .destroy = [](Framebuffer& fb) {
      g_fb_destroyed.fetch_add(1);
      delete &fb;
    },
    .dirty = nullptr,
};

Framebuffer* new_fb(DrmDevice& dev, int* err = nullptr) {
  auto* fb = new Framebuffer();
  fb->format = format_info(DRM_FORMAT_XRGB8888);
  fb->width = 64;
  fb->height = 32;
  fb->pitches[0] = 256;
  int ret = framebuffer_init(dev, *fb, &kCountingFbFuncs);
  if (err) *err = ret;
  if (ret) {
    delete fb;
    return nullptr;
  }
  return fb;
}

// ---- IDs and lookups -------------------------------------------------------------------------

TEST(KmsObject, LookupChecksTypeAndIdsAreNeverReused) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    ObjectIdr& idr = d.mc().idr;
    EXPECT_EQ(crtc_find(d, d.crtc.id), &d.crtc);
    EXPECT_EQ(crtc_find(d, d.primary.id), nullptr) << "a plane ID is not a CRTC";
    EXPECT_EQ(plane_find(d, d.primary.id), &d.primary);
    EXPECT_EQ(encoder_find(d, d.connector.id), nullptr);
    EXPECT_EQ(connector_find(d, d.connector.id), &d.connector);
    EXPECT_EQ(idr.find(d.encoder.id, DRM_MODE_OBJECT_ANY), &d.encoder);
    EXPECT_EQ(idr.find(0, DRM_MODE_OBJECT_ANY), nullptr);
    EXPECT_EQ(idr.find(0x7fffffff, DRM_MODE_OBJECT_ANY), nullptr);
    EXPECT_EQ(crtc_from_index(d, 0), &d.crtc);
    EXPECT_EQ(crtc_from_index(d, 1), nullptr);

    // Reserved IDs are invisible until registered; unregistered ones vanish; none comes back.
    ModeObject a, b;
    ASSERT_EQ(idr.reserve(&a, DRM_MODE_OBJECT_ENCODER), 0);
    EXPECT_EQ(idr.find(a.id, DRM_MODE_OBJECT_ANY), nullptr);
    idr.register_object(&a);
    EXPECT_EQ(idr.find(a.id, DRM_MODE_OBJECT_ENCODER), &a);
    const uint32_t old = a.id;
    idr.unregister(&a);
    EXPECT_EQ(a.id, 0u);
    EXPECT_EQ(idr.find(old, DRM_MODE_OBJECT_ANY), nullptr);
    ASSERT_EQ(idr.add(&b, DRM_MODE_OBJECT_ENCODER), 0);
    EXPECT_GT(b.id, old);
    idr.unregister(&b);

    FailNth fail(1, "kms.object_add");
    ScopedFaultInjector inj(fail);
    ModeObject c;
    EXPECT_EQ(idr.add(&c, DRM_MODE_OBJECT_ENCODER), -ENOMEM);
    EXPECT_TRUE(fail.fired());
  });
}

struct DyingObject : ModeObject {
  int puts = 0;
  DyingObject() {
    get_unless_zero = [](ModeObject*) { return false; };  // refcount already reached zero
    put = [](ModeObject* o) { ++static_cast<DyingObject*>(o)->puts; };
  }
};

TEST(KmsObject, LookupNeverReturnsADyingObject) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    DyingObject o;
    ASSERT_EQ(d.mc().idr.add(&o, DRM_MODE_OBJECT_FB), 0);
    EXPECT_EQ(d.mc().idr.find(o.id, DRM_MODE_OBJECT_FB), nullptr);
    EXPECT_EQ(framebuffer_lookup(d, o.id), nullptr);
    EXPECT_EQ(o.puts, 0);
    d.mc().idr.unregister(&o);

    // A real framebuffer: lookups take a reference; after the final put the ID is gone.
    g_fb_destroyed = 0;
    Framebuffer* fb = new_fb(d);
    ASSERT_NE(fb, nullptr);
    const uint32_t id = fb->id;
    {
      Ref<Framebuffer> ref = framebuffer_lookup(d, id);
      ASSERT_EQ(ref.get(), fb);
      EXPECT_EQ(fb->refcount(), 2u);
    }
    EXPECT_EQ(fb->refcount(), 1u);
    fb->RefCounted<Framebuffer>::put();
    EXPECT_EQ(g_fb_destroyed.load(), 1);
    EXPECT_EQ(framebuffer_lookup(d, id), nullptr);
  });
}

TEST(KmsObject, ConcurrentLookupVersusFinalPutOnRealThreads) {
  AsioExecutor ex(2);
  KmsRig rig(ex);
  KDrm& d = rig.drm();
  const std::size_t base = d.mc().idr.size();
  g_fb_destroyed = 0;
  std::atomic<uint32_t> current{0};
  std::atomic<bool> stop{false};
  std::atomic<int> created{0}, found{0}, bad{0};
  constexpr int kIters = 500;
  std::thread producer([&] {
    for (int i = 0; i < kIters; ++i) {
      Framebuffer* fb = new_fb(d);
      if (!fb) {
        bad.fetch_add(1);
        continue;
      }
      created.fetch_add(1);
      current.store(fb->id, std::memory_order_release);
      if (i % 50 == 0) {
        // Now and then hold the framebuffer until the consumer has seen it, so the run
        // certainly overlaps lookups with live objects (bounded: never a hang).
        const int seen = found.load();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (found.load() == seen && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      } else if (i % 2) {
        std::this_thread::yield();
      }
      fb->RefCounted<Framebuffer>::put();  // the final put races the lookups
    }
    stop = true;
  });
  std::thread consumer([&] {
    while (!stop.load()) {
      const uint32_t id = current.load(std::memory_order_acquire);
      Ref<Framebuffer> fb = framebuffer_lookup(d, id);
      if (!fb) {
        std::this_thread::yield();
        continue;
      }
      found.fetch_add(1);
      if (fb->id != id || fb->refcount() == 0 || fb->width != 64) bad.fetch_add(1);
    }
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(created.load(), kIters);
  EXPECT_EQ(g_fb_destroyed.load(), kIters) << "every framebuffer freed exactly once";
  EXPECT_EQ(d.mc().idr.size(), base) << "every ID unregistered";
  EXPECT_EQ(d.mc().fb_list.size(), 0u);
  EXPECT_GT(found.load(), 0) << "the lookups never overlapped a live framebuffer";
}

// ---- properties ------------------------------------------------------------------------------

TEST(KmsProperty, ValueValidationPerType) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    Property* range = property_create_range(d, 0, "r", 10, 20);
    Property* srange = property_create_signed_range(d, 0, "s", -5, 5);
    Property* en = property_create_enum(d, 0, "e", {{1, "one"}, {4, "four"}});
    Property* bm = property_create_bitmask(d, 0, "b", {{0, "bit0"}, {3, "bit3"}});
    Property* obj = property_create_object(d, 0, "o", DRM_MODE_OBJECT_CRTC);
    Property* blob = property_create_blob(d, 0, "bl");
    Property* imm = property_create_range(d, DRM_MODE_PROP_IMMUTABLE, "i", 0, 100);
    Property* bl = property_create_bool(d, DRM_MODE_PROP_ATOMIC, "flag");
    ASSERT_TRUE(range && srange && en && bm && obj && blob && imm && bl);

    EXPECT_EQ(range->type(), uint32_t(DRM_MODE_PROP_RANGE));
    EXPECT_TRUE(range->value_valid(10));
    EXPECT_TRUE(range->value_valid(20));
    EXPECT_FALSE(range->value_valid(9));
    EXPECT_FALSE(range->value_valid(21));
    EXPECT_EQ(srange->type(), uint32_t(DRM_MODE_PROP_SIGNED_RANGE));
    EXPECT_TRUE(srange->value_valid(static_cast<uint64_t>(int64_t{-5})));
    EXPECT_FALSE(srange->value_valid(static_cast<uint64_t>(int64_t{-6})));
    EXPECT_FALSE(srange->value_valid(6));
    EXPECT_TRUE(en->value_valid(4));
    EXPECT_FALSE(en->value_valid(2));
    EXPECT_TRUE(bm->value_valid(0));
    EXPECT_TRUE(bm->value_valid(0b1001));
    EXPECT_FALSE(bm->value_valid(0b0010));
    EXPECT_EQ(bm->values, (std::vector<uint64_t>{0, 3})) << "bitmask values are bit positions";
    EXPECT_TRUE(obj->value_valid(0));
    EXPECT_TRUE(obj->value_valid(d.crtc.id));
    EXPECT_FALSE(obj->value_valid(d.primary.id)) << "wrong object type";
    EXPECT_FALSE(obj->value_valid(uint64_t{1} << 40));
    EXPECT_TRUE(blob->value_valid(0));
    EXPECT_FALSE(blob->value_valid(12345));
    Ref<PropertyBlob> b;
    ASSERT_EQ(property_blob_create(d, "xyz", 3, &b), 0);
    EXPECT_TRUE(blob->value_valid(b->id));
    EXPECT_FALSE(obj->value_valid(b->id));
    EXPECT_FALSE(imm->value_valid(5)) << "immutable properties cannot be set";
    EXPECT_TRUE(bl->value_valid(1));
    EXPECT_FALSE(bl->value_valid(2));
    EXPECT_TRUE(bl->is_atomic());
    EXPECT_NE(d.mc().idr.find(range->id, DRM_MODE_OBJECT_PROPERTY), nullptr);

    {
      testing::ExpectWarn w(1, "too long");
      EXPECT_EQ(property_create_range(d, 0, "a-name-that-is-far-longer-than-thirty-two-bytes", 0, 1), nullptr);
    }
    {
      testing::ExpectWarn w(1, "out of range");
      EXPECT_EQ(property_create_bitmask(d, 0, "bad", {{64, "x"}}), nullptr);
    }
  });
}

TEST(KmsProperty, StandardPropertiesHaveTheKernelsNamesAndFlags) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    auto& p = rig.drm().mc().props;
    struct Row {
      Property* prop;
      const char* name;
      uint32_t flags;
    };
    const uint32_t A = DRM_MODE_PROP_ATOMIC, I = DRM_MODE_PROP_IMMUTABLE;
    const Row rows[] = {
        {p.crtc_active, "ACTIVE", A | DRM_MODE_PROP_RANGE},
        {p.crtc_mode_id, "MODE_ID", A | DRM_MODE_PROP_BLOB},
        {p.gamma_lut, "GAMMA_LUT", DRM_MODE_PROP_BLOB},
        {p.gamma_lut_size, "GAMMA_LUT_SIZE", I | DRM_MODE_PROP_RANGE},
        {p.plane_type, "type", I | DRM_MODE_PROP_ENUM},
        {p.prop_fb_id, "FB_ID", A | DRM_MODE_PROP_OBJECT},
        {p.prop_crtc_id, "CRTC_ID", A | DRM_MODE_PROP_OBJECT},
        {p.prop_src_x, "SRC_X", A | DRM_MODE_PROP_RANGE},
        {p.prop_src_h, "SRC_H", A | DRM_MODE_PROP_RANGE},
        {p.prop_crtc_x, "CRTC_X", A | DRM_MODE_PROP_SIGNED_RANGE},
        {p.prop_crtc_y, "CRTC_Y", A | DRM_MODE_PROP_SIGNED_RANGE},
        {p.prop_crtc_w, "CRTC_W", A | DRM_MODE_PROP_RANGE},
        {p.prop_in_formats, "IN_FORMATS", I | DRM_MODE_PROP_BLOB},
        {p.edid, "EDID", I | DRM_MODE_PROP_BLOB},
        {p.dpms, "DPMS", DRM_MODE_PROP_ENUM},
        {p.link_status, "link-status", DRM_MODE_PROP_ENUM},
        {p.non_desktop, "non-desktop", I | DRM_MODE_PROP_RANGE},
    };
    for (const Row& r : rows) {
      ASSERT_NE(r.prop, nullptr) << r.name;
      EXPECT_EQ(r.prop->name, r.name);
      EXPECT_EQ(r.prop->flags, r.flags) << r.name;
    }
    EXPECT_EQ(p.prop_fb_id->values, (std::vector<uint64_t>{DRM_MODE_OBJECT_FB}));
    EXPECT_EQ(p.prop_crtc_x->values[0], static_cast<uint64_t>(int64_t{INT32_MIN}));
    ASSERT_EQ(p.plane_type->enums.size(), 3u);
    EXPECT_EQ(p.plane_type->enums[1].name, "Primary");
    ASSERT_EQ(p.dpms->enums.size(), 4u);
    EXPECT_EQ(p.dpms->enums[3].name, "Off");
    EXPECT_EQ(p.dpms->enums[3].value, uint64_t(DRM_MODE_DPMS_OFF));
  });
}

uint64_t prop_value(ModeObject& o, Property* p, bool* attached) {
  uint64_t v = ~uint64_t{0};
  *attached = object_property_get_value(o, *p, &v) == 0;
  return v;
}

TEST(KmsObject, InitNamesIndicesPropertiesAndState) {
  run_sim([](SimExecutor& sim) {
    Connector hdmi1, hdmi2, dsi;
    KmsRig rig(sim, kAtomic, [&](KDrm& d) {
      if (int r = drmm_connector_init(d, hdmi1, nullptr, DRM_MODE_CONNECTOR_HDMIA)) return r;
      if (int r = drmm_connector_init(d, hdmi2, nullptr, DRM_MODE_CONNECTOR_HDMIA)) return r;
      if (int r = drmm_connector_init(d, dsi, nullptr, DRM_MODE_CONNECTOR_DSI)) return r;
      return mode_crtc_set_gamma_size(d.crtc, 256);
    });
    KDrm& d = rig.drm();
    auto& p = d.mc().props;
    EXPECT_EQ(d.crtc.name, "crtc-0");
    EXPECT_EQ(d.primary.name, "plane-0");
    EXPECT_EQ(d.cursor.name, "plane-2");
    EXPECT_EQ(d.cursor.index, 2u);
    EXPECT_EQ(d.connector.name, "Virtual-1");
    EXPECT_EQ(hdmi1.name, "HDMI-A-1");
    EXPECT_EQ(hdmi2.name, "HDMI-A-2");
    EXPECT_EQ(dsi.name, "DSI-1");
    EXPECT_EQ(dsi.index, 3u);
    EXPECT_EQ(d.encoder.name, "Virtual-" + std::to_string(d.encoder.id));
    EXPECT_EQ(d.mc().crtcs.size(), 1u);
    EXPECT_EQ(d.mc().planes.size(), 3u);
    EXPECT_EQ(d.mc().connectors.size(), 4u);
    EXPECT_EQ(d.connector.possible_encoders, 1u);

    bool att = false;
    EXPECT_EQ(prop_value(d.crtc, p.crtc_active, &att), 0u);
    EXPECT_TRUE(att);
    prop_value(d.crtc, p.crtc_mode_id, &att);
    EXPECT_TRUE(att);
    EXPECT_EQ(prop_value(d.crtc, p.gamma_lut_size, &att), 256u);
    EXPECT_TRUE(att);
    EXPECT_EQ(d.crtc.gamma_store.size(), 768u);
    EXPECT_EQ(d.crtc.gamma_store[255], 255u << 8);
    EXPECT_EQ(prop_value(d.primary, p.plane_type, &att), 1u);
    EXPECT_EQ(prop_value(d.overlay, p.plane_type, &att), 0u);
    EXPECT_EQ(prop_value(d.cursor, p.plane_type, &att), 2u);
    for (Property* q : {p.prop_fb_id, p.prop_crtc_id, p.prop_src_x, p.prop_crtc_h, p.prop_in_formats}) {
      prop_value(d.overlay, q, &att);
      EXPECT_TRUE(att) << q->name;
    }
    for (Property* q : {p.edid, p.dpms, p.prop_crtc_id, p.link_status, p.non_desktop}) {
      prop_value(hdmi1, q, &att);
      EXPECT_TRUE(att) << q->name;
    }
    EXPECT_EQ(d.encoder.properties, nullptr);

    ASSERT_NE(d.crtc.state, nullptr);
    EXPECT_EQ(d.crtc.state->crtc, &d.crtc);
    EXPECT_FALSE(d.crtc.state->active);
    ASSERT_NE(d.primary.state, nullptr);
    EXPECT_EQ(d.primary.state->alpha, 0xffff);
    EXPECT_EQ(d.primary.state->rotation, unsigned(DRM_MODE_ROTATE_0));
    ASSERT_NE(hdmi2.state, nullptr);
    EXPECT_EQ(hdmi2.state->connector, &hdmi2);

    // Immutable values may be set by the driver; mutable ones of an atomic driver may not.
    EXPECT_EQ(object_property_set_value(hdmi1, *p.non_desktop, 1), 0);
    {
      testing::ExpectWarn w(1, "mutable property");
      EXPECT_EQ(object_property_set_value(hdmi1, *p.link_status, 1), -EINVAL);
    }
    // Attaching after register WARNs (the kernel's rule).
    {
      testing::ExpectWarn w(1, "after the device was registered");
      EXPECT_EQ(object_attach_property(d.crtc, *p.gamma_lut, 0), 0);
    }
  });
}

TEST(KmsObject, ConnectorTypeIdsAreReusedAfterCleanupIdsAreNot) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    Connector a, b;
    ASSERT_EQ(connector_init(d, a, nullptr, DRM_MODE_CONNECTOR_VIRTUAL), 0);
    EXPECT_EQ(a.name, "Virtual-2");
    const uint32_t old_id = a.id;
    connector_cleanup(a);
    connector_cleanup(a);  // idempotent
    EXPECT_EQ(connector_find(d, old_id), nullptr);
    ASSERT_EQ(connector_init(d, b, nullptr, DRM_MODE_CONNECTOR_VIRTUAL), 0);
    EXPECT_EQ(b.name, "Virtual-2");
    EXPECT_GT(b.id, old_id);
    connector_cleanup(b);
    Connector bad;
    EXPECT_EQ(connector_init(d, bad, nullptr, 999), -EINVAL);
  });
}

// ---- IN_FORMATS ------------------------------------------------------------------------------

constexpr uint64_t kTiled = fourcc_mod_code(VIVANTE, 1);

TEST(KmsPlane, InFormatsBlobHasTheKernelLayout) {
  run_sim([](SimExecutor& sim) {
    static const PlaneFuncs funcs = {
        .format_mod_supported = [](Plane&, uint32_t fmt, uint64_t mod) {
          return mod == DRM_FORMAT_MOD_LINEAR || fmt != DRM_FORMAT_RGB565;
        },
    };
    Plane plane;
    KmsRig rig(sim, kAtomic, [&](KDrm& d) {
      static const uint64_t mods[] = {DRM_FORMAT_MOD_LINEAR, kTiled, DRM_FORMAT_MOD_INVALID};
      return drmm_universal_plane_init(d, plane, 1, &funcs, kFormats, 3, mods, PlaneType::overlay);
    });
    KDrm& d = rig.drm();
    bool att = false;
    uint64_t id = prop_value(plane, d.mc().props.prop_in_formats, &att);
    ASSERT_TRUE(att);
    Ref<PropertyBlob> blob = property_blob_lookup(d, static_cast<uint32_t>(id));
    ASSERT_TRUE(blob);
    const auto& data = blob->data;
    ASSERT_GE(data.size(), sizeof(drm_format_modifier_blob));
    drm_format_modifier_blob hdr;
    std::memcpy(&hdr, data.data(), sizeof(hdr));
    EXPECT_EQ(hdr.version, 1u);
    EXPECT_EQ(hdr.count_formats, 3u);
    EXPECT_EQ(hdr.formats_offset, 24u);
    EXPECT_EQ(hdr.count_modifiers, 2u);
    EXPECT_EQ(hdr.modifiers_offset, 40u) << "formats padded to 8 bytes";
    ASSERT_EQ(data.size(), 40u + 2 * sizeof(drm_format_modifier));
    uint32_t fmts[3];
    std::memcpy(fmts, data.data() + 24, sizeof(fmts));
    EXPECT_EQ(fmts[0], uint32_t(DRM_FORMAT_XRGB8888));
    EXPECT_EQ(fmts[2], uint32_t(DRM_FORMAT_RGB565));
    drm_format_modifier m[2];
    std::memcpy(m, data.data() + 40, sizeof(m));
    EXPECT_EQ(m[0].modifier, DRM_FORMAT_MOD_LINEAR);
    EXPECT_EQ(m[0].formats, 0b111u);
    EXPECT_EQ(m[1].modifier, kTiled);
    EXPECT_EQ(m[1].formats, 0b011u) << "format_mod_supported rejected RGB565 + tiled";

    EXPECT_TRUE(plane.format_supported(DRM_FORMAT_XRGB8888, kTiled));
    EXPECT_FALSE(plane.format_supported(DRM_FORMAT_RGB565, kTiled));
    EXPECT_FALSE(plane.format_supported(DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR));
    EXPECT_TRUE(d.primary.format_supported(DRM_FORMAT_RGB565, DRM_FORMAT_MOD_LINEAR));
    EXPECT_FALSE(d.primary.format_supported(DRM_FORMAT_RGB565, kTiled)) << "default modifier list is LINEAR";
    EXPECT_TRUE(any_plane_has_format(d, DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR));
    EXPECT_FALSE(any_plane_has_format(d, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR));
  });
}

TEST(KmsPlane, BadFormatListsAreRejected) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    Plane a, b;
    EXPECT_EQ(universal_plane_init(d, a, 1, nullptr, kFormats, 0, nullptr, PlaneType::overlay), -EINVAL);
    EXPECT_EQ(universal_plane_init(d, a, 1, nullptr, nullptr, 3, nullptr, PlaneType::overlay), -EINVAL);
    std::vector<uint32_t> many(65, DRM_FORMAT_XRGB8888);
    {
      testing::ExpectWarn w(1);
      EXPECT_EQ(universal_plane_init(d, b, 1, nullptr, many.data(), 65, nullptr, PlaneType::overlay), -EINVAL);
    }
    EXPECT_EQ(d.mc().planes.size(), 3u);
  });
}

// ---- blobs -----------------------------------------------------------------------------------

TEST(KmsBlob, StateReferenceKeepsADestroyedBlobAlive) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    Ref<DrmFile> f1 = rig.open(), f2 = rig.open();
    uint32_t id = 0;
    EXPECT_EQ(property_blob_create_user(d, *f1, nullptr, 0, &id), -EINVAL);
    const char data[] = "mode blob";
    ASSERT_EQ(property_blob_create_user(d, *f1, data, sizeof(data), &id), 0);
    ASSERT_EQ(f1->blobs.size(), 1u);
    EXPECT_EQ(property_blob_destroy_user(d, *f2, id), -EPERM) << "not the creator";
    EXPECT_EQ(property_blob_destroy_user(d, *f1, 999999), -ENOENT);

    // A state uses it (MODE_ID), then its creator destroys it.
    EXPECT_TRUE(property_replace_blob(&d.crtc.state->mode_blob, property_blob_lookup(d, id).get()));
    EXPECT_FALSE(property_replace_blob(&d.crtc.state->mode_blob, d.crtc.state->mode_blob.get()));
    ASSERT_EQ(property_blob_destroy_user(d, *f1, id), 0);
    EXPECT_TRUE(f1->blobs.empty());
    Ref<PropertyBlob> still = property_blob_lookup(d, id);
    ASSERT_TRUE(still) << "the state's reference keeps the blob (and, as in the kernel, its ID)";
    EXPECT_EQ(std::memcmp(still->data.data(), data, sizeof(data)), 0);
    EXPECT_EQ(property_blob_destroy_user(d, *f1, id), -EPERM) << "no longer the file's";
    still.reset();

    // Duplicating the state takes another reference; destroying the copy drops it.
    CrtcState* copy = atomic_helper_crtc_duplicate_state(d.crtc);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->mode_blob->refcount(), 2u);
    atomic_helper_crtc_destroy_state(d.crtc, copy);
    EXPECT_EQ(d.crtc.state->mode_blob->refcount(), 1u);

    d.crtc.state->mode_blob.reset();
    EXPECT_EQ(property_blob_lookup(d, id), nullptr) << "final put unregisters";

    // A file's remaining blobs go at close.
    ASSERT_EQ(property_blob_create_user(d, *f2, data, 4, &id), 0);
    property_destroy_user_blobs(d, *f2);
    EXPECT_EQ(property_blob_lookup(d, id), nullptr);
    f1->close();
    f2->close();
  });
}

TEST(KmsBlob, GlobalBlobReplaceUpdatesThePropertyValue) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    Ref<PropertyBlob> slot;
    Property& edid = *d.mc().props.edid;
    const uint8_t a[] = {1, 2, 3}, b[] = {4, 5};
    ASSERT_EQ(property_replace_global_blob(d, &slot, a, 3, d.connector, edid), 0);
    const uint32_t first = slot->id;
    bool att = false;
    EXPECT_EQ(prop_value(d.connector, &edid, &att), first);
    ASSERT_EQ(property_replace_global_blob(d, &slot, b, 2, d.connector, edid), 0);
    EXPECT_NE(slot->id, first);
    EXPECT_EQ(property_blob_lookup(d, first), nullptr) << "the old blob went with its last reference";
    EXPECT_EQ(prop_value(d.connector, &edid, &att), slot->id);
    ASSERT_EQ(property_replace_global_blob(d, &slot, nullptr, 0, d.connector, edid), 0);
    EXPECT_FALSE(slot);
    EXPECT_EQ(prop_value(d.connector, &edid, &att), 0u);
    Ref<PropertyBlob> x;
    EXPECT_EQ(property_blob_create(d, a, 0, &x), -EINVAL);
    FailNth fail(1, "kms.blob_create");
    ScopedFaultInjector inj(fail);
    EXPECT_EQ(property_blob_create(d, a, 3, &x), -ENOMEM);
  });
}

// ---- state helpers ---------------------------------------------------------------------------

TEST(KmsStateHelper, DuplicateResetsTransientFieldsDestroyDropsReferences) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    KDrm& d = rig.drm();
    g_fb_destroyed = 0;
    Framebuffer* fb = new_fb(d);
    ASSERT_NE(fb, nullptr);
    Ref<Framebuffer> fbref = adopt_ref(fb);

    CrtcState* cs = atomic_helper_crtc_duplicate_state(d.crtc);
    ASSERT_NE(cs, nullptr);
    cs->active = true;
    cs->mode_changed = cs->active_changed = cs->planes_changed = true;
    cs->commit = adopt_ref(new CrtcCommit(&d.crtc));
    CrtcState* cs2 = new CrtcState(*cs);
    atomic_helper_crtc_duplicate_state_reset(*cs2);
    EXPECT_TRUE(cs2->active) << "persistent state is copied";
    EXPECT_FALSE(cs2->mode_changed || cs2->active_changed || cs2->planes_changed);
    EXPECT_FALSE(cs2->commit);
    EXPECT_EQ(cs2->event, nullptr);
    atomic_helper_crtc_destroy_state(d.crtc, cs2);

    // An aborted commit: the event's extra commit reference and the internal event go.
    Ref<CrtcCommit> commit = cs->commit;
    commit->get();  // the reference held for the event's completion
    commit->abort_completion = true;
    auto* ev = new PendingVblankEvent();
    commit->event = ev;
    cs->event = ev;
    EXPECT_EQ(commit->refcount(), 3u);
    atomic_helper_crtc_destroy_state(d.crtc, cs);
    EXPECT_EQ(commit->refcount(), 1u);
    EXPECT_EQ(commit->event, nullptr);

    // Planes: the copy holds the framebuffer until destroyed.
    d.primary.state->fb = fbref;
    PlaneState* ps = atomic_helper_plane_duplicate_state(d.primary);
    ASSERT_NE(ps, nullptr);
    EXPECT_EQ(fb->refcount(), 3u);
    EXPECT_EQ(ps->plane, &d.primary);
    atomic_helper_plane_destroy_state(d.primary, ps);
    EXPECT_EQ(fb->refcount(), 2u);
    atomic_helper_plane_reset(d.primary);
    EXPECT_EQ(fb->refcount(), 1u) << "reset destroys the old state";
    EXPECT_FALSE(d.primary.state->fb);
    fbref.reset();
    EXPECT_EQ(g_fb_destroyed.load(), 1);

    ConnectorState* con = atomic_helper_connector_duplicate_state(d.connector);
    ASSERT_NE(con, nullptr);
    EXPECT_EQ(con->connector, &d.connector);
    atomic_helper_connector_destroy_state(d.connector, con);

    FailNth fail(1, "kms.state_duplicate");
    ScopedFaultInjector inj(fail);
    EXPECT_EQ(atomic_helper_plane_duplicate_state(d.primary), nullptr);
  });
}

// ---- mode config teardown --------------------------------------------------------------------

TEST(KmsModeConfig, CleanupWarnsAboutAndFreesLeakedFramebuffers) {
  run_sim([](SimExecutor& sim) {
    KmsRig rig(sim);
    g_fb_destroyed = 0;
    Framebuffer* fb = new_fb(rig.drm());
    ASSERT_NE(fb, nullptr);  // its reference is leaked on purpose
    Ref<PropertyBlob> outlives;
    ASSERT_EQ(property_blob_create(rig.drm(), "x", 1, &outlives), 0);
    {
      testing::ExpectWarn w(1, "leaked framebuffer");
      rig.teardown();  // unbind + final put
    }
    EXPECT_EQ(g_fb_destroyed.load(), 1);
    EXPECT_EQ(outlives->dev, nullptr) << "a blob held past the device is orphaned, not dangling";
  });
}

TEST(KmsModeConfig, HotplugEventAndHpdIrq) {
  run_sim([](SimExecutor& sim) {
    static ConnectorStatus status = ConnectorStatus::connected;
    static const ConnectorFuncs funcs = {.detect = [](Connector&, bool) { return status; }};
    Connector hdmi;
    KmsRig rig(sim, kAtomic, [&](KDrm& d) { return drmm_connector_init(d, hdmi, &funcs, DRM_MODE_CONNECTOR_HDMIA); });
    KDrm& d = rig.drm();
    int calls = 0;
    d.mc().hotplug_listeners.push_back([&] { ++calls; });
    EXPECT_TRUE(helper_hpd_irq_event(d)) << "unknown -> connected";
    EXPECT_FALSE(helper_hpd_irq_event(d));
    status = ConnectorStatus::disconnected;
    EXPECT_TRUE(helper_hpd_irq_event(d));
    EXPECT_EQ(hdmi.status, ConnectorStatus::disconnected);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(d.mc().hotplug_count, 2u);
    kms_helper_hotplug_event(d);
    EXPECT_EQ(calls, 3);

    // mode_config_reset gives every object a fresh state.
    CrtcState* before = d.crtc.state;
    d.crtc.state->active = true;
    mode_config_reset(d);
    EXPECT_NE(d.crtc.state, nullptr);
    EXPECT_FALSE(d.crtc.state->active);
    (void)before;
    status = ConnectorStatus::connected;
  });
}

}  // namespace
}  // namespace udrm::kmstest
