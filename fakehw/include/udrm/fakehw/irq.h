// udrm/fakehw/irq.h — interrupt lines and devm_request_irq.
//
// The hardware model raises a line; if a handler is requested and the line is enabled, the
// handler runs in atomic context on the executor (the fake CPU's interrupt context). Raises
// while an invocation is already pending coalesce (a level-triggered pending bit). Freeing the
// IRQ (devm at unbind, or devm_free_irq) waits for a running handler to finish
// (synchronize_irq) and no handler runs afterwards; disable_irq also waits. The handler is
// reached through a CallbackSlot (read once per invocation; free empties it and waits a grace
// period), and every dispatch fires the trace hook (udrm/base/trace_hook.h).
//
// Lifetime: an IrqLine lives as long as its Board; a handler's captures must stay valid until
// its IRQ is freed (devm guarantees: freed at unbind, before the driver's memory goes).
// Context: raise(): any context. devm_request_irq: process context. free/disable/synchronize:
// process context, may sleep (never from the handler itself).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "udrm/base/refcount.h"
#include "udrm/base/spinlock.h"
#include "udrm/core/gate.h"

namespace udrm {
class Device;
class World;
}  // namespace udrm

namespace udrm::fakehw {

enum class IrqReturn { none, handled };
using IrqHandler = std::function<IrqReturn()>;

class IrqLine {
 public:
  IrqLine(World& w, std::string name);
  ~IrqLine();
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;

  const std::string& name() const noexcept { return name_; }
  /// Assert the line (hardware side).
  void raise();
  /// Raise n times back to back (an interrupt storm; coalescing applies).
  void storm(int n);
  bool requested() const;
  /// Handler invocations so far / raises that found no handler (spurious).
  uint64_t handled() const noexcept { return handled_->load(); }
  uint64_t spurious() const noexcept { return spurious_.load(); }

  /// disable_irq: mask the line and wait for a running handler. enable_irq: unmask (a raise
  /// that happened while masked is delivered now). Nest like the kernel's depth counter.
  void disable();
  void enable();
  /// synchronize_irq: wait until no handler of this line is running.
  void synchronize();

 private:
  struct Action;
  friend int devm_request_irq(Device& dev, IrqLine& line, IrqHandler handler, const char* name);
  friend void devm_free_irq(Device& dev, IrqLine& line);
  static void devm_release(Action* a);
  Ref<Action> current() const;

  World& world_;
  std::string name_;
  mutable SpinLock lock_;
  Ref<Action> action_;  // while requested
  std::shared_ptr<std::atomic<uint64_t>> handled_;
  std::atomic<uint64_t> spurious_{0};
};

/// devm_request_irq: install handler on line for dev's binding. -EBUSY if the line is taken,
/// -ENOMEM on (injected) allocation failure.
int devm_request_irq(Device& dev, IrqLine& line, IrqHandler handler, const char* name);
/// devm_free_irq: free it now (waits for a running handler). WARNs if dev did not request it.
void devm_free_irq(Device& dev, IrqLine& line);

}  // namespace udrm::fakehw
