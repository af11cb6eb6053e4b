// RemoteClient (remote_client.h).
#include "remote_client.h"

#include <drm_fourcc.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "udrm/fakehw/compose.h"

namespace udrm::run::test {

namespace {
uint64_t ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

std::string RemoteClient::driver_name() {
  drm_version v{};
  if (ioctl(DRM_IOCTL_VERSION, &v)) return "";
  std::string name(v.name_len, '\0');
  std::vector<char> date(v.date_len + 1), desc(v.desc_len + 1);
  v.name = name.data();
  v.date = date.data();
  v.desc = desc.data();
  if (ioctl(DRM_IOCTL_VERSION, &v)) return "";
  return name;
}

int RemoteClient::enable_atomic() {
  drm_set_client_cap c{DRM_CLIENT_CAP_ATOMIC, 1};
  return ioctl(DRM_IOCTL_SET_CLIENT_CAP, &c);
}

uint32_t RemoteClient::prop_id(uint32_t obj, uint32_t type, const char* name) {
  drm_mode_obj_get_properties gp{};
  gp.obj_id = obj;
  gp.obj_type = type;
  if (ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &gp)) return 0;
  std::vector<uint32_t> ids(gp.count_props);
  std::vector<uint64_t> vals(gp.count_props);
  gp.props_ptr = ptr(ids.data());
  gp.prop_values_ptr = ptr(vals.data());
  if (ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &gp)) return 0;
  for (uint32_t id : ids) {
    drm_mode_get_property p{};
    p.prop_id = id;
    if (ioctl(DRM_IOCTL_MODE_GETPROPERTY, &p) == 0 && std::strcmp(p.name, name) == 0) return id;
  }
  return 0;
}

int RemoteClient::find_output(Output* out) {
  drm_mode_card_res res{};
  if (int r = ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res)) return r;
  std::vector<uint32_t> crtcs(res.count_crtcs), conns(res.count_connectors), encs(res.count_encoders),
      fbs(res.count_fbs);
  res.crtc_id_ptr = ptr(crtcs.data());
  res.connector_id_ptr = ptr(conns.data());
  res.encoder_id_ptr = ptr(encs.data());
  res.fb_id_ptr = ptr(fbs.data());
  if (int r = ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res)) return r;
  for (uint32_t id : conns) {
    drm_mode_get_connector c{};
    c.connector_id = id;
    if (int r = ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c)) return r;
    if (c.connection != 1 || !c.count_modes) continue;
    std::vector<drm_mode_modeinfo> modes(c.count_modes);
    std::vector<uint32_t> e(c.count_encoders), props(c.count_props);
    std::vector<uint64_t> vals(c.count_props);
    c.modes_ptr = ptr(modes.data());
    c.encoders_ptr = ptr(e.data());
    c.props_ptr = ptr(props.data());
    c.prop_values_ptr = ptr(vals.data());
    if (int r = ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c)) return r;
    drm_mode_get_plane_res pr{};
    if (int r = ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr)) return r;
    std::vector<uint32_t> planes(pr.count_planes);
    pr.plane_id_ptr = ptr(planes.data());
    if (int r = ioctl(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr)) return r;
    for (uint32_t pid : planes) {
      drm_mode_get_plane gp{};
      gp.plane_id = pid;
      if (ioctl(DRM_IOCTL_MODE_GETPLANE, &gp) || !(gp.possible_crtcs & 1u)) continue;
      uint32_t type_prop = prop_id(pid, DRM_MODE_OBJECT_PLANE, "type");
      drm_mode_obj_get_properties op{};
      op.obj_id = pid;
      op.obj_type = DRM_MODE_OBJECT_PLANE;
      ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
      std::vector<uint32_t> ids(op.count_props);
      std::vector<uint64_t> v(op.count_props);
      op.props_ptr = ptr(ids.data());
      op.prop_values_ptr = ptr(v.data());
      if (ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op)) continue;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == type_prop && v[i] == 1 /* DRM_PLANE_TYPE_PRIMARY */) {
          *out = Output{crtcs[0], id, pid, modes[0]};
          return 0;
        }
      }
    }
  }
  return -ENOENT;
}

void fill_pattern(const Buffer& b, uint32_t seed) {
  for (uint32_t y = 0; y < b.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(b.map + uint64_t{y} * b.pitch);
    for (uint32_t x = 0; x < b.width; ++x) {
      uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ (seed * 0x9e3779b9u);
      row[x] = 0xff000000u | (v & 0x00ffffffu);
    }
  }
}

uint32_t pattern_crc(const Buffer& b) {
  fakehw::PlaneDesc p;
  p.fourcc = DRM_FORMAT_XRGB8888;
  p.pixels = b.map;
  p.pitch = b.pitch;
  p.src = fakehw::Rect{0, 0, b.width, b.height};
  p.dst = p.src;
  fakehw::Composer comp;
  comp.compose(b.width, b.height, std::span<const fakehw::PlaneDesc>(&p, 1));
  return comp.crc();
}

int RemoteClient::create_buffer(uint32_t w, uint32_t h, uint32_t seed, Buffer* out) {
  drm_mode_create_dumb c{};
  c.width = w;
  c.height = h;
  c.bpp = 32;
  if (int r = ioctl(DRM_IOCTL_MODE_CREATE_DUMB, &c)) return r;
  drm_mode_map_dumb m{};
  m.handle = c.handle;
  if (int r = ioctl(DRM_IOCTL_MODE_MAP_DUMB, &m)) return r;
  void* addr = nullptr;
  if (int r = f_->mmap(c.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.offset, &addr)) return r;
  *out = Buffer{c.handle, c.pitch, w, h, 0, c.size, static_cast<uint8_t*>(addr)};
  fill_pattern(*out, seed);
  drm_mode_fb_cmd2 fb{};
  fb.width = w;
  fb.height = h;
  fb.pixel_format = DRM_FORMAT_XRGB8888;
  fb.handles[0] = c.handle;
  fb.pitches[0] = c.pitch;
  if (int r = ioctl(DRM_IOCTL_MODE_ADDFB2, &fb)) return r;
  out->fb = fb.fb_id;
  return 0;
}

void RemoteClient::destroy_buffer(Buffer* b) {
  if (b->fb) {
    uint32_t id = b->fb;
    ioctl(DRM_IOCTL_MODE_RMFB, &id);
  }
  if (b->map) f_->munmap(b->map, b->size);
  drm_mode_destroy_dumb d{b->handle};
  if (b->handle) ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &d);
  *b = Buffer{};
}

int RemoteClient::set_props(const std::vector<uint32_t>& objs,
                            const std::vector<std::vector<std::pair<uint32_t, uint64_t>>>& props, uint32_t flags,
                            uint64_t user_data) {
  std::vector<uint32_t> counts, ids;
  std::vector<uint64_t> vals;
  for (const auto& ps : props) {
    counts.push_back(static_cast<uint32_t>(ps.size()));
    for (auto [id, v] : ps) {
      if (!id) return -ENOENT;
      ids.push_back(id);
      vals.push_back(v);
    }
  }
  drm_mode_atomic a{};
  a.flags = flags;
  a.count_objs = static_cast<uint32_t>(objs.size());
  a.objs_ptr = ptr(objs.data());
  a.count_props_ptr = ptr(counts.data());
  a.props_ptr = ptr(ids.data());
  a.prop_values_ptr = ptr(vals.data());
  a.user_data = user_data;
  return ioctl(DRM_IOCTL_MODE_ATOMIC, &a);
}

int RemoteClient::atomic_modeset(const Output& o, uint32_t fb) {
  drm_mode_create_blob blob{};
  blob.data = ptr(&o.mode);
  blob.length = sizeof(o.mode);
  if (int r = ioctl(DRM_IOCTL_MODE_CREATEPROPBLOB, &blob)) return r;
  const uint32_t P = DRM_MODE_OBJECT_PLANE, C = DRM_MODE_OBJECT_CRTC, K = DRM_MODE_OBJECT_CONNECTOR;
  uint64_t w = o.mode.hdisplay, h = o.mode.vdisplay;
  return set_props(
      {o.conn_id, o.crtc_id, o.plane_id},
      {{{prop_id(o.conn_id, K, "CRTC_ID"), o.crtc_id}},
       {{prop_id(o.crtc_id, C, "MODE_ID"), blob.blob_id}, {prop_id(o.crtc_id, C, "ACTIVE"), 1}},
       {{prop_id(o.plane_id, P, "FB_ID"), fb},
        {prop_id(o.plane_id, P, "CRTC_ID"), o.crtc_id},
        {prop_id(o.plane_id, P, "SRC_X"), 0},
        {prop_id(o.plane_id, P, "SRC_Y"), 0},
        {prop_id(o.plane_id, P, "SRC_W"), w << 16},
        {prop_id(o.plane_id, P, "SRC_H"), h << 16},
        {prop_id(o.plane_id, P, "CRTC_X"), 0},
        {prop_id(o.plane_id, P, "CRTC_Y"), 0},
        {prop_id(o.plane_id, P, "CRTC_W"), w},
        {prop_id(o.plane_id, P, "CRTC_H"), h}}},
      DRM_MODE_ATOMIC_ALLOW_MODESET, 0);
}

int RemoteClient::atomic_flip(const Output& o, uint32_t fb, uint32_t flags, uint64_t user_data) {
  return set_props({o.plane_id}, {{{prop_id(o.plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID"), fb}}}, flags, user_data);
}

int RemoteClient::read_event(drm_event_vblank* ev) {
  alignas(8) char buf[256];
  long n = f_->read(buf, sizeof(buf), false);
  if (n < 0) return static_cast<int>(n);
  if (n < static_cast<long>(sizeof(*ev))) return -EIO;
  std::memcpy(ev, buf, sizeof(*ev));
  return static_cast<int>(ev->base.type);
}

void RemoteClient::close() {
  if (closed_ || !f_) return;
  closed_ = true;
  f_->close();
  ::close(f_->fd());  // the interposer's job: the program's fd goes away after close()
}

}  // namespace udrm::run::test
