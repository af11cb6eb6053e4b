// The process-wide trace hook (udrm/base/trace_hook.h).
#include "udrm/base/trace_hook.h"

#include "udrm/base/errno.h"
#include "udrm/base/log.h"

namespace udrm {

namespace detail {
CallbackSlot<TraceHook> g_trace_hook;
}

int trace_hook_register(const TraceHook* h) {
  if (!h) return -EINVAL;
  return detail::g_trace_hook.publish_if_empty(h) ? 0 : -EBUSY;
}

void trace_hook_unregister(const TraceHook* h) {
  if (detail::g_trace_hook.get() != h) {
    warn(LogCat::core, "trace_hook_unregister of a hook that is not registered");
    return;
  }
  detail::g_trace_hook.unregister();
}

}  // namespace udrm
