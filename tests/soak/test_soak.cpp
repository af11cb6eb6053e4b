// The soak (issue 8): the soc display on the Asio executor (real threads); N clients
// (UDRM_SOAK_CLIENTS, default 4), each with its own file, take turns as master to flip with
// nonblocking atomic commits and flip events, move the cursor and set DPMS, and create and
// destroy framebuffers; a chaos thread unbinds and rebinds the display's components in random
// order. Bounded by UDRM_SOAK_SECONDS (default 5; docs/reliability.md has a long run) and
// watched by a watchdog (no progress of any thread for 10 s: dump and abort). At the end:
// events requested == read + dropped with their closed file (the framework's counters), no
// WARN, no lifetime violation, no hardware left on, every DRM device and commit freed.
// ThreadSanitizer (build-tsan) checks the races, LeakSanitizer (build-asan) the leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "soak_actor.h"
#include "soak_chaos.h"
#include "soak_client.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/log.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic.h"

namespace udrm::soak {
namespace {

long env_long(const char* name, long def, long min, long max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end || n < min || n > max) {
    ADD_FAILURE() << name << "=" << v << ": expected an integer in [" << min << ", " << max << "]";
    return def;
  }
  return n;
}

[[noreturn]] void stalled(const std::string& dump) {
  std::fputs(dump.c_str(), stderr);
  std::fflush(stderr);
  ADD_FAILURE() << dump;
  std::abort();  // a hung thread cannot be joined: end the process (the run fails)
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!pred() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return pred();
}

TEST(Soak, ClientsFlipWhileTheSocComponentsUnbindAndRebind) {
  const long seconds = env_long("UDRM_SOAK_SECONDS", 5, 1, 24 * 3600);
  const int nclients = static_cast<int>(env_long("UDRM_SOAK_CLIENTS", 4, 1, 64));
  const uint32_t seed = static_cast<uint32_t>(env_long("UDRM_SOAK_SEED", 1, 0, 0x7fffffff));
  const uint64_t warns0 = warn_count();
  const uint64_t pending0 = events_dropped_closed_pending(), unread0 = events_dropped_closed_unread();
  const long commits0 = crtc_commit_live_count(), states0 = atomic_state_live_count();

  AsioExecutor ex(4);
  {
    World world(ex);
    drivers::DisplayOptions opts;
    opts.kind = drivers::Kind::soc;
    auto d = drivers::create_display(world, opts);
    ASSERT_EQ(d->bind(), 0);

    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<SoakClient>> clients;
    for (int i = 0; i < nclients; ++i)
      clients.push_back(std::make_unique<SoakClient>(*d, i, seed * 1000u + static_cast<uint32_t>(i), stop));
    SoakChaos chaos(*d, seed * 1000u + 999u, stop);
    std::vector<Actor*> actors{&chaos.actor()};
    for (auto& c : clients) actors.push_back(&c->actor());

    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    {
      Watchdog dog(actors, std::chrono::seconds(10), &stalled);
      for (auto& c : clients) threads.emplace_back([&c] { c->run(); });
      threads.emplace_back([&chaos] { chaos.run(); });
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      stop.store(true, std::memory_order_release);
      for (auto& t : threads) t.join();  // the watchdog still watches the wind-down
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();

    // Every file is closed; the old instances go at their final put (a nonblocking commit's
    // worker may hold the last reference a little longer).
    EXPECT_TRUE(wait_until([&] { return d->live_drm_devices() == 1; }, std::chrono::seconds(10)))
        << "live DRM devices: " << d->live_drm_devices();
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_TRUE(wait_until([&] { return d->live_drm_devices() == 0; }, std::chrono::seconds(10)))
        << "a DRM device was never freed: " << d->live_drm_devices();
    EXPECT_TRUE(d->leaks().empty()) << "hardware left on: " << d->leaks().front();
    for (const Violation& v : world.violations()) ADD_FAILURE() << "violation " << v.kind << ": " << v.message;

    long requested = 0, delivered = 0, outstanding = 0, commits = 0, ebusy = 0, einval = 0, enospc = 0;
    long enodev = 0, sessions = 0, quits = 0, no_output = 0, refused = 0, turns = 0, modesets = 0, cursor = 0;
    long props = 0, fb_new = 0, fb_del = 0;
    for (auto& c : clients) {
      ClientStats& s = c->stats();
      EXPECT_EQ(s.failures.load(), 0) << s.first_failure;
      requested += s.requested;
      delivered += s.delivered;
      outstanding += s.outstanding_at_close;
      commits += s.commits;
      ebusy += s.ebusy;
      einval += s.einval;
      enospc += s.enospc;
      enodev += s.enodev;
      sessions += s.sessions;
      quits += s.quits;
      no_output += s.no_output;
      refused += s.open_refused;
      turns += s.turns;
      modesets += s.modesets;
      cursor += s.cursor_moves;
      props += s.prop_sets;
      fb_new += s.fb_created;
      fb_del += s.fb_destroyed;
    }
    ChaosStats& cs = chaos.stats();
    EXPECT_EQ(cs.failures.load(), 0) << cs.first_failure;
    const long dropped_pending = static_cast<long>(events_dropped_closed_pending() - pending0);
    const long dropped_unread = static_cast<long>(events_dropped_closed_unread() - unread0);
    const long warns = static_cast<long>(warn_count() - warns0);

    std::printf(
        "soak: %.1f s, %d clients, seed %u\n"
        "soak: commits %ld (ebusy %ld, einval %ld, enospc %ld), modesets %ld, cursor moves %ld, DPMS sets %ld, "
        "fbs created %ld destroyed %ld, master turns %ld\n"
        "soak: unbinds %ld (cycles %ld, rebinds %ld, deferred %ld, retried after ETIMEDOUT %ld), "
        "sessions %ld (ended by ENODEV %ld, quit %ld, no output yet %ld), opens refused %ld\n"
        "soak: events requested %ld = delivered %ld + dropped with closed file %ld (pending %ld, unread %ld); "
        "client-side outstanding at close %ld\n"
        "soak: WARNs %ld, violations %zu, hardware left on %zu, live DRM devices %d\n",
        elapsed, nclients, seed, commits, ebusy, einval, enospc, modesets, cursor, props, fb_new, fb_del, turns,
        cs.unbinds.load(), cs.cycles.load(), cs.rebinds.load(), cs.deferred.load(), cs.timeouts.load(), sessions,
        enodev, quits, no_output, refused,
        requested, delivered, dropped_pending + dropped_unread, dropped_pending, dropped_unread, outstanding, warns,
        world.violations().size(), d->leaks().size(), d->live_drm_devices());
    RecordProperty("commits", std::to_string(commits));
    RecordProperty("unbinds", std::to_string(cs.unbinds.load()));
    RecordProperty("events_requested", std::to_string(requested));
    RecordProperty("events_delivered", std::to_string(delivered));
    RecordProperty("events_dropped_closed", std::to_string(dropped_pending + dropped_unread));

    EXPECT_EQ(requested, delivered + dropped_pending + dropped_unread);
    EXPECT_EQ(outstanding, dropped_pending + dropped_unread) << "the clients' view of the drops differs";
    EXPECT_EQ(warns, 0);
    // The run did what it is for (bounded below, so that a broken client cannot pass).
    EXPECT_GT(commits, 0);
    EXPECT_GT(delivered, 0);
    EXPECT_GT(cs.unbinds.load(), 0);
    EXPECT_GT(sessions, nclients) << "no client ever reopened after an unbind";
    d.reset();
  }
  ex.shutdown();
  EXPECT_EQ(crtc_commit_live_count(), commits0);
  EXPECT_EQ(atomic_state_live_count(), states0);
}

// The watchdog itself: an actor that stops moving is reported with the dump of every actor;
// one that keeps moving, or has finished, is not.
std::atomic<int> g_stalls{0};
std::string g_dump;  // written by the watchdog thread before it returns (joined below)
void record_stall(const std::string& dump) {
  g_dump = dump;
  ++g_stalls;
}

TEST(SoakWatchdog, ReportsTheStuckActorWithADump) {
  Actor busy("busy"), stuck("stuck"), done("done");
  done.finished.store(true);
  stuck.at("in the middle of it");
  {
    Watchdog dog({&busy, &stuck, &done}, std::chrono::milliseconds(300), &record_stall);
    for (int i = 0; i < 20 && g_stalls.load() == 0; ++i) {
      busy.at("working");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(g_stalls.load(), 1);
  EXPECT_NE(g_dump.find("stuck made no progress"), std::string::npos) << g_dump;
  EXPECT_NE(g_dump.find("stuck: in the middle of it"), std::string::npos) << g_dump;
  EXPECT_NE(g_dump.find("busy: working"), std::string::npos) << g_dump;
  EXPECT_NE(g_dump.find("done: finished"), std::string::npos) << g_dump;
}

}  // namespace
}  // namespace udrm::soak
