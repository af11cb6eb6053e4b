// udrm/explore/schedule.h — what one explorer run did, by name, and its replay token.
//
// A Site names one moment of a run without indices into the run: "the 3rd time the 1st task
// called atomic_commit_work passed atomic.hw_done" is Site{"atomic.hw_done",
// "atomic_commit_work", 0, 2}. A Schedule is the injected event, where it was injected, and
// the scheduling decisions that differ from the simulated executor's default FIFO order. The
// token is its text form:
//
//   udrm1:<scenario>:<event>[@<site>]{:<decision>}
//   site     = <point>,<task>/<task seq>,<occurrence>          (point and task %-escaped)
//   decision = p<site>><task>/<task seq>   switch to that task when the running task is at site
//            | b<site>><task>/<task seq>   when the task at site blocks, run that task next
//   fail event: fail@<fault site>,-/0,<occurrence>   (the n-th consult of that UDRM_SHOULD_FAIL)
//
// Points are named, never numbered, so a token stays valid across unrelated code changes; a
// token naming a point the code no longer passes is reported as such on replay.
//
// Context: plain data; any thread.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace udrm::explore {

/// The domain events the explorer injects.
enum class Event : uint8_t {
  none,     ///< no injection (random schedules of the plain scenario)
  unbind,   ///< sysfs driver unbind of the scenario's device
  unplug,   ///< device removal (hot-unplug): unbind + device_del of every device
  close,    ///< close of the scenario's last open file (and its mappings)
  rebind,   ///< unbind, then bind again, at the point
  fail,     ///< the n-th consult of an allocation/registration fault site fails
};
const char* event_name(Event e) noexcept;
/// "unbind" -> Event::unbind; false for an unknown name.
bool event_from_name(std::string_view name, Event* out) noexcept;

struct Site {
  std::string point;      ///< point (or fault site) name
  std::string task;       ///< name of the task that passed it ("-" for fault sites)
  uint32_t task_seq = 0;  ///< which task of that name (0 = the first created)
  uint32_t occurrence = 0;  ///< how many times that task had passed that point before
  bool operator==(const Site&) const = default;
};
std::string to_string(const Site& s);

struct Decision {
  enum class Kind : uint8_t { preempt, pick } kind = Kind::preempt;
  Site at;
  std::string to_task;
  uint32_t to_seq = 0;
  bool operator==(const Decision&) const = default;
};

struct Schedule {
  std::string scenario;
  Event event = Event::none;
  Site where;                       ///< meaningful when event != none
  std::vector<Decision> decisions;  ///< in the order the run took them
  bool operator==(const Schedule&) const = default;
};

/// The token text of s.
std::string encode(const Schedule& s);
/// Parse a token; on error returns false and says why in *err.
bool decode(std::string_view token, Schedule* out, std::string* err);

}  // namespace udrm::explore
