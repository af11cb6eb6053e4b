// udrm/drm/ioctl.h — the DRM ioctl entry point (drm_ioctl) on libdrm's uAPI.
//
// drm_ioctl(file, cmd, arg) decodes a request made with libdrm's DRM_IOCTL_* numbers and
// mirrors the kernel's order of checks: unplugged device → -ENODEV (before anything else);
// a type other than 'd' → -ENOTTY; an unknown or unimplemented number → -EINVAL; then
// permission flags (DRM_MASTER → -EACCES for a non-master, DRM_RENDER_ALLOW on render nodes),
// then the handler. The argument is copied in (the kernel copies min(user size, kernel size)
// and zero-extends), the handler runs on the copy inside the device's gate, and the result is
// copied out for _IOR/_IOWR requests. Nested user pointers go through copy_to_user /
// copy_from_user: -EFAULT for null, low (< 4096) and non-canonical pointers and, when a user
// arena is set (the fuzzer, the udrm-run server), anything outside it. Never -EAGAIN.
//
// Lifetime: stateless; the file holds the device. Context: process context, may sleep
// (blocking commits, vblank waits); callable after unplug (returns -ENODEV).
#pragma once
#include <cstddef>
#include <cstdint>

namespace udrm {

class DrmFile;

/// The whole ioctl: returns 0 / a non-negative result, or a negative errno.
int drm_ioctl(DrmFile& file, unsigned long cmd, void* arg);

/// Per-ioctl flags (DRM_AUTH, DRM_MASTER, DRM_ROOT_ONLY, DRM_RENDER_ALLOW).
enum IoctlFlags : uint32_t {
  kIoctlAuth = 1u << 0,
  kIoctlMaster = 1u << 1,
  kIoctlRootOnly = 1u << 2,
  kIoctlRenderAllow = 1u << 5,
};

/// One row of the table (for docs/uAPI coverage and udrmctl).
struct IoctlDesc {
  unsigned long cmd;   // DRM_IOCTL_*
  uint32_t flags;
  const char* name;    // "MODE_GETRESOURCES"
  bool implemented;
};
/// The table, in number order.
const IoctlDesc* drm_ioctl_table(std::size_t* count);
/// Name of an ioctl number (for traces), "?" if unknown.
const char* drm_ioctl_name(unsigned long cmd);

/// Copy helpers for nested user pointers: -EFAULT for a null or invalid pointer with a
/// non-zero length. (The kernel's copy_to_user/copy_from_user.)
int copy_to_user(uint64_t uptr, const void* src, std::size_t len);
int copy_from_user(void* dst, uint64_t uptr, std::size_t len);
/// Where user memory lives, for a transport that serves a client in another process (the
/// udrm-run server): copy_to_user/copy_from_user (including drm_ioctl's copy of the ioctl
/// argument) go through it after the pointer checks. Return 0 or -EFAULT.
class UserMemory {
 public:
  virtual int read(void* dst, uint64_t uptr, std::size_t len) = 0;
  virtual int write(uint64_t uptr, const void* src, std::size_t len) = 0;

 protected:
  ~UserMemory() = default;
};
/// Per thread; nullptr (the default) means this process's own memory.
void set_user_memory(UserMemory* m);

/// An optional address range outside of which user pointers are -EFAULT (the fuzzer's arena;
/// set to {0, 0} to disable). Per thread.
void set_user_arena(const void* base, std::size_t len);

}  // namespace udrm
