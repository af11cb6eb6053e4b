// udrm-simple composer (vkms_composer.c + vkms_crc.c): an ordered worker that blends the
// published CRTC state's planes with fakehw's Composer, reading the framebuffers' GEM memory,
// and reports the frame CRC for every vblank of the range it lagged behind. It runs only while
// a CRC capture is open (the composer is otherwise off, as in vkms).
#include <mutex>
#include <vector>

#include "simple_drv.h"
#include "udrm/base/log.h"
#include "udrm/core/world.h"
#include "udrm/base/point.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::simple {

int simple_composer_init(SimpleDevice& s) {
  s.composer_wq = drmm_new<WorkQueue>(s, "simple.composer_wq", s.world().executor(), "udrm-simple-composer", true);
  return s.composer_wq ? 0 : -ENOMEM;
}

void simple_set_composer(SimpleDevice& s, bool enabled) {
  // Capture keeps vblank running, like vkms_set_composer (the get fails while the CRTC is off).
  const bool got = enabled && crtc_vblank_get(s.crtc) == 0;
  bool put_old;
  {
    std::lock_guard<SpinLock> l(s.composer_lock);
    put_old = s.composer_vblank_ref;
    s.composer_enabled = enabled;
    s.composer_vblank_ref = got;
    if (!enabled) s.crc_pending = false;
  }
  if (put_old) crtc_vblank_put(s.crtc);
}

void simple_composer_worker(SimpleDevice& s) {
  UDRM_POINT("simple.composer");
  if (int64_t d = s.tracker->composer_delay_ns.load(std::memory_order_relaxed)) sleep_for(Duration(d));

  uint64_t frame_start, frame_end;
  bool crc_pending;
  SimpleCrtcState* state;
  {
    std::lock_guard<SpinLock> l(s.composer_lock);
    frame_start = s.frame_start;
    frame_end = s.frame_end;
    crc_pending = s.crc_pending;
    state = s.composer_state;
    s.frame_start = s.frame_end = 0;
    s.crc_pending = false;
  }
  // The state stays valid: commit_tail flushes this work before the state can be freed.
  if (!crc_pending || !state || !state->active) return;

  std::vector<fakehw::PlaneDesc> planes;
  planes.reserve(state->active_planes.size());
  int32_t zpos = 0;
  for (SimplePlaneState* ps : state->active_planes) {
    const FrameInfo& f = ps->frame;
    if (!f.fb || !f.fb->obj[0] || !f.fb->format) continue;
    fakehw::PlaneDesc d;
    d.fourcc = f.fb->format->format;
    d.pixels = f.fb->obj[0]->vaddr() + f.fb->offsets[0];
    d.pitch = f.fb->pitches[0];
    d.src = f.src;
    d.dst = f.dst;
    d.zpos = zpos++;
    d.alpha = f.alpha;
    d.name = ps->plane ? ps->plane->name.c_str() : "plane";
    planes.push_back(d);
  }
  if (int ret = s.composer.compose(state->mode.hdisplay, state->mode.vdisplay, planes)) {
    log_err(LogCat::driver, "udrm-simple: composition failed (%d)", ret);
    return;
  }
  s.frames_composed++;
  const uint32_t crc = s.composer.crc();
  UDRM_POINT("simple.crc");
  for (uint64_t f = frame_start; f <= frame_end; ++f) crtc_add_crc_entry(s.crtc, f, crc);
}

}  // namespace udrm::drivers::simple
