// One client connection of the udrm-run server (connection.h).
#include "connection.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "server.h"
#include "trace.h"
#include "udrm/base/signal.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/ioctl.h"
#include "udrm/drm/minor.h"

namespace udrm::run {

namespace p = shim::proto;

namespace {

constexpr std::size_t kMaxNodeName = 64;

// User memory of the ioctl being served: the shipped argument [base, base+size) locally,
// everything else in the client (PEEK / POKE).
class ArgMemory final : public UserMemory {
 public:
  ArgMemory(Connection& c, uint64_t base, uint8_t* arg, std::size_t size, bool fault, std::string* rec)
      : c_(c), base_(base), arg_(arg), size_(size), fault_(fault), rec_(rec) {}

  int read(void* dst, uint64_t uptr, std::size_t len) override {
    auto* d = static_cast<uint8_t*>(dst);
    while (len) {
      std::size_t n = span(uptr, len);
      if (inside(uptr)) {
        if (fault_) return -EFAULT;
        std::memcpy(d, arg_ + (uptr - base_), n);
      } else if (int r = c_.peek(d, uptr, n)) {
        return r;
      } else if (rec_) {
        *rec_ += " peek " + std::to_string(uptr) + " " + IoctlRecorder::hex(d, n) + "\n";
      }
      d += n;
      uptr += n;
      len -= n;
    }
    return 0;
  }

  int write(uint64_t uptr, const void* src, std::size_t len) override {
    const auto* s = static_cast<const uint8_t*>(src);
    while (len) {
      std::size_t n = span(uptr, len);
      if (inside(uptr)) {
        if (fault_) return -EFAULT;
        std::memcpy(arg_ + (uptr - base_), s, n);
        written = true;
      } else if (int r = c_.poke(uptr, s, n)) {
        return r;
      } else if (rec_) {
        *rec_ += " poke " + std::to_string(uptr) + " " + IoctlRecorder::hex(s, n) + "\n";
      }
      s += n;
      uptr += n;
      len -= n;
    }
    return 0;
  }

  bool written = false;

 private:
  bool inside(uint64_t a) const { return size_ && a >= base_ && a - base_ < size_; }
  // Length of the piece starting at a that lies wholly inside or wholly outside the argument.
  std::size_t span(uint64_t a, std::size_t len) const {
    if (inside(a)) return std::min<uint64_t>(len, base_ + size_ - a);
    if (size_ && a < base_ && base_ - a < len) return base_ - a;
    return len;
  }

  Connection& c_;
  const uint64_t base_;
  uint8_t* const arg_;
  const std::size_t size_;
  const bool fault_;
  std::string* const rec_;  // --record-ioctls: PEEK/POKE lines of this ioctl
};

struct UserMemoryScope {
  explicit UserMemoryScope(UserMemory* m) { set_user_memory(m); }
  ~UserMemoryScope() { set_user_memory(nullptr); }
};

}  // namespace

Connection::Connection(Server& server, int sock, uint64_t id, pid_t pid)
    : server_(server), sock_(sock), id_(id), pid_(pid) {}

Connection::~Connection() { p::close_fd(sock_); }

void Connection::stop() { ::shutdown(sock_, SHUT_RDWR); }

void Connection::serve() {
  signal_clear();  // a pending flag of an earlier thread with the same identity
  while (kind_ != Kind::done) {
    int r = p::recv_msg(sock_, &in_);
    if (r == -EBADMSG) {
      if (reply(p::kOpError, -EBADMSG)) break;
      continue;
    }
    if (r) break;
    // No request carries a descriptor: drop any the client sent.
    p::close_fd(in_.fd);
    in_.fd = -1;
    if (handle(in_) == -ECONNRESET || broken_) break;
  }
  release();
}

int Connection::handle(const p::Msg& m) {
  if (m.h.flags & p::kFlagReply) return reply(p::kOpError, -EBADMSG);  // a reply to nothing
  switch (m.h.op) {
    case p::kOpOpen: return do_open(m);
    case p::kOpIoctl: return do_ioctl(m);
    case p::kOpRead: return do_read(m);
    case p::kOpMmap: return do_mmap(m);
    case p::kOpMunmap: return do_munmap(m);
    case p::kOpClose: return do_close(m);
    case p::kOpNodes: return do_nodes(m);
    case p::kOpCtl: return do_ctl(m);
    default: return reply(p::kOpError, -EBADMSG);  // PEEK/POKE/ERROR are server-to-client only
  }
}

int Connection::reply(uint16_t op, int status, const void* payload, std::size_t len, uint16_t flags, uint64_t a0,
                      int fd) {
  p::Header h;
  h.op = op;
  h.flags = static_cast<uint16_t>(flags | p::kFlagReply);
  h.status = status;
  h.a0 = a0;
  if (op == p::kOpError) h.flags = 0;
  return p::send_msg(sock_, h, payload, len, fd) ? -ECONNRESET : 0;
}

int Connection::do_open(const p::Msg& m) {
  if (kind_ != Kind::none) return reply(p::kOpOpen, -EBUSY);
  const std::string node(reinterpret_cast<const char*>(m.payload()), m.len());
  if (node.empty() || node.size() > kMaxNodeName || node.find('\0') != std::string::npos ||
      node.find('/') != std::string::npos)
    return reply(p::kOpOpen, -ENOENT);
  Ref<DrmFile> f;
  if (int r = drm_open_node(server_.world(), node, &f)) return reply(p::kOpOpen, r);
  DrmDevice* dev = f->device();
  const int minor = dev ? drm_minor_index(*dev, f->minor_type()) : -1;
  kind_ = Kind::file;
  file_ = f;
  file_open_.store(true, std::memory_order_release);
  if (Trace* t = server_.trace()) t->open_file(f.get(), pid_, id_, node);
  if (IoctlRecorder* rec = server_.recorder()) rec->write(rec->prefix(id_) + "open " + node + " 0\n");
  return reply(p::kOpOpen, 0, nullptr, 0, 0, static_cast<uint64_t>(minor), f->poll_fd());
}

int Connection::do_ioctl(const p::Msg& m) {
  if (kind_ != Kind::file) return reply(p::kOpIoctl, -EBADF);
  const unsigned long cmd = m.h.a0;
  const std::size_t size = _IOC_SIZE(cmd);
  const bool fault = m.h.flags & p::kFlagArgFault;
  if (m.h.a0 > 0xffffffffu || (fault ? m.len() != 0 : m.len() != size)) return reply(p::kOpError, -EBADMSG);
  // The argument is edited in place in the receive buffer and sent back from there.
  uint8_t* arg = in_.buf.get();
  IoctlRecorder* recorder = server_.recorder();
  std::string rec_in = recorder && !fault ? IoctlRecorder::hex(arg, size) : "-", rec_mem;
  ArgMemory mem(*this, m.h.a1, arg, size, fault, recorder ? &rec_mem : nullptr);
  Trace* t = server_.trace();
  const double t0 = t ? t->now_us() : 0;
  int r;
  {
    UserMemoryScope scope(&mem);
    r = drm_ioctl(*file_, cmd, reinterpret_cast<void*>(static_cast<uintptr_t>(m.h.a1)));
  }
  signal_clear();
  if (t) t->complete(drm_ioctl_name(cmd), pid_, id_, t0, t->now_us() - t0, r);
  if (recorder)
    recorder->write(recorder->prefix(id_) + "ioctl " + std::to_string(cmd) + " " + std::to_string(m.h.a1) + " " +
                    std::to_string(r) + " " + rec_in + " " + (fault ? "-" : IoctlRecorder::hex(arg, size)) + "\n" +
                    rec_mem);
  if (broken_) return -ECONNRESET;
  const bool back = mem.written && !fault;
  return reply(p::kOpIoctl, r, back ? arg : nullptr, back ? size : 0, back ? p::kFlagArgWritten : 0);
}

int Connection::peek(void* dst, uint64_t addr, std::size_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  while (len) {
    if (broken_) return -EFAULT;
    const std::size_t n = std::min(len, p::kMaxPayload);
    p::Header h;
    h.op = p::kOpPeek;
    h.a0 = addr;
    h.a1 = n;
    if (p::send_msg(sock_, h) || p::recv_msg(sock_, &peek_) == -ECONNRESET) {
      broken_ = true;
      return -EFAULT;
    }
    p::close_fd(peek_.fd);
    peek_.fd = -1;
    // A wrong answer (garbage, another request) fails this access only.
    if (peek_.h.op != p::kOpPeek || !(peek_.h.flags & p::kFlagReply) || peek_.h.status != 0 || peek_.len() != n)
      return -EFAULT;
    std::memcpy(d, peek_.payload(), n);
    d += n;
    addr += n;
    len -= n;
  }
  return 0;
}

int Connection::poke(uint64_t addr, const void* src, std::size_t len) {
  const auto* s = static_cast<const uint8_t*>(src);
  while (len) {
    if (broken_) return -EFAULT;
    const std::size_t n = std::min(len, p::kMaxPayload);
    p::Header h;
    h.op = p::kOpPoke;
    h.a0 = addr;
    if (p::send_msg(sock_, h, s, n)) {
      broken_ = true;
      return -EFAULT;
    }
    s += n;
    addr += n;
    len -= n;
  }
  return 0;
}

int Connection::do_read(const p::Msg& m) {
  if (kind_ != Kind::file) return reply(p::kOpRead, -EBADF);
  if (m.len() != 0) return reply(p::kOpError, -EBADMSG);
  const std::size_t n = std::min<uint64_t>(m.h.a0, p::kMaxPayload);
  // in_'s buffer is free: the request has no payload.
  uint8_t* buf = in_.buf.get();
  long r = file_->read(buf, n, false);
  if (IoctlRecorder* rec = server_.recorder())
    rec->write(rec->prefix(id_) + "read " + std::to_string(n) + " " + std::to_string(r) + "\n");
  return reply(p::kOpRead, static_cast<int>(r), buf, r > 0 ? static_cast<std::size_t>(r) : 0);
}

int Connection::do_mmap(const p::Msg& m) {
  if (kind_ != Kind::file) return reply(p::kOpMmap, -EBADF);
  if (m.len() != 0) return reply(p::kOpError, -EBADMSG);
  if (m.h.a1 > (uint64_t{1} << 40)) return reply(p::kOpMmap, -EINVAL);
  int memfd = -1;
  uint64_t id = 0;
  int r = file_->mmap_remote(m.h.a0, static_cast<std::size_t>(m.h.a1), m.h.status, &memfd, &id);
  if (IoctlRecorder* rec = server_.recorder())
    rec->write(rec->prefix(id_) + "mmap " + std::to_string(m.h.a0) + " " + std::to_string(m.h.a1) + " " +
               std::to_string(m.h.status) + " " + std::to_string(r) + " " + std::to_string(id) + "\n");
  if (r) return reply(p::kOpMmap, r);
  maps_.insert(id);
  nmaps_.store(maps_.size(), std::memory_order_relaxed);
  r = reply(p::kOpMmap, 0, nullptr, 0, 0, id, memfd);
  p::close_fd(memfd);
  return r;
}

int Connection::do_munmap(const p::Msg& m) {
  if (kind_ != Kind::file) return reply(p::kOpMunmap, -EBADF);
  if (m.len() != 0) return reply(p::kOpError, -EBADMSG);
  auto it = maps_.find(m.h.a0);
  if (it == maps_.end()) return reply(p::kOpMunmap, -EINVAL);
  int r = file_->munmap_remote(*it);
  if (IoctlRecorder* rec = server_.recorder())
    rec->write(rec->prefix(id_) + "munmap " + std::to_string(*it) + " " + std::to_string(r) + "\n");
  maps_.erase(it);
  nmaps_.store(maps_.size(), std::memory_order_relaxed);
  return reply(p::kOpMunmap, r);
}

int Connection::do_close(const p::Msg& m) {
  if (kind_ != Kind::file) return reply(p::kOpClose, -EBADF);
  if (m.len() != 0) return reply(p::kOpError, -EBADMSG);
  if (!file_open_.load(std::memory_order_acquire)) return reply(p::kOpClose, -EBADF);
  file_->close();
  file_open_.store(false, std::memory_order_release);
  if (Trace* t = server_.trace()) t->instant("close", pid_, id_);
  if (IoctlRecorder* rec = server_.recorder()) rec->write(rec->prefix(id_) + "close\n");
  return reply(p::kOpClose, 0);
}

int Connection::do_nodes(const p::Msg& m) {
  if (kind_ != Kind::none) return reply(p::kOpNodes, -EBUSY);
  if (m.len() != 0) return reply(p::kOpError, -EBADMSG);
  std::vector<uint8_t> out = p::encode_nodes(server_.nodes());
  kind_ = Kind::done;
  return reply(p::kOpNodes, 0, out.data(), out.size());
}

int Connection::do_ctl(const p::Msg& m) {
  if (kind_ != Kind::none) return reply(p::kOpCtl, -EBUSY);
  kind_ = Kind::done;
  const std::string line(reinterpret_cast<const char*>(m.payload()), m.len());
  std::string text;
  bool usage = false;
  int status = server_.control(line, &text, &usage);
  const uint64_t a0 = usage ? p::kCtlUsageError : 0;
  std::size_t off = 0;
  do {
    std::size_t n = std::min(text.size() - off, p::kMaxPayload);
    bool more = off + n < text.size();
    if (int r = reply(p::kOpCtl, status, text.data() + off, n, more ? p::kFlagMore : 0, a0)) return r;
    off += n;
  } while (off < text.size());
  return 0;
}

void Connection::release() {
  kind_ = Kind::done;
  if (!file_) return;
  for (uint64_t id : maps_) file_->munmap_remote(id);
  maps_.clear();
  nmaps_.store(0, std::memory_order_relaxed);
  if (file_open_.exchange(false, std::memory_order_acq_rel)) {
    file_->close();
    if (Trace* t = server_.trace()) t->instant("close", pid_, id_, "connection ended");
    if (IoctlRecorder* rec = server_.recorder()) rec->write(rec->prefix(id_) + "close\n");
  }
  file_.reset();
}

}  // namespace udrm::run
