// Local backend: the udrm devices of the Worlds in this very process (udrm/shim/backend.h).
//
// nodes(): every registered minor of every live World (World::for_each, newest first; a name
// seen in a newer World hides the same name in an older one). open(): drm_open_node in the
// first World that has the node. A LocalFile wraps the Ref<DrmFile>; its fd is a dup of the
// DrmFile's eventfd (readable exactly while events are queued), kept by the interposer until
// the program closes it (the DrmFile closes its own eventfd at release, the dup stays valid).
//
// Lifetime: the backend is never destroyed; a LocalFile lives while the program's fd or a
// mapping does. Context: any program thread; open/ioctl/read may sleep as the kernel's would.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/drm/minor.h"
#include "udrm/shim/backend.h"

namespace udrm::shim {

namespace {

class LocalFile final : public File {
 public:
  LocalFile(Ref<DrmFile> f, int fd, int minor) : f_(std::move(f)), fd_(fd), minor_(minor) {}

  int fd() const override { return fd_; }
  int minor() const override { return minor_; }
  int ioctl(unsigned long cmd, void* arg) override { return drm_ioctl(*f_, cmd, arg); }
  long read(void* buf, std::size_t len, bool nonblock) override { return f_->read(buf, len, !nonblock); }
  int mmap(std::size_t len, int prot, int flags, uint64_t offset, void** out) override {
    if (flags & MAP_FIXED) return -EINVAL;  // the address is ours to choose
    return f_->mmap(offset, len, prot, out);
  }
  int munmap(void* addr, std::size_t len) override { return f_->munmap(addr, len); }
  void close() override { f_->close(); }
  std::size_t mappings() const override { return f_->mapping_count(); }

 private:
  Ref<DrmFile> f_;
  int fd_;
  int minor_;
};

class LocalBackend final : public Backend {
 public:
  const char* name() const override { return "local"; }

  std::vector<NodeInfo> nodes() override {
    std::vector<NodeInfo> out;
    std::set<std::string> seen;
    World::for_each([&](World& w) {
      for (const MinorInfo& m : drm_minors_list(w)) {
        if (!m.dev || !seen.insert(m.node).second) continue;
        NodeInfo n;
        n.minor = m.index;
        n.name = m.node;
        n.driver = m.dev->driver().name ? m.dev->driver().name : "";
        n.devname = m.dev->dev() ? m.dev->dev()->name() : n.driver;
        out.push_back(std::move(n));
      }
      return false;
    });
    return out;
  }

  int open(const std::string& node, int flags, std::shared_ptr<File>* out) override {
    Ref<DrmFile> f;
    int minor = -1;
    int r = -ENOENT;
    World::for_each([&](World& w) {
      r = drm_open_node(w, node, &f);
      if (r == -ENOENT) return false;  // not in this world: try the next one
      if (r == 0)
        for (const MinorInfo& m : drm_minors_list(w))
          if (m.node == node) minor = m.index;
      return true;
    });
    if (r < 0) return r;
    int fd = ::fcntl(f->poll_fd(), (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
    if (fd < 0) {
      int err = errno;
      f->close();
      return -err;
    }
    *out = std::make_shared<LocalFile>(std::move(f), fd, minor);
    return 0;
  }
};

}  // namespace

Backend* local_backend() {
  static Backend* b = new LocalBackend;  // never destroyed (udrm/shim/backend.h)
  return b;
}

}  // namespace udrm::shim
