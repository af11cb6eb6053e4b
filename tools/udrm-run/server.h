// udrm-run/server.h — the udrm-run server: one reference display on its own World, served to
// other processes over an AF_UNIX SOCK_SEQPACKET socket (protocol: udrm/shim/protocol.h).
//
// create() builds an AsioExecutor, a World and the display, binds it, and listens on
// <fresh mkdtemp dir>/udrm.sock. Each accepted connection is served on its own thread with
// blocking I/O (a file connection's ioctl runs on that thread, like a process's syscall). The
// control commands (udrmctl) are control(): devices, drivers, unbind DEV, bind DEV, rebind DEV,
// state, debug [ARG...] (the run-time debug categories of udrm/base/log.h, like drm.debug).
//
// Lifetime: shutdown() (also run by the destructor) stops accepting, ends every connection
// (each closes its file and drops its mappings, as a dying process would), destroys the
// display (unbind) and the World, and removes the socket directory. Open DRM files never
// outlive the server.
// Context: any thread; unbind/bind/control are serialised with each other.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "udrm/drivers/display.h"
#include "udrm/shim/protocol.h"

namespace udrm {
class AsioExecutor;
class World;
}  // namespace udrm

namespace udrm::run {

class Connection;
class Trace;

struct ServerOptions {
  drivers::Kind kind = drivers::Kind::simple;
  std::string trace_path;  // empty: no trace
  std::string record_path;  // empty: no ioctl recording (--record-ioctls)
  unsigned threads = 4;    // executor threads
  bool immediate_vblank = false;
  std::size_t max_connections = 256;
};

/// --record-ioctls: a text log of what the clients did, for the fuzz corpus (tests/fuzz/
/// trace_to_corpus.cpp reads it and documents the format): opens, each ioctl with its argument
/// before and after and the client memory the server read (PEEK) and wrote (POKE) for it,
/// reads, mmaps, munmaps, closes, unbinds and binds. Each record is written whole.
/// Lifetime: the server's. Context: any thread (one mutex around the file).
class IoctlRecorder {
 public:
  explicit IoctlRecorder(const std::string& path);
  ~IoctlRecorder();
  IoctlRecorder(const IoctlRecorder&) = delete;
  IoctlRecorder& operator=(const IoctlRecorder&) = delete;
  bool ok() const noexcept { return f_ != nullptr; }
  /// "<microseconds since start> <connection id> " — the start of every record.
  std::string prefix(uint64_t conn) const;
  void write(const std::string& record);
  static std::string hex(const void* p, std::size_t n);

 private:
  std::mutex mu_;
  std::FILE* f_ = nullptr;
  std::chrono::steady_clock::time_point t0_;
};

class Server {
 public:
  /// 0, or -errno (bind of the display failed, socket or temp dir could not be created,
  /// trace file not writable).
  static int create(const ServerOptions& opts, std::unique_ptr<Server>* out);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& socket_path() const noexcept { return sock_path_; }
  drivers::Display& display() noexcept { return *display_; }
  World& world() noexcept { return *world_; }
  Trace* trace() noexcept { return trace_.get(); }
  IoctlRecorder* recorder() noexcept { return recorder_.get(); }

  /// Display::unbind/rebind of a device by short name ("" = the DRM device's). -ENODEV for
  /// an unknown name; otherwise the display's result.
  int unbind(const std::string& dev);
  int bind(const std::string& dev);
  /// unbind (when bound) then bind; -EIO if bind returned 0 but the device is not bound.
  int rebind(const std::string& dev);
  /// One udrmctl command line. Returns 0 or -errno; *out gets the text (one item per line,
  /// key=value) or, on error, a message. *usage (optional) is set when the line itself was
  /// wrong (unknown command, wrong argument count, unknown debug category; -EINVAL).
  int control(const std::string& line, std::string* out, bool* usage = nullptr);

  /// Apply debug ARGs (see shim/protocol.h: CAT, +CAT, -CAT, 0xMASK, none, all; an ARG may be a
  /// comma list) to `mask`. 0, or -EINVAL with *err naming the bad ARG and the categories.
  static int parse_debug(const std::vector<std::string>& args, uint32_t mask, uint32_t* out, std::string* err);
  /// "mask=0x... categories=core,kms" ("categories=none" for 0).
  static std::string debug_text(uint32_t mask);
  /// Live connections / connections with an open DRM file, per client pid ("pid=N files=M").
  std::size_t connection_count();
  /// "files count=N" then "file pid=P count=M" per client process.
  std::string files_summary();
  /// The registered DRM minors (the /dev/dri listing clients emulate).
  std::vector<shim::proto::Node> nodes();

  void shutdown();

 private:
  struct Slot;
  Server() = default;
  int start(const ServerOptions& opts);
  void accept_loop();
  void reap(bool all);
  std::string state_text();
  std::string drivers_text();
  int unbind_locked(const std::string& dev);  // display_mu_ held
  int bind_locked(const std::string& dev);    // display_mu_ held

  std::unique_ptr<AsioExecutor> ex_;
  std::unique_ptr<World> world_;
  std::unique_ptr<drivers::Display> display_;
  std::unique_ptr<Trace> trace_;
  std::unique_ptr<IoctlRecorder> recorder_;
  std::string dir_, sock_path_;
  int listen_fd_ = -1;
  std::size_t max_conns_ = 256;
  std::thread acceptor_;
  std::mutex conns_mu_;
  std::list<std::unique_ptr<Slot>> conns_;
  uint64_t next_conn_id_ = 1;
  std::mutex display_mu_;  // unbind / bind / state
  std::atomic<bool> stopping_{false};
  bool down_ = false;
};

}  // namespace udrm::run
