// udrm/kms/plane.h — struct drm_plane: a scanout source layer (primary, overlay, cursor).
//
// Lifetime: the DrmDevice (drmm). Context: helper hooks run from commit_tail (process context,
// may sleep; hardware access gated with dev_enter()); prepare_fb/cleanup_fb bracket the time
// the hardware may read the framebuffer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/kms/atomic.h"
#include "udrm/kms/object.h"

namespace udrm {

enum class PlaneType : uint32_t {
  overlay = 0,  // DRM_PLANE_TYPE_OVERLAY (the "type" property values)
  primary = 1,  // DRM_PLANE_TYPE_PRIMARY
  cursor = 2,   // DRM_PLANE_TYPE_CURSOR
};

struct PlaneFuncs {
  void (*reset)(Plane& plane) = nullptr;
  PlaneState* (*atomic_duplicate_state)(Plane& plane) = nullptr;
  void (*atomic_destroy_state)(Plane& plane, PlaneState* s) = nullptr;
  int (*atomic_set_property)(Plane& plane, PlaneState& s, Property& p, uint64_t val) = nullptr;
  int (*atomic_get_property)(Plane& plane, const PlaneState& s, Property& p, uint64_t* val) = nullptr;
  /// Which (format, modifier) pairs the plane takes (IN_FORMATS); nullptr: all listed.
  bool (*format_mod_supported)(Plane& plane, uint32_t format, uint64_t modifier) = nullptr;
};

struct PlaneHelperFuncs {
  /// Pin/map the framebuffer for scanout; may fail (-ENOMEM) before anything is committed.
  int (*prepare_fb)(Plane& plane, PlaneState& new_state) = nullptr;
  void (*cleanup_fb)(Plane& plane, PlaneState& old_state) = nullptr;
  int (*atomic_check)(Plane& plane, AtomicState& state) = nullptr;
  void (*atomic_update)(Plane& plane, AtomicState& state) = nullptr;
  void (*atomic_disable)(Plane& plane, AtomicState& state) = nullptr;
  /// Async (cursor-like, in place) updates.
  int (*atomic_async_check)(Plane& plane, AtomicState& state) = nullptr;
  void (*atomic_async_update)(Plane& plane, AtomicState& state) = nullptr;
};

class Plane : public ModeObject {
 public:
  DrmDevice* dev = nullptr;
  std::string name;
  unsigned index = 0;
  PlaneType type = PlaneType::overlay;
  uint32_t possible_crtcs = 0;
  std::vector<uint32_t> formats;
  std::vector<uint64_t> modifiers;  // {DRM_FORMAT_MOD_LINEAR} when empty at init
  const PlaneFuncs* funcs = nullptr;
  const PlaneHelperFuncs* helper_private = nullptr;
  PlaneState* state = nullptr;
  ObjectProperties props;
  /// Legacy pointers (plane->crtc, plane->fb) kept in sync for GETPLANE / GETCRTC.
  Crtc* crtc = nullptr;
  Ref<Framebuffer> fb;
  /// The IN_FORMATS blob (struct drm_format_modifier_blob layout), dropped at cleanup.
  Ref<PropertyBlob> in_formats_blob;

  uint32_t mask() const noexcept { return 1u << index; }
  /// drm_plane_has_format: fourcc listed, and modifier accepted (format_mod_supported, or listed).
  bool format_supported(uint32_t fourcc, uint64_t modifier) const;

  Plane() = default;
  virtual ~Plane() = default;
};

/// drm_universal_plane_init: ID, properties (type; FB_ID, CRTC_ID, SRC_*, CRTC_* for atomic
/// drivers; IN_FORMATS blob), reset state. `modifiers` is terminated by DRM_FORMAT_MOD_INVALID
/// (nullptr: {DRM_FORMAT_MOD_LINEAR}). -EINVAL for bad format lists (none, nullptr, > 64 — the
/// IN_FORMATS bitmap limit) or more than 32 planes, -ENOMEM. name nullptr → "plane-%d".
int universal_plane_init(DrmDevice& dev, Plane& plane, uint32_t possible_crtcs, const PlaneFuncs* funcs,
                         const uint32_t* formats, unsigned format_count, const uint64_t* modifiers,
                         PlaneType type, const char* name = nullptr);
int drmm_universal_plane_init(DrmDevice& dev, Plane& plane, uint32_t possible_crtcs, const PlaneFuncs* funcs,
                              const uint32_t* formats, unsigned format_count, const uint64_t* modifiers,
                              PlaneType type, const char* name = nullptr);
/// drm_plane_cleanup: unregister, destroy the state, drop the IN_FORMATS blob. Idempotent.
void plane_cleanup(Plane& plane);
inline void plane_helper_add(Plane& plane, const PlaneHelperFuncs* f) { plane.helper_private = f; }
Plane* plane_find(DrmDevice& dev, uint32_t id);
/// drm_any_plane_has_format.
bool any_plane_has_format(DrmDevice& dev, uint32_t fourcc, uint64_t modifier);

}  // namespace udrm
