// tests/soak/soak_actor.h — what the soak's watchdog knows about each thread of the run (a
// client or the chaos thread): a heartbeat, the step it is in, and its counters; and the
// watchdog itself, which fails the run with a dump of every actor when one of them made no
// progress for the stall limit.
//
// Lifetime: actors and the watchdog live in the test's frame; the watchdog is stopped (joined)
// before the actors go. Context: heartbeat()/at() from the actor's own thread; the watchdog
// reads everything from its own thread (atomics only).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace udrm::soak {

using Clock = std::chrono::steady_clock;

inline int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

/// One thread of the run as the watchdog sees it.
struct Actor {
  explicit Actor(std::string n) : name(std::move(n)) { heartbeat(); }
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  /// The step the actor is about to run (a string literal: it is read by the watchdog).
  void at(const char* step) {
    where.store(step, std::memory_order_relaxed);
    heartbeat();
  }
  void heartbeat() { last_ns.store(mono_ns(), std::memory_order_relaxed); }

  const std::string name;
  std::atomic<const char*> where{"start"};
  std::atomic<int64_t> last_ns{0};
  std::atomic<bool> finished{false};
};

/// Polls every actor; if one that has not finished made no progress for `stall`, prints a dump
/// (each actor, its step and how long ago it moved) to stderr and calls `on_stall` (which
/// fails the test and ends the process: a thread that hangs cannot be joined).
class Watchdog {
 public:
  Watchdog(std::vector<Actor*> actors, std::chrono::milliseconds stall, void (*on_stall)(const std::string& dump))
      : actors_(std::move(actors)), stall_(stall), on_stall_(on_stall), thread_([this] { run(); }) {}
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string dump() const {
    std::string s;
    const int64_t now = mono_ns();
    for (const Actor* a : actors_) {
      s += "  " + a->name + ": " + (a->finished.load() ? "finished" : a->where.load()) + ", last progress " +
           std::to_string((now - a->last_ns.load()) / 1000000) + " ms ago\n";
    }
    return s;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      cv_.wait_for(l, std::chrono::milliseconds(100));
      if (stop_) break;
      const int64_t now = mono_ns();
      for (const Actor* a : actors_) {
        if (a->finished.load() || now - a->last_ns.load() < stall_.count() * 1000000) continue;
        on_stall_("soak watchdog: " + a->name + " made no progress for " + std::to_string(stall_.count()) +
                  " ms\n" + dump());
        return;
      }
    }
  }

  std::vector<Actor*> actors_;
  const std::chrono::milliseconds stall_;
  void (*on_stall_)(const std::string&);
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace udrm::soak
