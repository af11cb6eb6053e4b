// The udrm-run wire protocol (udrm/shim/protocol.h): framing, validation, SCM_RIGHTS.
#include "udrm/shim/protocol.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace udrm::shim::proto {

namespace {

constexpr int kMaxFds = 4;  // room to see (and close) a peer sending too many

void close_fds(const int* fds, int n) {
  for (int i = 0; i < n; ++i) close_fd(fds[i]);
}

bool valid_header(const Header& h, std::size_t got) {
  if (h.magic != kMagic) return false;
  if (h.op == 0 || h.op > kOpMax) return false;
  if (h.len > kMaxPayload || got != sizeof(Header) + h.len) return false;
  if (h.flags & ~(kFlagReply | kFlagArgFault | kFlagArgWritten | kFlagMore)) return false;
  return true;
}

}  // namespace

void close_fd(int fd) {
  if (fd >= 0) syscall(SYS_close, fd);
}

int send_msg(int sock, Header h, const void* payload, std::size_t len, int fd) {
  if (len > kMaxPayload) return -EMSGSIZE;
  h.magic = kMagic;
  h.len = static_cast<uint32_t>(len);
  iovec iov[2];
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = const_cast<void*>(payload);
  iov[1].iov_len = len;
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = len ? 2 : 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(cbuf, 0, sizeof(cbuf));
    m.msg_control = cbuf;
    m.msg_controllen = sizeof(cbuf);
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == sizeof(h) + len ? 0 : -EMSGSIZE;
    if (errno == EINTR) continue;
    return errno == EPIPE ? -ECONNRESET : -errno;
  }
}

int recv_msg(int sock, Msg* out) {
  out->fd = -1;
  if (!out->buf) {
    out->buf.reset(new (std::nothrow) uint8_t[kMaxPayload]);
    if (!out->buf) return -ENOMEM;
  }
  Header h;
  iovec iov[2];
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = out->buf.get();
  iov[1].iov_len = kMaxPayload;
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  m.msg_control = cbuf;
  m.msg_controllen = sizeof(cbuf);
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n == 0) return -ECONNRESET;
  if (n < 0) return errno == ECONNRESET || errno == EPIPE ? -ECONNRESET : -errno;
  // Collect descriptors first, so that every error path closes them.
  int fds[kMaxFds];
  int nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < k && nfds < kMaxFds; ++i) std::memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  bool ok = !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && nfds <= 1 &&
            static_cast<std::size_t>(n) >= sizeof(Header) && valid_header(h, static_cast<std::size_t>(n));
  if (!ok) {
    close_fds(fds, nfds);
    return -EBADMSG;
  }
  out->h = h;
  out->fd = nfds ? fds[0] : -1;
  return 0;
}

std::vector<uint8_t> encode_nodes(const std::vector<Node>& nodes) {
  std::vector<uint8_t> out;
  auto put = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto put_str = [&](const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    put(&n, sizeof(n));
    put(s.data(), s.size());
  };
  for (const Node& n : nodes) {
    put(&n.minor, sizeof(n.minor));
    put_str(n.name);
    put_str(n.driver);
    put_str(n.devname);
  }
  return out;
}

int decode_nodes(const uint8_t* p, std::size_t len, std::vector<Node>* out) {
  out->clear();
  std::size_t off = 0;
  auto get = [&](void* dst, std::size_t n) {
    if (len - off < n) return false;
    std::memcpy(dst, p + off, n);
    off += n;
    return true;
  };
  auto get_str = [&](std::string* s) {
    uint32_t n;
    if (!get(&n, sizeof(n)) || n > 255 || len - off < n) return false;
    s->assign(reinterpret_cast<const char*>(p + off), n);
    off += n;
    return true;
  };
  while (off < len) {
    Node n;
    if (!get(&n.minor, sizeof(n.minor)) || !get_str(&n.name) || !get_str(&n.driver) || !get_str(&n.devname))
      return -EBADMSG;
    out->push_back(std::move(n));
  }
  return 0;
}

int connect_to(const std::string& path) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof(a.sun_path)) return -ENAMETOOLONG;
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  for (;;) {
    if (::connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0) return s;
    if (errno == EISCONN) return s;  // an interrupted connect completed meanwhile
    if (errno == EINTR) continue;
    int e = -errno;
    close_fd(s);
    return e;
  }
}

}  // namespace udrm::shim::proto
