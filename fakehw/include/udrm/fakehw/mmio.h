// udrm/fakehw/mmio.h — MMIO register blocks and their devm mappings.
//
// A RegisterBlock is the silicon: registers with per-bit semantics (read/write mask,
// write-1-to-clear status bits, read-only bits, busy bits the hardware model clears) and a write
// log tests can inspect. A driver reaches it only through an IoMem mapping obtained with
// devm_ioremap() during probe; the mapping is released (iounmap) by devm at unbind. Any access
// through a released mapping is a lifetime violation: it is reported naming the register, the
// block and where the mapping was released, reads return all-ones (as a vanished PCI device
// does), writes are dropped — never silently allowed.
//
// Lifetime: a RegisterBlock lives as long as its Board; IoMem handles stay valid objects after
// unmap (so stray pointers are caught, not crashes) and die with the block.
// Context: readl/writel: any context, never sleep.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"

namespace udrm {
class Device;
class World;
}  // namespace udrm

namespace udrm::fakehw {

struct RegDesc {
  uint32_t offset;
  const char* name;
  uint32_t reset = 0;
  uint32_t rw_mask = 0xffffffffu;  ///< bits a write stores
  uint32_t w1c_mask = 0;           ///< bits a write of 1 clears (status registers)
};

class IoMem;

class RegisterBlock {
 public:
  struct Access {
    uint32_t offset;
    uint32_t value;
    bool write;
    TimePoint when;
  };
  /// Hardware-side reaction to a driver write (after the register was updated).
  using WriteHook = std::function<void(RegisterBlock&, uint32_t offset, uint32_t value)>;

  RegisterBlock(World& w, std::string name, std::vector<RegDesc> regs);
  ~RegisterBlock();
  RegisterBlock(const RegisterBlock&) = delete;
  RegisterBlock& operator=(const RegisterBlock&) = delete;

  const std::string& name() const noexcept { return name_; }
  World& world() const noexcept { return world_; }
  /// Name of the register at `offset` ("0x1c" if undefined).
  std::string reg_name(uint32_t offset) const;

  // The hardware model's side: unchecked, unlogged.
  uint32_t hw_get(uint32_t offset) const;
  void hw_set(uint32_t offset, uint32_t value);
  void hw_set_bits(uint32_t offset, uint32_t bits);
  void hw_clear_bits(uint32_t offset, uint32_t bits);
  void set_write_hook(WriteHook hook);
  /// Reset every register to its reset value (power cycle).
  void reset();

  /// Driver accesses so far (reads and writes, in order).
  std::vector<Access> log() const;
  std::vector<Access> writes() const;
  void clear_log();
  /// Live (not yet unmapped) mappings.
  int live_mappings() const noexcept { return live_.load(std::memory_order_acquire); }

 private:
  friend class IoMem;
  friend IoMem* devm_ioremap(Device& dev, RegisterBlock& block);
  const RegDesc* find(uint32_t offset) const;
  uint32_t driver_read(uint32_t offset);
  void driver_write(uint32_t offset, uint32_t value);

  World& world_;
  std::string name_;
  std::vector<RegDesc> regs_;
  std::vector<uint32_t> values_;
  mutable SpinLock lock_;
  std::vector<Access> log_;
  WriteHook hook_;
  std::vector<std::unique_ptr<IoMem>> mappings_;
  std::atomic<int> live_{0};
};

/// A driver's mapping of a RegisterBlock (the __iomem pointer).
class IoMem {
 public:
  uint32_t readl(uint32_t offset);
  void writel(uint32_t value, uint32_t offset);
  bool mapped() const noexcept { return mapped_.load(std::memory_order_acquire); }
  RegisterBlock& block() const noexcept { return block_; }

 private:
  friend class RegisterBlock;
  friend IoMem* devm_ioremap(Device& dev, RegisterBlock& block);
  IoMem(RegisterBlock& b, std::string owner) : block_(b), owner_(std::move(owner)) {}
  void violation(const char* op, uint32_t offset);
  void unmap();
  static void devm_iounmap(IoMem* m) { m->unmap(); }
  RegisterBlock& block_;
  std::string owner_;  ///< "display0": the device whose binding held the mapping
  std::atomic<bool> mapped_{true};
};

/// devm_ioremap: map `block` for dev's binding; unmapped by devm at unbind. nullptr on
/// (injected) allocation failure.
IoMem* devm_ioremap(Device& dev, RegisterBlock& block);

}  // namespace udrm::fakehw
