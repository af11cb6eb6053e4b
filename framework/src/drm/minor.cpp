// DRM minors (udrm/drm/minor.h): the per-World table of card/render node indices.
#include "udrm/drm/minor.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/lookup.h"
#include "udrm/base/mutex.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"

namespace udrm {
namespace {

constexpr int kPrimaryBase = 0, kRenderBase = 128, kRangeSize = 64;

// drm_minors_xa: index -> (device, registered?). A reserved entry keeps its index until the
// device's final put; only a registered entry can be opened. The bookkeeping map lives under
// the index's mutex; registered entries are also published in the LookupIndex (ID index + 1,
// kind = MinorType) that drm_open_minor reads without the lock (drm_minor_acquire).
struct MinorTable {
  explicit MinorTable(World&) {}
  struct Entry {
    DrmDevice* dev;
    MinorType type;
    bool registered;
  };
  LookupIndex index{"drm.minors"};
  Mutex& lock() { return index.lock(); }
  std::map<int, Entry> map;
};

uint32_t lookup_id(int index) { return static_cast<uint32_t>(index) + 1; }  // 0 is no ID

MinorTable& table(World& w) { return w.ext<MinorTable>(); }

std::string node_name(int index, MinorType type) {
  return type == MinorType::render ? "renderD" + std::to_string(index) : "card" + std::to_string(index);
}

int alloc_index(MinorTable& t, DrmDevice& dev, MinorType type) {
  const int base = type == MinorType::render ? kRenderBase : kPrimaryBase;
  for (int i = base; i < base + kRangeSize; ++i) {
    if (t.map.count(i)) continue;
    t.map.emplace(i, MinorTable::Entry{&dev, type, false});
    return i;
  }
  return -ENOSPC;
}

void set_registered(DrmDevice& dev, bool on) {
  MinorTable& t = table(dev.world());
  std::lock_guard<Mutex> l(t.lock());
  for (int idx : {dev.minor_primary, dev.minor_render}) {
    if (idx < 0) continue;
    auto it = t.map.find(idx);
    if (it == t.map.end() || it->second.dev != &dev || it->second.registered == on) continue;
    if (on) {
      int ret = t.index.insert_locked(lookup_id(idx), &dev, static_cast<uint32_t>(it->second.type));
      if (ret) {
        // Only -ENOMEM (a rebuild that could not allocate): the node stays unopenable.
        log_err(LogCat::drm, "%s: minor %d not published: %d", dev.driver().name, idx, ret);
        continue;
      }
    } else {
      t.index.remove_locked(lookup_id(idx), &dev);
    }
    it->second.registered = on;
  }
}

}  // namespace

int drm_minors_alloc(DrmDevice& dev) {
  if (UDRM_SHOULD_FAIL("drm.minor_alloc")) return -ENOMEM;
  MinorTable& t = table(dev.world());
  std::lock_guard<Mutex> l(t.lock());
  int p = alloc_index(t, dev, MinorType::primary);
  if (p < 0) return p;
  int r = -1;
  if (dev.has_feature(DRIVER_RENDER)) {
    r = alloc_index(t, dev, MinorType::render);
    if (r < 0) {
      t.map.erase(p);
      return r;
    }
  }
  dev.minor_primary = p;
  dev.minor_render = r;
  return 0;
}

void drm_minors_register(DrmDevice& dev) { set_registered(dev, true); }

void drm_minors_unregister(DrmDevice& dev) { set_registered(dev, false); }

void drm_minors_free(DrmDevice& dev) {
  if (dev.minor_primary < 0 && dev.minor_render < 0) return;
  MinorTable& t = table(dev.world());
  {
    std::lock_guard<Mutex> l(t.lock());
    for (int* idx : {&dev.minor_primary, &dev.minor_render}) {
      if (*idx < 0) continue;
      auto it = t.map.find(*idx);
      if (it != t.map.end() && it->second.dev == &dev) {
        if (it->second.registered) t.index.remove_locked(lookup_id(*idx), &dev);
        t.map.erase(it);
      }
      *idx = -1;
    }
  }
  // The caller frees the device next: an open that read its pointer before the unregister
  // (or the removal above) must have left its read-side section first.
  t.index.synchronize();
}

int drm_minor_index(const DrmDevice& dev, MinorType type) {
  return type == MinorType::render ? dev.minor_render : dev.minor_primary;
}

int drm_open_minor(World& world, int index, Ref<DrmFile>* out) {
  if (index < 0 || index >= kRenderBase + kRangeSize) return -ENODEV;
  MinorTable& t = table(world);
  DrmDevice* d = nullptr;
  MinorType type;
  bool raced = false;
  {
    // drm_minor_acquire without the table lock: a read-side section, get-unless-zero (a dying
    // device is refused), then revalidate (an unregister that raced us wins).
    LookupIndex::Section s = t.index.read();
    LookupIndex::Hit h = t.index.find(s, lookup_id(index));
    if (!h) return -ENODEV;
    d = static_cast<DrmDevice*>(h.ptr);
    type = static_cast<MinorType>(h.kind);
    if (!d->get_unless_zero()) return -ENODEV;
    raced = !t.index.still_published(s, h);
  }
  Ref<DrmDevice> dev = adopt_ref(d);  // outside the section: dropping it may be the final put
  if (raced || dev->is_unplugged()) return -ENODEV;
  return DrmFile::open(*dev, out, type);
}

int drm_open_node(World& world, const std::string& node, Ref<DrmFile>* out) {
  int index = -1;
  auto parse = [&](const char* prefix, int base) {
    std::size_t n = std::char_traits<char>::length(prefix);
    if (node.compare(0, n, prefix) != 0 || node.size() == n || node.size() > n + 3) return;
    int v = 0;
    for (std::size_t i = n; i < node.size(); ++i) {
      if (node[i] < '0' || node[i] > '9') return;
      v = v * 10 + (node[i] - '0');
    }
    if (std::to_string(v) != node.substr(n)) return;  // no leading zeros: "card01" is no node
    if (v >= base && v < base + kRangeSize) index = v;
  };
  parse("card", kPrimaryBase);
  parse("renderD", kRenderBase);
  if (index < 0) return -ENOENT;
  {
    MinorTable& t = table(world);
    std::lock_guard<Mutex> l(t.lock());
    auto it = t.map.find(index);
    // An unregistered minor has no node any more (device_del removed it): open(2) of the
    // path says ENOENT, as observed on a real kernel after hot-unplug. Opening a stale
    // inode (drm_open_minor) is what gives ENODEV.
    if (it == t.map.end() || node_name(index, it->second.type) != node || !it->second.registered) return -ENOENT;
  }
  return drm_open_minor(world, index, out);
}

std::vector<MinorInfo> drm_minors_list(World& world) {
  MinorTable& t = table(world);
  std::lock_guard<Mutex> l(t.lock());
  std::vector<MinorInfo> out;
  for (auto& [idx, e] : t.map) out.push_back(MinorInfo{idx, e.type, node_name(idx, e.type), e.registered ? e.dev : nullptr});
  return out;
}

}  // namespace udrm
