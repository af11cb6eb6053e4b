// udrm-run --trace FILE: the timeline of a real client (libdrm's modetest flipping with events)
// with an unbind in the middle, read back with Boost.JSON: viewer structure, ioctls per client,
// the framework's commit spans, the unbind with its devm releases, drmm releases at last close.
#include <gtest/gtest.h>

#include <boost/json/src.hpp>  // Boost.JSON, header-only: the one TU of this binary that compiles it
#include <string>
#include <vector>

#include "tools_run.h"
#include "trace/trace_check.h"

namespace udrm::run::test {
namespace {

using tracetest::Ev;

TEST(UdrmRunTrace, FlipsUnbindAndLastClose) {
#ifndef UDRM_PRELOAD_PATH
  GTEST_SKIP() << "libudrm-preload.so is not built";
#endif
  if (!have_tool("modetest")) GTEST_SKIP() << "libdrm-tests is not installed (apt-get install libdrm-tests)";
  RunResult c = udrm_run("simple", "modetest -M udrm-simple -c");
  ASSERT_EQ(c.status, 0) << c.out;
  std::string conn, mode;
  ASSERT_TRUE(first_connected(c.out, &conn, &mode)) << c.out;
  const std::string trace = temp_path("run-trace.json");
  // modetest flips with events (-v) until its stdin gets a line; the device is unbound under it
  // a second in (`udrmctl unbind simple`: its flips then fail with ENODEV), then it is told to
  // stop.
  RunResult r = udrm_run("simple",
                         "(sleep 1; udrmctl unbind simple; sleep 0.3; echo) | modetest -M udrm-simple -s " + conn + ":" + mode +
                             " -v; true",
                         "--trace " + trace);
  ASSERT_EQ(r.status, 0) << r.out;
  std::vector<Ev> evs;
  ASSERT_TRUE(tracetest::parse_trace(slurp(trace), &evs));

  // ioctls on the client's track (not the server's process).
  int flips = 0;
  int64_t server_pid = -1;
  for (const Ev& e : evs)
    if (e.ph == "M" && e.name == "process_name" && e.arg("name") == "udrm-run (server)") server_pid = e.pid;
  ASSERT_NE(server_pid, -1);
  for (const Ev& e : evs)
    if (e.cat == "ioctl" && e.name == "MODE_PAGE_FLIP") {
      EXPECT_NE(e.pid, server_pid);
      ++flips;
    }
  EXPECT_GT(flips, 10);

  // Commit spans (the executor is multi-threaded: a flip_done may follow its cleanup_done).
  std::map<std::string, std::vector<std::string>> phases;
  EXPECT_TRUE(tracetest::commit_phases(evs, &phases, true));
  int in_order = 0;
  for (auto& [key, subs] : phases)
    in_order += subs == std::vector<std::string>{"swap", "hw_done", "flip_done"};
  EXPECT_GT(in_order, 10);

  // Flip events delivered to the client's track.
  int delivered = 0;
  for (const Ev& e : evs)
    if (e.name == "event FLIP_COMPLETE delivered") {
      EXPECT_NE(e.pid, server_pid);
      ++delivered;
    }
  EXPECT_GT(delivered, 10);

  // The unbind, its devm releases inside it, the drmm releases after the last close.
  auto ub = tracetest::find_all(evs, "unbind udrm-simple", "b"), ue = tracetest::find_all(evs, "unbind udrm-simple", "e");
  ASSERT_EQ(ub.size(), 1u);
  ASSERT_EQ(ue.size(), 1u);
  int devm = 0;
  for (const Ev& e : evs)
    if (e.cat == "devm" && e.arg("owner") == "udrm-simple") {
      EXPECT_GT(e.index, ub[0]) << e.name;
      EXPECT_LT(e.index, ue[0]) << e.name;
      ++devm;
    }
  EXPECT_GT(devm, 0);
  auto lc = tracetest::find_all(evs, "last close");
  ASSERT_FALSE(lc.empty());
  int drmm = 0;
  for (const Ev& e : evs)
    if (e.cat == "drmm") {
      EXPECT_GT(e.index, lc.back()) << e.name;
      ++drmm;
    }
  EXPECT_GT(drmm, 0);
  EXPECT_FALSE(tracetest::find_all(evs, "unbind", "i").empty());  // the server's own instant
}

TEST(UdrmRunTrace, UnwritableTraceFileFailsClearly) {
  RunResult r = udrm_run("simple", "true", "--trace /nonexistent-dir/t.json");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("No such file"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace udrm::run::test
