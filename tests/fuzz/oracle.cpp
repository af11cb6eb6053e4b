// The errno rules of the fuzz harness (oracle.h).
#include "oracle.h"

#include <drm.h>

#include <cerrno>
#include <cstddef>

#include "udrm/drm/ioctl.h"

namespace udrm::fuzz {
namespace {

const IoctlDesc* by_nr(unsigned nr) {
  static const IoctlDesc* table[256] = {};
  static const bool init = [] {
    std::size_t n = 0;
    const IoctlDesc* t = drm_ioctl_table(&n);
    for (std::size_t i = 0; i < n; ++i) table[_IOC_NR(t[i].cmd)] = &t[i];
    return true;
  }();
  (void)init;
  return table[nr & 0xff];
}

// The errnos the kernel's DRM core, KMS uAPI and atomic helpers return from ioctls.
bool kernel_errno(int e) {
  switch (e) {
    case EINVAL: case EFAULT: case ENOENT: case ENOMEM: case EACCES: case EPERM: case EBUSY:
    case ENOSPC: case ERANGE: case EOPNOTSUPP: case ENOSYS: case EOVERFLOW: case E2BIG:
    case EINTR: case ENXIO: case ETIMEDOUT: case ENODEV:
      return true;
    default:
      return false;
  }
}

}  // namespace

const char* check_ioctl_result(uint32_t cmd, int ret, const CallState& st) {
  if (st.closed) return ret == -EBADF ? nullptr : "an ioctl on a closed file must be -EBADF";
  if (st.unplugged) return ret == -ENODEV ? nullptr : "an ioctl on an unplugged device must be -ENODEV";
  if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE) return ret == -ENOTTY ? nullptr : "a non-DRM ioctl type must be -ENOTTY";
  const unsigned nr = _IOC_NR(cmd);
  const IoctlDesc* row = by_nr(nr);
  if ((nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) || !row)
    return ret == -EINVAL ? nullptr : "an unknown or driver-private ioctl number must be -EINVAL";
  if (ret == -EAGAIN) return "-EAGAIN from an ioctl (libdrm's drmIoctl would retry forever)";
  if (ret == -ENOTTY) return "-ENOTTY from a DRM ioctl number";
  // The argument is copied in before the permission check and the handler run.
  if (ret == -EFAULT) return nullptr;
  // Not implemented: no handler (-EINVAL before the copy) or drm_invalid_op (after the
  // permission check, so -EACCES comes first where it applies).
  if (!row->implemented)
    return ret == -EINVAL || ret == -EACCES ? nullptr : "an ioctl udrm does not implement must be -EINVAL";
  const bool denied = ((row->flags & kIoctlMaster) && !st.master) ||
                      (st.render && !(row->flags & kIoctlRenderAllow));
  if (denied) return ret == -EACCES ? nullptr : "a call the permission check refuses must be -EACCES";
  if (ret >= 0 || kernel_errno(-ret)) return nullptr;
  return "an errno the kernel's DRM ioctls do not return";
}

unsigned ioctl_rows() {
  std::size_t n = 0;
  drm_ioctl_table(&n);
  return static_cast<unsigned>(n);
}

uint32_t ioctl_row_cmd(unsigned row) {
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  return static_cast<uint32_t>(t[row % n].cmd);
}

int ioctl_row_of(uint32_t cmd) {
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  for (std::size_t i = 0; i < n; ++i)
    if (static_cast<uint32_t>(t[i].cmd) == cmd) return static_cast<int>(i);
  return -1;
}

}  // namespace udrm::fuzz
