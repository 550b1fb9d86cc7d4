// Trigger rules: every rule's state-change and pass/fail table (docs/airflow-behaviour.md
// 3.5) as rows of counts with the expected result and Airflow's text, the short-circuits, the
// setup constraint (3.6), and exhaustive checks of the properties the tables imply.
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dagcore/trigger_rules.hpp"

namespace dagcore {
namespace {

using S = ti_state;
using TR = trigger_rule;

/// upstream, success, skipped, failed, upstream_failed, removed (done = their sum).
upstream_counts counts(std::uint32_t upstream, std::uint32_t success, std::uint32_t skipped,
                       std::uint32_t failed, std::uint32_t upstream_failed,
                       std::uint32_t removed = 0) {
  return upstream_counts::of(upstream, success, skipped, failed, upstream_failed, removed);
}

upstream_counts with_setups(upstream_counts c, std::uint32_t upstream_setup,
                            std::uint32_t success_setup, std::uint32_t skipped_setup) {
  c.upstream_setup = upstream_setup;
  c.success_setup = success_setup;
  c.skipped_setup = skipped_setup;
  return c;
}

struct rule_row {
  const char* name;  // test id
  TR rule;
  upstream_counts counts;
  bool passed;
  std::optional<S> new_state;
  std::string reason;  // "" when the rule passes without a text
};

void PrintTo(const rule_row& row, std::ostream* os) { *os << row.name; }

std::string prefix(const char* rule) { return std::string("Task's trigger rule '") + rule + "' "; }

const std::vector<rule_row>& rows() {
  static const std::vector<rule_row> table = {
      // Short-circuits, in Airflow's order: no upstream first, then always.
      {"no_upstream_all_success", TR::all_success, counts(0, 0, 0, 0, 0), true, std::nullopt,
       "The task instance did not have any upstream tasks."},
      {"no_upstream_always", TR::always, counts(0, 0, 0, 0, 0), true, std::nullopt,
       "The task instance did not have any upstream tasks."},
      {"no_upstream_one_failed", TR::one_failed, counts(0, 0, 0, 0, 0), true, std::nullopt,
       "The task instance did not have any upstream tasks."},
      {"always_with_failures", TR::always, counts(2, 0, 0, 2, 0), true, std::nullopt,
       "The task had a always trigger rule set."},
      {"always_nothing_done", TR::always, counts(3, 0, 0, 0, 0), true, std::nullopt,
       "The task had a always trigger rule set."},

      // all_success
      {"all_success_all_succeeded", TR::all_success, counts(2, 2, 0, 0, 0), true, std::nullopt, ""},
      {"all_success_one_running", TR::all_success, counts(2, 1, 0, 0, 0), false, std::nullopt,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 1 non-success(es)."},
      {"all_success_failed", TR::all_success, counts(2, 1, 0, 1, 0), false, S::upstream_failed,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 1 non-success(es)."},
      {"all_success_upstream_failed", TR::all_success, counts(3, 0, 0, 0, 1), false,
       S::upstream_failed,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 3 non-success(es)."},
      {"all_success_skipped", TR::all_success, counts(2, 1, 1, 0, 0), false, S::skipped,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 1 non-success(es)."},
      {"all_success_failure_beats_skip", TR::all_success, counts(3, 1, 1, 1, 0), false,
       S::upstream_failed,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 2 non-success(es)."},
      {"all_success_skip_before_done", TR::all_success, counts(3, 0, 1, 0, 0), false, S::skipped,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 3 non-success(es)."},
      {"all_success_removed_blocks", TR::all_success, counts(2, 1, 0, 0, 0, 1), false, std::nullopt,
       prefix("all_success") +
           "requires all upstream tasks to have succeeded, but found 1 non-success(es)."},

      // all_failed
      {"all_failed_all_failed", TR::all_failed, counts(2, 0, 0, 2, 0), true, std::nullopt, ""},
      {"all_failed_failed_or_upstream_failed", TR::all_failed, counts(2, 0, 0, 1, 1), true,
       std::nullopt, ""},
      {"all_failed_one_running", TR::all_failed, counts(2, 0, 0, 1, 0), false, std::nullopt,
       prefix("all_failed") +
           "requires all upstream tasks to have failed, but found 1 non-failure(s)."},
      {"all_failed_success", TR::all_failed, counts(2, 1, 0, 1, 0), false, S::skipped,
       prefix("all_failed") +
           "requires all upstream tasks to have failed, but found 1 non-failure(s)."},
      {"all_failed_skipped", TR::all_failed, counts(3, 0, 1, 0, 0), false, S::skipped,
       prefix("all_failed") +
           "requires all upstream tasks to have failed, but found 3 non-failure(s)."},

      // all_done
      {"all_done_mixed", TR::all_done, counts(4, 1, 1, 1, 1), true, std::nullopt, ""},
      {"all_done_removed_is_done", TR::all_done, counts(2, 0, 0, 0, 0, 2), true, std::nullopt, ""},
      {"all_done_not_done", TR::all_done, counts(3, 1, 0, 1, 0), false, std::nullopt,
       prefix("all_done") +
           "requires all upstream tasks to have completed, but found 1 task(s) that were not "
           "done."},
      {"all_done_never_fails_the_task", TR::all_done, counts(3, 0, 0, 2, 0), false, std::nullopt,
       prefix("all_done") +
           "requires all upstream tasks to have completed, but found 1 task(s) that were not "
           "done."},

      // one_success
      {"one_success_does_not_wait", TR::one_success, counts(3, 1, 0, 0, 0), true, std::nullopt, ""},
      {"one_success_none_yet", TR::one_success, counts(3, 0, 0, 1, 0), false, std::nullopt,
       prefix("one_success") + "requires one upstream task success, but none were found."},
      {"one_success_all_done_no_success", TR::one_success, counts(2, 0, 0, 1, 1), false,
       S::upstream_failed,
       prefix("one_success") + "requires one upstream task success, but none were found."},
      {"one_success_skip_and_failure", TR::one_success, counts(2, 0, 1, 1, 0), false,
       S::upstream_failed,
       prefix("one_success") + "requires one upstream task success, but none were found."},
      {"one_success_all_skipped", TR::one_success, counts(2, 0, 2, 0, 0), false, S::skipped,
       prefix("one_success") + "requires one upstream task success, but none were found."},
      {"one_success_some_skipped_not_done", TR::one_success, counts(2, 0, 1, 0, 0), false,
       std::nullopt,
       prefix("one_success") + "requires one upstream task success, but none were found."},

      // one_failed
      {"one_failed_failed", TR::one_failed, counts(3, 0, 0, 1, 0), true, std::nullopt, ""},
      {"one_failed_upstream_failed", TR::one_failed, counts(3, 0, 0, 0, 1), true, std::nullopt, ""},
      {"one_failed_waiting", TR::one_failed, counts(2, 1, 0, 0, 0), false, std::nullopt,
       prefix("one_failed") + "requires one upstream task failure, but none were found."},
      {"one_failed_downstream_of_success", TR::one_failed, counts(2, 2, 0, 0, 0), false, S::skipped,
       prefix("one_failed") + "requires one upstream task failure, but none were found."},
      {"one_failed_all_skipped", TR::one_failed, counts(1, 0, 1, 0, 0), false, S::skipped,
       prefix("one_failed") + "requires one upstream task failure, but none were found."},

      // one_done
      {"one_done_success", TR::one_done, counts(3, 1, 0, 0, 0), true, std::nullopt, ""},
      {"one_done_failed", TR::one_done, counts(3, 0, 0, 1, 0), true, std::nullopt, ""},
      {"one_done_upstream_failed_is_not_done", TR::one_done, counts(3, 0, 0, 0, 1), false,
       std::nullopt,
       prefix("one_done") +
           "requires at least one upstream task failure or success but none were failed or "
           "success."},
      {"one_done_skipped_and_upstream_failed", TR::one_done, counts(2, 0, 1, 0, 1), false,
       S::skipped,
       prefix("one_done") +
           "requires at least one upstream task failure or success but none were failed or "
           "success."},

      // none_failed
      {"none_failed_success_and_skip", TR::none_failed, counts(2, 1, 1, 0, 0), true, std::nullopt,
       ""},
      {"none_failed_all_skipped_runs", TR::none_failed, counts(2, 0, 2, 0, 0), true, std::nullopt,
       ""},
      {"none_failed_failed", TR::none_failed, counts(2, 1, 0, 1, 0), false, S::upstream_failed,
       prefix("none_failed") +
           "requires all upstream tasks to have succeeded or been skipped, but found 1 "
           "non-success(es)."},
      {"none_failed_upstream_failed_early", TR::none_failed, counts(3, 0, 0, 0, 1), false,
       S::upstream_failed,
       prefix("none_failed") +
           "requires all upstream tasks to have succeeded or been skipped, but found 3 "
           "non-success(es)."},
      {"none_failed_waiting", TR::none_failed, counts(2, 1, 0, 0, 0), false, std::nullopt,
       prefix("none_failed") +
           "requires all upstream tasks to have succeeded or been skipped, but found 1 "
           "non-success(es)."},

      // none_failed_min_one_success
      {"nfmos_success_and_skip", TR::none_failed_min_one_success, counts(2, 1, 1, 0, 0), true,
       std::nullopt, ""},
      // Airflow both skips the task and reports the dependency met: the new state wins.
      {"nfmos_all_skipped", TR::none_failed_min_one_success, counts(2, 0, 2, 0, 0), true,
       S::skipped, ""},
      {"nfmos_failed", TR::none_failed_min_one_success, counts(2, 0, 1, 1, 0), false,
       S::upstream_failed,
       prefix("none_failed_min_one_success") +
           "requires all upstream tasks to have succeeded or been skipped, but found 1 "
           "non-success(es)."},
      {"nfmos_waiting", TR::none_failed_min_one_success, counts(3, 0, 1, 0, 0), false, std::nullopt,
       prefix("none_failed_min_one_success") +
           "requires all upstream tasks to have succeeded or been skipped, but found 2 "
           "non-success(es)."},

      // none_skipped
      {"none_skipped_all_succeeded", TR::none_skipped, counts(2, 2, 0, 0, 0), true, std::nullopt,
       ""},
      {"none_skipped_failures_are_fine", TR::none_skipped, counts(2, 0, 0, 1, 1), true,
       std::nullopt, ""},
      {"none_skipped_skipped", TR::none_skipped, counts(3, 1, 1, 0, 0), false, S::skipped,
       prefix("none_skipped") +
           "requires all upstream tasks to not have been skipped, but found 1 task(s) skipped."},
      {"none_skipped_waiting", TR::none_skipped, counts(2, 1, 0, 0, 0), false, std::nullopt,
       prefix("none_skipped") +
           "requires all upstream tasks to not have been skipped, but found 0 task(s) skipped."},

      // all_skipped
      {"all_skipped_all_skipped", TR::all_skipped, counts(2, 0, 2, 0, 0), true, std::nullopt, ""},
      {"all_skipped_waiting", TR::all_skipped, counts(2, 0, 1, 0, 0), false, std::nullopt,
       prefix("all_skipped") +
           "requires all upstream tasks to have been skipped, but found 1 task(s) in non "
           "skipped state."},
      {"all_skipped_success", TR::all_skipped, counts(2, 1, 1, 0, 0), false, S::skipped,
       prefix("all_skipped") +
           "requires all upstream tasks to have been skipped, but found 1 task(s) in non "
           "skipped state."},
      {"all_skipped_upstream_failed", TR::all_skipped, counts(3, 0, 1, 0, 1), false, S::skipped,
       prefix("all_skipped") +
           "requires all upstream tasks to have been skipped, but found 2 task(s) in non "
           "skipped state."},

      // all_done_setup_success (the teardown rule)
      {"setup_success_no_setups", TR::all_done_setup_success, counts(2, 1, 0, 1, 0), true,
       std::nullopt, ""},
      {"setup_success_setup_succeeded", TR::all_done_setup_success,
       with_setups(counts(2, 1, 0, 1, 0), 1, 1, 0), true, std::nullopt, ""},
      {"setup_success_one_of_two_setups", TR::all_done_setup_success,
       with_setups(counts(3, 2, 1, 0, 0), 2, 1, 1), true, std::nullopt, ""},
      {"setup_success_setup_failed", TR::all_done_setup_success,
       with_setups(counts(2, 1, 0, 1, 0), 1, 0, 0), false, S::upstream_failed,
       prefix("all_done_setup_success") +
           "requires at least one upstream setup task be successful, but found 1 task(s) that "
           "were not."},
      {"setup_success_setups_skipped", TR::all_done_setup_success,
       with_setups(counts(2, 0, 2, 0, 0), 1, 0, 1), false, S::skipped,
       prefix("all_done_setup_success") +
           "requires at least one upstream setup task be successful, but found 1 task(s) that "
           "were not."},
      {"setup_success_waits", TR::all_done_setup_success,
       with_setups(counts(2, 1, 0, 0, 0), 1, 1, 0), false, std::nullopt,
       prefix("all_done_setup_success") +
           "requires all upstream tasks to have completed, but found 1 task(s) that were not "
           "done."},
      {"setup_success_waits_even_if_setup_failed", TR::all_done_setup_success,
       with_setups(counts(3, 0, 0, 1, 0), 1, 0, 0), false, std::nullopt,
       prefix("all_done_setup_success") +
           "requires all upstream tasks to have completed, but found 2 task(s) that were not "
           "done."},

      // all_done_min_one_success
      {"min_one_success_met", TR::all_done_min_one_success, counts(3, 1, 0, 1, 1), true,
       std::nullopt, ""},
      {"min_one_success_skipped", TR::all_done_min_one_success, counts(2, 1, 1, 0, 0), false,
       S::skipped,
       prefix("all_done_min_one_success") +
           "requires all upstream tasks to have completed successfully or failed, but found 1 "
           "skipped task(s)."},
      {"min_one_success_skipped_before_done", TR::all_done_min_one_success, counts(3, 0, 1, 0, 0),
       false, S::skipped,
       prefix("all_done_min_one_success") +
           "requires all upstream tasks to have completed successfully or failed, but found 1 "
           "skipped task(s)."},
      {"min_one_success_waiting", TR::all_done_min_one_success, counts(2, 1, 0, 0, 0), false,
       std::nullopt,
       prefix("all_done_min_one_success") +
           "requires all non-skipped upstream tasks to have completed, but found 1 task(s) that "
           "were not done."},
      {"min_one_success_no_success", TR::all_done_min_one_success, counts(2, 0, 0, 1, 1), false,
       S::upstream_failed,
       prefix("all_done_min_one_success") +
           "requires all upstream tasks to have completed and at least one upstream task has "
           "succeeded, but found 0 successful task(s)."},
  };
  return table;
}

class RuleTable : public ::testing::TestWithParam<rule_row> {};

TEST_P(RuleTable, MatchesAirflow) {
  const rule_row& row = GetParam();
  const evaluation ev = evaluate(row.rule, row.counts, true);
  EXPECT_EQ(ev.passed, row.passed);
  EXPECT_EQ(ev.new_state, row.new_state);
  EXPECT_EQ(ev.reason, row.reason);

  // The allocation-free form agrees, and its reason code describes to the same text.
  const evaluation_code code = evaluate_code(row.rule, row.counts, true);
  EXPECT_EQ(code.passed, row.passed);
  EXPECT_EQ(code.new_state, row.new_state.value_or(S::none));
  EXPECT_EQ(describe(row.rule, code.reason, row.counts), row.reason);
}

TEST_P(RuleTable, WithoutFlagUpstreamFailedNothingChanges) {
  const rule_row& row = GetParam();
  const evaluation ev = evaluate(row.rule, row.counts, false);
  EXPECT_EQ(ev.passed, row.passed);
  EXPECT_EQ(ev.new_state, std::nullopt);
  EXPECT_EQ(ev.reason, row.reason);
}

INSTANTIATE_TEST_SUITE_P(TriggerRules, RuleTable, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<rule_row>& info) {
                           return std::string(info.param.name);
                         });

TEST(TriggerRules, EveryRuleHasRowsThatPassAndFail) {
  for (std::size_t r = 0; r < trigger_rule_count; ++r) {
    const auto rule = static_cast<TR>(r);
    bool passes = false;
    bool fails = false;
    for (const rule_row& row : rows()) {
      if (row.rule != rule || row.counts.upstream == 0) continue;
      (row.passed ? passes : fails) = true;
    }
    EXPECT_TRUE(passes) << to_string(rule);
    if (rule != TR::always) {
      EXPECT_TRUE(fails) << to_string(rule);
    }
  }
}

TEST(TriggerRules, UnknownRuleNeverPasses) {
  const auto bogus = static_cast<TR>(99);
  const evaluation ev = evaluate(bogus, counts(1, 1, 0, 0, 0), true);
  EXPECT_FALSE(ev.passed);
  EXPECT_EQ(ev.new_state, std::nullopt);
  EXPECT_EQ(ev.reason, "No strategy to evaluate trigger rule '99'.");
}

TEST(TriggerRules, CountsOfSumDone) {
  const upstream_counts c = upstream_counts::of(9, 1, 2, 3, 1, 1);
  EXPECT_EQ(c.done, 8U);
  EXPECT_EQ(c.upstream, 9U);
}

TEST(TriggerRules, ExplicitDoneDecidesUpstreamDone) {
  // done is an input: Airflow derives upstream_done from it, not from the other counts.
  upstream_counts c = counts(2, 0, 0, 0, 0);
  c.done = 2;
  EXPECT_TRUE(evaluate_code(TR::all_done, c, true).passed);
  EXPECT_EQ(evaluate_code(TR::one_failed, c, true).new_state, S::skipped);
}

TEST(TriggerRules, InconsistentCountsUseSignedArithmetic) {
  // success > upstream: "upstream - success <= 0" passes, as with Airflow's Python ints.
  EXPECT_TRUE(evaluate_code(TR::all_success, counts(1, 3, 0, 0, 0), true).passed);
}

// Exhaustive over small counts: the properties the tables imply.
TEST(TriggerRules, PropertiesOverSmallCounts) {
  for (std::size_t r = 0; r < trigger_rule_count; ++r) {
    const auto rule = static_cast<TR>(r);
    for (std::uint32_t up = 0; up <= 4; ++up) {
      for (std::uint32_t su = 0; su <= up; ++su) {
        for (std::uint32_t sk = 0; su + sk <= up; ++sk) {
          for (std::uint32_t fa = 0; su + sk + fa <= up; ++fa) {
            for (std::uint32_t uf = 0; su + sk + fa + uf <= up; ++uf) {
              for (std::uint32_t rm = 0; su + sk + fa + uf + rm <= up; ++rm) {
                const upstream_counts c = counts(up, su, sk, fa, uf, rm);
                const evaluation_code on = evaluate_code(rule, c, true);
                const evaluation_code off = evaluate_code(rule, c, false);
                SCOPED_TRACE(std::string(to_string(rule)) + " " + std::to_string(up) + "/" +
                             std::to_string(su) + "/" + std::to_string(sk) + "/" +
                             std::to_string(fa) + "/" + std::to_string(uf) + "/" +
                             std::to_string(rm));
                // The flag only adds the state change; pass/fail and reason do not depend on it.
                EXPECT_EQ(off.new_state, S::none);
                EXPECT_EQ(on.passed, off.passed);
                EXPECT_EQ(on.reason, off.reason);
                EXPECT_TRUE(on.new_state == S::none || on.new_state == S::skipped ||
                            on.new_state == S::upstream_failed);
                // A failing rule always has a text; a plain pass has none.
                EXPECT_EQ(describe(rule, on.reason, c).empty(),
                          on.passed && on.reason == trigger_reason::met);
                // Once every upstream task succeeded, every rule but all_failed/all_skipped/
                // one_failed (which want failures or skips) lets the task run.
                if (up > 0 && su == up) {
                  const bool wants_other =
                      rule == TR::all_failed || rule == TR::all_skipped || rule == TR::one_failed;
                  EXPECT_EQ(on.passed, !wants_other);
                  EXPECT_EQ(on.new_state, wants_other ? S::skipped : S::none);
                }
                // When every upstream task is finished, no rule leaves the task waiting: it
                // passes or gets a new state (except REMOVED upstreams, which block all_success,
                // all_failed, none_failed(_min_one_success) and all_skipped without a change,
                // and all_done_min_one_success with no successes).
                if (su + sk + fa + uf == up) {
                  EXPECT_TRUE(on.passed || on.new_state != S::none);
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Setup constraint (3.6)

upstream_counts setups(std::uint32_t n, std::uint32_t success, std::uint32_t skipped,
                       std::uint32_t failed, std::uint32_t upstream_failed) {
  return upstream_counts::of(n, success, skipped, failed, upstream_failed, 0);
}

TEST(SetupConstraint, PassesOnlyWhenEverySetupSucceeded) {
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 2, 0, 0, 0), true),
            (evaluation_code{true, S::none, trigger_reason::met}));
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 1, 0, 0, 0), true),
            (evaluation_code{false, S::none, trigger_reason::setups_not_successful}));
}

TEST(SetupConstraint, FailsFastOnAFailedSetup) {
  // One setup failed, the other still running: upstream_failed without waiting.
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 0, 0, 1, 0), true).new_state, S::upstream_failed);
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 0, 0, 0, 1), true).new_state, S::upstream_failed);
  EXPECT_EQ(evaluate_setup_constraint(setups(3, 1, 1, 1, 0), true).new_state,
            S::upstream_failed);  // failure beats skip
}

TEST(SetupConstraint, SkipsFastOnASkippedSetup) {
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 0, 1, 0, 0), true).new_state, S::skipped);
  EXPECT_EQ(evaluate_setup_constraint(setups(2, 0, 1, 0, 0), false).new_state, S::none);
}

TEST(SetupConstraint, DescribesTheSetupsThatDidNotSucceed) {
  EXPECT_EQ(describe(TR::all_success, trigger_reason::setups_not_successful, setups(3, 1, 0, 0, 0)),
            "All setup tasks must complete successfully, but found 2 setup task(s) that did not "
            "succeed.");
}

}  // namespace
}  // namespace dagcore
