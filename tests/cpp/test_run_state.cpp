// The run-state engine: graph compilation (order, errors, relevant setups, effective leaves),
// decisions on Airflow's cases (docs/airflow-behaviour.md 3.3-3.6), the one-pass fixpoint
// checked against Airflow's one-level-per-loop propagation on random DAGs, decide_many against
// decide, and the clear closure (3.8).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagcore/run_state.hpp"

namespace dagcore {
namespace {

using S = ti_state;
using TR = trigger_rule;
using idx = run_graph::index_type;

task_spec task(std::string id, std::vector<std::string> upstream = {}, TR rule = TR::all_success) {
  task_spec t;
  t.task_id = std::move(id);
  t.upstream = std::move(upstream);
  t.rule = rule;
  return t;
}

task_spec setup(std::string id, std::vector<std::string> upstream = {}) {
  task_spec t = task(std::move(id), std::move(upstream));
  t.is_setup = true;
  return t;
}

task_spec teardown(std::string id, std::vector<std::string> upstream,
                   bool on_failure_fail_dagrun = false) {
  task_spec t = task(std::move(id), std::move(upstream), TR::all_done_setup_success);
  t.is_teardown = true;
  t.on_failure_fail_dagrun = on_failure_fail_dagrun;
  return t;
}

std::vector<std::string> ids(const run_graph& g, const std::vector<idx>& v) {
  std::vector<std::string> out;
  for (const idx i : v) out.push_back(g.task_id(i));
  return out;
}

std::vector<std::string> ids(const run_graph& g, std::span<const idx> v) {
  return ids(g, std::vector<idx>(v.begin(), v.end()));
}

std::set<std::string> id_set(const run_graph& g, const std::vector<idx>& v) {
  const auto list = ids(g, v);
  return {list.begin(), list.end()};
}

/// States in graph order from a map (missing ids have no state).
std::vector<S> states(const run_graph& g, const std::map<std::string, S>& by_id) {
  std::vector<S> out(g.size(), S::none);
  for (const auto& [id, s] : by_id) {
    const auto i = g.find(id);
    if (!i) throw std::invalid_argument("no task " + id);
    out[*i] = s;
  }
  return out;
}

std::map<std::string, S> changes(const run_graph& g, const run_decision& d) {
  std::map<std::string, S> out;
  for (const state_change& c : d.changed) out[g.task_id(c.task)] = c.state;
  return out;
}

std::string message_of(const std::vector<task_spec>& tasks) {
  try {
    const run_graph g(tasks);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

// ---------------------------------------------------------------------------------------------
// compilation

TEST(RunGraph, KeepsAnOrderThatIsAlreadyTopological) {
  const run_graph g({task("a"), task("b", {"a"}), task("c"), task("d", {"b", "c"})});
  EXPECT_EQ(g.task_ids(), (std::vector<std::string>{"a", "b", "c", "d"}));
  for (idx i = 0; i < g.size(); ++i) EXPECT_EQ(g.position(i), i);
}

TEST(RunGraph, SortsTopologicallyPreferringTheGivenOrder) {
  const run_graph g({task("d", {"b", "c"}), task("c"), task("b", {"a"}), task("a")});
  EXPECT_EQ(g.task_ids(), (std::vector<std::string>{"c", "a", "b", "d"}));
  EXPECT_EQ(g.position(0), 1U);
  EXPECT_EQ(g.position(3), 0U);
  for (idx i = 0; i < g.size(); ++i) {
    for (const idx u : g.upstream(i)) EXPECT_LT(u, i);
    for (const idx d : g.downstream(i)) EXPECT_GT(d, i);
  }
}

TEST(RunGraph, AdjacencyIsSortedAndRepeatedUpstreamsCountOnce) {
  const run_graph g({task("a"), task("b"), task("c", {"b", "a", "b"})});
  EXPECT_EQ(ids(g, g.upstream(2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ids(g, g.downstream(0)), (std::vector<std::string>{"c"}));
  EXPECT_EQ(g.find("c"), std::optional<idx>(2));
  EXPECT_EQ(g.find("zzz"), std::nullopt);
}

TEST(RunGraph, EmptyGraph) {
  const run_graph g(std::vector<task_spec>{});
  EXPECT_EQ(g.size(), 0U);
  const run_decision d = g.decide({});
  EXPECT_EQ(d.state, dagrun_state::success);
  EXPECT_TRUE(g.leaves_for_run_state().empty());
}

TEST(RunGraph, ErrorsNameTheIds) {
  EXPECT_EQ(message_of({task("a"), task("a")}), "duplicate task_id 'a'");
  EXPECT_EQ(message_of({task("a"), task("b", {"a", "y"})}), "task 'b' has unknown upstream 'y'");
  EXPECT_EQ(message_of({task("a", {"b"}), task("b", {"a"})}), "cycle detected in DAG: a -> b -> a");
  EXPECT_EQ(message_of({task("a", {"a"})}), "cycle detected in DAG: a -> a");
  // The cycle is reported without the tasks that merely hang off it.
  EXPECT_EQ(message_of({task("start"), task("x", {"start", "z"}), task("y", {"x"}),
                        task("z", {"y"}), task("after", {"z"})}),
            "cycle detected in DAG: x -> y -> z -> x");
  EXPECT_EQ(message_of({task("")}), "task_id must not be empty");
  task_spec both = setup("s");
  both.is_teardown = true;
  EXPECT_EQ(message_of({both}), "task 's' cannot be both a setup and a teardown");
  task_spec plain = task("w");
  plain.on_failure_fail_dagrun = true;
  EXPECT_EQ(message_of({plain}),
            "Cannot set task on_failure_fail_dagrun for 'w' because it is not a teardown task.");
}

// s >> w1 >> w2 >> td, s >> td, td >> after; s2 (no teardown) >> w2; loose task.
std::vector<task_spec> setup_dag() {
  return {setup("s"),
          setup("s2"),
          task("w1", {"s"}),
          task("w2", {"w1", "s2"}),
          teardown("td", {"s", "w2"}),
          task("after", {"td"}),
          task("loose")};
}

TEST(RunGraph, RelevantAndIndirectSetups) {
  const run_graph g(setup_dag());
  const auto at = [&](const char* id) { return *g.find(id); };
  EXPECT_EQ(ids(g, g.relevant_setups(at("w1"))), (std::vector<std::string>{"s"}));
  EXPECT_TRUE(g.indirect_setups(at("w1")).empty());  // s is a direct upstream
  EXPECT_EQ(ids(g, g.relevant_setups(at("w2"))), (std::vector<std::string>{"s", "s2"}));
  EXPECT_EQ(ids(g, g.indirect_setups(at("w2"))), (std::vector<std::string>{"s"}));
  // A teardown has no indirect setups.
  EXPECT_EQ(ids(g, g.relevant_setups(at("td"))), (std::vector<std::string>{"s2"}));
  EXPECT_TRUE(g.indirect_setups(at("td")).empty());
  // After the teardown, s is out of scope; s2 has no teardown, so it stays relevant.
  EXPECT_EQ(ids(g, g.indirect_setups(at("after"))), (std::vector<std::string>{"s2"}));
  EXPECT_TRUE(g.relevant_setups(at("loose")).empty());
}

TEST(RunGraph, EffectiveLeaves) {
  // w2's only downstream task is an ignorable teardown, so it is a leaf too.
  const run_graph g(setup_dag());
  EXPECT_EQ(ids(g, g.leaves_for_run_state()), (std::vector<std::string>{"w2", "after", "loose"}));

  // w >> td: w is a leaf because its only downstream is an ignorable teardown.
  const run_graph plain({setup("s"), task("w", {"s"}), teardown("td", {"s", "w"})});
  EXPECT_EQ(ids(plain, plain.leaves_for_run_state()), (std::vector<std::string>{"w"}));

  const run_graph failing({setup("s"), task("w", {"s"}), teardown("td", {"s", "w"}, true)});
  EXPECT_EQ(ids(failing, failing.leaves_for_run_state()), (std::vector<std::string>{"td"}));

  // Only teardowns: fall back to the tasks without downstream tasks.
  const run_graph only({teardown("t1", {}), teardown("t2", {"t1"}), teardown("t3", {})});
  EXPECT_EQ(ids(only, only.leaves_for_run_state()), (std::vector<std::string>{"t2", "t3"}));
}

// ---------------------------------------------------------------------------------------------
// decisions: Airflow's cases

TEST(Decide, AllSucceededIsSuccess) {
  const run_graph g({task("a"), task("b", {"a"})});
  const run_decision d = g.decide(states(g, {{"a", S::success}, {"b", S::success}}));
  EXPECT_EQ(d.state, dagrun_state::success);
  EXPECT_EQ(d.reason, run_reason::success);
  EXPECT_TRUE(d.schedulable.empty());
  EXPECT_TRUE(d.changed.empty());
}

TEST(Decide, FreshRunSchedulesTheRoots) {
  const run_graph g({task("a"), task("b", {"a"}), task("c")});
  const run_decision d = g.decide(states(g, {}));
  EXPECT_EQ(d.state, dagrun_state::running);
  EXPECT_EQ(d.reason, run_reason::none);
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(d.changed.empty());
}

TEST(Decide, ShortCircuitSkipsGiveSuccess) {
  // branch >> [left, right]; left >> join; right skipped by the branch: its downstream is
  // skipped too (not upstream_failed), and a run that ends in skips succeeded.
  const run_graph g({task("branch"), task("left", {"branch"}), task("right", {"branch"}),
                     task("right_next", {"right"}), task("join", {"left", "right_next"})});
  const run_decision d =
      g.decide(states(g, {{"branch", S::success}, {"left", S::success}, {"right", S::skipped}}));
  EXPECT_EQ(changes(g, d),
            (std::map<std::string, S>{{"right_next", S::skipped}, {"join", S::skipped}}));
  EXPECT_EQ(d.state, dagrun_state::success);
}

TEST(Decide, AllTasksRemovedIsSuccess) {
  const run_graph g({task("a"), task("b", {"a"})});
  const run_decision d = g.decide(states(g, {{"a", S::removed}, {"b", S::removed}}));
  EXPECT_EQ(d.state, dagrun_state::success);
  EXPECT_TRUE(d.changed.empty());
}

TEST(Decide, RemovedLeafDoesNotCount) {
  const run_graph g({task("a"), task("b")});
  EXPECT_EQ(g.decide(states(g, {{"a", S::success}, {"b", S::removed}})).state,
            dagrun_state::success);
  EXPECT_EQ(g.decide(states(g, {{"a", S::failed}, {"b", S::removed}})).state, dagrun_state::failed);
}

TEST(Decide, FailedNonLeafWithSucceedingLeavesIsSuccess) {
  // Airflow's test_dagrun_success_conditions: B -> A, D -> C -> A.
  const run_graph g({task("B"), task("D"), task("C", {"D"}), task("A", {"B", "C"})});
  EXPECT_EQ(g.decide(states(g, {{"A", S::success}})).state, dagrun_state::running);
  const run_decision d = g.decide(
      states(g, {{"A", S::success}, {"B", S::failed}, {"C", S::success}, {"D", S::success}}));
  EXPECT_EQ(d.state, dagrun_state::success);
  EXPECT_TRUE(d.changed.empty());
}

TEST(Decide, FailedLeafIsFailure) {
  // Airflow's test_dagrun_failure_conditions: A -> B, A -> C -> D.
  const run_graph g({task("A"), task("B", {"A"}), task("C", {"A"}), task("D", {"C"})});
  const run_decision d = g.decide(
      states(g, {{"A", S::success}, {"B", S::failed}, {"C", S::success}, {"D", S::success}}));
  EXPECT_EQ(d.state, dagrun_state::failed);
  EXPECT_EQ(d.reason, run_reason::task_failure);
}

TEST(Decide, FailurePropagatesToTheEndInOneCall) {
  const run_graph g({task("a"), task("b", {"a"}), task("c", {"b"}), task("d", {"c"})});
  const run_decision d = g.decide(states(g, {{"a", S::failed}}));
  EXPECT_EQ(changes(g, d),
            (std::map<std::string, S>{
                {"b", S::upstream_failed}, {"c", S::upstream_failed}, {"d", S::upstream_failed}}));
  EXPECT_EQ(d.state, dagrun_state::failed);
  EXPECT_EQ(d.reason, run_reason::task_failure);
}

TEST(Decide, OneFailedDownstreamOfSuccessIsSkipped) {
  const run_graph g({task("a"), task("on_failure", {"a"}, TR::one_failed)});
  const run_decision d = g.decide(states(g, {{"a", S::success}}));
  EXPECT_EQ(changes(g, d), (std::map<std::string, S>{{"on_failure", S::skipped}}));
  EXPECT_EQ(d.state, dagrun_state::success);
}

TEST(Decide, OneFailedRunsAfterAFailure) {
  const run_graph g({task("a"), task("b"), task("alert", {"a", "b"}, TR::one_failed)});
  const run_decision d = g.decide(states(g, {{"a", S::failed}, {"b", S::running}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"alert"}));
  EXPECT_EQ(d.state, dagrun_state::running);
}

TEST(Decide, SkipsFlowThroughNoneFailedButNotAllSuccess) {
  const run_graph g({task("a"), task("b", {"a"}), task("c", {"b"}, TR::none_failed),
                     task("d", {"b"}, TR::none_failed_min_one_success)});
  const run_decision d = g.decide(states(g, {{"a", S::skipped}}));
  EXPECT_EQ(changes(g, d), (std::map<std::string, S>{{"b", S::skipped}, {"d", S::skipped}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"c"}));
}

TEST(Decide, RetryAndRescheduleAreCandidates) {
  const run_graph g({task("a"), task("b", {"a"}), task("c", {"a"})});
  const run_decision d =
      g.decide(states(g, {{"a", S::success}, {"b", S::up_for_retry}, {"c", S::up_for_reschedule}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(d.state, dagrun_state::running);
}

TEST(Decide, RunningUpstreamIsNotADeadlock) {
  const run_graph g({task("a"), task("b", {"a"})});
  for (const S s : {S::scheduled, S::queued, S::running, S::restarting}) {
    const run_decision d = g.decide(states(g, {{"a", s}}));
    EXPECT_EQ(d.state, dagrun_state::running) << to_string(s);
    EXPECT_TRUE(d.schedulable.empty());
  }
}

TEST(Decide, DeadlockWhenNothingCanRun) {
  // A REMOVED upstream never counts as a success: b waits forever (unmapped Airflow tasks).
  const run_graph g({task("a"), task("b", {"a"})});
  const run_decision d = g.decide(states(g, {{"a", S::removed}}));
  EXPECT_EQ(d.state, dagrun_state::failed);
  EXPECT_EQ(d.reason, run_reason::all_tasks_deadlocked);
  EXPECT_TRUE(d.changed.empty());
}

TEST(Decide, DeadlockExceptions) {
  const auto decide_with = [](task_spec b, S other_state) {
    const run_graph g({task("a"), std::move(b), task("other")});
    return g.decide(states(g, {{"a", S::removed}, {"other", other_state}}));
  };
  task_spec b = task("b", {"a"});
  EXPECT_EQ(decide_with(b, S::success).reason, run_reason::all_tasks_deadlocked);
  task_spec dop = b;
  dop.depends_on_past = true;
  EXPECT_EQ(decide_with(dop, S::success).state, dagrun_state::running);
  task_spec limited = b;
  limited.limits_concurrency = true;
  EXPECT_EQ(decide_with(limited, S::success).state, dagrun_state::running);
  EXPECT_EQ(decide_with(b, S::deferred).state, dagrun_state::running);
  // A depends_on_past task that is finished does not stop the detection.
  const run_graph g({task("a"), task("b", {"a"}), [] {
                       task_spec t = task("done");
                       t.depends_on_past = true;
                       return t;
                     }()});
  EXPECT_EQ(g.decide(states(g, {{"a", S::removed}, {"done", S::success}})).reason,
            run_reason::all_tasks_deadlocked);
}

TEST(Decide, TeardownFailureOnlyFailsTheRunWhenAsked) {
  for (const bool fail_dagrun : {false, true}) {
    const run_graph g({setup("s"), task("w", {"s"}), teardown("td", {"s", "w"}, fail_dagrun)});
    const run_decision d =
        g.decide(states(g, {{"s", S::success}, {"w", S::success}, {"td", S::failed}}));
    EXPECT_EQ(d.state, fail_dagrun ? dagrun_state::failed : dagrun_state::success);
  }
}

TEST(Decide, TeardownRunsAfterWorkFailsAndTheRunFails) {
  const run_graph g({setup("s"), task("w", {"s"}), teardown("td", {"s", "w"})});
  const run_decision d = g.decide(states(g, {{"s", S::success}, {"w", S::failed}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"td"}));
  EXPECT_EQ(d.state, dagrun_state::running);
  EXPECT_EQ(g.decide(states(g, {{"s", S::success}, {"w", S::failed}, {"td", S::success}})).state,
            dagrun_state::failed);
}

TEST(Decide, FailedSetupFailsItsScopeAndTeardown) {
  const run_graph g(setup_dag());
  const run_decision d = g.decide(states(g, {{"s", S::failed}, {"s2", S::success}}));
  EXPECT_EQ(changes(g, d), (std::map<std::string, S>{{"w1", S::upstream_failed},
                                                     {"w2", S::upstream_failed},
                                                     {"td", S::upstream_failed},
                                                     {"after", S::upstream_failed}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"loose"}));
}

TEST(Decide, SetupConstraintOverridesALenientRule) {
  // w2 is all_done, so its direct upstream alone would let it run; its indirect setup failed.
  const run_graph g({setup("s"), task("w1", {"s"}, TR::all_done), task("w2", {"w1"}, TR::all_done),
                     teardown("td", {"s", "w2"})});
  const run_decision d = g.decide(states(g, {{"s", S::failed}, {"w1", S::success}}));
  EXPECT_EQ(changes(g, d),
            (std::map<std::string, S>{{"w2", S::upstream_failed}, {"td", S::upstream_failed}}));

  const run_decision skipped = g.decide(states(g, {{"s", S::skipped}, {"w1", S::success}}));
  EXPECT_EQ(changes(g, skipped),
            (std::map<std::string, S>{{"w2", S::skipped}, {"td", S::skipped}}));

  // While the setup has not succeeded, w2 waits even though its rule passes.
  const run_decision waiting = g.decide(states(g, {{"s", S::running}, {"w1", S::success}}));
  EXPECT_TRUE(waiting.changed.empty());
  EXPECT_TRUE(waiting.schedulable.empty());
  EXPECT_EQ(waiting.state, dagrun_state::running);
}

TEST(Decide, AlwaysIgnoresTheSetupConstraint) {
  const run_graph g(
      {setup("s"), task("w1", {"s"}), task("w2", {"w1"}, TR::always), teardown("td", {"s", "w2"})});
  const run_decision d = g.decide(states(g, {{"s", S::failed}, {"w1", S::running}}));
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"w2"}));
}

TEST(Decide, OnlyCandidatesAreEvaluated) {
  // A queued task whose upstream failed keeps its state: only none/up_for_retry/
  // up_for_reschedule tasks get new states.
  const run_graph g({task("a"), task("b", {"a"}), task("c")});
  const run_decision d = g.decide(states(g, {{"a", S::failed}, {"b", S::queued}}));
  EXPECT_TRUE(d.changed.empty());
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"c"}));
}

TEST(Decide, RejectsBadInput) {
  const run_graph g({task("a"), task("b", {"a"})});
  EXPECT_THROW((void)g.decide(std::vector<S>{S::none}), std::invalid_argument);
  const std::vector<std::uint8_t> bad{0, 13};
  try {
    (void)g.decide_codes(bad);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "task 'b' has unknown state code 13");
  }
  const std::vector<std::uint8_t> runs{0, 0, 4, 200};
  try {
    (void)g.decide_many(runs, 2);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "run 1: task 'b' has unknown state code 200");
  }
  try {
    (void)g.decide_many(runs, 3);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "expected 6 state codes (3 run(s) of 2 task(s)), got 4");
  }
}

// ---------------------------------------------------------------------------------------------
// the fixpoint, against Airflow's loop on random DAGs

struct reference_result {
  std::vector<S> states;
  std::vector<idx> schedulable;
  dagrun_state state;
  run_reason reason;
};

/// One task's dependency evaluation on a vector of states, written from
/// docs/airflow-behaviour.md 3.5/3.6 independently of the engine's kernel (counts over finished
/// upstream task instances).
evaluation_code evaluate_on(const run_graph& g, idx i, const std::vector<S>& st, bool flag) {
  if (g.upstream(i).empty()) return {true, S::none, trigger_reason::no_upstream};
  if (g.rule(i) == TR::always) return {true, S::none, trigger_reason::always};
  bool setups_ok = true;
  const auto indirect = g.indirect_setups(i);
  if (!indirect.empty()) {
    upstream_counts s;
    s.upstream = static_cast<std::uint32_t>(indirect.size());
    for (const idx u : indirect) {
      s.success += st[u] == S::success;
      s.skipped += st[u] == S::skipped;
      s.failed += st[u] == S::failed;
      s.upstream_failed += st[u] == S::upstream_failed;
    }
    const evaluation_code e = evaluate_setup_constraint(s, flag);
    if (e.changes_state()) return e;
    setups_ok = e.passed;
  }
  upstream_counts c;
  c.upstream = static_cast<std::uint32_t>(g.upstream(i).size());
  for (const idx u : g.upstream(i)) {
    const S s = st[u];
    if (g.is_setup(u)) {
      ++c.upstream_setup;  // every direct setup, finished or not
      c.success_setup += s == S::success;
      c.skipped_setup += s == S::skipped;
    }
    if (!is_finished(s)) continue;
    ++c.done;
    c.success += s == S::success;
    c.skipped += s == S::skipped;
    c.failed += s == S::failed;
    c.upstream_failed += s == S::upstream_failed;
    c.removed += s == S::removed;
  }
  evaluation_code e = evaluate_code(g.rule(i), c, flag);
  if (!setups_ok) e.passed = false;
  return e;
}

/// Repeats scheduling loops until one changes nothing. Airflow's loop (in_place = false)
/// evaluates every candidate against the states the loop started with (finished_tis is loaded
/// once per loop); in_place = true lets each evaluation see the changes made before it in the
/// loop. Then the ready tasks and update_state's decision (3.4) on the final states.
reference_result loops_until_nothing_changes(const run_graph& g, std::vector<S> st, bool in_place) {
  for (bool changed = true; changed;) {
    changed = false;
    const std::vector<S> snap = st;
    for (idx i = 0; i < g.size(); ++i) {
      if (!is_schedulable(st[i])) continue;
      const evaluation_code e = evaluate_on(g, i, in_place ? st : snap, true);
      if (e.changes_state()) {
        st[i] = e.new_state;
        changed = true;
      }
    }
  }
  reference_result r{st, {}, dagrun_state::running, run_reason::none};
  for (idx i = 0; i < g.size(); ++i) {
    if (is_schedulable(st[i]) && evaluate_on(g, i, st, true).passed) r.schedulable.push_back(i);
  }
  std::vector<idx> unfinished;
  for (idx i = 0; i < g.size(); ++i) {
    if (is_unfinished(st[i])) unfinished.push_back(i);
  }
  const auto leaves = g.leaves_for_run_state();
  if (unfinished.empty()) {
    const bool failed =
        std::any_of(leaves.begin(), leaves.end(), [&](idx l) { return is_failed_state(st[l]); });
    r.state = failed ? dagrun_state::failed : dagrun_state::success;
    r.reason = failed ? run_reason::task_failure : run_reason::success;
    return r;
  }
  const bool should_schedule = std::all_of(unfinished.begin(), unfinished.end(), [&](idx i) {
    return !g.depends_on_past(i) && !g.limits_concurrency(i) && st[i] != S::deferred;
  });
  // The "premature" re-check: any unfinished task whose dependencies are met is progress.
  const bool runnable = !r.schedulable.empty() ||
                        std::any_of(unfinished.begin(), unfinished.end(),
                                    [&](idx i) { return evaluate_on(g, i, st, false).passed; });
  if (should_schedule && !runnable) {
    r.state = dagrun_state::failed;
    r.reason = run_reason::all_tasks_deadlocked;
  }
  return r;
}

/// A random DAG in a shuffled order: edges go from lower to higher hidden rank; some setups
/// with teardowns (a teardown is downstream of its setup), random rules and flags.
std::vector<task_spec> random_dag(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<task_spec> tasks;
  for (int k = 0; k < n; ++k) {
    task_spec t = task("t" + std::to_string(k));
    const int kind = percent(rng);
    if (kind < 10) {
      t.is_setup = true;
    } else if (kind < 18) {
      t.is_teardown = true;
      t.rule = TR::all_done_setup_success;
      t.on_failure_fail_dagrun = percent(rng) < 30;
    } else {
      t.rule = static_cast<TR>(
          percent(rng) < 40 ? 0 : percent(rng) % static_cast<int>(trigger_rule_count));
    }
    t.depends_on_past = percent(rng) < 3;
    t.limits_concurrency = percent(rng) < 3;
    for (int u = 0; u < k; ++u) {
      const bool teardown_of_setup = t.is_teardown && tasks[static_cast<std::size_t>(u)].is_setup;
      if (percent(rng) < (teardown_of_setup ? 50 : 12)) {
        t.upstream.push_back("t" + std::to_string(u));
      }
    }
    tasks.push_back(std::move(t));
  }
  std::shuffle(tasks.begin(), tasks.end(), rng);
  return tasks;
}

std::vector<S> random_states(std::mt19937& rng, std::size_t n, bool mostly_finished = false) {
  // Weighted towards no state and the finished states, where the rules have work to do; the
  // second pool (few unfinished tasks, many removed) makes deadlocks common.
  static const S pool[] = {S::none,         S::none,
                           S::none,         S::none,
                           S::success,      S::success,
                           S::success,      S::failed,
                           S::skipped,      S::upstream_failed,
                           S::removed,      S::running,
                           S::queued,       S::scheduled,
                           S::up_for_retry, S::up_for_reschedule,
                           S::deferred,     S::restarting};
  static const S finished_pool[] = {S::success, S::success,         S::failed,
                                    S::skipped, S::removed,         S::removed,
                                    S::none,    S::upstream_failed, S::queued};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pool) - 1);
  std::uniform_int_distribution<std::size_t> pick_finished(0, std::size(finished_pool) - 1);
  std::vector<S> out(n);
  for (S& s : out) s = mostly_finished ? finished_pool[pick_finished(rng)] : pool[pick(rng)];
  return out;
}

void expect_same(const run_decision& d, const std::vector<S>& in, const reference_result& ref,
                 int trial) {
  std::vector<S> after = in;
  for (const state_change& c : d.changed) after[c.task] = c.state;
  ASSERT_EQ(after, ref.states) << "trial " << trial;
  ASSERT_EQ(d.schedulable, ref.schedulable) << "trial " << trial;
  ASSERT_EQ(d.state, ref.state) << "trial " << trial;
  ASSERT_EQ(d.reason, ref.reason) << "trial " << trial;
}

TEST(Fixpoint, EqualsAirflowsSchedulerLoopsRunToTheEnd) {
  std::mt19937 rng(20240611);
  int with_changes = 0;
  int deadlocks = 0;
  int differs_from_one_pass = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const run_graph g(random_dag(rng, 2 + trial % 30));
    const std::vector<S> in = random_states(rng, g.size(), trial % 3 == 0);
    const run_decision d = g.decide(in);

    // Airflow's loops (each sees only the states from before it), repeated until one changes
    // nothing: one call ends exactly where the scheduler ends.
    expect_same(d, in, loops_until_nothing_changes(g, in, false), trial);
    // A single pass that sees its own changes can end elsewhere (a failure arriving one loop
    // after a skip); the random cases include such runs.
    std::vector<S> one_pass = loops_until_nothing_changes(g, in, true).states;
    std::vector<S> after = in;
    for (const state_change& c : d.changed) {
      ASSERT_TRUE(is_schedulable(in[c.task]));
      ASSERT_TRUE(c.state == S::skipped || c.state == S::upstream_failed);
      after[c.task] = c.state;
    }
    differs_from_one_pass += after != one_pass ? 1 : 0;
    with_changes += d.changed.empty() ? 0 : 1;
    deadlocks += d.reason == run_reason::all_tasks_deadlocked ? 1 : 0;

    // Deciding the decided states changes nothing and decides the same.
    const run_decision again = g.decide(after);
    ASSERT_TRUE(again.changed.empty()) << "trial " << trial;
    ASSERT_EQ(again.schedulable, d.schedulable);
    ASSERT_EQ(again.state, d.state);
    ASSERT_EQ(again.reason, d.reason);
  }
  // The random cases exercise propagation, deadlocks and the loop/one-pass difference.
  EXPECT_GT(with_changes, 300);
  EXPECT_GT(deadlocks, 5);
  EXPECT_GT(differs_from_one_pass, 0);
  std::printf("changes in %d, deadlocks in %d, one pass would differ in %d of 1500 runs\n",
              with_changes, deadlocks, differs_from_one_pass);
}

TEST(Fixpoint, ASkipSeenOneLoopBeforeAFailureWins) {
  // x (all_success) has a skipped upstream c and an upstream b whose upstream a failed.
  // Airflow's first loop sees the skip but not yet b's failure (b is decided in the same
  // loop), so x is skipped; b becomes upstream_failed. dagcore ends where Airflow ends.
  const run_graph g({task("a"), task("b", {"a"}), task("c"), task("x", {"b", "c"})});
  const std::vector<S> in = states(g, {{"a", S::failed}, {"c", S::skipped}});
  const run_decision d = g.decide(in);
  EXPECT_EQ(changes(g, d),
            (std::map<std::string, S>{{"b", S::upstream_failed}, {"x", S::skipped}}));
  EXPECT_EQ(loops_until_nothing_changes(g, in, false).states[3], S::skipped);
  EXPECT_EQ(loops_until_nothing_changes(g, in, true).states[3], S::upstream_failed);
}

TEST(DecideMany, EqualsDecidePerRun) {
  std::mt19937 rng(7);
  const run_graph g(random_dag(rng, 40));
  const std::size_t runs = 300;
  std::vector<std::uint8_t> codes;
  for (std::size_t r = 0; r < runs; ++r) {
    for (const S s : random_states(rng, g.size())) codes.push_back(static_cast<std::uint8_t>(s));
  }
  const decision_batch batch = g.decide_many(codes, runs);
  ASSERT_EQ(batch.size(), runs);
  ASSERT_EQ(batch.n_tasks(), g.size());
  for (std::size_t r = 0; r < runs; ++r) {
    const std::span<const std::uint8_t> row(codes.data() + r * g.size(), g.size());
    const run_decision one = g.decide_codes(row);
    EXPECT_EQ(batch[r], one) << "run " << r;
    EXPECT_EQ(batch.state(r), one.state);
    EXPECT_EQ(batch.reason(r), one.reason);
  }
}

TEST(DecideMany, ZeroRunsAndEmptyGraphs) {
  const run_graph g({task("a")});
  EXPECT_EQ(g.decide_many({}, 0).size(), 0U);
  const run_graph empty(std::vector<task_spec>{});
  const decision_batch b = empty.decide_many({}, 3);
  ASSERT_EQ(b.size(), 3U);
  for (std::size_t r = 0; r < 3; ++r) EXPECT_EQ(b.state(r), dagrun_state::success);
}

// ---------------------------------------------------------------------------------------------
// decide_counts: runs with mapped tasks, as instance counts per task and state

std::vector<std::uint32_t> one_instance_each(const std::vector<S>& states) {
  std::vector<std::uint32_t> counts(states.size() * ti_state_count, 0);
  for (std::size_t i = 0; i < states.size(); ++i) {
    counts[i * ti_state_count + static_cast<std::size_t>(states[i])] = 1;
  }
  return counts;
}

TEST(DecideCounts, OneInstancePerTaskDecidesAsDecide) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const run_graph g(random_dag(rng, 2 + trial % 25));
    const std::vector<S> states = random_states(rng, g.size(), trial % 2 == 0);
    const decision_batch batch = g.decide_counts(one_instance_each(states), 1);
    EXPECT_EQ(batch[0], g.decide(states)) << "trial " << trial;
  }
}

TEST(DecideCounts, EveryInstanceOfAMappedUpstreamCounts) {
  const run_graph g({task("m"), task("all", {"m"}), task("one", {"m"}, TR::one_success),
                     task("failed", {"m"}, TR::one_failed)});
  std::vector<std::uint32_t> counts = one_instance_each({S::none, S::none, S::none, S::none});
  counts[static_cast<std::size_t>(S::none)] = 0;
  counts[static_cast<std::size_t>(S::success)] = 9'999;
  counts[static_cast<std::size_t>(S::failed)] = 1;
  const run_decision d = g.decide_counts(counts, 1)[0];
  // One failed instance of 10,000: all_success is upstream_failed, one_success and one_failed
  // may run (Airflow counts task instance rows when an upstream is mapped).
  EXPECT_EQ(ids(g, d.schedulable), (std::vector<std::string>{"one", "failed"}));
  ASSERT_EQ(d.changed.size(), 1U);
  EXPECT_EQ(g.task_id(d.changed[0].task), "all");
  EXPECT_EQ(d.changed[0].state, S::upstream_failed);
  EXPECT_EQ(d.state, dagrun_state::running);
}

TEST(DecideCounts, AChangeMovesEveryCandidateInstance) {
  const run_graph g({task("up"), task("m", {"up"}), task("after", {"m"})});
  std::vector<std::uint32_t> counts = one_instance_each({S::failed, S::none, S::none});
  counts[ti_state_count + static_cast<std::size_t>(S::none)] = 500;
  counts[ti_state_count + static_cast<std::size_t>(S::up_for_retry)] = 2;
  const run_decision d = g.decide_counts(counts, 1)[0];
  // All 502 candidates of m become upstream_failed in one change, which reaches `after` and
  // ends the run (a leaf failed).
  EXPECT_EQ(d.changed.size(), 2U);
  EXPECT_EQ(d.state, dagrun_state::failed);
  EXPECT_EQ(d.reason, run_reason::task_failure);
}

TEST(DecideCounts, SizeErrorsNameTheSizes) {
  const run_graph g({task("a")});
  EXPECT_THROW(static_cast<void>(g.decide_counts(std::vector<std::uint32_t>(5, 0), 1)),
               std::invalid_argument);
  std::vector<std::uint32_t> huge(ti_state_count, 0);
  huge[0] = 0x80000000U;
  huge[1] = 0x80000000U;
  EXPECT_THROW(static_cast<void>(g.decide_counts(huge, 1)), std::invalid_argument);
  EXPECT_EQ(g.decide_counts({}, 0).size(), 0U);
}

// ---------------------------------------------------------------------------------------------
// clear closure

std::set<std::string> closure(const run_graph& g, std::vector<std::string> of, bool up, bool down) {
  std::vector<idx> roots;
  for (const auto& id : of) roots.push_back(*g.find(id));
  return id_set(g, g.clear_closure(roots, up, down));
}

TEST(ClearClosure, Chain) {
  const run_graph g({task("a"), task("b", {"a"}), task("c", {"b"}), task("d", {"c"})});
  EXPECT_EQ(closure(g, {"b"}, false, false), (std::set<std::string>{"b"}));
  EXPECT_EQ(closure(g, {"b"}, true, false), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(closure(g, {"b"}, false, true), (std::set<std::string>{"b", "c", "d"}));
  EXPECT_EQ(closure(g, {"b"}, true, true), (std::set<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(closure(g, {}, true, true), (std::set<std::string>{}));
}

TEST(ClearClosure, BringsRelevantSetupsAndTheirTeardowns) {
  const run_graph g(setup_dag());
  // Clearing work in a setup's scope re-runs the setup and its teardown.
  EXPECT_EQ(closure(g, {"w2"}, false, false), (std::set<std::string>{"w2", "s", "s2", "td"}));
  // A setup brings its teardown.
  EXPECT_EQ(closure(g, {"s"}, false, false), (std::set<std::string>{"s", "td"}));
  // A teardown alone is cleared alone.
  EXPECT_EQ(closure(g, {"td"}, false, false), (std::set<std::string>{"td"}));
  // Downstream of w1: w2, td, after, and the setups relevant to them.
  EXPECT_EQ(closure(g, {"w1"}, false, true),
            (std::set<std::string>{"w1", "s", "td", "w2", "s2", "after"}));
  // Upstream of after: everything it depends on, and the teardowns of those setups.
  EXPECT_EQ(closure(g, {"after"}, true, false),
            (std::set<std::string>{"after", "td", "s", "w2", "w1", "s2"}));
  EXPECT_EQ(closure(g, {"loose"}, true, true), (std::set<std::string>{"loose"}));
}

TEST(ClearClosure, RejectsAnIndexOutOfRange) {
  const run_graph g({task("a")});
  const std::vector<idx> bad{1};
  EXPECT_THROW((void)g.clear_closure(bad, false, false), std::out_of_range);
}

TEST(ClearClosure, IsMonotone) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    const run_graph g(random_dag(rng, 2 + trial % 25));
    std::vector<idx> small;
    std::vector<idx> large;
    std::bernoulli_distribution coin(0.3);
    for (idx i = 0; i < g.size(); ++i) {
      const bool in_small = coin(rng);
      if (in_small) small.push_back(i);
      if (in_small || coin(rng)) large.push_back(i);
    }
    for (int flags = 0; flags < 4; ++flags) {
      const bool up = (flags & 1) != 0;
      const bool down = (flags & 2) != 0;
      const auto a = g.clear_closure(small, up, down);
      const auto b = g.clear_closure(large, up, down);
      const auto more = g.clear_closure(small, true, true);
      ASSERT_TRUE(std::includes(b.begin(), b.end(), a.begin(), a.end())) << trial;
      ASSERT_TRUE(std::includes(more.begin(), more.end(), a.begin(), a.end())) << trial;
      ASSERT_TRUE(std::includes(a.begin(), a.end(), small.begin(), small.end())) << trial;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// decide_many_cascade: the scheduler's rounds for auto-success (empty) tasks

/// The rounds as the scheduler made them with decide_codes: set the ready flagged tasks success
/// and decide the whole row again, at most max_rounds decisions.
struct rounds_result {
  run_decision last;
  std::vector<std::uint8_t> states;
  std::vector<std::uint8_t> done;
  std::uint32_t rounds = 0;
};

rounds_result by_rounds(const run_graph& g, std::vector<std::uint8_t> row,
                        const std::vector<std::uint8_t>& flags, std::size_t max_rounds) {
  rounds_result r;
  r.done.assign(g.size(), 0);
  for (std::size_t k = 0; k < max_rounds; ++k) {
    r.last = g.decide_codes(row);
    ++r.rounds;
    for (const state_change& c : r.last.changed) row[c.task] = static_cast<std::uint8_t>(c.state);
    bool any = false;
    for (const auto i : r.last.schedulable) {
      if (flags[i] != 0 && row[i] == 0) {
        row[i] = static_cast<std::uint8_t>(S::success);
        r.done[i] = 1;
        any = true;
      }
    }
    if (!any) break;
  }
  r.states = row;
  return r;
}

TEST(Cascade, EndsAChainOfFlaggedTasksInOneCall) {
  const run_graph g({task("a"), task("b", {"a"}), task("c", {"b"}), task("d", {"c"})});
  const std::vector<std::uint8_t> flags{1, 1, 1, 0};
  std::vector<std::uint8_t> done;
  std::vector<std::uint32_t> rounds;
  const std::vector<std::uint8_t> row(4, 0);
  const decision_batch b = g.decide_many_cascade(row, 1, flags, 1000, done, rounds);
  EXPECT_EQ(b.state(0), dagrun_state::running);
  EXPECT_EQ(ids(g, b[0].schedulable), (std::vector<std::string>{"d"}));
  EXPECT_EQ(done, (std::vector<std::uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(rounds, (std::vector<std::uint32_t>{4}));
  const decision_batch capped = g.decide_many_cascade(row, 1, flags, 2, done, rounds);
  EXPECT_TRUE(capped[0].schedulable.empty());
  EXPECT_EQ(done, (std::vector<std::uint8_t>{1, 1, 0, 0}));
  const std::vector<std::uint8_t> short_flags{1, 1};
  EXPECT_THROW((void)g.decide_many_cascade(row, 1, short_flags, 10, done, rounds),
               std::invalid_argument);
  EXPECT_THROW((void)g.decide_many_cascade(row, 1, flags, 0, done, rounds), std::invalid_argument);
}

TEST(Cascade, EqualsTheRoundsOnRandomGraphs) {
  std::mt19937 rng(20261207);
  const std::vector<TR> rules{TR::all_success, TR::all_failed,  TR::all_done,     TR::one_success,
                              TR::one_failed,  TR::none_failed, TR::none_skipped, TR::always};
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = 1 + rng() % 12;
    std::vector<task_spec> specs;
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::string> ups;
      for (std::size_t u = 0; u < i; ++u) {
        if (rng() % 3 == 0) ups.push_back("t" + std::to_string(u));
      }
      specs.push_back(task("t" + std::to_string(i), ups, rules[rng() % rules.size()]));
    }
    const run_graph g(specs);
    std::vector<std::uint8_t> flags(n);
    for (auto& f : flags) f = rng() % 2;
    const std::size_t runs = 1 + rng() % 3;
    std::vector<std::uint8_t> codes(runs * n);
    for (auto& c : codes)
      c = rng() % 3 == 0 ? static_cast<std::uint8_t>(rng() % ti_state_count) : 0;
    const std::size_t max_rounds = (rng() % 2 == 0) ? 1000 : 1 + rng() % 3;
    std::vector<std::uint8_t> done;
    std::vector<std::uint32_t> rounds;
    const decision_batch b = g.decide_many_cascade(codes, runs, flags, max_rounds, done, rounds);
    for (std::size_t r = 0; r < runs; ++r) {
      const std::vector<std::uint8_t> row(codes.begin() + r * n, codes.begin() + (r + 1) * n);
      const rounds_result want = by_rounds(g, row, flags, max_rounds);
      const run_decision got = b[r];
      EXPECT_EQ(got.state, want.last.state) << "trial " << trial;
      EXPECT_EQ(got.reason, want.last.reason) << "trial " << trial;
      std::vector<std::uint32_t> sched;
      for (const auto i : want.last.schedulable) {
        if (want.done[i] == 0) sched.push_back(i);
      }
      EXPECT_EQ(got.schedulable, sched) << "trial " << trial;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t expect_changed =
            (want.states[i] != row[i] && want.done[i] == 0) ? want.states[i] : 0;
        EXPECT_EQ(b.changed(r)[i], expect_changed) << "trial " << trial << " task " << i;
        EXPECT_EQ(done[r * n + i], want.done[i]) << "trial " << trial << " task " << i;
      }
      EXPECT_EQ(rounds[r], want.rounds) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace dagcore
