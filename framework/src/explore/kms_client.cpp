// A small libdrm-like client (udrm/testing/kms_client.h). Part of udrm::framework (no GoogleTest)
// so the explorer's scenarios in udrm::drivers and the tools can drive devices with it.
#include "udrm/testing/kms_client.h"

#include <sys/mman.h>

#include <cstring>

#include "udrm/base/errno.h"
#include "udrm/drm/ioctl.h"

namespace udrm::testing {
namespace {
template <class T>
uint64_t uptr(T* p) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
}
}  // namespace

KmsClient::~KmsClient() {
  for (auto& [addr, len] : maps_) file_->munmap(addr, len);  // -EINVAL if the test unmapped it
}

int KmsClient::ioctl(unsigned long cmd, void* arg) { return drm_ioctl(*file_, cmd, arg); }

int KmsClient::close() { return file_->close(); }

int KmsClient::set_client_cap(uint64_t cap, uint64_t value) {
  drm_set_client_cap c{};
  c.capability = cap;
  c.value = value;
  return ioctl(DRM_IOCTL_SET_CLIENT_CAP, &c);
}

int KmsClient::enable_atomic() {
  int r = set_client_cap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
  if (r) return r;
  return set_client_cap(DRM_CLIENT_CAP_ATOMIC, 1);
}

int KmsClient::get_resources(Resources* out) {
  // The two-pass protocol, retried if a count grew in between (as libdrm does).
  for (int attempt = 0; attempt < 4; ++attempt) {
    drm_mode_card_res res{};
    int r = ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res);
    if (r) return r;
    out->fbs.resize(res.count_fbs);
    out->crtcs.resize(res.count_crtcs);
    out->connectors.resize(res.count_connectors);
    out->encoders.resize(res.count_encoders);
    drm_mode_card_res res2 = res;
    res2.fb_id_ptr = uptr(out->fbs.data());
    res2.crtc_id_ptr = uptr(out->crtcs.data());
    res2.connector_id_ptr = uptr(out->connectors.data());
    res2.encoder_id_ptr = uptr(out->encoders.data());
    r = ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res2);
    if (r) return r;
    if (res2.count_fbs <= res.count_fbs && res2.count_crtcs <= res.count_crtcs &&
        res2.count_connectors <= res.count_connectors && res2.count_encoders <= res.count_encoders) {
      out->fbs.resize(res2.count_fbs);
      out->crtcs.resize(res2.count_crtcs);
      out->connectors.resize(res2.count_connectors);
      out->encoders.resize(res2.count_encoders);
      return 0;
    }
  }
  return -EAGAIN;  // counts kept growing: a test bug, never an ioctl result
}

int KmsClient::get_connector(uint32_t id, Connector* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    drm_mode_get_connector c{};
    c.connector_id = id;
    int r = ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c);
    if (r) return r;
    out->modes.resize(c.count_modes);
    out->encoders.resize(c.count_encoders);
    std::vector<uint32_t> props(c.count_props);
    std::vector<uint64_t> values(c.count_props);
    drm_mode_get_connector c2 = c;
    c2.modes_ptr = uptr(out->modes.data());
    c2.encoders_ptr = uptr(out->encoders.data());
    c2.props_ptr = uptr(props.data());
    c2.prop_values_ptr = uptr(values.data());
    r = ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c2);
    if (r) return r;
    if (c2.count_modes <= c.count_modes && c2.count_encoders <= c.count_encoders && c2.count_props <= c.count_props) {
      out->modes.resize(c2.count_modes);
      out->encoders.resize(c2.count_encoders);
      out->id = id;
      out->encoder_id = c2.encoder_id;
      out->type = c2.connector_type;
      out->status = c2.connection;
      return 0;
    }
  }
  return -EAGAIN;
}

int KmsClient::get_plane_ids(std::vector<uint32_t>* out) {
  drm_mode_get_plane_res pr{};
  int r = ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
  if (r) return r;
  out->resize(pr.count_planes);
  pr.plane_id_ptr = uptr(out->data());
  r = ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
  if (r) return r;
  out->resize(pr.count_planes);
  return 0;
}

int KmsClient::get_plane(uint32_t id, drm_mode_get_plane* out, std::vector<uint32_t>* formats) {
  std::memset(out, 0, sizeof(*out));
  out->plane_id = id;
  int r = ioctl(DRM_IOCTL_MODE_GETPLANE, out);
  if (r || !formats) return r;
  formats->resize(out->count_format_types);
  out->format_type_ptr = uptr(formats->data());
  r = ioctl(DRM_IOCTL_MODE_GETPLANE, out);
  if (r) return r;
  formats->resize(out->count_format_types);
  return 0;
}

int KmsClient::get_properties(uint32_t obj_id, uint32_t obj_type,
                              std::map<std::string, std::pair<uint32_t, uint64_t>>* out) {
  drm_mode_obj_get_properties op{};
  op.obj_id = obj_id;
  op.obj_type = obj_type;
  int r = ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
  if (r) return r;
  std::vector<uint32_t> props(op.count_props);
  std::vector<uint64_t> values(op.count_props);
  op.props_ptr = uptr(props.data());
  op.prop_values_ptr = uptr(values.data());
  r = ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
  if (r) return r;
  out->clear();
  for (uint32_t i = 0; i < op.count_props && i < props.size(); ++i) {
    drm_mode_get_property gp{};
    gp.prop_id = props[i];
    r = ioctl(DRM_IOCTL_MODE_GETPROPERTY, &gp);
    if (r) return r;
    (*out)[gp.name] = {props[i], values[i]};
  }
  return 0;
}

uint32_t KmsClient::prop_id(uint32_t obj_id, uint32_t obj_type, const std::string& name) {
  std::map<std::string, std::pair<uint32_t, uint64_t>> props;
  if (get_properties(obj_id, obj_type, &props)) return 0;
  auto it = props.find(name);
  return it == props.end() ? 0 : it->second.first;
}

uint32_t KmsClient::find_plane(unsigned crtc_index, uint64_t type) {
  std::vector<uint32_t> ids;
  if (get_plane_ids(&ids)) return 0;
  for (uint32_t id : ids) {
    drm_mode_get_plane p{};
    if (get_plane(id, &p)) continue;
    if (!(p.possible_crtcs & (1u << crtc_index))) continue;
    std::map<std::string, std::pair<uint32_t, uint64_t>> props;
    if (get_properties(id, DRM_MODE_OBJECT_PLANE, &props)) continue;
    auto it = props.find("type");
    if (it != props.end() && it->second.second == type) return id;
  }
  return 0;
}

int KmsClient::create_dumb(uint32_t width, uint32_t height, uint32_t bpp, Dumb* out) {
  drm_mode_create_dumb c{};
  c.width = width;
  c.height = height;
  c.bpp = bpp;
  int r = ioctl(DRM_IOCTL_MODE_CREATE_DUMB, &c);
  if (r) return r;
  drm_mode_map_dumb m{};
  m.handle = c.handle;
  r = ioctl(DRM_IOCTL_MODE_MAP_DUMB, &m);
  if (r) return r;
  void* p = nullptr;
  r = file_->mmap(m.offset, c.size, PROT_READ | PROT_WRITE, &p);
  if (r) return r;
  *out = Dumb{c.handle, c.pitch, width, height, bpp, c.size, static_cast<uint8_t*>(p)};
  maps_.emplace_back(p, c.size);
  return 0;
}

int KmsClient::destroy_dumb(Dumb& d) {
  if (d.map) {
    file_->munmap(d.map, d.size);
    std::erase(maps_, std::pair<void*, std::size_t>(d.map, d.size));
  }
  d.map = nullptr;
  drm_mode_destroy_dumb x{};
  x.handle = d.handle;
  return ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &x);
}

int KmsClient::add_fb(const Dumb& d, uint32_t fourcc, uint32_t* fb_id) {
  drm_mode_fb_cmd2 f{};
  f.width = d.width;
  f.height = d.height;
  f.pixel_format = fourcc;
  f.handles[0] = d.handle;
  f.pitches[0] = d.pitch;
  int r = ioctl(DRM_IOCTL_MODE_ADDFB2, &f);
  if (r == 0) *fb_id = f.fb_id;
  return r;
}

int KmsClient::rm_fb(uint32_t fb_id) {
  uint32_t id = fb_id;
  return ioctl(DRM_IOCTL_MODE_RMFB, &id);
}

void KmsClient::Atomic::add(uint32_t obj, uint32_t prop, uint64_t value) {
  std::size_t i = 0;
  for (; i < objs.size(); ++i)
    if (objs[i] == obj) break;
  if (i == objs.size()) {
    objs.push_back(obj);
    counts.push_back(0);
  }
  // Keep props grouped per object in objs order.
  std::size_t pos = 0;
  for (std::size_t k = 0; k <= i; ++k) pos += counts[k];
  props.insert(props.begin() + static_cast<long>(pos), prop);
  values.insert(values.begin() + static_cast<long>(pos), value);
  ++counts[i];
}

int KmsClient::atomic_commit(const Atomic& req, uint32_t flags, uint64_t user_data) {
  drm_mode_atomic a{};
  a.flags = flags;
  a.count_objs = static_cast<uint32_t>(req.objs.size());
  a.objs_ptr = uptr(req.objs.data());
  a.count_props_ptr = uptr(req.counts.data());
  a.props_ptr = uptr(req.props.data());
  a.prop_values_ptr = uptr(req.values.data());
  a.user_data = user_data;
  return ioctl(DRM_IOCTL_MODE_ATOMIC, &a);
}

int KmsClient::create_blob(const void* data, std::size_t len, uint32_t* id) {
  drm_mode_create_blob b{};
  b.data = uptr(data);
  b.length = static_cast<uint32_t>(len);
  int r = ioctl(DRM_IOCTL_MODE_CREATEPROPBLOB, &b);
  if (r == 0) *id = b.blob_id;
  return r;
}

int KmsClient::destroy_blob(uint32_t id) {
  drm_mode_destroy_blob b{};
  b.blob_id = id;
  return ioctl(DRM_IOCTL_MODE_DESTROYPROPBLOB, &b);
}

int KmsClient::atomic_modeset(uint32_t crtc_id, uint32_t conn_id, uint32_t plane_id, uint32_t fb_id,
                              const drm_mode_modeinfo& mode, uint32_t flags, uint64_t user_data) {
  uint32_t blob = 0;
  int r = create_blob(&mode, sizeof(mode), &blob);
  if (r) return r;
  Atomic req;
  req.add(conn_id, prop_id(conn_id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID"), crtc_id);
  req.add(crtc_id, prop_id(crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID"), blob);
  req.add(crtc_id, prop_id(crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 1);
  auto pp = [&](const char* n) { return prop_id(plane_id, DRM_MODE_OBJECT_PLANE, n); };
  req.add(plane_id, pp("FB_ID"), fb_id);
  req.add(plane_id, pp("CRTC_ID"), crtc_id);
  req.add(plane_id, pp("SRC_X"), 0);
  req.add(plane_id, pp("SRC_Y"), 0);
  req.add(plane_id, pp("SRC_W"), uint64_t{mode.hdisplay} << 16);
  req.add(plane_id, pp("SRC_H"), uint64_t{mode.vdisplay} << 16);
  req.add(plane_id, pp("CRTC_X"), 0);
  req.add(plane_id, pp("CRTC_Y"), 0);
  req.add(plane_id, pp("CRTC_W"), mode.hdisplay);
  req.add(plane_id, pp("CRTC_H"), mode.vdisplay);
  r = atomic_commit(req, flags, user_data);
  destroy_blob(blob);  // the state keeps its own reference
  return r;
}

int KmsClient::atomic_flip(uint32_t plane_id, uint32_t fb_id, uint32_t flags, uint64_t user_data) {
  Atomic req;
  req.add(plane_id, prop_id(plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID"), fb_id);
  return atomic_commit(req, flags, user_data);
}

int KmsClient::atomic_disable(uint32_t crtc_id, uint32_t conn_id, uint32_t plane_id, uint32_t flags,
                              uint64_t user_data) {
  Atomic req;
  req.add(conn_id, prop_id(conn_id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID"), 0);
  req.add(plane_id, prop_id(plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID"), 0);
  req.add(plane_id, prop_id(plane_id, DRM_MODE_OBJECT_PLANE, "CRTC_ID"), 0);
  req.add(crtc_id, prop_id(crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID"), 0);
  req.add(crtc_id, prop_id(crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 0);
  return atomic_commit(req, flags, user_data);
}

int KmsClient::page_flip(uint32_t crtc_id, uint32_t fb_id, uint32_t flags, uint64_t user_data) {
  drm_mode_crtc_page_flip f{};
  f.crtc_id = crtc_id;
  f.fb_id = fb_id;
  f.flags = flags;
  f.user_data = user_data;
  return ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &f);
}

std::vector<drm_event_vblank> KmsClient::read_events() {
  std::vector<drm_event_vblank> out;
  alignas(8) char buf[4096];
  for (;;) {
    long n = file_->read(buf, sizeof(buf), false);
    if (n <= 0) break;
    for (long off = 0; off + static_cast<long>(sizeof(drm_event)) <= n;) {
      drm_event e;
      std::memcpy(&e, buf + off, sizeof(e));
      if (e.length < sizeof(drm_event) || off + static_cast<long>(e.length) > n) break;
      drm_event_vblank v{};
      std::memcpy(&v, buf + off, std::min<std::size_t>(e.length, sizeof(v)));
      out.push_back(v);
      off += e.length;
    }
  }
  return out;
}

void fill_pattern(const KmsClient::Dumb& d, uint32_t seed) {
  for (uint32_t y = 0; y < d.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(d.map + uint64_t{y} * d.pitch);
    for (uint32_t x = 0; x < d.width; ++x) {
      uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ (seed * 0x9e3779b9u);
      row[x] = 0xff000000u | (v & 0x00ffffffu);
    }
  }
}

}  // namespace udrm::testing
