// backend() of the preload flavour (libudrm-preload.so): the remote backend when UDRM_SOCKET is
// set and reachable, else nullptr (everything passes through). Decided once, on the first call
// that needs it (helper programs such as `sh` that never touch /dev/dri pay nothing).
// A call made on the deciding thread while it decides (remote_backend's own libc use) sees
// nullptr instead of recursing; other threads wait for the decision.
#include <stdlib.h>

#include <atomic>
#include <mutex>

#include "udrm/shim/backend.h"

namespace udrm::shim {

namespace {
constinit std::atomic<bool> g_decided{false};
constinit Backend* g_backend = nullptr;
constinit std::mutex g_decide_mu;
constinit thread_local bool t_deciding = false;
}  // namespace

Backend* backend() {
  if (g_decided.load(std::memory_order_acquire)) return g_backend;
  if (t_deciding) return nullptr;
  std::lock_guard<std::mutex> l(g_decide_mu);
  if (!g_decided.load(std::memory_order_relaxed)) {
    t_deciding = true;
    const char* sock = getenv("UDRM_SOCKET");
    g_backend = (sock && *sock) ? remote_backend(sock) : nullptr;
    t_deciding = false;
    g_decided.store(true, std::memory_order_release);
  }
  return g_backend;
}

}  // namespace udrm::shim
