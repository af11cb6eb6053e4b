// udrm/shim/protocol.h — the wire protocol between libudrm-preload.so (the remote backend) and
// the udrm-run server, over AF_UNIX SOCK_SEQPACKET (one datagram = one message).
//
// A message is a fixed 32-byte Header followed by `len` payload bytes (len <= kMaxPayload);
// file descriptors travel alongside with SCM_RIGHTS (at most one per message). Connections:
//   - a file connection: OPEN first (reply carries the DrmFile's event fd), then IOCTL / READ /
//     MMAP / MUNMAP / CLOSE requests, each answered by one reply of the same op with REPLY set.
//     While the server runs an IOCTL it may send PEEK (client answers PEEK|REPLY with the bytes
//     or an errno) and POKE (no answer) requests for memory outside the shipped argument.
//   - a short-lived connection: NODES (the /dev/dri listing) or CTL (an udrmctl command line;
//     the answer is text, split over messages with kFlagMore on all but the last).
// recv_msg() validates every datagram (magic, op, size, payload length, unexpected or truncated
// control data) and never trusts the peer: a bad datagram is an error, never a crash.
//
// Lifetime: plain values and functions. Context: any thread; send/recv block (EINTR retried).
// No framework dependencies (the preload library uses this and libc only).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace udrm::shim::proto {

constexpr uint32_t kMagic = 0x4d524455;  // "UDRM"
constexpr std::size_t kMaxPayload = 64 * 1024;

enum Op : uint16_t {
  kOpOpen = 1,    // payload: node name; a0 = open flags. Reply: a0 = minor, fd = event fd.
  kOpIoctl = 2,   // a0 = cmd, a1 = client address of arg; payload: _IOC_SIZE(cmd) bytes.
                  // Reply: status, payload = arg bytes when kFlagArgWritten.
  kOpPeek = 3,    // server→client: a0 = address, a1 = length. Reply: status, payload = bytes.
  kOpPoke = 4,    // server→client: a0 = address, payload = bytes. No reply.
  kOpRead = 5,    // a0 = max bytes (never blocks). Reply: status = bytes or -errno, payload.
  kOpMmap = 6,    // a0 = fake offset, a1 = length, flags = prot. Reply: a0 = id, fd = memfd.
  kOpMunmap = 7,  // a0 = id.
  kOpClose = 8,   // the program closed its fd (mappings stay).
  kOpNodes = 9,   // Reply payload: NodeInfo records (encode_nodes).
  kOpCtl = 10,    // payload: command line. Reply: text (kFlagMore chunks), status.
  kOpError = 11,  // server→client: the last message was malformed or out of place (status).
  kOpMax = 11,
};

enum Flags : uint16_t {
  kFlagReply = 1u << 0,
  kFlagArgFault = 1u << 1,    // IOCTL: the client could not read its arg (server: -EFAULT on it)
  kFlagArgWritten = 1u << 2,  // IOCTL reply: payload holds the arg to copy back
  kFlagMore = 1u << 3,        // CTL reply: more text follows
};

struct Header {
  uint32_t magic = kMagic;
  uint16_t op = 0;
  uint16_t flags = 0;
  int32_t status = 0;
  uint32_t len = 0;
  uint64_t a0 = 0;
  uint64_t a1 = 0;
};
static_assert(sizeof(Header) == 32);

/// A received message. The buffer (kMaxPayload bytes) is allocated at the first recv_msg and
/// reused by later ones; payload() is valid until the next recv_msg into the same Msg.
struct Msg {
  Header h;
  int fd = -1;  // received descriptor (owned by the receiver: take it or close it), -1 if none
  const uint8_t* payload() const noexcept { return buf.get(); }
  std::size_t len() const noexcept { return h.len; }
  std::unique_ptr<uint8_t[]> buf;
};

/// Send header + payload (+ fd with SCM_RIGHTS if fd >= 0). h.len is set from len. MSG_NOSIGNAL.
/// 0 or -errno (-EMSGSIZE if len > kMaxPayload).
int send_msg(int sock, Header h, const void* payload = nullptr, std::size_t len = 0, int fd = -1);
/// Receive one message and validate it. 0, or: -ECONNRESET (peer closed / connection error),
/// -EBADMSG (truncated, oversized, bad magic/op/length, more than one fd; any fd that came with
/// it is closed). out->fd is overwritten: take or close a previous one first.
int recv_msg(int sock, Msg* out);

/// NODES payload: per node, minor (i32) then three length-prefixed strings.
struct Node {
  int32_t minor = -1;
  std::string name, driver, devname;
};
std::vector<uint8_t> encode_nodes(const std::vector<Node>& nodes);
/// -EBADMSG for a malformed payload.
int decode_nodes(const uint8_t* p, std::size_t len, std::vector<Node>* out);

/// Connect a SEQPACKET socket to path (CLOEXEC). fd or -errno.
int connect_to(const std::string& path);
/// Close without going through an interposed close() (raw syscall).
void close_fd(int fd);

}  // namespace udrm::shim::proto

// --- CTL command vocabulary (appended; the payload of kOpCtl is one of these lines) ---------
//   devices | drivers | state | unbind DEV | bind DEV | rebind DEV | debug [ARG...]
// `debug` shows or changes the server's run-time debug categories (udrm/base/log.h, like
// drm.debug): no ARG shows them; each ARG is CAT (the first absolute ARG starts from an empty
// set), +CAT / -CAT (add / remove), a mask (0x..), `none` or `all`. The reply text is
// "mask=0x... categories=a,b" (or "categories=none").
namespace udrm::shim::proto {
/// CTL reply a0: the command line itself was wrong (unknown command, bad argument such as an
/// unknown debug category), as opposed to an operation that failed: udrmctl exits 2, not 1.
constexpr uint64_t kCtlUsageError = 1;
}  // namespace udrm::shim::proto
