// The udrm-run server (server.h).
#include "server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "connection.h"
#include "state.h"
#include "trace.h"
#include "udrm/base/asio_executor.h"
#include "udrm/shim/protocol.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/minor.h"

namespace udrm::run {

struct Server::Slot {
  std::unique_ptr<Connection> conn;
  std::thread thread;
  std::atomic<bool> done{false};
};

IoctlRecorder::IoctlRecorder(const std::string& path)
    : f_(std::fopen(path.c_str(), "w")), t0_(std::chrono::steady_clock::now()) {}

IoctlRecorder::~IoctlRecorder() {
  if (f_) std::fclose(f_);
}

std::string IoctlRecorder::prefix(uint64_t conn) const {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0_);
  return std::to_string(us.count()) + " " + std::to_string(conn) + " ";
}

void IoctlRecorder::write(const std::string& record) {
  std::lock_guard<std::mutex> l(mu_);
  if (!f_) return;
  std::fwrite(record.data(), 1, record.size(), f_);
  std::fflush(f_);
}

std::string IoctlRecorder::hex(const void* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  if (!n) return "-";
  std::string out(2 * n, '0');
  const auto* b = static_cast<const uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  return out;
}

int Server::create(const ServerOptions& opts, std::unique_ptr<Server>* out) {
  std::unique_ptr<Server> s(new Server());
  if (int r = s->start(opts)) return r;
  *out = std::move(s);
  return 0;
}

int Server::start(const ServerOptions& opts) {
  max_conns_ = opts.max_connections;
  if (!opts.trace_path.empty()) {
    trace_ = std::make_unique<Trace>(opts.trace_path);
    if (!trace_->ok()) return -errno ? -errno : -EIO;
  }
  if (!opts.record_path.empty()) {
    recorder_ = std::make_unique<IoctlRecorder>(opts.record_path);
    if (!recorder_->ok()) return -errno ? -errno : -EIO;
  }
  ex_ = std::make_unique<AsioExecutor>(opts.threads);
  world_ = std::make_unique<World>(*ex_);
  drivers::DisplayOptions dopts;
  dopts.kind = opts.kind;
  dopts.immediate_vblank = opts.immediate_vblank;
  display_ = drivers::create_display(*world_, dopts);
  if (int r = display_->bind()) return r;

  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/udrm-run.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return -errno;
  dir_ = buf.data();
  sock_path_ = dir_ + "/udrm.sock";
  sockaddr_un a{};
  if (sock_path_.size() >= sizeof(a.sun_path)) return -ENAMETOOLONG;
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, sock_path_.c_str(), sock_path_.size() + 1);
  listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return -errno;
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) || ::listen(listen_fd_, 64)) return -errno;
  acceptor_ = std::thread([this] { accept_loop(); });
  return 0;
}

Server::~Server() { shutdown(); }

void Server::accept_loop() {
  for (;;) {
    int s = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) {
      if (stopping_.load()) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
        ::usleep(10000);  // out of resources: let connections end
        continue;
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len)) cred.pid = 0;
    std::lock_guard<std::mutex> l(conns_mu_);
    if (stopping_.load()) {
      ::close(s);
      return;
    }
    reap(false);
    if (conns_.size() >= max_conns_) {
      // Too many open files on this server: the open fails with EMFILE, as the kernel's
      // would at the process's file limit; the answer is sent before the client's request.
      udrm::shim::proto::Header h;
      h.op = udrm::shim::proto::kOpError;
      h.flags = udrm::shim::proto::kFlagReply;
      h.status = -EMFILE;
      (void)udrm::shim::proto::send_msg(s, h);
      // Take the client's request off the socket before closing: a unix socket closed with
      // unread data resets the peer (ECONNRESET), which would hide the answer.
      timeval tv{0, 20'000};  // bounded: a silent client cannot stall the acceptor long
      ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char drop;
      (void)::recv(s, &drop, 1, MSG_TRUNC);
      ::close(s);
      continue;
    }
    auto slot = std::make_unique<Slot>();
    slot->conn = std::make_unique<Connection>(*this, s, next_conn_id_++, cred.pid);
    Slot* sp = slot.get();
    slot->thread = std::thread([sp] {
      sp->conn->serve();
      sp->done.store(true, std::memory_order_release);
    });
    conns_.push_back(std::move(slot));
  }
}

// Join finished connections (all of them when `all`, after they were stopped). conns_mu_ held
// unless all (then the acceptor is gone and nothing else adds).
void Server::reap(bool all) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (all || (*it)->done.load(std::memory_order_acquire)) {
      (*it)->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::shutdown() {
  if (down_) return;
  down_ = true;
  stopping_.store(true);
  if (listen_fd_ >= 0) {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  {
    std::lock_guard<std::mutex> l(conns_mu_);
    for (auto& s : conns_) s->conn->stop();
  }
  reap(true);
  if (trace_) trace_->instant("shutdown", ::getpid(), 0);
  display_.reset();  // unbinds and unregisters everything
  world_.reset();
  if (ex_) ex_->shutdown();
  ex_.reset();
  if (!sock_path_.empty()) ::unlink(sock_path_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
  if (trace_) trace_->finish();
}

namespace {
bool known_device(drivers::Display& d, const std::string& name) {
  for (const auto& n : d.device_names())
    if (n == name) return true;
  return false;
}

std::string device_list(drivers::Display& d) {
  std::string out;
  for (const auto& n : d.device_names()) out += (out.empty() ? "" : " ") + n;
  return out;
}
}  // namespace

int Server::unbind_locked(const std::string& dev) {
  if (!dev.empty() && !known_device(*display_, dev)) return -ENODEV;
  int r = display_->unbind(dev);
  if (trace_) trace_->instant("unbind", ::getpid(), 0, dev + " -> " + std::to_string(r));
  if (recorder_)
    recorder_->write(recorder_->prefix(0) + "unbind " + (dev.empty() ? "-" : dev) + " " + std::to_string(r) + "\n");
  return r;
}

int Server::bind_locked(const std::string& dev) {
  if (!dev.empty() && !known_device(*display_, dev)) return -ENODEV;
  int r = display_->rebind(dev);
  if (trace_) trace_->instant("bind", ::getpid(), 0, dev + " -> " + std::to_string(r));
  if (recorder_)
    recorder_->write(recorder_->prefix(0) + "bind " + (dev.empty() ? "-" : dev) + " " + std::to_string(r) + "\n");
  return r;
}

int Server::unbind(const std::string& dev) {
  std::lock_guard<std::mutex> l(display_mu_);
  return unbind_locked(dev);
}

int Server::bind(const std::string& dev) {
  std::lock_guard<std::mutex> l(display_mu_);
  return bind_locked(dev);
}

int Server::rebind(const std::string& dev) {
  std::lock_guard<std::mutex> l(display_mu_);
  if (!dev.empty() && !known_device(*display_, dev)) return -ENODEV;
  Device* d = display_->device(dev);
  if (d && d->is_bound())
    if (int r = unbind_locked(dev)) return r;
  if (int r = bind_locked(dev)) return r;
  d = display_->device(dev);
  return d && d->is_bound() ? 0 : -EIO;
}

std::size_t Server::connection_count() {
  std::lock_guard<std::mutex> l(conns_mu_);
  std::size_t n = 0;
  for (auto& s : conns_)
    if (!s->done.load(std::memory_order_acquire)) ++n;
  return n;
}

std::string Server::files_summary() {
  std::map<pid_t, std::pair<int, std::size_t>> per_pid;  // files, mappings
  int total = 0;
  {
    std::lock_guard<std::mutex> l(conns_mu_);
    for (auto& s : conns_) {
      const Connection& c = *s->conn;
      if (s->done.load(std::memory_order_acquire)) continue;
      if (!c.has_open_file() && c.mapping_count() == 0) continue;
      auto& e = per_pid[c.pid()];
      if (c.has_open_file()) ++e.first, ++total;
      e.second += c.mapping_count();
    }
  }
  std::string out = "files count=" + std::to_string(total) + "\n";
  for (auto& [pid, e] : per_pid)
    out += "file pid=" + std::to_string(pid) + " count=" + std::to_string(e.first) +
           " mappings=" + std::to_string(e.second) + "\n";
  return out;
}

std::vector<shim::proto::Node> Server::nodes() {
  std::lock_guard<std::mutex> l(display_mu_);
  std::vector<shim::proto::Node> out;
  for (const MinorInfo& m : drm_minors_list(*world_)) {
    if (!m.dev || !m.dev->is_registered()) continue;
    shim::proto::Node n;
    n.minor = m.index;
    n.name = m.node;
    n.driver = m.dev->driver().name;
    n.devname = m.dev->dev() ? m.dev->dev()->name() : "";
    out.push_back(std::move(n));
  }
  return out;
}

std::string Server::state_text() {
  std::string out;
  {
    std::lock_guard<std::mutex> l(display_mu_);
    for (const auto& n : display_->device_names()) {
      Device* d = display_->device(n);
      out += "device " + n + " bound=" + (d && d->is_bound() ? "1" : "0") + "\n";
    }
    out += describe_kms(*display_);
  }
  out += files_summary();
  return out;
}

std::string Server::drivers_text() {
  std::lock_guard<std::mutex> l(display_mu_);
  Bus& bus = world_->bus();
  // Registered drivers reachable from the bus's devices (the one bound, or the one matching an
  // unbound device's compatible), in bus order, each with the devices bound to it.
  std::vector<std::pair<std::string, std::string>> rows;
  auto row = [&rows](const std::string& drv) -> std::string& {
    for (auto& r : rows)
      if (r.first == drv) return r.second;
    rows.emplace_back(drv, "");
    return rows.back().second;
  };
  for (const Ref<Device>& d : bus.devices()) {
    if (d->is_bound() && d->driver()) {
      std::string& devs = row(d->driver()->name());
      devs += (devs.empty() ? "" : ",") + d->name();
    } else if (Driver* drv = bus.find_driver(d->compatible())) {
      row(drv->name());
    }
  }
  std::string out;
  for (auto& [drv, devs] : rows) out += drv + " " + (devs.empty() ? "-" : devs) + "\n";
  return out;
}

int Server::parse_debug(const std::vector<std::string>& args, uint32_t mask, uint32_t* out, std::string* err) {
  const auto ncat = static_cast<unsigned>(LogCat::count_);
  const uint32_t all = (1u << ncat) - 1;
  auto bit_of = [&](const std::string& name, uint32_t* bit) {
    if (name == "all") {
      *bit = all;
      return true;
    }
    for (unsigned i = 0; i < ncat; ++i)
      if (name == log_cat_name(static_cast<LogCat>(i))) {
        *bit = 1u << i;
        return true;
      }
    return false;
  };
  auto bad = [&](const std::string& item, const char* why) {
    std::string cats;
    for (unsigned i = 0; i < ncat; ++i) cats += std::string(i ? " " : "") + log_cat_name(static_cast<LogCat>(i));
    *err = "debug: " + std::string(why) + " '" + item + "' (categories: " + cats +
           "; arguments: CAT, +CAT, -CAT, 0xMASK, none, all)\n";
    return -EINVAL;
  };
  bool started = false;  // the first absolute item starts from an empty set
  for (const std::string& arg : args) {
    // A sign in front of a comma list applies to each item: "+kms,atomic" adds both.
    const char sign = !arg.empty() && (arg[0] == '+' || arg[0] == '-') ? arg[0] : 0;
    std::size_t pos = 0;
    for (;;) {
      std::size_t comma = arg.find(',', pos);
      std::string item = arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (item.empty() || item == "+" || item == "-") return bad(arg, "empty item in");
      if (sign && item[0] != '+' && item[0] != '-') item.insert(item.begin(), sign);
      uint32_t bit = 0;
      if (item[0] == '+' || item[0] == '-') {
        if (!bit_of(item.substr(1), &bit)) return bad(item, "unknown category");
        mask = item[0] == '+' ? (mask | bit) : (mask & ~bit);
      } else {
        if (!started) mask = 0;
        started = true;
        if (item == "none") {
          mask = 0;
        } else if (item[0] >= '0' && item[0] <= '9') {
          char* end = nullptr;
          errno = 0;
          unsigned long long v = std::strtoull(item.c_str(), &end, 0);
          if (errno || !end || *end) return bad(item, "not a number");
          if (v & ~static_cast<unsigned long long>(all)) return bad(item, "mask has bits of no category in");
          mask |= static_cast<uint32_t>(v);
        } else if (bit_of(item, &bit)) {
          mask |= bit;
        } else {
          return bad(item, "unknown category");
        }
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  *out = mask;
  return 0;
}

std::string Server::debug_text(uint32_t mask) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", mask);
  std::string cats;
  for (unsigned i = 0; i < static_cast<unsigned>(LogCat::count_); ++i)
    if (mask & (1u << i)) cats += (cats.empty() ? "" : ",") + std::string(log_cat_name(static_cast<LogCat>(i)));
  return std::string("mask=") + hex + " categories=" + (cats.empty() ? "none" : cats) + "\n";
}

int Server::control(const std::string& line, std::string* out, bool* usage) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  out->clear();
  if (usage) *usage = false;
  auto usage_error = [&](std::string msg) {
    *out = std::move(msg);
    if (usage) *usage = true;
    return -EINVAL;
  };
  if (w.empty()) return usage_error("empty command\n");
  const std::string& cmd = w[0];
  if (cmd == "devices" && w.size() == 1) {
    std::lock_guard<std::mutex> l(display_mu_);
    for (const auto& n : display_->device_names()) {
      Device* d = display_->device(n);
      bool bound = d && d->is_bound();
      std::string drv = bound && d->driver() ? d->driver()->name() : (d ? d->compatible() : "-");
      *out += n + " " + drv + " " + (bound ? "bound" : "unbound") + "\n";
    }
    return 0;
  }
  if (cmd == "drivers" && w.size() == 1) {
    *out = drivers_text();
    return 0;
  }
  if ((cmd == "unbind" || cmd == "bind" || cmd == "rebind") && w.size() == 2) {
    int r = cmd == "unbind" ? unbind(w[1]) : cmd == "bind" ? bind(w[1]) : rebind(w[1]);
    if (r == -ENODEV && !known_device(*display_, w[1]))
      *out = cmd + " " + w[1] + ": unknown device (devices: " + device_list(*display_) + ")\n";
    else if (r)
      *out = cmd + " " + w[1] + ": " + errno_name(r) + " (" + std::strerror(-r) + ")\n";
    return r;
  }
  if (cmd == "state" && w.size() == 1) {
    *out = state_text();
    return 0;
  }
  if (cmd == "debug") {
    uint32_t mask = log_mask();
    std::string err;
    if (w.size() > 1) {
      if (parse_debug(std::vector<std::string>(w.begin() + 1, w.end()), mask, &mask, &err)) return usage_error(err);
      log_set_mask(mask);
      std::string text = debug_text(mask);
      text.pop_back();  // the '\n'
      log_info(LogCat::core, "udrm-run: debug %s", text.c_str());
    }
    *out = debug_text(log_mask());
    return 0;
  }
  const bool known = cmd == "devices" || cmd == "drivers" || cmd == "state" || cmd == "unbind" || cmd == "bind" ||
                     cmd == "rebind";
  return usage_error(known ? "wrong arguments: " + line + "\n" : "unknown command: " + line + "\n");
}

}  // namespace udrm::run
