// The World's system workqueues (udrm/core/system_wq.h).
#include "udrm/core/system_wq.h"

#include "udrm/core/world.h"

namespace udrm {
namespace {

struct SystemWorkqueues {
  explicit SystemWorkqueues(World& w)
      : events(w.executor(), "events", false), events_unbound(w.executor(), "events_unbound", false) {}
  WorkQueue events;
  WorkQueue events_unbound;
};

}  // namespace

WorkQueue& system_wq(World& world) { return world.ext<SystemWorkqueues>().events; }
WorkQueue& system_unbound_wq(World& world) { return world.ext<SystemWorkqueues>().events_unbound; }
std::shared_ptr<WorkQueue> system_unbound_wq_ref(World& world) {
  auto q = world.ext_shared<SystemWorkqueues>();
  return std::shared_ptr<WorkQueue>(q, &q->events_unbound);
}

}  // namespace udrm
