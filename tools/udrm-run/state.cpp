// KMS state for `udrmctl state` (state.h).
#include "state.h"

#include <drm_fourcc.h>
#include <drm_mode.h>

#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include "udrm/fakehw/compose.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/format.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/gem.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm::run {

namespace {

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}

std::string mode_str(const DisplayMode& m) {
  if (m.empty()) return "none";
  return fmt("%ux%u@%d", m.hdisplay, m.vdisplay, m.vrefresh());
}

const char* status_str(ConnectorStatus s) {
  switch (s) {
    case ConnectorStatus::connected: return "connected";
    case ConnectorStatus::disconnected: return "disconnected";
    default: return "unknown";
  }
}

const char* plane_type_str(PlaneType t) {
  switch (t) {
    case PlaneType::primary: return "primary";
    case PlaneType::cursor: return "cursor";
    default: return "overlay";
  }
}

// The frame the CRTC should show, composed in software from its planes' current state and the
// framebuffers' memory (what the scanout engine reads). Caller holds the mode config mutex.
std::optional<uint32_t> software_crc(DrmDevice& dev, Crtc& crtc) {
  ModeConfig* mc = mode_config(dev);
  if (!crtc.state || !crtc.state->active) return std::nullopt;
  std::vector<fakehw::PlaneDesc> descs;
  for (Plane* p : mc->planes) {
    PlaneState* ps = p->state;
    if (!ps || ps->crtc != &crtc || !ps->fb || !ps->visible) continue;
    Framebuffer& fb = *ps->fb;
    if (!fb.obj[0] || !fb.format || !fb.obj[0]->vaddr()) return std::nullopt;
    fakehw::PlaneDesc d;
    d.fourcc = fb.format->format;
    d.pixels = fb.obj[0]->vaddr() + fb.offsets[0];
    d.pitch = fb.pitches[0];
    d.src = {ps->src.x1 >> 16, ps->src.y1 >> 16, static_cast<uint32_t>((ps->src.x2 - ps->src.x1) >> 16),
             static_cast<uint32_t>((ps->src.y2 - ps->src.y1) >> 16)};
    d.dst = {ps->dst.x1, ps->dst.y1, static_cast<uint32_t>(ps->dst.x2 - ps->dst.x1),
             static_cast<uint32_t>(ps->dst.y2 - ps->dst.y1)};
    d.zpos = static_cast<int32_t>(ps->normalized_zpos);
    d.alpha = ps->alpha;
    descs.push_back(d);
  }
  fakehw::Composer comp;
  if (comp.compose(crtc.state->mode.hdisplay, crtc.state->mode.vdisplay, descs)) return std::nullopt;
  return comp.crc();
}

// The CRC the hardware computed for a frame scanned out after now (two frames later the
// current state is certainly the one on screen).
std::optional<uint32_t> hardware_crc(Crtc& crtc) {
  if (crtc_crc_open(crtc)) return std::nullopt;
  auto e = crtc_crc_wait(crtc, crtc_vblank_count(crtc) + 2, 1000);
  crtc_crc_close(crtc);
  if (!e) return std::nullopt;
  return e->crc;
}

std::string crc_str(const std::optional<uint32_t>& c) { return c ? fmt("0x%08" PRIx32, *c) : "none"; }

}  // namespace

std::string describe_kms(drivers::Display& d) {
  Ref<DrmDevice> dev(d.drm());
  if (!dev) return "device name=" + std::string(d.drm_name()) + " bound=0\n";
  ModeConfig* mc = mode_config(*dev);
  std::string out = fmt("device name=%s bound=1 unplugged=%d minor=%d\n", d.drm_name(), dev->is_unplugged() ? 1 : 0,
                        dev->minor_primary);
  if (!mc) return out;

  struct CrtcLine {
    Crtc* crtc;
    std::string head;
    std::optional<uint32_t> sw;
  };
  std::vector<CrtcLine> crtcs;
  int pending = 0;
  {
    std::lock_guard<Mutex> l(mc->mutex);
    for (Connector* c : mc->connectors) {
      Crtc* crtc = c->state ? c->state->crtc : nullptr;
      std::string mode = crtc && crtc->state ? mode_str(crtc->state->mode) : "none";
      out += fmt("connector id=%u name=%s status=%s crtc=%u mode=%s modes=%zu\n", c->id, c->name.c_str(),
                 status_str(c->status), crtc ? crtc->id : 0u, mode.c_str(), c->modes.size());
    }
    for (Crtc* c : mc->crtcs) {
      CrtcState* s = c->state;
      std::string head = fmt("crtc id=%u index=%u enabled=%d active=%d mode=%s", c->id, c->index,
                             s && s->enable ? 1 : 0, s && s->active ? 1 : 0, s ? mode_str(s->mode).c_str() : "none");
      crtcs.push_back({c, head, software_crc(*dev, *c)});
      std::lock_guard<SpinLock> cl(c->commit_lock);
      for (CrtcCommit& cc : c->commit_list)
        if (!cc.flip_done.done() || !cc.cleanup_done.done()) ++pending;
    }
    for (Plane* p : mc->planes) {
      PlaneState* s = p->state;
      uint32_t fb = s && s->fb ? s->fb->id : 0;
      out += fmt("plane id=%u type=%s crtc=%u fb=%u size=%ux%u pos=%d,%d fb_size=%ux%u\n", p->id,
                 plane_type_str(p->type), s && s->crtc ? s->crtc->id : 0u, fb, s ? s->crtc_w : 0u,
                 s ? s->crtc_h : 0u, s ? s->crtc_x : 0, s ? s->crtc_y : 0, s && s->fb ? s->fb->width : 0u,
                 s && s->fb ? s->fb->height : 0u);
    }
  }
  for (CrtcLine& c : crtcs) {
    std::optional<uint32_t> hw = c.sw ? hardware_crc(*c.crtc) : std::nullopt;
    out += c.head + " crc_hw=" + crc_str(hw) + " crc_sw=" + crc_str(c.sw) +
           " crc_match=" + (hw && c.sw && *hw == *c.sw ? "1" : "0") + "\n";
  }
  out += fmt("commits pending=%d\n", pending);
  return out;
}

}  // namespace udrm::run
