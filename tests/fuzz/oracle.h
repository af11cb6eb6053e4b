// tests/fuzz/oracle.h — what the kernel's drm_ioctl may answer: the errno rules every ioctl
// result of the fuzz harness is held to.
//
// The order of checks is the kernel's: a closed file is -EBADF (the VFS), an unplugged device
// -ENODEV (drm_dev_enter, before the number is looked at), a type other than 'd' -ENOTTY, a
// driver-private or unknown number -EINVAL; then the argument copy (-EFAULT), permissions
// (-EACCES for DRM_MASTER rows on a non-master, rows without DRM_RENDER_ALLOW on a render
// node) and the handler. A handler may return 0, a positive value, or an errno from the set
// the kernel's DRM core and atomic helpers use; never -EAGAIN (libdrm's drmIoctl would retry
// forever), never an internal code (-EDEADLK backoff, -ERESTARTSYS, -EPROBE_DEFER).
//
// Lifetime: stateless (the ioctl table is read once). Context: any thread.
#pragma once
#include <cstdint>

namespace udrm::fuzz {

/// What the caller knew about the file just before the call.
struct CallState {
  bool closed = false;      // close() was called on the file
  bool unplugged = false;   // its DRM device was unplugged
  bool render = false;      // opened on the render node
  bool master = false;      // was the device's master
};

/// nullptr if `ret` is an answer the kernel could give to `cmd` in that state, else a reason.
const char* check_ioctl_result(uint32_t cmd, int ret, const CallState& st);

/// Number of rows of drm_ioctl_table() and the command of a row.
unsigned ioctl_rows();
uint32_t ioctl_row_cmd(unsigned row);
/// The row whose command is exactly `cmd`, or -1.
int ioctl_row_of(uint32_t cmd);

}  // namespace udrm::fuzz
