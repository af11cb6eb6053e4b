// DRM minors (udrm/drm/minor.h): the per-World table of card/render node indices.
#include "udrm/drm/minor.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/mutex.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"

namespace udrm {
namespace {

constexpr int kPrimaryBase = 0, kRenderBase = 128, kRangeSize = 64;

// drm_minors_xa: index -> (device, registered?). A reserved entry keeps its index until the
// device's final put; only a registered entry can be opened.
struct MinorTable {
  explicit MinorTable(World&) {}
  struct Entry {
    DrmDevice* dev;
    MinorType type;
    bool registered;
  };
  Mutex lock{"drm.minors"};
  std::map<int, Entry> map;
};

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
  std::lock_guard<Mutex> l(t.lock);
  for (int idx : {dev.minor_primary, dev.minor_render}) {
    if (idx < 0) continue;
    auto it = t.map.find(idx);
    if (it != t.map.end() && it->second.dev == &dev) it->second.registered = on;
  }
}

}  // namespace

int drm_minors_alloc(DrmDevice& dev) {
  if (UDRM_SHOULD_FAIL("drm.minor_alloc")) return -ENOMEM;
  MinorTable& t = table(dev.world());
  std::lock_guard<Mutex> l(t.lock);
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
  std::lock_guard<Mutex> l(t.lock);
  for (int* idx : {&dev.minor_primary, &dev.minor_render}) {
    if (*idx < 0) continue;
    auto it = t.map.find(*idx);
    if (it != t.map.end() && it->second.dev == &dev) t.map.erase(it);
    *idx = -1;
  }
}

int drm_minor_index(const DrmDevice& dev, MinorType type) {
  return type == MinorType::render ? dev.minor_render : dev.minor_primary;
}

int drm_open_minor(World& world, int index, Ref<DrmFile>* out) {
  MinorTable& t = table(world);
  Ref<DrmDevice> dev;
  MinorType type;
  {
    // drm_minor_acquire: look up and take a reference under the table lock.
    std::lock_guard<Mutex> l(t.lock);
    auto it = t.map.find(index);
    if (it == t.map.end() || !it->second.registered) return -ENODEV;
    if (!it->second.dev->get_unless_zero()) return -ENODEV;
    dev = adopt_ref(it->second.dev);
    type = it->second.type;
  }
  if (dev->is_unplugged()) return -ENODEV;
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
    std::lock_guard<Mutex> l(t.lock);
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
  std::lock_guard<Mutex> l(t.lock);
  std::vector<MinorInfo> out;
  for (auto& [idx, e] : t.map) out.push_back(MinorInfo{idx, e.type, node_name(idx, e.type), e.registered ? e.dev : nullptr});
  return out;
}

}  // namespace udrm
