// DMA address space (udrm/fakehw/dma.h).
#include "udrm/fakehw/dma.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/core/violation.h"

namespace udrm::fakehw {
namespace {
constexpr std::size_t kMaxDead = 1024;  // dead mappings remembered for naming
constexpr std::size_t kPage = 4096;

double ms(TimePoint t) { return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count(); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

DmaSpace::DmaSpace(World& w, std::string name) : world_(w), name_(std::move(name)) {}

dma_addr_t DmaSpace::map(const void* cpu, std::size_t len, std::string buffer) {
  if (!cpu || !len) return kDmaMappingError;
  if (UDRM_SHOULD_FAIL("dma.map")) return kDmaMappingError;
  std::lock_guard<SpinLock> l(lock_);
  const dma_addr_t a = next_;
  next_ += (len + kPage - 1) / kPage * kPage + kPage;  // a guard page between mappings
  Mapping& m = maps_[a];
  m.cpu = static_cast<const uint8_t*>(cpu);
  m.len = len;
  m.buffer = std::move(buffer);
  return a;
}

std::map<dma_addr_t, DmaSpace::Mapping>::iterator DmaSpace::find_locked(dma_addr_t addr) {
  auto it = maps_.upper_bound(addr);
  if (it == maps_.begin()) return maps_.end();
  --it;
  // A read that starts inside the mapping or in the guard page right after it belongs to it.
  const std::size_t span = (it->second.len + kPage - 1) / kPage * kPage + kPage;
  return addr - it->first < span ? it : maps_.end();
}

int DmaSpace::unmap(dma_addr_t addr, std::string where) {
  std::string msg;
  {
    std::lock_guard<SpinLock> l(lock_);
    auto it = maps_.find(addr);
    if (it == maps_.end() || !it->second.live) {
      const std::string what = it == maps_.end() ? "never mapped" : "already unmapped at " + it->second.unmapped_where;
      warn(LogCat::driver, "dma space '%s': unmap of 0x%" PRIx64 " (%s)", name_.c_str(), addr, what.c_str());
      return -EINVAL;
    }
    Mapping& m = it->second;
    m.live = false;
    m.unmapped_where = where.empty() ? "an unnamed release point" : std::move(where);
    m.unmapped_at = now();
    if (!m.holders.empty()) {
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "dma buffer '%s' (0x%" PRIx64 ", %zu bytes) unmapped at %s (t=%.3f ms) while the hardware "
                    "still scans it out (held by '%s')",
                    m.buffer.c_str(), addr, m.len, m.unmapped_where.c_str(), ms(m.unmapped_at), m.holders.front().c_str());
      msg = buf;
    }
    if (++dead_ > kMaxDead) {
      for (auto d = maps_.begin(); d != maps_.end(); ++d) {
        if (!d->second.live && d != it) {
          maps_.erase(d);
          --dead_;
          break;
        }
      }
    }
  }
  if (!msg.empty()) report_violation(world_, "dma-unmap-while-scanned", "%s", msg.c_str());
  return 0;
}

std::size_t DmaSpace::live_mappings() const {
  std::lock_guard<SpinLock> l(lock_);
  return maps_.size() - dead_;
}

std::string DmaSpace::buffer_at(dma_addr_t addr) const {
  std::lock_guard<SpinLock> l(lock_);
  auto it = const_cast<DmaSpace*>(this)->find_locked(addr);
  return it == maps_.end() ? std::string() : it->second.buffer;
}

const uint8_t* DmaSpace::view(dma_addr_t addr, std::size_t len, const char* reader) {
  const char* kind = nullptr;
  char buf[512];
  {
    std::lock_guard<SpinLock> l(lock_);
    auto it = find_locked(addr);
    const std::string who = reader ? reader : "hardware";
    if (it != maps_.end()) {
      Mapping& m = it->second;
      const uint64_t off = addr - it->first;
      if (m.live && off + len <= m.len) return m.cpu + off;
      if (contains(m.reported, who)) return nullptr;
      m.reported.push_back(who);
      if (!m.live) {
        kind = "dma-after-unmap";
        std::snprintf(buf, sizeof buf,
                      "scanout read by '%s' of dma buffer '%s' (0x%" PRIx64 "+0x%" PRIx64 ", %zu bytes) in '%s', "
                      "unmapped at %s (t=%.3f ms)",
                      who.c_str(), m.buffer.c_str(), it->first, off, len, name_.c_str(), m.unmapped_where.c_str(),
                      ms(m.unmapped_at));
      } else {
        kind = "dma-out-of-bounds";
        std::snprintf(buf, sizeof buf,
                      "scanout read by '%s' of [0x%" PRIx64 ", 0x%" PRIx64 ") runs past the end of dma buffer '%s' "
                      "(%zu bytes) in '%s'",
                      who.c_str(), off, off + len, m.buffer.c_str(), m.len, name_.c_str());
      }
    } else {
      if (unmapped_reported_.size() < 64) {
        std::string key = who + "@" + std::to_string(addr);
        if (contains(unmapped_reported_, key)) return nullptr;
        unmapped_reported_.push_back(std::move(key));
      } else {
        return nullptr;
      }
      kind = "dma-unmapped";
      std::snprintf(buf, sizeof buf, "scanout read by '%s' of dma address 0x%" PRIx64 " (%zu bytes) in '%s': nothing is mapped there",
                    who.c_str(), addr, len, name_.c_str());
    }
  }
  report_violation(world_, kind, "%s", buf);
  return nullptr;
}

bool DmaSpace::read(dma_addr_t addr, void* dst, std::size_t len, const char* reader) {
  const uint8_t* p = view(addr, len, reader);
  if (!p) {
    std::memset(dst, 0, len);
    return false;
  }
  std::memcpy(dst, p, len);
  return true;
}

void DmaSpace::hw_hold(dma_addr_t addr, const std::string& holder) {
  std::lock_guard<SpinLock> l(lock_);
  auto it = find_locked(addr);
  if (it != maps_.end() && it->second.live) it->second.holders.push_back(holder);
}

void DmaSpace::hw_release(dma_addr_t addr, const std::string& holder) {
  std::lock_guard<SpinLock> l(lock_);
  auto it = find_locked(addr);
  if (it == maps_.end()) return;
  auto& h = it->second.holders;
  auto pos = std::find(h.begin(), h.end(), holder);
  if (pos != h.end()) h.erase(pos);
}

}  // namespace udrm::fakehw
