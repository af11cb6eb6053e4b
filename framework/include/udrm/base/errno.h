// udrm/base/errno.h — error convention.
//
// udrm reports errors the kernel way: an int that is 0 on success or a negative errno
// (-ENOMEM, -ENODEV, ...). Pointer-returning calls return nullptr and, where a reason
// matters, take an `int* err`. Kernel-internal codes that <errno.h> lacks live here.
//
// Context: any.
#pragma once
#include <cerrno>

namespace udrm {

/// Driver asks to be probed again later (include/linux/errno.h: EPROBE_DEFER).
inline constexpr int EPROBE_DEFER = 517;
/// A wait was interrupted and the call may be restarted (kernel-internal).
inline constexpr int ERESTARTSYS = 512;

/// Human-readable name of an errno value (positive or negative), e.g. "ENOMEM".
const char* errno_name(int err) noexcept;

}  // namespace udrm
