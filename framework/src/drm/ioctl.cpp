// drm_ioctl (udrm/drm/ioctl.h): the table of drm.h / drm_mode.h ioctls with the kernel's
// flags, the dispatcher with the kernel's order of checks, and the user-copy helpers.
#include "udrm/drm/ioctl.h"

#include <drm.h>

#include <array>
#include <cstring>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/drm/drm_device.h"
#include "udrm/perf/task_work.h"
#include "udrm/drm/file.h"
#include "ioctl_internal.h"

namespace udrm {
namespace {

constexpr uint32_t kAuth = kIoctlAuth, kMaster = kIoctlMaster, kRoot = kIoctlRootOnly, kRender = kIoctlRenderAllow;

struct Row {
  unsigned long cmd;
  uint32_t flags;
  const char* name;
  ioctl::Handler fn;
};

#define ROW(ioctl_name, fn, flags) Row{DRM_IOCTL_##ioctl_name, (flags), #ioctl_name, (fn)}

// The kernel's drm_ioctls[] (legacy entries as drm_invalid_op, which is what a kernel without
// CONFIG_DRM_LEGACY has), in number order.
const Row kRows[] = {
    ROW(VERSION, ioctl::version, kRender),
    ROW(GET_UNIQUE, ioctl::get_unique, 0),
    ROW(GET_MAGIC, ioctl::get_magic, 0),
    ROW(IRQ_BUSID, ioctl::invalid_op, kMaster | kRoot),
    ROW(GET_MAP, ioctl::invalid_op, 0),
    ROW(GET_CLIENT, ioctl::get_client, 0),
    ROW(GET_STATS, ioctl::get_stats, 0),
    ROW(SET_VERSION, ioctl::set_version, kMaster),
    ROW(MODESET_CTL, ioctl::modeset_ctl, 0),
    ROW(GEM_CLOSE, ioctl::gem_close, kRender),
    ROW(GEM_FLINK, nullptr, kAuth),
    ROW(GEM_OPEN, nullptr, kAuth),
    ROW(GET_CAP, ioctl::get_cap, kRender),
    ROW(SET_CLIENT_CAP, ioctl::set_client_cap, 0),
    ROW(SET_UNIQUE, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(AUTH_MAGIC, ioctl::auth_magic, kMaster),
    ROW(BLOCK, ioctl::noop, kAuth | kMaster | kRoot),
    ROW(UNBLOCK, ioctl::noop, kAuth | kMaster | kRoot),
    ROW(CONTROL, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(ADD_MAP, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(ADD_BUFS, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(MARK_BUFS, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(INFO_BUFS, ioctl::invalid_op, kAuth),
    ROW(MAP_BUFS, ioctl::invalid_op, kAuth),
    ROW(FREE_BUFS, ioctl::invalid_op, kAuth),
    ROW(RM_MAP, ioctl::invalid_op, kAuth),
    ROW(SET_SAREA_CTX, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(GET_SAREA_CTX, ioctl::invalid_op, kAuth),
    ROW(SET_MASTER, ioctl::set_master, 0),
    ROW(DROP_MASTER, ioctl::drop_master, 0),
    ROW(ADD_CTX, ioctl::invalid_op, kAuth | kRoot),
    ROW(RM_CTX, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(MOD_CTX, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(GET_CTX, ioctl::invalid_op, kAuth),
    ROW(SWITCH_CTX, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(NEW_CTX, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(RES_CTX, ioctl::invalid_op, kAuth),
    ROW(ADD_DRAW, ioctl::noop, kAuth | kMaster | kRoot),
    ROW(RM_DRAW, ioctl::noop, kAuth | kMaster | kRoot),
    ROW(DMA, ioctl::invalid_op, kAuth),
    ROW(LOCK, ioctl::invalid_op, kAuth),
    ROW(UNLOCK, ioctl::invalid_op, kAuth),
    ROW(FINISH, ioctl::noop, kAuth),
    ROW(PRIME_HANDLE_TO_FD, ioctl::prime_handle_to_fd, kRender),
    ROW(PRIME_FD_TO_HANDLE, ioctl::prime_fd_to_handle, kRender),
    ROW(SG_ALLOC, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(SG_FREE, ioctl::invalid_op, kAuth | kMaster | kRoot),
    ROW(WAIT_VBLANK, ioctl::wait_vblank, 0),
    ROW(CRTC_GET_SEQUENCE, ioctl::crtc_get_sequence, 0),
    ROW(CRTC_QUEUE_SEQUENCE, ioctl::crtc_queue_sequence, 0),
    ROW(UPDATE_DRAW, ioctl::noop, kAuth | kMaster | kRoot),
    ROW(MODE_GETRESOURCES, ioctl::mode_getresources, 0),
    ROW(MODE_GETCRTC, ioctl::mode_getcrtc, 0),
    ROW(MODE_SETCRTC, ioctl::mode_setcrtc, kMaster),
    ROW(MODE_CURSOR, ioctl::mode_cursor, kMaster),
    ROW(MODE_GETGAMMA, ioctl::mode_getgamma, 0),
    ROW(MODE_SETGAMMA, ioctl::mode_setgamma, kMaster),
    ROW(MODE_GETENCODER, ioctl::mode_getencoder, 0),
    ROW(MODE_GETCONNECTOR, ioctl::mode_getconnector, 0),
    ROW(MODE_ATTACHMODE, ioctl::noop, kMaster),
    ROW(MODE_DETACHMODE, ioctl::noop, kMaster),
    ROW(MODE_GETPROPERTY, ioctl::mode_getproperty, 0),
    ROW(MODE_SETPROPERTY, ioctl::mode_setproperty, kMaster),
    ROW(MODE_GETPROPBLOB, ioctl::mode_getpropblob, 0),
    ROW(MODE_GETFB, ioctl::mode_getfb, 0),
    ROW(MODE_ADDFB, ioctl::mode_addfb, 0),
    ROW(MODE_RMFB, ioctl::mode_rmfb, 0),
    ROW(MODE_PAGE_FLIP, ioctl::mode_page_flip, kMaster),
    ROW(MODE_DIRTYFB, ioctl::mode_dirtyfb, kMaster),
    // Linux 6.1 (the kernel udrm mirrors, kernel-observed.md): dumb buffers are not
    // render-allowed; a render client gets -EACCES.
    ROW(MODE_CREATE_DUMB, ioctl::create_dumb, 0),
    ROW(MODE_MAP_DUMB, ioctl::map_dumb, 0),
    ROW(MODE_DESTROY_DUMB, ioctl::destroy_dumb, 0),
    ROW(MODE_GETPLANERESOURCES, ioctl::mode_getplaneresources, 0),
    ROW(MODE_GETPLANE, ioctl::mode_getplane, 0),
    ROW(MODE_SETPLANE, ioctl::mode_setplane, kMaster),
    ROW(MODE_ADDFB2, ioctl::mode_addfb2, 0),
    ROW(MODE_OBJ_GETPROPERTIES, ioctl::mode_obj_getproperties, 0),
    ROW(MODE_OBJ_SETPROPERTY, ioctl::mode_obj_setproperty, kMaster),
    ROW(MODE_CURSOR2, ioctl::mode_cursor2, kMaster),
    ROW(MODE_ATOMIC, ioctl::mode_atomic, kMaster),
    ROW(MODE_CREATEPROPBLOB, ioctl::mode_createpropblob, 0),
    ROW(MODE_DESTROYPROPBLOB, ioctl::mode_destroypropblob, 0),
    ROW(SYNCOBJ_CREATE, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_DESTROY, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_HANDLE_TO_FD, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_FD_TO_HANDLE, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_WAIT, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_RESET, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_SIGNAL, ioctl::not_supported, kRender),
    ROW(MODE_CREATE_LEASE, nullptr, kMaster),
    ROW(MODE_LIST_LESSEES, nullptr, kMaster),
    ROW(MODE_GET_LEASE, nullptr, kMaster),
    ROW(MODE_REVOKE_LEASE, nullptr, kMaster),
    ROW(SYNCOBJ_TIMELINE_WAIT, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_QUERY, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_TRANSFER, ioctl::not_supported, kRender),
    ROW(SYNCOBJ_TIMELINE_SIGNAL, ioctl::not_supported, kRender),
    ROW(MODE_GETFB2, nullptr, 0),
};
#undef ROW

struct Table {
  std::array<const Row*, 256> by_nr{};
  std::size_t core_count = 0;  // DRM_CORE_IOCTL_COUNT
  std::vector<IoctlDesc> descs;
  Table() {
    for (const Row& r : kRows) {
      by_nr[_IOC_NR(r.cmd)] = &r;
      core_count = std::max<std::size_t>(core_count, _IOC_NR(r.cmd) + 1);
      descs.push_back(IoctlDesc{r.cmd, r.flags, r.name, r.fn != nullptr && r.fn != &ioctl::invalid_op});
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

// drm_ioctl_permit. Every udrm client has CAP_SYS_ADMIN (ROOT_ONLY passes) and is
// authenticated (AUTH passes); there are no control nodes any more.
int permit(uint32_t flags, DrmFile& file) {
  if ((flags & kIoctlAuth) && file.minor_type() != MinorType::render && !file.authenticated) return -EACCES;
  if ((flags & kIoctlMaster) && !file.is_master()) return -EACCES;
  if (!(flags & kIoctlRenderAllow) && file.minor_type() == MinorType::render) return -EACCES;
  return 0;
}

struct Arena {
  uintptr_t base = 0;
  std::size_t len = 0;
};
thread_local Arena t_arena;
thread_local UserMemory* t_user_memory = nullptr;

constexpr uint64_t kUserTop = 0x0000800000000000ull;  // first non-canonical address (x86-64)

bool user_range_ok(uint64_t p, std::size_t len) {
  if (len == 0) return true;
  if (p < 4096 || p >= kUserTop || len > kUserTop - p) return false;
  if (t_arena.len) {
    if (p < t_arena.base || p - t_arena.base > t_arena.len || len > t_arena.len - (p - t_arena.base)) return false;
  }
  return true;
}

}  // namespace

int copy_to_user(uint64_t uptr, const void* src, std::size_t len) {
  if (!user_range_ok(uptr, len)) return -EFAULT;
  if (!len) return 0;
  if (t_user_memory) return t_user_memory->write(uptr, src, len) ? -EFAULT : 0;
  std::memcpy(reinterpret_cast<void*>(static_cast<uintptr_t>(uptr)), src, len);
  return 0;
}

int copy_from_user(void* dst, uint64_t uptr, std::size_t len) {
  if (!user_range_ok(uptr, len)) return -EFAULT;
  if (!len) return 0;
  if (t_user_memory) return t_user_memory->read(dst, uptr, len) ? -EFAULT : 0;
  std::memcpy(dst, reinterpret_cast<const void*>(static_cast<uintptr_t>(uptr)), len);
  return 0;
}

void set_user_memory(UserMemory* m) { t_user_memory = m; }

void set_user_arena(const void* base, std::size_t len) {
  t_arena.base = reinterpret_cast<uintptr_t>(base);
  t_arena.len = base ? len : 0;
}

const IoctlDesc* drm_ioctl_table(std::size_t* count) {
  const Table& t = table();
  if (count) *count = t.descs.size();
  return t.descs.data();
}

const char* drm_ioctl_name(unsigned long cmd) {
  if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE) return "?";
  const Row* r = table().by_nr[_IOC_NR(cmd)];
  return r ? r->name : "?";
}

int drm_ioctl(DrmFile& file, unsigned long cmd_arg, void* arg) {
  const auto cmd = static_cast<uint32_t>(cmd_arg);
  UDRM_POINT("drm.ioctl");
  // Work interrupt context handed to this client runs when the call returns, in its context
  // (task_work on return to user), after the gate and every lock of the call are released.
  ReturnToUser rtu(file.task_work);
  // call(): -EBADF after close, -ENODEV once unplugged — before the number is even looked at.
  return file.call([&](DrmDevice& dev) -> int {
    if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE) return -ENOTTY;
    const unsigned nr = _IOC_NR(cmd);
    const Table& t = table();
    // Driver-private numbers (DRM_COMMAND_BASE..END): udrm drivers have none.
    if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) return -EINVAL;
    if (nr >= t.core_count) return -EINVAL;
    const Row* row = t.by_nr[nr];
    if (!row || !row->fn) return -EINVAL;

    const uint32_t drv_size = _IOC_SIZE(row->cmd);
    uint32_t in_size = _IOC_SIZE(cmd), out_size = _IOC_SIZE(cmd);
    if ((cmd & row->cmd & IOC_IN) == 0) in_size = 0;
    if ((cmd & row->cmd & IOC_OUT) == 0) out_size = 0;
    const uint32_t ksize = std::max({in_size, out_size, drv_size});

    alignas(16) unsigned char stack_kdata[128];
    std::vector<unsigned char> heap;
    unsigned char* kdata = stack_kdata;
    if (ksize > sizeof(stack_kdata)) {
      heap.resize(ksize);
      kdata = heap.data();
    }
    const auto uarg = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg));
    if (copy_from_user(kdata, uarg, in_size)) return -EFAULT;
    if (ksize > in_size) std::memset(kdata + in_size, 0, ksize - in_size);

    int ret = permit(row->flags, file);
    if (!ret) ret = row->fn(dev, kdata, file);
    if (copy_to_user(uarg, kdata, out_size)) ret = -EFAULT;
    if (UDRM_WARN_ON(ret == -EAGAIN, LogCat::drm)) ret = -EBUSY;  // libdrm would spin forever
    // An interrupted wait: the kernel restarts the syscall or returns -EINTR to userspace;
    // udrm has no restart, so the caller sees -EINTR (and libdrm's drmIoctl retries it).
    if (ret == -ERESTARTSYS) ret = -EINTR;
    if (ret) log_dbg(LogCat::drm, "%s: ioctl %s -> %d", dev.driver().name, row->name, ret);
    return ret;
  });
}

}  // namespace udrm
