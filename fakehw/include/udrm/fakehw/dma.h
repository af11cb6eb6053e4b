// udrm/fakehw/dma.h — a device's DMA address space, as the scanout engine sees memory.
//
// A driver maps CPU memory for its device (dma_map_single / the GEM DMA helper's dma_alloc):
// map() returns a bus address, unmap() ends the mapping. Addresses are never reused, so a stale
// address keeps naming the buffer it once was. The hardware side (the scanout engine) reads
// through view()/read(): a read of an unmapped or since-unmapped address, or one running past a
// mapping's end, is reported as a violation (kind "dma-after-unmap" / "dma-out-of-bounds" /
// "dma-unmapped") naming the buffer and where and when it was unmapped — never a crash: the read
// returns zeros. Each bad mapping is reported once per reader name, not every frame.
//
// The classic bug — the driver frees a framebuffer while the hardware still scans it out — is
// caught directly: the hardware hw_hold()s the mappings it is scanning; unmap() of a held mapping
// is a violation ("dma-unmap-while-scanned") naming the buffer and the holder.
//
// Lifetime: the DmaSpace outlives its device's bindings (it is the silicon's view, owned by the
// hardware model). Mapped memory must stay valid until unmap(); after unmap the space never
// touches it again.
// Context: every call: any context, never sleeps (one spinlock). view() pointers stay valid only
// until the mapping is unmapped (the scanout engine uses them within one frame).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"

namespace udrm {
class World;
}

namespace udrm::fakehw {

using dma_addr_t = uint64_t;
inline constexpr dma_addr_t kDmaMappingError = 0;  ///< map() failure (dma_mapping_error)

class DmaSpace {
 public:
  DmaSpace(World& w, std::string name);
  DmaSpace(const DmaSpace&) = delete;
  DmaSpace& operator=(const DmaSpace&) = delete;

  const std::string& name() const noexcept { return name_; }

  /// Map [cpu, cpu+len) as `buffer` (the name violations use). Page-aligned, never-reused
  /// addresses. kDmaMappingError for len 0, a null pointer, or an injected failure ("dma.map").
  dma_addr_t map(const void* cpu, std::size_t len, std::string buffer);
  /// End the mapping that starts at addr; `where` names the release point for reports
  /// ("gem free of fb 3"). -EINVAL + WARN if addr is not the start of a live mapping.
  int unmap(dma_addr_t addr, std::string where = "");
  std::size_t live_mappings() const;
  /// Name of the buffer mapped (or once mapped) at addr, "" if none.
  std::string buffer_at(dma_addr_t addr) const;

  // ---- hardware side ----
  /// Pointer to [addr, addr+len) if it lies inside one live mapping; else report (naming
  /// `reader`, e.g. "dc0 pipe0 primary") and return nullptr.
  const uint8_t* view(dma_addr_t addr, std::size_t len, const char* reader);
  /// Copy; on a bad range report, fill dst with zeros and return false.
  bool read(dma_addr_t addr, void* dst, std::size_t len, const char* reader);
  /// The hardware is scanning the mapping containing addr (nests); unmap() meanwhile is a
  /// violation. hw_release undoes one hold. Both ignore addresses not mapped.
  void hw_hold(dma_addr_t addr, const std::string& holder);
  void hw_release(dma_addr_t addr, const std::string& holder);

 private:
  struct Mapping {
    const uint8_t* cpu = nullptr;
    std::size_t len = 0;
    std::string buffer;
    bool live = true;
    std::string unmapped_where;
    TimePoint unmapped_at{};
    std::vector<std::string> holders;
    std::vector<std::string> reported;  // reader names already told about this dead mapping
  };
  // The mapping whose [start, start+len) (or, for a dead one, its old range) contains addr.
  std::map<dma_addr_t, Mapping>::iterator find_locked(dma_addr_t addr);
  void bad_read(dma_addr_t addr, std::size_t len, const char* reader);

  World& world_;
  std::string name_;
  mutable SpinLock lock_;
  std::map<dma_addr_t, Mapping> maps_;  // live and the most recent dead ones
  std::size_t dead_ = 0;
  std::vector<std::string> unmapped_reported_;  // "reader@addr" for never-mapped reads
  dma_addr_t next_ = 0x10000000;
};

}  // namespace udrm::fakehw
