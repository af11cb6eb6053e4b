// udrm-run/connection.h — one client connection of the udrm-run server.
//
// The first message chooses what the connection is: OPEN (a DRM file: IOCTL, READ, MMAP,
// MUNMAP, CLOSE follow), NODES (the /dev/dri listing, then the connection ends) or CTL (one
// udrmctl command). Every received message is validated; a malformed one gets a kOpError
// reply with -EBADMSG (or the errno of the check that failed) and the connection goes on.
// ioctls run drm_ioctl on this thread with a UserMemory that serves the shipped argument and
// turns other user memory accesses into PEEK/POKE requests to the client.
//
// Lifetime: serve() returns when the peer closes the connection, dies, or stop() is called;
// before returning it releases everything the client held (remote mappings, then the file).
// Context: serve() on the connection's own thread; stop() and the accessors from any thread.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>

#include "udrm/base/refcount.h"
#include "udrm/drm/file.h"
#include "udrm/shim/protocol.h"

namespace udrm::run {

class Server;

class Connection {
 public:
  Connection(Server& server, int sock, uint64_t id, pid_t pid);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void serve();
  /// Wake serve() (shutdown of the socket): the connection ends as if the client died.
  void stop();

  uint64_t id() const noexcept { return id_; }
  pid_t pid() const noexcept { return pid_; }
  /// A DRM file is open on this connection (OPEN done, CLOSE not yet).
  bool has_open_file() const noexcept { return file_open_.load(std::memory_order_acquire); }
  std::size_t mapping_count() const noexcept { return nmaps_.load(std::memory_order_relaxed); }

  // For the UserMemory of the running ioctl: PEEK / POKE round trips on this connection.
  int peek(void* dst, uint64_t addr, std::size_t len);
  int poke(uint64_t addr, const void* src, std::size_t len);

 private:
  int handle(const shim::proto::Msg& m);  // -ECONNRESET ends the connection
  int do_open(const shim::proto::Msg& m);
  int do_ioctl(const shim::proto::Msg& m);
  int do_read(const shim::proto::Msg& m);
  int do_mmap(const shim::proto::Msg& m);
  int do_munmap(const shim::proto::Msg& m);
  int do_close(const shim::proto::Msg& m);
  int do_nodes(const shim::proto::Msg& m);
  int do_ctl(const shim::proto::Msg& m);
  int reply(uint16_t op, int status, const void* payload = nullptr, std::size_t len = 0, uint16_t flags = 0,
            uint64_t a0 = 0, int fd = -1);
  void release();

  Server& server_;
  const int sock_;
  const uint64_t id_;
  const pid_t pid_;
  enum class Kind { none, file, done } kind_ = Kind::none;
  Ref<DrmFile> file_;
  std::atomic<bool> file_open_{false};
  std::set<uint64_t> maps_;
  std::atomic<std::size_t> nmaps_{0};
  shim::proto::Msg in_;    // the request being handled
  shim::proto::Msg peek_;  // PEEK replies during an ioctl
  bool broken_ = false;    // the peer went away during an ioctl
};

}  // namespace udrm::run
