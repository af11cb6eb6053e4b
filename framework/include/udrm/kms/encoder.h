// udrm/kms/encoder.h — struct drm_encoder: turns a CRTC's pixel stream into a link signal.
//
// Lifetime: the DrmDevice (drmm). Context: helper hooks from commit_tail (process context,
// may sleep; hardware access gated).
#pragma once
#include <cstdint>
#include <string>

#include "udrm/kms/atomic.h"
#include "udrm/kms/object.h"

namespace udrm {

struct EncoderHelperFuncs {
  int (*atomic_check)(Encoder& enc, CrtcState& crtc_state, ConnectorState& conn_state) = nullptr;
  void (*atomic_mode_set)(Encoder& enc, CrtcState& crtc_state, ConnectorState& conn_state) = nullptr;
  void (*atomic_enable)(Encoder& enc, AtomicState& state) = nullptr;
  void (*atomic_disable)(Encoder& enc, AtomicState& state) = nullptr;
};

class Encoder : public ModeObject {
 public:
  DrmDevice* dev = nullptr;
  std::string name;
  unsigned index = 0;
  uint32_t encoder_type = DRM_MODE_ENCODER_NONE;
  uint32_t possible_crtcs = 0;
  uint32_t possible_clones = 0;
  const EncoderHelperFuncs* helper_private = nullptr;
  Crtc* crtc = nullptr;  // legacy: the CRTC driving it in the current state

  uint32_t mask() const noexcept { return 1u << index; }
  Encoder() = default;
  virtual ~Encoder() = default;
};

/// drm_encoder_init: ID, index (-EINVAL beyond 32 encoders). name nullptr → "<type>-<id>"
/// ("TMDS-35", "Virtual-40"), as the kernel names encoders.
int encoder_init(DrmDevice& dev, Encoder& enc, uint32_t encoder_type, const char* name = nullptr);
int drmm_encoder_init(DrmDevice& dev, Encoder& enc, uint32_t encoder_type, const char* name = nullptr);
void encoder_cleanup(Encoder& enc);
inline void encoder_helper_add(Encoder& e, const EncoderHelperFuncs* f) { e.helper_private = f; }
Encoder* encoder_find(DrmDevice& dev, uint32_t id);

}  // namespace udrm
