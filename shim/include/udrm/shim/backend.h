// udrm/shim/backend.h — what the libc interposer (shim/src/interpose.cpp) talks to.
//
// The interposer turns a program's open("/dev/dri/card0") / ioctl / read / mmap / munmap /
// close / fstat and the /dev + /sys lookups libdrm makes into calls on a Backend and its
// Files. Two backends exist:
//   - local  (shim/src/backend_local.cpp): udrm devices of a World in this very process
//            (udrm::libdrm_shim, linked into tests and prototypes; no environment needed);
//   - remote (shim/src/backend_remote.cpp): a `udrm-run` server process, reached through the
//            SEQPACKET socket named by UDRM_SOCKET (libudrm-preload.so, LD_PRELOADed into
//            unmodified programs).
// Every method returns 0 / a non-negative count, or a negative errno (the interposer sets
// errno and returns -1 to the program).
//
// Lifetime: the Backend lives for the whole process (never destroyed: programs call libc from
// atexit handlers and static destructors). A File lives while the program's fd is open or any
// of its mappings is (a mapping holds the file, as a vma does).
// Context: any program thread; calls may block (a blocking read, a blocking atomic commit, a
// vblank wait) exactly as the kernel's would. Callable after unplug (-ENODEV from ioctl/mmap).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace udrm::shim {

/// One node under /dev/dri as the device side sees it now.
struct NodeInfo {
  int minor = -1;        // 0..63 card, 128..191 render (st_rdev = makedev(226, minor))
  std::string name;      // "card0", "renderD128"
  std::string driver;    // DRM_IOCTL_VERSION name: "udrm-simple", "udrm-soc"
  std::string devname;   // the platform device the DRM device hangs off, e.g. "udrm-soc-dc.0"
};

class File {
 public:
  virtual ~File() = default;
  /// The real fd the program holds (poll/select on it: readable exactly while events are
  /// queued). The interposer owns it from open() on and close()s it itself after close().
  virtual int fd() const = 0;
  virtual int minor() const = 0;
  /// The ioctl, with `arg` in this process's memory (nested pointers too).
  virtual int ioctl(unsigned long cmd, void* arg) = 0;
  /// drm_read: whole events only; -EAGAIN when empty and nonblock; blocks otherwise.
  virtual long read(void* buf, std::size_t len, bool nonblock) = 0;
  /// mmap(fd, offset) of a dumb buffer: maps it into this process, returns the address.
  virtual int mmap(std::size_t len, int prot, int flags, uint64_t offset, void** out) = 0;
  /// munmap of a mapping this File made: -EINVAL if (addr, len) is not one of them.
  virtual int munmap(void* addr, std::size_t len) = 0;
  /// The program closed its fd (the interposer then closes fd()). Mappings stay valid.
  virtual void close() = 0;
  /// Live mappings (the File object must stay until they are gone).
  virtual std::size_t mappings() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;  // "local", "remote"
  /// The nodes that exist now (the set changes at unbind/rebind: a rebind gets new minors).
  virtual std::vector<NodeInfo> nodes() = 0;
  /// open() of /dev/dri/<node>: -ENOENT if it does not exist (any more).
  virtual int open(const std::string& node, int flags, std::shared_ptr<File>* out) = 0;
};

/// The backend this process uses, chosen on first use (lazily: helper programs such as `sh`
/// load the preload library too and must pay nothing). In-process flavour (udrm::libdrm_shim):
/// always the local one, which looks up the process's Worlds at every nodes()/open(). Preload
/// flavour (libudrm-preload.so): the remote one when UDRM_SOCKET is set and reachable, else
/// nullptr (the interposer then passes everything through to libc). Defined once per flavour
/// (shim/src/select_inprocess.cpp, shim/src/select_preload.cpp).
Backend* backend();

/// The flavours' constructors (shim/src/backend_local.cpp, shim/src/backend_remote.cpp).
Backend* local_backend();                         // never nullptr
Backend* remote_backend(const std::string& socket_path);  // nullptr if it cannot connect

}  // namespace udrm::shim
