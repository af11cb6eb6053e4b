// The probe helper: connector status and mode list (udrm/kms/connector.h).
#include <algorithm>

#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/edid.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace {

// drm_mode_validate_pipeline: the connector accepts the mode, and some CRTC reachable through
// one of its encoders does.
bool pipeline_ok(Connector& c, const DisplayMode& m) {
  if (c.helper_private && c.helper_private->mode_valid && c.helper_private->mode_valid(c, m) != 0) return false;
  ModeConfig* mc = c.dev->mode_config;
  bool any_encoder = false;
  bool ok = true;
  for (Encoder* e : mc->encoders) {
    if (!(c.possible_encoders & e->mask())) continue;
    any_encoder = true;
    for (Crtc* crtc : mc->crtcs) {
      if (!(e->possible_crtcs & crtc->mask())) continue;
      const bool crtc_ok = !(crtc->helper_private && crtc->helper_private->mode_valid) ||
                           crtc->helper_private->mode_valid(*crtc, m) == 0;
      if (crtc_ok) return true;
      ok = false;
    }
  }
  return !any_encoder || ok;
}

bool mode_before(const DisplayMode& a, const DisplayMode& b) {
  const bool pa = a.type & DRM_MODE_TYPE_PREFERRED, pb = b.type & DRM_MODE_TYPE_PREFERRED;
  if (pa != pb) return pa;
  const long area_a = long(a.hdisplay) * a.vdisplay, area_b = long(b.hdisplay) * b.vdisplay;
  if (area_a != area_b) return area_a > area_b;
  if (a.vrefresh() != b.vrefresh()) return a.vrefresh() > b.vrefresh();
  return a.clock > b.clock;
}

}  // namespace

ConnectorStatus connector_detect(Connector& c, bool force) {
  if (c.funcs && c.funcs->detect) return c.funcs->detect(c, force);
  return ConnectorStatus::connected;
}

int helper_probe_single_connector_modes(Connector& c, uint32_t max_w, uint32_t max_h) {
  if (UDRM_WARN_ON(!c.dev || !c.dev->mode_config, LogCat::kms)) return 0;
  const ConnectorStatus old_status = c.status;
  if (c.force != ConnectorStatus::unknown)
    c.status = c.force;
  else
    c.status = connector_detect(c, true);
  if (old_status != c.status)
    log_dbg(LogCat::kms, "[CONNECTOR:%u:%s] status updated from %u to %u", c.id, c.name.c_str(),
            static_cast<unsigned>(old_status), static_cast<unsigned>(c.status));

  c.probed_modes.clear();
  std::vector<DisplayMode> result;
  int count = 0;
  if (c.status == ConnectorStatus::disconnected) {
    connector_update_edid_property(c, nullptr, 0);
  } else {
    if (c.helper_private && c.helper_private->get_modes) count = c.helper_private->get_modes(c);
    if (count < 0) count = 0;
    if (count == 0) count = connector_add_modes_noedid(c, 1024, 768);
    // De-duplicate (merging type bits), then validate.
    std::vector<DisplayMode> uniq;
    for (const DisplayMode& m : c.probed_modes) {
      auto it = std::find(uniq.begin(), uniq.end(), m);
      if (it != uniq.end())
        it->type |= m.type;
      else
        uniq.push_back(m);
    }
    for (DisplayMode& m : uniq) {
      if (mode_validate_basic(m) != 0) continue;
      if (max_w && m.hdisplay > max_w) continue;
      if (max_h && m.vdisplay > max_h) continue;
      if (m.flags & (DRM_MODE_FLAG_INTERLACE | DRM_MODE_FLAG_DBLSCAN | DRM_MODE_FLAG_3D_MASK)) continue;
      if (!pipeline_ok(c, m)) continue;
      if (m.name.empty()) mode_set_name(&m);
      result.push_back(std::move(m));
    }
    // Stable: equal modes keep the order get_modes gave them.
    std::vector<std::size_t> order(result.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (mode_before(result[a], result[b])) return true;
      if (mode_before(result[b], result[a])) return false;
      return a < b;
    });
    std::vector<DisplayMode> sorted;
    sorted.reserve(result.size());
    for (std::size_t i : order) sorted.push_back(std::move(result[i]));
    result = std::move(sorted);
  }
  c.probed_modes.clear();
  c.modes = std::move(result);
  return static_cast<int>(c.modes.size());
}

}  // namespace udrm
