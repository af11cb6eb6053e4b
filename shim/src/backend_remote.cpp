// Remote backend: a udrm-run server reached over the SEQPACKET socket named by UDRM_SOCKET
// (udrm/shim/backend.h, wire format in udrm/shim/protocol.h).
//
// One connection per opened file. The File's fd() is the server DrmFile's eventfd, received
// with SCM_RIGHTS, so poll/select on it are native. ioctl ships the top-level argument and
// answers the server's PEEK/POKE requests for nested pointers; this process's memory is read
// and written with process_vm_readv/writev on itself, so a bad pointer is -EFAULT, never a
// crash. Exchanges on one connection are serialised (one request in flight per file).
// No framework code: this file is part of libudrm-preload.so. libc calls the interposer wraps
// (close, mmap, munmap, stat) are made as raw syscalls.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "udrm/shim/backend.h"
#include "udrm/shim/protocol.h"

namespace udrm::shim {

namespace {

namespace p = proto;

int safe_read(void* dst, uint64_t addr, std::size_t len) {
  if (!len) return 0;
  iovec l{dst, len};
  iovec r{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
  ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

int safe_write(uint64_t addr, const void* src, std::size_t len) {
  if (!len) return 0;
  iovec l{const_cast<void*>(src), len};
  iovec r{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
  ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

// How many bytes from addr (up to len) this process may write: probed page by page by reading
// each chunk and writing the same bytes back (process_vm_*, so a bad page is an error, never a
// fault). A READ asks the server for no more than that, so every event the server dequeues can
// be delivered: drm_read never loses an event to a bad buffer.
std::size_t writable_prefix(uint64_t addr, std::size_t len) {
  constexpr uint64_t kPage = 4096;
  char chunk[kPage];
  std::size_t done = 0;
  while (done < len) {
    const uint64_t a = addr + done;
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(len - done, kPage - (a % kPage)));
    if (safe_read(chunk, a, n) || safe_write(a, chunk, n)) break;
    done += n;
  }
  return done;
}

void* sys_mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off) {
  long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
  return r < 0 && r > -4096 ? MAP_FAILED : reinterpret_cast<void*>(r);
}

constexpr std::size_t kPage = 4096;
std::size_t page_round(std::size_t n) { return (n + kPage - 1) & ~(kPage - 1); }

class RemoteFile final : public File {
 public:
  RemoteFile(int sock, int evfd, int minor) : sock_(sock), evfd_(evfd), minor_(minor) {}
  ~RemoteFile() override { p::close_fd(sock_); }

  int fd() const override { return evfd_; }
  int minor() const override { return minor_; }

  int ioctl(unsigned long cmd, void* arg) override {
    const std::size_t size = _IOC_SIZE(cmd);
    const uint64_t addr = reinterpret_cast<uintptr_t>(arg);
    uint8_t small[256];
    std::unique_ptr<uint8_t[]> big;
    uint8_t* buf = small;
    if (size > sizeof(small)) {
      big.reset(new (std::nothrow) uint8_t[size]);
      if (!big) return -ENOMEM;
      buf = big.get();
    }
    p::Header h;
    h.op = p::kOpIoctl;
    h.a0 = cmd;
    h.a1 = addr;
    std::size_t sent = size;
    if (safe_read(buf, addr, size)) {
      h.flags = p::kFlagArgFault;
      sent = 0;
    }
    std::lock_guard<std::mutex> l(mu_);
    if (dead_) return -ENODEV;
    if (int r = p::send_msg(sock_, h, buf, sent)) return lost(r);
    bool poke_fault = false;
    for (;;) {
      if (int r = p::recv_msg(sock_, &msg_)) return lost(r);
      p::close_fd(msg_.fd);
      const p::Header& m = msg_.h;
      if (m.op == p::kOpPeek && !(m.flags & p::kFlagReply)) {
        if (m.a1 > p::kMaxPayload) return lost(-EBADMSG);
        p::Header rh;
        rh.op = p::kOpPeek;
        rh.flags = p::kFlagReply;
        if (!peek_buf_) peek_buf_.reset(new (std::nothrow) uint8_t[p::kMaxPayload]);
        if (!peek_buf_) return lost(-ENOMEM);
        rh.status = safe_read(peek_buf_.get(), m.a0, m.a1);
        if (int r = p::send_msg(sock_, rh, peek_buf_.get(), rh.status ? 0 : m.a1)) return lost(r);
      } else if (m.op == p::kOpPoke && !(m.flags & p::kFlagReply)) {
        if (safe_write(m.a0, msg_.payload(), msg_.len())) poke_fault = true;
      } else if (m.op == p::kOpIoctl && (m.flags & p::kFlagReply)) {
        int status = m.status;
        if (m.flags & p::kFlagArgWritten) {
          if (msg_.len() != size) return lost(-EBADMSG);
          if (safe_write(addr, msg_.payload(), size) && status >= 0) status = -EFAULT;
        }
        if (poke_fault && status >= 0) status = -EFAULT;
        return status;
      } else {
        return lost(-EBADMSG);
      }
    }
  }

  long read(void* buf, std::size_t len, bool nonblock) override {
    for (;;) {
      long r = read_once(buf, len);
      if (r != -EAGAIN || nonblock) return r;
      pollfd pfd{evfd_, POLLIN, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return -errno;
    }
  }

  int mmap(std::size_t len, int prot, int flags, uint64_t offset, void** out) override {
    p::Header h;
    h.op = p::kOpMmap;
    h.a0 = offset;
    h.a1 = len;
    h.flags = 0;
    h.status = prot;
    int memfd = -1;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (dead_) return -ENODEV;
      if (int r = exchange(h)) return r;
      if (msg_.h.status < 0) {
        p::close_fd(msg_.fd);
        return msg_.h.status;
      }
      if (msg_.fd < 0) return lost(-EBADMSG);
      memfd = msg_.fd;
      id = msg_.h.a0;
    }
    int mflags = flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE);
    void* addr = sys_mmap(nullptr, len, prot, mflags, memfd, 0);
    int err = addr == MAP_FAILED ? -errno : 0;
    p::close_fd(memfd);
    if (err) {
      unmap_remote(id);
      return err;
    }
    std::lock_guard<std::mutex> l(maps_mu_);
    maps_[reinterpret_cast<uintptr_t>(addr)] = Mapping{len, id};
    *out = addr;
    return 0;
  }

  int munmap(void* addr, std::size_t len) override {
    Mapping m;
    {
      std::lock_guard<std::mutex> l(maps_mu_);
      auto it = maps_.find(reinterpret_cast<uintptr_t>(addr));
      if (it == maps_.end() || page_round(it->second.len) != page_round(len)) return -EINVAL;
      m = it->second;
      syscall(SYS_munmap, addr, m.len);
      maps_.erase(it);
    }
    unmap_remote(m.id);
    maybe_disconnect();
    return 0;
  }

  void close() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) return;
      closed_ = true;
      if (!dead_) {
        p::Header h;
        h.op = p::kOpClose;
        if (exchange(h) == 0) p::close_fd(msg_.fd);
      }
    }
    maybe_disconnect();
  }

  std::size_t mappings() const override {
    std::lock_guard<std::mutex> l(maps_mu_);
    return maps_.size();
  }

 private:
  struct Mapping {
    std::size_t len = 0;
    uint64_t id = 0;
  };

  // A transport failure: the server is gone or broke the protocol. The file behaves as
  // unplugged from now on. Called with mu_ held.
  int lost(int err) {
    (void)err;
    dead_ = true;
    ::shutdown(sock_, SHUT_RDWR);
    return -ENODEV;
  }

  // Send a request and receive its reply (same op, REPLY set). Called with mu_ held.
  int exchange(p::Header h) {
    if (int r = p::send_msg(sock_, h)) return lost(r);
    if (int r = p::recv_msg(sock_, &msg_)) return lost(r);
    if (msg_.h.op != h.op || !(msg_.h.flags & p::kFlagReply)) {
      p::close_fd(msg_.fd);
      return lost(-EBADMSG);
    }
    return 0;
  }

  long read_once(void* buf, std::size_t len) {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return -EBADF;
    if (dead_) return -EAGAIN;  // nothing more will ever be queued
    const std::size_t want = len < p::kMaxPayload ? len : p::kMaxPayload;
    // Ask only for what can be written: the events stay queued on the server otherwise (the
    // kernel's drm_read puts a faulting event back).
    const std::size_t room = writable_prefix(reinterpret_cast<uintptr_t>(buf), want);
    if (room == 0 && want != 0) return -EFAULT;
    p::Header h;
    h.op = p::kOpRead;
    h.a0 = room;
    if (int r = exchange(h)) return r;
    p::close_fd(msg_.fd);
    long n = msg_.h.status;
    // Nothing fitted in a buffer cut short by a bad page: the kernel's copy of the first event
    // would have faulted.
    if (n == 0 && room < want) return -EFAULT;
    if (n <= 0) return n;
    if (static_cast<std::size_t>(n) != msg_.len() || static_cast<std::size_t>(n) > room) return lost(-EBADMSG);
    if (safe_write(reinterpret_cast<uintptr_t>(buf), msg_.payload(), msg_.len())) return -EFAULT;  // unmapped meanwhile
    return n;
  }

  void unmap_remote(uint64_t id) {
    std::lock_guard<std::mutex> l(mu_);
    if (dead_) return;
    p::Header h;
    h.op = p::kOpMunmap;
    h.a0 = id;
    if (exchange(h) == 0) p::close_fd(msg_.fd);
  }

  // After close() and the last munmap the connection ends (the server releases the file).
  void maybe_disconnect() {
    std::lock_guard<std::mutex> l(mu_);
    if (!closed_ || dead_ || mappings() != 0) return;
    dead_ = true;
    ::shutdown(sock_, SHUT_RDWR);
  }

  const int sock_;
  const int evfd_;
  const int minor_;
  std::mutex mu_;  // one exchange at a time on sock_; guards msg_, dead_, closed_
  p::Msg msg_;
  std::unique_ptr<uint8_t[]> peek_buf_;
  bool dead_ = false;
  bool closed_ = false;
  mutable std::mutex maps_mu_;  // guards maps_; lock order: mu_ before maps_mu_
  std::map<uintptr_t, Mapping> maps_;
};

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(std::string path) : path_(std::move(path)) {}
  const char* name() const override { return "remote"; }

  std::vector<NodeInfo> nodes() override {
    std::vector<NodeInfo> out;
    int s = p::connect_to(path_);
    if (s < 0) return out;
    p::Header h;
    h.op = p::kOpNodes;
    p::Msg m;
    std::vector<p::Node> nodes;
    if (p::send_msg(s, h) == 0 && p::recv_msg(s, &m) == 0) {
      p::close_fd(m.fd);
      if (m.h.op == p::kOpNodes && (m.h.flags & p::kFlagReply) && m.h.status == 0 &&
          p::decode_nodes(m.payload(), m.len(), &nodes) == 0) {
        for (auto& n : nodes) out.push_back(NodeInfo{n.minor, n.name, n.driver, n.devname});
      }
    }
    p::close_fd(s);
    return out;
  }

  int open(const std::string& node, int flags, std::shared_ptr<File>* out) override {
    if (node.empty() || node.size() > 64) return -ENOENT;
    int s = p::connect_to(path_);
    if (s < 0) return -ENOENT;
    p::Header h;
    h.op = p::kOpOpen;
    h.a0 = static_cast<uint32_t>(flags);
    p::Msg m;
    int r = p::send_msg(s, h, node.data(), node.size());
    // A full server answers EMFILE before it reads the request (and closes): read the answer
    // even when the send already saw the connection closed.
    const int rr = p::recv_msg(s, &m);
    if (rr == 0 && m.h.op == p::kOpError && m.h.status < 0)
      r = m.h.status;
    else if (r == 0)
      r = rr;
    if (r == 0 && (m.h.op != p::kOpOpen || !(m.h.flags & p::kFlagReply))) r = -EIO;
    if (r == 0 && m.h.status < 0) r = m.h.status;
    if (r == 0 && m.fd < 0) r = -EIO;
    if (r) {
      p::close_fd(m.fd);
      p::close_fd(s);
      return r == -ECONNRESET ? -ENOENT : r;
    }
    if (!(flags & O_CLOEXEC)) ::fcntl(m.fd, F_SETFD, 0);
    auto f = std::make_shared<RemoteFile>(s, m.fd, static_cast<int>(m.h.a0));
    *out = std::move(f);
    return 0;
  }

 private:
  std::string path_;
};

}  // namespace

Backend* remote_backend(const std::string& socket_path) {
  struct stat st;
  if (syscall(SYS_newfstatat, AT_FDCWD, socket_path.c_str(), &st, 0) != 0 || !S_ISSOCK(st.st_mode)) return nullptr;
  static std::mutex mu;
  static std::map<std::string, Backend*>* all = new std::map<std::string, Backend*>;  // never freed
  std::lock_guard<std::mutex> l(mu);
  Backend*& b = (*all)[socket_path];
  if (!b) b = new RemoteBackend(socket_path);
  return b;
}

}  // namespace udrm::shim
