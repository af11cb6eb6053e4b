// udrm/core/system_wq.h — the World's shared workqueues (system_wq, system_unbound_wq).
//
// The kernel's global workqueues, one pair per World (so simulated machines stay independent),
// running on the world's executor: system_wq for short items, system_unbound_wq for long ones
// such as nonblocking atomic commits (commit_tail). Both are unordered: items run
// concurrently on the executor's workers.
//
// Lifetime: created on first use, destroyed (drained) with the World.
// Context: process context (the lookup takes the world's extension mutex); queueing on the
// returned queue: any context.
#pragma once
#include <memory>

#include "udrm/base/workqueue.h"

namespace udrm {

class World;

/// system_wq of `world`.
WorkQueue& system_wq(World& world);
/// system_unbound_wq of `world`.
WorkQueue& system_unbound_wq(World& world);
/// The unbound queue, kept alive by the returned pointer even if the World goes first.
std::shared_ptr<WorkQueue> system_unbound_wq_ref(World& world);

}  // namespace udrm
