// The run-state engine: a DAG's structure compiled once (run_graph), then, for any number of
// runs, the trigger rules, the setup/teardown constraint, skip and failure propagation, the
// tasks that may be queued now and the DAG-run state (docs/airflow-behaviour.md 3.3-3.6),
// and the clear closure (3.8).
//
// Contract
// - Graph: tasks are indexed 0..n-1 in a topological order, the stable one: among the tasks
//   whose upstreams are placed, the one given first comes first (a list that is already in
//   topological order keeps its order). Upstream/downstream adjacency is stored as CSR arrays
//   sorted by index. A duplicate task id, an unknown upstream id or a cycle throws
//   std::invalid_argument naming the ids ("duplicate task_id 'x'", "task 'x' has unknown upstream
//   'y'", "cycle detected in DAG: a -> b -> a"); so do a task that is both setup and teardown and
//   on_failure_fail_dagrun on a task that is not a teardown (Airflow refuses both). A repeated
//   upstream id counts once (Airflow keeps upstream ids in a set).
// - Relevant setups (Airflow's get_upstreams_only_setups): the setups upstream of a task that
//   have no teardown, or one of whose teardowns is downstream of the task. A non-teardown task's
//   *indirect* setups are its relevant setups that are not direct upstreams; the setup
//   constraint (3.6) checks them before the trigger rule. Effective leaves (3.4): tasks all of
//   whose downstream tasks are teardowns without on_failure_fail_dagrun and that are not such a
//   teardown themselves; all tasks without downstream tasks if that leaves none.
// - decide(states): states are in graph order. The tasks in a schedulable state (none,
//   up_for_retry, up_for_reschedule) are evaluated with flag_upstream_failed on, in rounds as
//   Airflow's scheduler loops: a round evaluates its candidates against the states at its start
//   and then applies the new states (skipped / upstream_failed) together; the next round
//   re-evaluates the tasks whose inputs changed; no round changing anything ends the call. The
//   result is where Airflow's scheduler ends after enough loops with no task running meanwhile,
//   including its decisions on partial information (a skip seen one loop before a failure
//   arrives on another upstream: the task is skipped). Deciding the result again changes
//   nothing. A task whose rule passes (and whose indirect setups all succeeded) is schedulable.
//   Retry and reschedule delays are out of scope: such tasks are ready when their rule passes.
//   Then the run state, on the states after the changes (3.4, first match wins):
//     1. no unfinished task and an effective leaf failed or upstream_failed -> failed
//        (reason task_failure);
//     2. no unfinished task (every leaf success, skipped or removed) -> success (reason success);
//     3. unfinished tasks, none depends_on_past, limits concurrency or is deferred, nothing is
//        schedulable and no other unfinished task (scheduled, queued, running, restarting) has
//        its dependencies met (Airflow's "premature" re-check) -> failed (all_tasks_deadlocked);
//     4. running.
//   REMOVED task instances are finished, count in `removed` for their downstream tasks and are
//   not leaves.
// - decide_many: the same for n_runs runs given as one contiguous block of ti_state codes (run
//   by run, one byte per task in graph order); results are compact columns. Nothing is
//   allocated per run: one scratch row is reused, and each row is checked after it is copied
//   there. An unknown code or a block of the wrong size throws std::invalid_argument naming the
//   run and task.
// - clear_closure: the tasks Airflow's partial_subset keeps for clearing: the given tasks, their
//   downstream and/or upstream tasks when asked, and the relevant setups of every task added
//   (with their teardowns); a setup cleared without its downstream brings its teardowns.
// - Complexity: construction O(n log n + e + s * (n + e)) for s setups; decide O(n + e + i) for
//   i indirect-setup entries; decide_many O(runs * (n + e + i)); clear_closure O(n + e + r) for
//   r relevant-setup entries.
// - Thread safety: a run_graph is immutable after construction; every const member may be
//   called concurrently. Exception guarantee: strong (const members only; construction either
//   succeeds or throws).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dagcore/states.hpp"
#include "dagcore/trigger_rules.hpp"

namespace dagcore {

/// One task of a DAG as the run-state engine sees it.
struct task_spec {
  std::string task_id;
  std::vector<std::string> upstream;  ///< direct upstream task ids
  trigger_rule rule = trigger_rule::all_success;
  bool is_setup = false;
  bool is_teardown = false;
  bool on_failure_fail_dagrun = false;  ///< teardowns only: its failure fails the run
  bool depends_on_past = false;         ///< (or depends_on_previous_tasks) no deadlock detection
  bool limits_concurrency = false;      ///< max_active_tis_per_dag(run) set: no deadlock detection
};

/// Why a run got its state: Airflow's listener/callback messages ("" for running).
enum class run_reason : std::uint8_t {
  none = 0,
  success = 1,
  task_failure = 2,
  all_tasks_deadlocked = 3,
};
inline constexpr std::size_t run_reason_count = 4;

constexpr std::string_view to_string(run_reason r) noexcept {
  switch (r) {
    case run_reason::none:
      return "";
    case run_reason::success:
      return "success";
    case run_reason::task_failure:
      return "task_failure";
    case run_reason::all_tasks_deadlocked:
      return "all_tasks_deadlocked";
  }
  return "";
}

/// A state a decision assigned to a task.
struct state_change {
  std::uint32_t task = 0;
  ti_state state = ti_state::none;
  friend constexpr bool operator==(const state_change&, const state_change&) = default;
};

/// The decision for one run.
struct run_decision {
  dagrun_state state = dagrun_state::running;
  run_reason reason = run_reason::none;
  std::vector<std::uint32_t> schedulable;  ///< tasks that may be queued now, in graph order
  std::vector<state_change> changed;       ///< states assigned, in graph order
  friend bool operator==(const run_decision&, const run_decision&) = default;
};

/// The decisions for many runs as compact columns: per run a dagrun_state and a run_reason
/// code; per run and task (row-major, graph order) the assigned ti_state code (0 = unchanged:
/// no rule assigns "no state") and a schedulable flag (0 or 1).
class decision_batch {
 public:
  decision_batch() = default;
  decision_batch(std::size_t n_runs, std::size_t n_tasks);

  [[nodiscard]] std::size_t size() const noexcept { return m_states.size(); }
  [[nodiscard]] std::size_t n_tasks() const noexcept { return m_tasks; }
  [[nodiscard]] dagrun_state state(std::size_t run) const noexcept {
    return static_cast<dagrun_state>(m_states[run]);
  }
  [[nodiscard]] run_reason reason(std::size_t run) const noexcept {
    return static_cast<run_reason>(m_reasons[run]);
  }
  [[nodiscard]] std::span<const std::uint8_t> changed(std::size_t run) const noexcept {
    return {m_changed.data() + run * m_tasks, m_tasks};
  }
  [[nodiscard]] std::span<const std::uint8_t> schedulable(std::size_t run) const noexcept {
    return {m_schedulable.data() + run * m_tasks, m_tasks};
  }
  /// The whole columns.
  [[nodiscard]] const std::vector<std::uint8_t>& state_codes() const noexcept { return m_states; }
  [[nodiscard]] const std::vector<std::uint8_t>& reason_codes() const noexcept { return m_reasons; }
  [[nodiscard]] const std::vector<std::uint8_t>& changed_codes() const noexcept {
    return m_changed;
  }
  [[nodiscard]] const std::vector<std::uint8_t>& schedulable_mask() const noexcept {
    return m_schedulable;
  }
  /// One run's decision as lists.
  [[nodiscard]] run_decision operator[](std::size_t run) const;

 private:
  friend class run_graph;
  std::size_t m_tasks = 0;
  std::vector<std::uint8_t> m_states;
  std::vector<std::uint8_t> m_reasons;
  std::vector<std::uint8_t> m_changed;
  std::vector<std::uint8_t> m_schedulable;
};

/// A DAG's structure, compiled for the run-state decisions.
class run_graph {
 public:
  using index_type = std::uint32_t;

  run_graph() = default;  ///< the empty DAG
  /// Compiles the tasks (see the contract for the errors).
  explicit run_graph(const std::vector<task_spec>& tasks);

  [[nodiscard]] std::size_t size() const noexcept { return m_ids.size(); }
  [[nodiscard]] const std::string& task_id(index_type i) const noexcept { return m_ids[i]; }
  [[nodiscard]] const std::vector<std::string>& task_ids() const noexcept { return m_ids; }
  [[nodiscard]] std::optional<index_type> find(std::string_view task_id) const noexcept;
  /// Where task i was in the list given to the constructor.
  [[nodiscard]] std::size_t position(index_type i) const noexcept { return m_position[i]; }

  [[nodiscard]] std::span<const index_type> upstream(index_type i) const noexcept {
    return row(m_up_off, m_up, i);
  }
  [[nodiscard]] std::span<const index_type> downstream(index_type i) const noexcept {
    return row(m_down_off, m_down, i);
  }
  /// Relevant setups upstream of i (direct or not), in graph order.
  [[nodiscard]] std::span<const index_type> relevant_setups(index_type i) const noexcept {
    return row(m_rsetup_off, m_rsetup, i);
  }
  /// The setups the setup constraint checks for i (empty for a teardown), in graph order.
  [[nodiscard]] std::span<const index_type> indirect_setups(index_type i) const noexcept {
    return row(m_isetup_off, m_isetup, i);
  }
  /// Effective leaves (docs/airflow-behaviour.md 3.4), in graph order.
  [[nodiscard]] std::span<const index_type> leaves_for_run_state() const noexcept {
    return m_leaves;
  }

  [[nodiscard]] trigger_rule rule(index_type i) const noexcept { return m_rule[i]; }
  [[nodiscard]] bool is_setup(index_type i) const noexcept { return has(i, flag_setup); }
  [[nodiscard]] bool is_teardown(index_type i) const noexcept { return has(i, flag_teardown); }
  [[nodiscard]] bool on_failure_fail_dagrun(index_type i) const noexcept {
    return has(i, flag_fail_dagrun);
  }
  [[nodiscard]] bool depends_on_past(index_type i) const noexcept {
    return has(i, flag_depends_on_past);
  }
  [[nodiscard]] bool limits_concurrency(index_type i) const noexcept {
    return has(i, flag_limits_concurrency);
  }

  /// The decision for one run (states in graph order; std::invalid_argument on a wrong size or
  /// an out-of-range state value).
  [[nodiscard]] run_decision decide(std::span<const ti_state> states) const;
  /// decide() on ti_state codes (the compact form, one byte per task).
  [[nodiscard]] run_decision decide_codes(std::span<const std::uint8_t> codes) const;
  /// Every run of a contiguous block of codes (n_runs * size() bytes).
  [[nodiscard]] decision_batch decide_many(std::span<const std::uint8_t> codes,
                                           std::size_t n_runs) const;
  /// decide_many with the scheduler's rounds for tasks that finish without running (its
  /// EmptyOperator tasks): after a run's decision, every schedulable task flagged in
  /// `auto_success` (one byte per task, non-zero = flagged) that has no state is set success
  /// and the run decided again, until a decision makes none ready or max_rounds decisions were
  /// made (the tasks the last one made ready are still set success; the run's state is that
  /// decision's). Each later decision equals a decision of the whole row with those tasks
  /// success; only the tasks whose inputs changed are evaluated again. The batch's changed
  /// rows hold every state the rounds assigned (success of the flagged tasks excluded) and the
  /// schedulable rows the last decision's tasks less those set success. `done` (n_runs *
  /// size(), resized here) is 1 where a task was set success; `rounds` (n_runs, resized here)
  /// the decisions made per run. std::invalid_argument as decide_many, or when auto_success
  /// does not hold size() flags or max_rounds is 0.
  [[nodiscard]] decision_batch decide_many_cascade(std::span<const std::uint8_t> codes,
                                                   std::size_t n_runs,
                                                   std::span<const std::uint8_t> auto_success,
                                                   std::size_t max_rounds,
                                                   std::vector<std::uint8_t>& done,
                                                   std::vector<std::uint32_t>& rounds) const;

  /// The tasks to clear with `tasks` (docs/airflow-behaviour.md 3.8, partial_subset), sorted.
  /// std::out_of_range for an index >= size().
  /// Decisions for runs with mapped tasks: each run is n * ti_state_count instance counts
  /// (task-major: the counts of task i's instances by state code at [i * ti_state_count]). A
  /// task's trigger rule counts every instance of its upstream tasks (Airflow's count of TI rows
  /// when an upstream is mapped, docs/airflow-behaviour.md 3.5); a task is a candidate while any
  /// instance is schedulable, and a change or a "schedulable" applies to all its schedulable
  /// instances at once. A row with one instance per task decides as decide_many does.
  [[nodiscard]] decision_batch decide_counts(std::span<const std::uint32_t> counts,
                                             std::size_t n_runs) const;

  [[nodiscard]] std::vector<index_type> clear_closure(std::span<const index_type> tasks,
                                                      bool upstream, bool downstream) const;

 private:
  static constexpr std::uint8_t flag_setup = 1;
  static constexpr std::uint8_t flag_teardown = 2;
  static constexpr std::uint8_t flag_fail_dagrun = 4;
  static constexpr std::uint8_t flag_depends_on_past = 8;
  static constexpr std::uint8_t flag_limits_concurrency = 16;
  static constexpr std::uint8_t flag_blocks_deadlock =
      flag_depends_on_past | flag_limits_concurrency;

  struct outcome {
    dagrun_state state;
    run_reason reason;
  };

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  static std::span<const index_type> row(const std::vector<index_type>& off,
                                         const std::vector<index_type>& data,
                                         index_type i) noexcept {
    return {data.data() + off[i], data.data() + off[i + 1]};
  }
  [[nodiscard]] bool has(index_type i, std::uint8_t flag) const noexcept {
    return (m_flags[i] & flag) != 0;
  }

  void compute_setups();
  void compute_leaves();
  void check_size(std::size_t n_codes, std::size_t n_runs) const;
  void check_row(std::span<const std::uint8_t> row, std::optional<std::size_t> run) const;
  [[nodiscard]] evaluation_code evaluate_task(index_type i, const std::uint8_t* states,
                                              bool flag_upstream_failed) const noexcept;
  /// Reusable per-row work space of decide_row.
  struct decide_scratch {
    explicit decide_scratch(std::size_t n) : dirty(n), pending(n) {}
    std::vector<std::uint8_t> dirty;
    std::vector<index_type> pending;
  };
  /// states: in/out (changes applied); changed and schedulable: zeroed rows, set where they apply.
  [[nodiscard]] evaluation_code evaluate_counts(index_type i, const std::uint32_t* counts,
                                                bool flag_upstream_failed) const noexcept;
  outcome decide_counts_row(std::uint32_t* counts, std::uint8_t* changed, std::uint8_t* schedulable,
                            decide_scratch& scratch) const noexcept;
  outcome decide_row(std::uint8_t* states, std::uint8_t* changed, std::uint8_t* schedulable,
                     decide_scratch& scratch) const noexcept;
  /// decide_row's rounds over the tasks flagged dirty in scratch (clears the flags).
  void propagate(std::uint8_t* states, std::uint8_t* changed, std::uint8_t* schedulable,
                 decide_scratch& scratch) const noexcept;
  /// The run's state from its states after propagation and the schedulable flags.
  [[nodiscard]] outcome run_outcome(const std::uint8_t* states,
                                    const std::uint8_t* schedulable) const noexcept;

  std::vector<std::string> m_ids;
  std::unordered_map<std::string, index_type, string_hash, std::equal_to<>> m_index;
  std::vector<std::size_t> m_position;
  std::vector<trigger_rule> m_rule;
  std::vector<std::uint8_t> m_flags;
  std::vector<index_type> m_up_setups;  // direct upstream setups per task
  std::vector<index_type> m_up_off{0};
  std::vector<index_type> m_up;
  std::vector<index_type> m_down_off{0};
  std::vector<index_type> m_down;
  std::vector<index_type> m_rsetup_off{0};
  std::vector<index_type> m_rsetup;
  std::vector<index_type> m_isetup_off{0};
  std::vector<index_type> m_isetup;
  std::vector<index_type> m_isetup_users_off{0};  // reverse of m_isetup
  std::vector<index_type> m_isetup_users;
  std::vector<index_type> m_leaves;
};

}  // namespace dagcore
