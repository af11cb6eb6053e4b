// udrm/drm/minor.h — struct drm_minor: the card/render nodes of a DRM device.
//
// Each World has a minor table (drm_minors_xa). drm_dev_register publishes a device's
// primary (cardN, 0–63) and render (renderD128+, 128–191) minors; the index is allocated at
// device init and stays reserved until the final put (unregister only clears the lookup entry),
// so a rebind while an old file is open gets a different minor. Open by minor (drm_stub_open):
// -ENODEV for a free, unregistered or unplugged minor.
//
// The open-side lookup (drm_minor_acquire) takes no lock: registered minors are published in a
// LookupIndex (base/lookup.h); open reads it in a read-side section and takes the device with
// get-unless-zero, then revalidates (an open racing an unregister gets -ENODEV once the
// unregister has returned). drm_minors_free waits a grace period, so the device is freed only
// after every open that read its pointer has left its section.
//
// Lifetime: index reserved from DrmDevice init to its final put. Context: process context
// (drm_minors_free sleeps: it waits a grace period).
#pragma once
#include <string>
#include <vector>

#include "udrm/base/refcount.h"

namespace udrm {

class DrmDevice;
class DrmFile;
class World;

enum class MinorType { primary = 0, render = 2 };

struct MinorInfo {
  int index;            // 0.. for card, 128.. for render
  MinorType type;
  std::string node;     // "card0", "renderD128"
  DrmDevice* dev;       // nullptr if reserved but not registered
};

/// Allocate the device's minors (called from DrmDevice init; -ENOSPC when the range is full).
int drm_minors_alloc(DrmDevice& dev);
/// Publish / unpublish lookups (register / unregister).
void drm_minors_register(DrmDevice& dev);
void drm_minors_unregister(DrmDevice& dev);
/// Free the indices (final put).
void drm_minors_free(DrmDevice& dev);
/// The device's minor index of `type` (-1 if none).
int drm_minor_index(const DrmDevice& dev, MinorType type);
/// drm_stub_open + drm_open: open the node `index`. -ENODEV if nothing is registered there or
/// the device is unplugged; -EBUSY for O_EXCL semantics is not modelled.
int drm_open_minor(World& world, int index, Ref<DrmFile>* out);
/// Open by node name ("card0", "renderD128"); -ENOENT if no such node (as open(2) would say),
/// including a node whose device was unregistered or unplugged (the node vanished).
int drm_open_node(World& world, const std::string& node, Ref<DrmFile>* out);
/// Every minor of the world, registered or reserved (udrmctl, sysfs emulation).
std::vector<MinorInfo> drm_minors_list(World& world);

}  // namespace udrm
