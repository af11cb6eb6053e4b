// The read-only tools, ioctl by ioctl (libdrm-clients.md §1–§2): drmOpen's VERSION/GET_UNIQUE
// probing, SET_VERSION, `modetest -c/-p/-e` (and `-a -c`), `proptest` listing, `modeprint`.
#include <set>

#include "uapi_fixture.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/crtc.h"

namespace udrm::uapi {
namespace {

struct QueryTools : Uapi {};

// drmOpen(NAME): VERSION twice (lengths, then strings), GET_UNIQUE twice (must be empty).
TEST_P(QueryTools, OpenSequence_VersionTwoPass_UniqueEmpty_SetVersionSetsBusid) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    drm_version v{};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_VERSION, &v), 0);
    const std::string want = GetParam() == Kind::simple ? "udrm-simple" : "udrm-soc";
    EXPECT_EQ(v.name_len, want.size());
    EXPECT_GT(v.date_len, 0u);
    EXPECT_GT(v.desc_len, 0u);
    std::string name(v.name_len, '\0'), date(v.date_len, '\0'), desc(v.desc_len, '\0');
    v.name = name.data();
    v.date = date.data();
    v.desc = desc.data();
    ASSERT_EQ(c->ioctl(DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(name, want);
    EXPECT_EQ(name, d.drm_name());
    // A short buffer gets what fits and the full length back.
    char small[4] = {'x', 'x', 'x', 'x'};
    drm_version v2{};
    v2.name = small;
    v2.name_len = 2;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_VERSION, &v2), 0);
    EXPECT_EQ(v2.name_len, want.size());
    EXPECT_EQ(std::string(small, 3), want.substr(0, 2) + "x");

    drm_unique u{};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_UNIQUE, &u), 0);
    EXPECT_EQ(u.unique_len, 0u);  // libdrm skips the node otherwise
    char ubuf[64] = {};
    u.unique = ubuf;
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_UNIQUE, &u), 0);
    EXPECT_EQ(u.unique_len, 0u);
    EXPECT_EQ(ubuf[0], '\0');

    // drmOpen(-D busid): SET_VERSION {1,4}, then GET_UNIQUE returns the bus id.
    drm_set_version sv{1, 4, -1, -1};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_SET_VERSION, &sv), 0);
    EXPECT_EQ(sv.drm_di_major, 1);
    EXPECT_EQ(sv.drm_di_minor, 4);
    drm_unique u2{};
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_UNIQUE, &u2), 0);
    EXPECT_GT(u2.unique_len, 0u);
    std::string busid(u2.unique_len, '\0');
    u2.unique = busid.data();
    ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_UNIQUE, &u2), 0);
    EXPECT_EQ(busid.size(), u2.unique_len);
    EXPECT_EQ(busid.find('\0'), std::string::npos);
    // Bad interface versions.
    drm_set_version bad{1, 5, -1, -1};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_SET_VERSION, &bad), -EINVAL);
    drm_set_version bad2{2, 0, -1, -1};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_SET_VERSION, &bad2), -EINVAL);
    drm_set_version bad3{-1, -1, 99, 0};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_SET_VERSION, &bad3), -EINVAL);
  });
}

// SET_VERSION is DRM_MASTER: a second (non-master) opener gets -EACCES and its GET_UNIQUE
// stays empty.
TEST_P(QueryTools, SetVersion_MasterOnly) {
  run([](drivers::Display& d) {
    auto m = open(d);
    auto other = open(d);
    ASSERT_TRUE(m && other);
    ASSERT_TRUE(m->file().is_master());
    ASSERT_FALSE(other->file().is_master());
    drm_set_version sv{1, 4, -1, -1};
    EXPECT_EQ(other->ioctl(DRM_IOCTL_SET_VERSION, &sv), -EACCES);
    drm_unique u{};
    ASSERT_EQ(other->ioctl(DRM_IOCTL_GET_UNIQUE, &u), 0);
    EXPECT_EQ(u.unique_len, 0u);
    ASSERT_EQ(m->ioctl(DRM_IOCTL_SET_VERSION, &sv), 0);
    drm_unique u2{};
    ASSERT_EQ(m->ioctl(DRM_IOCTL_GET_UNIQUE, &u2), 0);
    EXPECT_GT(u2.unique_len, 0u);
  });
}

// `modetest -c -p -e` with and without `-a`.
TEST_P(QueryTools, Modetest_ListsEverything_PropertiesSizedPerType) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
    Res res;
    ASSERT_EQ(get_resources(*c, &res), 0);
    const std::size_t want_crtcs = GetParam() == Kind::simple ? 1 : 2;
    EXPECT_EQ(res.crtcs.size(), want_crtcs);
    EXPECT_GE(res.connectors.size(), 1u);
    EXPECT_GE(res.encoders.size(), 1u);
    EXPECT_TRUE(res.fbs.empty());
    EXPECT_GT(res.hdr.max_width, 0u);
    EXPECT_GE(res.hdr.max_width, res.hdr.min_width);
    // Partial second pass: min(user count, actual) copied, actual count reported.
    {
      drm_mode_card_res r{};
      uint32_t one = 0xdeadbeef;
      r.count_connectors = 1;
      r.connector_id_ptr = uptr(&one);
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &r), 0);
      EXPECT_EQ(r.count_connectors, res.connectors.size());
      EXPECT_EQ(one, res.connectors[0]);
      EXPECT_EQ(r.count_crtcs, want_crtcs);  // nothing copied with a zero count
    }

    std::set<uint32_t> prop_ids;
    auto collect = [&](uint32_t obj, uint32_t type) {
      ObjProps p;
      ASSERT_EQ(get_obj_props(*c, obj, type, &p), 0);
      for (uint32_t id : p.ids) prop_ids.insert(id);
    };
    for (uint32_t id : res.crtcs) {
      drm_mode_crtc cr{};
      cr.crtc_id = id;
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETCRTC, &cr), 0);
      EXPECT_EQ(cr.crtc_id, id);
      EXPECT_EQ(cr.mode_valid, 0u);
      EXPECT_EQ(cr.fb_id, 0u);
      collect(id, DRM_MODE_OBJECT_CRTC);
    }
    for (uint32_t id : res.encoders) {
      drm_mode_get_encoder e{};
      e.encoder_id = id;
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETENCODER, &e), 0);
      EXPECT_EQ(e.encoder_id, id);
      EXPECT_NE(e.possible_crtcs, 0u);
      EXPECT_EQ(e.possible_crtcs & ~((1u << want_crtcs) - 1), 0u);
      EXPECT_EQ(e.crtc_id, 0u);  // nothing lit yet
    }
    int connected = 0;
    for (uint32_t id : res.connectors) {
      Conn conn;
      ASSERT_EQ(get_connector(*c, id, &conn), 0);
      EXPECT_EQ(conn.hdr.connector_id, id);
      EXPECT_EQ(conn.props.size(), conn.hdr.count_props);
      for (uint32_t e : conn.encoders) EXPECT_NE(std::find(res.encoders.begin(), res.encoders.end(), e), res.encoders.end());
      if (conn.hdr.connection == DRM_MODE_CONNECTED) {
        ++connected;
        EXPECT_FALSE(conn.modes.empty());
      }
      for (uint32_t p : conn.props) prop_ids.insert(p);
    }
    EXPECT_GE(connected, 1);
    std::vector<uint32_t> planes;
    {
      drm_mode_get_plane_res pr{};
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr), 0);
      planes.resize(pr.count_planes);
      pr.plane_id_ptr = uptr(planes.data());
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr), 0);
      EXPECT_EQ(pr.count_planes, 3 * want_crtcs);  // primary, overlay, cursor per pipe
    }
    for (uint32_t id : planes) {
      drm_mode_get_plane p{};
      p.plane_id = id;
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPLANE, &p), 0);
      std::vector<uint32_t> formats(p.count_format_types);
      p.format_type_ptr = uptr(formats.data());
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPLANE, &p), 0);
      EXPECT_FALSE(formats.empty());
      EXPECT_NE(p.possible_crtcs, 0u);
      EXPECT_EQ(p.fb_id, 0u);
      collect(id, DRM_MODE_OBJECT_PLANE);
    }
    // GETPROPERTY of every property: values and enum entries sized per type.
    ASSERT_FALSE(prop_ids.empty());
    bool saw_enum = false, saw_blob = false, saw_range = false;
    for (uint32_t id : prop_ids) {
      PropInfo pi;
      ASSERT_EQ(get_property(*c, id, &pi), 0) << id;
      EXPECT_FALSE(pi.name.empty());
      EXPECT_LT(pi.name.size(), size_t{DRM_PROP_NAME_LEN});
      EXPECT_EQ(pi.hdr.flags & DRM_MODE_PROP_ATOMIC, 0u) << pi.name << " is atomic but the client is not";
      switch (pi.type()) {
        case DRM_MODE_PROP_ENUM:
        case DRM_MODE_PROP_BITMASK:
          saw_enum = true;
          EXPECT_FALSE(pi.enums.empty()) << pi.name;
          EXPECT_EQ(pi.enums.size(), pi.values.size()) << pi.name;
          for (std::size_t i = 0; i < pi.enums.size(); ++i) {
            EXPECT_NE(pi.enums[i].name[0], '\0');
            if (pi.type() == DRM_MODE_PROP_ENUM) {
              EXPECT_EQ(pi.enums[i].value, pi.values[i]);
            }
          }
          break;
        case DRM_MODE_PROP_BLOB:
          saw_blob = true;
          EXPECT_EQ(pi.hdr.count_enum_blobs, 0u) << pi.name;  // never lists blobs
          EXPECT_TRUE(pi.values.empty()) << pi.name;
          break;
        case DRM_MODE_PROP_RANGE:
        case DRM_MODE_PROP_SIGNED_RANGE:
          saw_range = true;
          EXPECT_EQ(pi.values.size(), 2u) << pi.name;
          EXPECT_TRUE(pi.enums.empty()) << pi.name;
          break;
        default:
          break;
      }
    }
    EXPECT_TRUE(saw_enum);  // DPMS, type
    EXPECT_TRUE(saw_blob);  // EDID
    (void)saw_range;
    // Bad ids.
    drm_mode_get_property bad{};
    bad.prop_id = 0x7fffffff;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPROPERTY, &bad), -ENOENT);
    drm_mode_crtc badc{};
    badc.crtc_id = res.connectors[0];  // wrong type
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETCRTC, &badc), -ENOENT);
    drm_mode_obj_get_properties badop{};
    badop.obj_id = res.crtcs[0];
    badop.obj_type = DRM_MODE_OBJECT_CONNECTOR;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &badop), -ENOENT);
  });
}

// Without UNIVERSAL_PLANES only overlays are listed; `-a` (ATOMIC cap) adds the atomic
// properties to OBJ_GETPROPERTIES / GETCONNECTOR, which a plain client never sees.
TEST_P(QueryTools, Modetest_AtomicCapShowsAtomicProperties) {
  run([](drivers::Display& d) {
    auto plain = open(d);
    auto at = open(d);
    ASSERT_TRUE(plain && at);
    drm_mode_get_plane_res pr{};
    ASSERT_EQ(plain->ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr), 0);
    const uint32_t pipes = GetParam() == Kind::simple ? 1 : 2;
    EXPECT_EQ(pr.count_planes, pipes);  // the overlays only
    ASSERT_EQ(at->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
    ASSERT_EQ(at->set_client_cap(DRM_CLIENT_CAP_ATOMIC, 1), 0);
    pr = {};
    ASSERT_EQ(at->ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr), 0);
    EXPECT_EQ(pr.count_planes, 3 * pipes);

    Res res;
    ASSERT_EQ(get_resources(*at, &res), 0);
    uint32_t plane = at->find_plane(0, DRM_PLANE_TYPE_PRIMARY);
    ASSERT_NE(plane, 0u);
    struct Obj {
      uint32_t id, type;
      std::vector<std::string> atomic_names;
    } objs[] = {{res.crtcs[0], DRM_MODE_OBJECT_CRTC, {"ACTIVE", "MODE_ID"}},
                {res.connectors[0], DRM_MODE_OBJECT_CONNECTOR, {"CRTC_ID"}},
                {plane, DRM_MODE_OBJECT_PLANE, {"FB_ID", "CRTC_ID", "SRC_X", "SRC_W", "CRTC_X", "CRTC_H"}}};
    for (const Obj& o : objs) {
      auto ap = props_by_name(*at, o.id, o.type);
      auto pp = props_by_name(*plain, o.id, o.type);
      EXPECT_GT(ap.size(), pp.size());
      for (const auto& n : o.atomic_names) {
        ASSERT_TRUE(ap.count(n)) << n;
        EXPECT_FALSE(pp.count(n)) << n << " visible without the ATOMIC cap";
        PropInfo pi;
        ASSERT_EQ(get_property(*at, ap[n].first, &pi), 0);
        EXPECT_NE(pi.hdr.flags & DRM_MODE_PROP_ATOMIC, 0u) << n;
      }
      for (const auto& [n, v] : pp) EXPECT_TRUE(ap.count(n)) << n;
    }
    // GETCONNECTOR's property list follows the cap too.
    Conn pc, ac;
    ASSERT_EQ(get_connector(*plain, res.connectors[0], &pc), 0);
    ASSERT_EQ(get_connector(*at, res.connectors[0], &ac), 0);
    EXPECT_GT(ac.props.size(), pc.props.size());
    // The type property tells the planes apart.
    EXPECT_EQ(props_by_name(*at, plane, DRM_MODE_OBJECT_PLANE)["type"].second, uint64_t{DRM_PLANE_TYPE_PRIMARY});
    // ATOMIC without the cap is refused; bad cap values too.
    drm_mode_atomic a{};
    EXPECT_EQ(plain->ioctl(DRM_IOCTL_MODE_ATOMIC, &a), -EINVAL);
    EXPECT_EQ(plain->set_client_cap(DRM_CLIENT_CAP_ATOMIC, 3), -EINVAL);
    EXPECT_EQ(plain->set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 2), -EINVAL);
    EXPECT_EQ(plain->set_client_cap(0x7777, 1), -EINVAL);
    EXPECT_EQ(plain->set_client_cap(DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1), -EINVAL);  // needs ATOMIC
  });
}

// EDID: GETPROPBLOB returns the bytes; each 128-byte block sums to 0; the detailed timings are
// among GETCONNECTOR's modes and the first one is the preferred mode.
TEST_P(QueryTools, EdidBlob_ChecksumAndModesMatchGetConnector) {
  run([](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    Res res;
    ASSERT_EQ(get_resources(*c, &res), 0);
    int with_edid = 0;
    for (uint32_t id : res.connectors) {
      Conn conn;
      ASSERT_EQ(get_connector(*c, id, &conn), 0);
      auto props = props_by_name(*c, id, DRM_MODE_OBJECT_CONNECTOR);
      ASSERT_TRUE(props.count("EDID"));
      ASSERT_TRUE(props.count("DPMS"));
      const uint32_t blob = static_cast<uint32_t>(props["EDID"].second);
      if (!blob) continue;
      ++with_edid;
      int err = 0;
      auto edid = get_blob(*c, blob, &err);
      ASSERT_EQ(err, 0);
      ASSERT_GE(edid.size(), 128u);
      ASSERT_EQ(edid.size() % 128, 0u);
      static const uint8_t hdr[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
      EXPECT_EQ(std::memcmp(edid.data(), hdr, 8), 0);
      for (std::size_t b = 0; b < edid.size(); b += 128) {
        unsigned sum = 0;
        for (std::size_t i = 0; i < 128; ++i) sum += edid[b + i];
        EXPECT_EQ(sum & 0xff, 0u) << "block " << b / 128;
      }
      // Detailed timing descriptors of the base block.
      bool first = true;
      for (int off = 54; off <= 108; off += 18) {
        const uint8_t* t = &edid[off];
        const unsigned clock10k = t[0] | (t[1] << 8);
        if (!clock10k) continue;
        const unsigned hact = t[2] | ((t[4] & 0xf0) << 4), vact = t[5] | ((t[7] & 0xf0) << 4);
        const unsigned hblank = t[3] | ((t[4] & 0x0f) << 8), vblank = t[6] | ((t[7] & 0x0f) << 8);
        bool found = false;
        for (const auto& m : conn.modes) {
          if (m.hdisplay == hact && m.vdisplay == vact && m.htotal == hact + hblank && m.vtotal == vact + vblank &&
              m.clock == clock10k * 10) {
            found = true;
            if (first) {
              EXPECT_NE(m.type & DRM_MODE_TYPE_PREFERRED, 0u) << hact << "x" << vact;
            }
          }
        }
        EXPECT_TRUE(found) << "EDID timing " << hact << "x" << vact << " not in GETCONNECTOR";
        first = false;
      }
      // GETPROPBLOB copies only when the length is exact.
      drm_mode_get_blob b{};
      b.blob_id = blob;
      std::vector<uint8_t> big(edid.size() + 16, 0xaa);
      b.data = uptr(big.data());
      b.length = static_cast<uint32_t>(big.size());
      ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &b), 0);
      EXPECT_EQ(b.length, edid.size());
      EXPECT_EQ(big[0], 0xaa);
    }
    EXPECT_GE(with_edid, 1);
    drm_mode_get_blob none{};
    none.blob_id = 0x7ffffff0;
    EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &none), -ENOENT);
  });
}

UDRM_UAPI_INSTANTIATE(QueryTools);

}  // namespace
}  // namespace udrm::uapi
