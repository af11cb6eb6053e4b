// Interrupt lines (udrm/fakehw/irq.h).
#include "udrm/fakehw/irq.h"

#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/trace_hook.h"
#include "udrm/base/waitqueue.h"
#include "udrm/core/devres.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"

namespace udrm::fakehw {

// One requested handler. Invocations hold a reference, so a pending invocation never touches
// a freed action or line; the handler slot makes "no handler after free" exact: interrupt
// context reads it once, free_irq empties it and waits a grace period.
struct IrqLine::Action : RefCounted<Action> {
  IrqHandler handler;
  std::string name;
  IrqLine* line = nullptr;
  Executor* ex = nullptr;
  CallbackSlot<IrqHandler> slot;  // -> handler while requested
  std::atomic<bool> pending{false};
  std::atomic<int> running{0};
  std::atomic<int> depth{0};
  std::atomic<bool> latched{false};
  WaitQueue idle{"synchronize_irq"};
  std::shared_ptr<std::atomic<uint64_t>> handled;

  void kref_release() noexcept { delete this; }

  static void post(const Ref<Action>& a) {
    if (a->pending.exchange(true, std::memory_order_acq_rel)) return;  // coalesce
    a->ex->post_at(a->ex->now(), [a] {
      a->pending.store(false, std::memory_order_release);
      a->invoke();
    }, "irq");
  }

  void invoke() {
    UDRM_POINT("irq.handler");
    running.fetch_add(1, std::memory_order_seq_cst);
    if (depth.load(std::memory_order_seq_cst) > 0) {
      latched.store(true, std::memory_order_release);
    } else {
      slot.call([this](const IrqHandler& h) {
        AtomicSection irq;
        trace_irq(name.c_str());
        h();
        handled->fetch_add(1, std::memory_order_relaxed);
      });
    }
    running.fetch_sub(1, std::memory_order_seq_cst);
    idle.wake_up_all();
  }

  void synchronize() {
    idle.wait_event([this] { return running.load(std::memory_order_seq_cst) == 0; });
  }
};

IrqLine::IrqLine(World& w, std::string name)
    : world_(w), name_(std::move(name)), handled_(std::make_shared<std::atomic<uint64_t>>(0)) {}

IrqLine::~IrqLine() {
  if (action_) warn(LogCat::driver, "irq '%s' still requested when the line is destroyed", name_.c_str());
}

Ref<IrqLine::Action> IrqLine::current() const {
  std::lock_guard<SpinLock> l(lock_);
  return action_;
}

bool IrqLine::requested() const { return current() != nullptr; }

void IrqLine::raise() {
  Ref<Action> a = current();
  if (!a) {
    spurious_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Action::post(a);
}

void IrqLine::storm(int n) {
  for (int i = 0; i < n; ++i) raise();
}

void IrqLine::disable() {
  Ref<Action> a = current();
  if (!a) return;
  a->depth.fetch_add(1, std::memory_order_seq_cst);
  a->synchronize();
}

void IrqLine::enable() {
  Ref<Action> a = current();
  if (!a) return;
  int old = a->depth.fetch_sub(1, std::memory_order_seq_cst);
  if (old <= 0) {
    a->depth.fetch_add(1);
    warn(LogCat::driver, "Unbalanced enable for IRQ %s", name_.c_str());
    return;
  }
  if (old == 1 && a->latched.exchange(false)) Action::post(a);
}

void IrqLine::synchronize() {
  if (Ref<Action> a = current()) a->synchronize();
}

void IrqLine::devm_release(Action* a) {
  // free_irq: no new invocation after this, and wait for a running one.
  a->slot.unregister();
  a->synchronize();
  Ref<Action> line_ref;  // dropped after the unlock: a put is a scheduling point
  {
    std::lock_guard<SpinLock> l(a->line->lock_);
    if (a->line->action_.get() == a) line_ref.swap(a->line->action_);
  }
  line_ref.reset();
  log_dbg(LogCat::driver, "free_irq %s (%s)", a->line->name_.c_str(), a->name.c_str());
  a->put();  // the devm node's reference
}

int devm_request_irq(Device& dev, IrqLine& line, IrqHandler handler, const char* name) {
  if (UDRM_SHOULD_FAIL("irq.request")) return -ENOMEM;
  Ref<IrqLine::Action> a = adopt_ref(new IrqLine::Action());
  a->handler = std::move(handler);
  a->name = name ? name : "irq";
  a->line = &line;
  a->ex = &line.world_.executor();
  a->handled = line.handled_;
  a->slot.publish(&a->handler);
  {
    std::lock_guard<SpinLock> l(line.lock_);
    if (line.action_) return -EBUSY;
    line.action_ = a;
  }
  a->get();  // for the devm node
  return devm_add_action_or_reset(dev, &IrqLine::devm_release, a.get(), "devm_request_irq");
}

void devm_free_irq(Device& dev, IrqLine& line) {
  Ref<IrqLine::Action> a = line.current();
  if (!a) {
    warn(LogCat::driver, "%s: devm_free_irq of irq '%s' that is not requested", dev.name().c_str(), line.name().c_str());
    return;
  }
  devm_release_action(dev, &IrqLine::devm_release, a.get());
}

}  // namespace udrm::fakehw
