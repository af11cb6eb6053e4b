// One explorer run: the simulated executor's strategy and point observer, the injector task,
// the fault injector, PCT, and the per-run oracles. Internal to the explorer.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/explore/explorer.h"
#include "release_log.h"

namespace udrm::explore::detail {

/// One site the recording run passed, with the tasks that could have run instead.
struct SiteRec {
  Site site;
  std::vector<std::pair<std::string, uint32_t>> alternatives;  // filled when recording them
};

struct EngineConfig {
  Schedule schedule;               // event + where + decisions to replay
  bool record_sites = false;       // collect body sites (and fault consults)
  bool record_alternatives = false;
  bool pct = false;
  uint64_t pct_seed = 0;
  int pct_depth = 3;
  uint64_t pct_steps_estimate = 1000;
  uint64_t step_budget = 5'000'000;
  bool strict = false;             // report token points never reached
};

class Engine final : public Run, public SimStrategy, public FaultInjector {
 public:
  Engine(Scenario& sc, EngineConfig cfg);
  ~Engine() override;

  /// Execute the run; fills result().
  void execute();
  RunResult& result() { return result_; }
  std::vector<SiteRec>& sites() { return sites_; }
  std::vector<SiteRec>& fault_sites() { return fault_sites_; }

  // Run
  SimExecutor& sim() override { return *sim_; }
  World& world() override { return *world_; }
  Event event() const override { return cfg_.schedule.event; }
  bool event_fired() const override { return fired_; }
  bool event_done() const override { return event_done_; }
  int event_result() const override { return event_ret_; }
  void fail(std::string oracle, std::string what) override;
  bool wait_event_done(int ms) override;
  void note_rebind() override;

  // SimStrategy
  SimTask* at_point(SimExecutor&, const Point& p, SimTask* current, std::span<SimTask* const> ready) override;
  SimTask* pick(SimExecutor&, std::span<SimTask* const> ready) override;
  void yielding(SimExecutor&, SimTask* current) override;
  // FaultInjector
  bool should_fail(const Point& site) override;

 private:
  enum class Phase : uint8_t { setup, body, teardown };
  struct TaskInfo {
    std::string name;
    uint32_t seq = 0;
    std::vector<uint32_t> occ;  // by point id
    int64_t prio = 0;
    uint32_t last_pid = 0, last_occ = 0;  // last site passed (for pick decisions)
    bool has_last = false;
  };
  int64_t polls_lowered_ = 0;  // PCT: tasks sent below every other by a polling wait (yielding)
  struct PointInfo {
    std::string name;
    bool decision = false;  // some decision names this point
    bool where = false;     // the injection site names this point
    bool driver = false;    // a driver callback point (oracle)
    bool release = false;   // a driver release point (allowed after unbind)
  };

  static void observe_thunk(void* ctx, const Point& p, SimTask* t);
  void observe(const Point& p, SimTask* t);
  uint32_t point_id(const Point& p);
  TaskInfo& info(SimTask* t);
  SimTask* find_task(std::span<SimTask* const> ready, const std::string& name, uint32_t seq);
  std::string key(char kind, const Site& s) const;
  void main_task();
  int do_event();
  void injector_task();
  int64_t fresh_prio();
  Site site_of(const TaskInfo& ti) const;

  Scenario& sc_;
  EngineConfig cfg_;
  RunResult result_;
  std::unique_ptr<SimExecutor> sim_;
  World* world_ = nullptr;
  Phase phase_ = Phase::setup;

  std::unordered_map<const Point*, uint32_t> point_ids_;
  std::unordered_map<std::string, uint32_t> point_names_;
  std::vector<PointInfo> points_;
  std::unordered_map<uint64_t, TaskInfo> tasks_;  // by SimTask::id()
  std::unordered_map<std::string, uint32_t> fault_occ_;

  // decisions to replay, by key; and which were used
  std::unordered_map<std::string, const Decision*> decisions_;
  std::unordered_set<const Decision*> applied_;
  std::vector<std::string> driver_prefixes_, release_points_;
  uint32_t cur_pid_ = 0;
  unsigned picks_since_point_ = 0;
  bool reported_callback_ = false;
  ReleaseLog release_log_;

  SimTask* injector_ = nullptr;
  Completion go_, event_done_c_;
  bool cancelled_ = false, fired_ = false, event_done_ = false, switch_to_injector_ = false;
  int event_ret_ = 0;
  bool unbound_window_ = false;   // between an injected unbind/unplug returning and a rebind

  uint64_t warns_at_start_ = 0, warns_seen_ = 0;
  std::string first_warn_text_;

  std::mt19937_64 rng_;
  std::vector<uint64_t> change_points_;  // sorted body-step numbers
  std::size_t next_change_ = 0;
  uint64_t body_steps_ = 0;
  uint64_t last_task_id_ = 0;

  std::vector<SiteRec> sites_, fault_sites_;
};

}  // namespace udrm::explore::detail
