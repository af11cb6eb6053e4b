// Internal to the ioctl layer: handler signature and the handlers the table in ioctl.cpp names.
//
// A handler gets the kernel-side copy of the argument (zero-extended to the kernel's struct
// size) and runs inside the device's gate (DrmFile::call). Nested user pointers go through
// copy_to_user / copy_from_user. Never -EAGAIN.
//
// Lifetime: stateless. Context: process context, may sleep.
#pragma once
#include <cstdint>

namespace udrm {

class DrmDevice;
class DrmFile;
class ModeConfig;

namespace ioctl {

using Handler = int (*)(DrmDevice& dev, void* data, DrmFile& file);

/// The device's mode config if it is a KMS device (DRIVER_MODESET and a ModeConfig), else
/// nullptr: KMS handlers then return -EOPNOTSUPP, as drm_core_check_feature(DRIVER_MODESET)
/// makes them do in the kernel.
ModeConfig* kms(DrmDevice& dev);

// core (ioctl_core.cpp)
int version(DrmDevice&, void*, DrmFile&);
int get_unique(DrmDevice&, void*, DrmFile&);
int get_magic(DrmDevice&, void*, DrmFile&);
int get_client(DrmDevice&, void*, DrmFile&);
int get_stats(DrmDevice&, void*, DrmFile&);
int get_cap(DrmDevice&, void*, DrmFile&);
int set_client_cap(DrmDevice&, void*, DrmFile&);
int set_version(DrmDevice&, void*, DrmFile&);
int auth_magic(DrmDevice&, void*, DrmFile&);
int set_master(DrmDevice&, void*, DrmFile&);
int drop_master(DrmDevice&, void*, DrmFile&);
int modeset_ctl(DrmDevice&, void*, DrmFile&);
int noop(DrmDevice&, void*, DrmFile&);
int invalid_op(DrmDevice&, void*, DrmFile&);
int not_supported(DrmDevice&, void*, DrmFile&);  // -EOPNOTSUPP (syncobj without DRIVER_SYNCOBJ)

// GEM and dumb buffers (ioctl_gem.cpp)
int gem_close(DrmDevice&, void*, DrmFile&);
int prime_handle_to_fd(DrmDevice&, void*, DrmFile&);
int prime_fd_to_handle(DrmDevice&, void*, DrmFile&);
int create_dumb(DrmDevice&, void*, DrmFile&);
int map_dumb(DrmDevice&, void*, DrmFile&);
int destroy_dumb(DrmDevice&, void*, DrmFile&);

// KMS (ioctl_mode_*.cpp, ioctl_vblank.cpp)
int mode_getresources(DrmDevice&, void*, DrmFile&);
int mode_getcrtc(DrmDevice&, void*, DrmFile&);
int mode_setcrtc(DrmDevice&, void*, DrmFile&);
int mode_cursor(DrmDevice&, void*, DrmFile&);
int mode_cursor2(DrmDevice&, void*, DrmFile&);
int mode_getgamma(DrmDevice&, void*, DrmFile&);
int mode_setgamma(DrmDevice&, void*, DrmFile&);
int mode_getencoder(DrmDevice&, void*, DrmFile&);
int mode_getconnector(DrmDevice&, void*, DrmFile&);
int mode_getproperty(DrmDevice&, void*, DrmFile&);
int mode_setproperty(DrmDevice&, void*, DrmFile&);
int mode_getpropblob(DrmDevice&, void*, DrmFile&);
int mode_getfb(DrmDevice&, void*, DrmFile&);
int mode_addfb(DrmDevice&, void*, DrmFile&);
int mode_addfb2(DrmDevice&, void*, DrmFile&);
int mode_rmfb(DrmDevice&, void*, DrmFile&);
int mode_page_flip(DrmDevice&, void*, DrmFile&);
int mode_dirtyfb(DrmDevice&, void*, DrmFile&);
int mode_getplaneresources(DrmDevice&, void*, DrmFile&);
int mode_getplane(DrmDevice&, void*, DrmFile&);
int mode_setplane(DrmDevice&, void*, DrmFile&);
int mode_obj_getproperties(DrmDevice&, void*, DrmFile&);
int mode_obj_setproperty(DrmDevice&, void*, DrmFile&);
int mode_atomic(DrmDevice&, void*, DrmFile&);
int mode_createpropblob(DrmDevice&, void*, DrmFile&);
int mode_destroypropblob(DrmDevice&, void*, DrmFile&);
int wait_vblank(DrmDevice&, void*, DrmFile&);
int crtc_get_sequence(DrmDevice&, void*, DrmFile&);
int crtc_queue_sequence(DrmDevice&, void*, DrmFile&);

}  // namespace ioctl
}  // namespace udrm
