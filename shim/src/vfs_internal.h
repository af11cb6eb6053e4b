// vfs_internal.h — the /dev/dri and /sys/dev/char/226:* tree the libdrm shim serves.
//
// libdrm finds devices through paths (libdrm-clients.md §1): /dev/dri (opendir, stat of each
// node), /sys/dev/char/226:M/device/drm (must exist), .../device/subsystem (a link whose
// basename is "platform"), .../device/uevent (OF_FULLNAME, OF_COMPATIBLE_*, MODALIAS) and
// /sys/dev/char/226:M/uevent (DEVNAME). The tree is generated from Backend::nodes() at every
// lookup, so it follows unbind/rebind (a rebind's new minors appear, the old ones vanish).
// While a backend is active the host's own /dev/dri and DRM sysfs entries are hidden.
//
// Per node (M = minor, D = the DRM device's platform device, DRV = its driver name):
//   /dev/dri                          dir: every node name
//   /dev/dri/<node>                   char device 226:M, mode 0666
//   /sys/dev/char/226:M               link -> dir {dev, device, subsystem, uevent}
//   /sys/dev/char/226:M/uevent        MAJOR, MINOR, DEVNAME=dri/<node>
//   /sys/dev/char/226:M/device        link -> dir {drm, driver, subsystem, uevent}
//   .../device/subsystem              link "../../../bus/platform"
//   .../device/driver                 link "../../../bus/platform/drivers/DRV"
//   .../device/uevent                 DRIVER=DRV, OF_NAME=D, OF_FULLNAME=/udrm/D,
//                                     OF_COMPATIBLE_0=udrm,DRV, OF_COMPATIBLE_N=1,
//                                     MODALIAS=of:NDT(null)Cudrm,DRV
//   .../device/drm                    dir: the nodes of the same DRM device (card + render)
//   .../device/drm/<node>             dir {dev, uevent}
//
// Lifetime: stateless. Context: any thread; lookup() calls Backend::nodes() (may block on a
// remote backend), so callers must not hold the interposer's locks.
#pragma once
#include <sys/stat.h>

#include <string>
#include <vector>

#include "udrm/shim/backend.h"

namespace udrm::shim::vfs {

/// Whether `path` is in the served tree ("/dev/dri", "/dev/dri/…", "/sys/dev/char/226:…").
/// Cheap (a prefix test, no backend call): every path-taking libc call asks it first.
bool claims(const char* path) noexcept;

struct Entry {
  enum Type { dir, chr, reg, lnk } type = dir;
  int minor = -1;                    // chr
  std::string text;                  // reg: contents; lnk: target
  std::vector<std::string> entries;  // dir: names (without "." and "..")
  std::string path;                  // the normalised path (what realpath returns)
};

/// Resolve a claimed path against the nodes that exist now. follow: a final symlink is
/// followed (stat/open), else reported as lnk (lstat/readlink). 0, -ENOENT, -ENOTDIR.
int lookup(Backend& b, const char* path, bool follow, Entry* out);

/// The stat of an entry (directories 0555, files 0444, links 0777, char devices 0666).
void fill_stat(const Entry& e, struct stat* st);
/// The stat of an open node (fstat on the program's fd).
void fill_stat_node(int minor, struct stat* st);

}  // namespace udrm::shim::vfs
