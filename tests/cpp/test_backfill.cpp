// Backfill planning: the reprocess table cell by cell, Airflow's validation order and messages,
// the "ended before now" filter on both timetable families, direction and ordinals, repeated
// logical dates, the existing-run index, and the whole planner checked against a
// straightforward reference (unclamped generation, std::map lookups) on random schedules.
//
// Times are UTC.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagcore/backfill.hpp"

namespace dagcore {

// Readable failure messages (internal linkage: other test files print the same types).
static void PrintTo(const backfill_decision& d, std::ostream* os) {
  *os << to_string(d.action);
  if (d.reason != backfill_skip_reason::none) *os << " (" << to_string(d.reason) << ")";
}

static void PrintTo(const backfill_plan_entry& e, std::ostream* os) {
  *os << "#" << e.sort_ordinal << " " << detail::python_utc_str(e.logical_date()) << " "
      << to_string(e.action);
  if (e.reason != backfill_skip_reason::none) *os << " (" << to_string(e.reason) << ")";
}

namespace {

constexpr instant hours(std::int64_t n) { return n * micros_per_hour; }
constexpr instant minutes(std::int64_t n) { return n * micros_per_minute; }
constexpr instant days(std::int64_t n) { return n * micros_per_day; }

instant utc(std::int64_t y, int mo, int d, int h = 0, int mi = 0, int s = 0, int us = 0) {
  return utc_instant(cctz::civil_second(y, mo, d, h, mi, s)) + us;
}

cron_schedule cron(const char* expr, const char* zone = "UTC") {
  return cron_schedule(cron_expression(expr), time_zone::load(zone));
}

backfill_params params(instant from, instant to,
                       reprocess_behavior reprocess = reprocess_behavior::none,
                       bool run_backwards = false, bool depends_on_past = false) {
  backfill_params p;
  p.from_date = from;
  p.to_date = to;
  p.reprocess = reprocess;
  p.run_backwards = run_backwards;
  p.depends_on_past = depends_on_past;
  return p;
}

std::vector<instant> logical_dates(const backfill_plan& plan) { return plan.infos().starts(); }

constexpr backfill_decision create{backfill_action::create, backfill_skip_reason::none};
constexpr backfill_decision clear{backfill_action::clear, backfill_skip_reason::none};
constexpr backfill_decision in_flight{backfill_action::skip, backfill_skip_reason::in_flight};
constexpr backfill_decision exists{backfill_action::skip, backfill_skip_reason::already_exists};

std::vector<backfill_decision> decisions(const backfill_plan& plan) {
  std::vector<backfill_decision> out;
  for (std::size_t i = 0; i < plan.size(); ++i)
    out.push_back({plan.actions()[i], plan.reasons()[i]});
  return out;
}

// ---------------------------------------------------------------------------------------------
// names

TEST(BackfillNames, ReprocessBehaviorRoundTripsAndUnknownNamesAreRefused) {
  for (std::size_t i = 0; i < reprocess_behavior_count; ++i) {
    const auto r = static_cast<reprocess_behavior>(i);
    EXPECT_EQ(parse_reprocess_behavior(to_string(r)), r);
  }
  EXPECT_EQ(to_string(reprocess_behavior::none), "none");
  EXPECT_EQ(to_string(reprocess_behavior::failed), "failed");
  EXPECT_EQ(to_string(reprocess_behavior::completed), "completed");
  EXPECT_EQ(parse_reprocess_behavior("None"), std::nullopt);
  EXPECT_EQ(parse_reprocess_behavior(""), std::nullopt);
  EXPECT_EQ(parse_reprocess_behavior("complete"), std::nullopt);
}

TEST(BackfillNames, ActionsAndReasonsUseAirflowsWording) {
  EXPECT_EQ(to_string(backfill_action::create), "create");
  EXPECT_EQ(to_string(backfill_action::clear), "clear");
  EXPECT_EQ(to_string(backfill_action::skip), "skip");
  EXPECT_EQ(to_string(backfill_skip_reason::none), "");
  EXPECT_EQ(to_string(backfill_skip_reason::in_flight), "in flight");
  EXPECT_EQ(to_string(backfill_skip_reason::already_exists), "already exists");
}

TEST(BackfillNames, PythonUtcStrMatchesStrOfAnAwareUtcDatetime) {
  EXPECT_EQ(detail::python_utc_str(utc(2026, 5, 4)), "2026-05-04 00:00:00+00:00");
  EXPECT_EQ(detail::python_utc_str(utc(2026, 5, 4, 13, 7, 9, 120)),
            "2026-05-04 13:07:09.000120+00:00");
  EXPECT_EQ(detail::python_utc_str(-1), "1969-12-31 23:59:59.999999+00:00");
}

// ---------------------------------------------------------------------------------------------
// the per-date table (docs/airflow-behaviour.md 2.5), every cell

struct table_row {
  std::optional<dagrun_state> existing;
  reprocess_behavior reprocess;
  backfill_decision expected;
};

class DecisionTable : public ::testing::TestWithParam<table_row> {};

TEST_P(DecisionTable, Cell) {
  const table_row& row = GetParam();
  EXPECT_EQ(decide_backfill_date(row.existing, row.reprocess), row.expected);
}

using R = reprocess_behavior;
using S = dagrun_state;

const std::vector<table_row> table_rows = {
    // no run at the logical date: always a new run
    {std::nullopt, R::none, create},
    {std::nullopt, R::failed, create},
    {std::nullopt, R::completed, create},
    // queued / running: in flight whatever the behavior
    {S::queued, R::none, in_flight},
    {S::queued, R::failed, in_flight},
    {S::queued, R::completed, in_flight},
    {S::running, R::none, in_flight},
    {S::running, R::failed, in_flight},
    {S::running, R::completed, in_flight},
    // success: cleared only when reprocessing completed runs
    {S::success, R::none, exists},
    {S::success, R::failed, exists},
    {S::success, R::completed, clear},
    // failed: cleared unless the behavior is none
    {S::failed, R::none, exists},
    {S::failed, R::failed, clear},
    {S::failed, R::completed, clear},
};

INSTANTIATE_TEST_SUITE_P(AirflowTable, DecisionTable, ::testing::ValuesIn(table_rows),
                         [](const ::testing::TestParamInfo<table_row>& info) {
                           const table_row& r = info.param;
                           return std::string(r.existing ? to_string(*r.existing) : "no_run") +
                                  "_" + std::string(to_string(r.reprocess));
                         });

TEST(BackfillDecision, TheTableHasOneRowPerStateAndBehavior) {
  // Guards the table against a state or behavior added to the enums without a rule.
  ASSERT_EQ(table_rows.size(), (dagrun_state_count + 1) * reprocess_behavior_count);
  for (std::size_t s = 0; s <= dagrun_state_count; ++s) {
    const std::optional<dagrun_state> state =
        s == dagrun_state_count ? std::nullopt
                                : std::optional<dagrun_state>(static_cast<dagrun_state>(s));
    for (std::size_t r = 0; r < reprocess_behavior_count; ++r) {
      const auto behavior = static_cast<reprocess_behavior>(r);
      EXPECT_EQ(std::count_if(table_rows.begin(), table_rows.end(),
                              [&](const table_row& row) {
                                return row.existing == state && row.reprocess == behavior;
                              }),
                1)
          << (state ? to_string(*state) : "no run") << " x " << to_string(behavior);
    }
  }
}

TEST(BackfillDecision, ExistingRunsAreNeverCreatedAndOnlySkipsHaveReasons) {
  for (std::size_t s = 0; s < dagrun_state_count; ++s) {
    for (std::size_t r = 0; r < reprocess_behavior_count; ++r) {
      const backfill_decision d =
          decide_backfill_date(static_cast<dagrun_state>(s), static_cast<reprocess_behavior>(r));
      EXPECT_NE(d.action, backfill_action::create);
      EXPECT_EQ(d.action == backfill_action::skip, d.reason != backfill_skip_reason::none);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// existing runs

TEST(ExistingRunIndex, FindsRunsGivenInAnyOrder) {
  const existing_run_index index(
      {{utc(2026, 1, 3), S::failed}, {utc(2026, 1, 1), S::success}, {utc(2026, 1, 2), S::running}});
  EXPECT_EQ(index.size(), 3U);
  EXPECT_EQ(index.find(utc(2026, 1, 1)), S::success);
  EXPECT_EQ(index.find(utc(2026, 1, 2)), S::running);
  EXPECT_EQ(index.find(utc(2026, 1, 3)), S::failed);
  EXPECT_EQ(index.find(utc(2026, 1, 2) + 1), std::nullopt);
  EXPECT_EQ(index.find(utc(2025, 12, 31)), std::nullopt);
  EXPECT_EQ(index.find(utc(2026, 1, 4)), std::nullopt);
  EXPECT_TRUE(existing_run_index().empty());
  EXPECT_EQ(existing_run_index().find(0), std::nullopt);
}

TEST(ExistingRunIndex, TwoRunsAtOneLogicalDateAreRefusedWithTheDate) {
  try {
    const existing_run_index index({{utc(2026, 1, 2), S::failed},
                                    {utc(2026, 1, 1), S::success},
                                    {utc(2026, 1, 2), S::success}});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("2026-01-02 00:00:00+00:00"), std::string::npos)
        << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// validation (docs/airflow-behaviour.md 2.3: step 3, then 5a-5c)

const instant now_ = utc(2026, 5, 5, 12);

template <class Error>
std::string error_of(bool periodic, const backfill_params& p, instant now = now_) {
  try {
    validate_backfill(periodic, p, now);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST(ValidateBackfill, MessagesAreAirflows) {
  backfill_params p = params(utc(2026, 1, 1), utc(2026, 2, 1));
  p.dag_id = "etl";
  EXPECT_EQ(error_of<dag_non_periodic_schedule_error>(false, p),
            "etl has a non-periodic schedule that does not support backfills");
  p.dag_id.clear();
  EXPECT_EQ(error_of<dag_non_periodic_schedule_error>(false, p),
            "The Dag has a non-periodic schedule that does not support backfills");

  EXPECT_EQ(error_of<invalid_backfill_date_range>(
                true, params(utc(2026, 2, 1, 0, 0, 0, 5), utc(2026, 1, 1))),
            "from_date (2026-02-01 00:00:00.000005+00:00) must not be after to_date "
            "(2026-01-01 00:00:00+00:00)");
  EXPECT_EQ(error_of<invalid_backfill_date>(true, params(now_ + days(1), now_ + days(2))),
            "Backfill cannot be executed for future dates.");
  EXPECT_EQ(error_of<invalid_backfill_direction>(
                true, params(utc(2026, 1, 1), utc(2026, 2, 1), R::failed, true, true)),
            "Backfill cannot be run in reverse when the Dag has tasks where "
            "depends_on_past=True or depends_on_previous_tasks is set.");
  EXPECT_EQ(error_of<invalid_reprocess_behavior>(
                true, params(utc(2026, 1, 1), utc(2026, 2, 1), R::none, false, true)),
            "Dag has tasks for which depends_on_past=True or depends_on_previous_tasks is set. "
            "You must set reprocess behavior to reprocess completed or reprocess failed.");
}

TEST(ValidateBackfill, RangeErrorKeepsTheDates) {
  try {
    validate_backfill(true, params(utc(2026, 2, 1), utc(2026, 1, 1)), now_);
    FAIL() << "expected invalid_backfill_date_range";
  } catch (const invalid_backfill_date_range& e) {
    EXPECT_EQ(e.from_date(), utc(2026, 2, 1));
    EXPECT_EQ(e.to_date(), utc(2026, 1, 1));
  }
}

TEST(ValidateBackfill, ErrorsAreValueErrorsOfOneFamily) {
  EXPECT_THROW(validate_backfill(false, params(0, 1), now_), backfill_error);
  EXPECT_THROW(validate_backfill(true, params(2, 1), now_), std::invalid_argument);
}

TEST(ValidateBackfill, FirstFailingCheckInAirflowsOrderWins) {
  const instant past = utc(2026, 1, 1);
  const instant later_past = utc(2026, 2, 1);
  const instant future = now_ + days(10);
  const instant further = now_ + days(20);
  // Every check fails: the schedule is reported first (step 3 precedes step 5).
  EXPECT_THROW(validate_backfill(false, params(further, future, R::none, true, true), now_),
               dag_non_periodic_schedule_error);
  // Reversed range in the future, depends_on_past backwards: the range comes first.
  EXPECT_THROW(validate_backfill(true, params(further, future, R::none, true, true), now_),
               invalid_backfill_date_range);
  // Future range with depends_on_past backwards: the future check comes before direction.
  EXPECT_THROW(validate_backfill(true, params(future, further, R::none, true, true), now_),
               invalid_backfill_date);
  // Backwards with reprocess none and depends_on_past: direction before reprocess.
  EXPECT_THROW(validate_backfill(true, params(past, later_past, R::none, true, true), now_),
               invalid_backfill_direction);
  EXPECT_THROW(validate_backfill(true, params(past, later_past, R::none, false, true), now_),
               invalid_reprocess_behavior);
}

TEST(ValidateBackfill, AcceptedRequests) {
  const instant past = utc(2026, 1, 1);
  // from == to is allowed.
  EXPECT_NO_THROW(validate_backfill(true, params(past, past), now_));
  // A range that starts in the past and ends in the future is allowed; so is to == now.
  EXPECT_NO_THROW(validate_backfill(true, params(past, now_ + days(300)), now_));
  EXPECT_NO_THROW(validate_backfill(true, params(past, now_), now_));
  EXPECT_NO_THROW(validate_backfill(true, params(now_ - 1, now_ - 1), now_));
  // depends_on_past is fine forwards with a reprocess behavior other than none.
  EXPECT_NO_THROW(validate_backfill(true, params(past, now_, R::failed, false, true), now_));
  EXPECT_NO_THROW(validate_backfill(true, params(past, now_, R::completed, false, true), now_));
  // Without depends_on_past, backwards with none is fine.
  EXPECT_NO_THROW(validate_backfill(true, params(past, now_, R::none, true, false), now_));
}

TEST(ValidateBackfill, WholeRangeInTheFutureIncludesNowItself) {
  EXPECT_THROW(validate_backfill(true, params(now_, now_), now_), invalid_backfill_date);
  EXPECT_THROW(validate_backfill(true, params(now_, now_ + 1), now_), invalid_backfill_date);
}

TEST(PlanBackfill, NonPeriodicTimetablesAreRefused) {
  const backfill_params p = params(utc(2026, 1, 1), utc(2026, 2, 1));
  EXPECT_THROW((void)plan_backfill(null_timetable(), p, now_, {}), dag_non_periodic_schedule_error);
  EXPECT_THROW((void)plan_backfill(once_timetable(), p, now_, {}), dag_non_periodic_schedule_error);
  EXPECT_THROW((void)plan_backfill(continuous_timetable(), p, now_, {}),
               dag_non_periodic_schedule_error);
}

// ---------------------------------------------------------------------------------------------
// dates (docs/airflow-behaviour.md 2.4)

TEST(PlanBackfill, DataIntervalScheduleExcludesTheIntervalThatHasNotEnded) {
  const cron_data_interval_timetable daily(cron("0 0 * * *"));
  // Jan 5's interval ends at Jan 6 00:00, after now.
  const backfill_plan plan =
      plan_backfill(daily, params(utc(2026, 1, 1), utc(2026, 1, 5)), utc(2026, 1, 5, 12), {});
  EXPECT_EQ(logical_dates(plan), (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2),
                                                       utc(2026, 1, 3), utc(2026, 1, 4)}));
  EXPECT_EQ(plan.infos().ends().back(), utc(2026, 1, 5));
  EXPECT_EQ(plan.infos().run_afters(), plan.infos().ends());
  // An interval ending exactly at now has not ended "before now".
  const backfill_plan at_boundary =
      plan_backfill(daily, params(utc(2026, 1, 1), utc(2026, 1, 5)), utc(2026, 1, 5), {});
  EXPECT_EQ(logical_dates(at_boundary),
            (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3)}));
}

TEST(PlanBackfill, TriggerScheduleKeepsFiresStrictlyBeforeNowBothEndsInclusive) {
  const cron_trigger_timetable daily(cron("0 0 * * *"));
  const backfill_params p = params(utc(2026, 1, 1), utc(2026, 1, 5));
  EXPECT_EQ(
      logical_dates(plan_backfill(daily, p, utc(2026, 1, 5), {})),
      (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4)}));
  const backfill_plan all = plan_backfill(daily, p, utc(2026, 1, 5) + 1, {});
  EXPECT_EQ(logical_dates(all),
            (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3),
                                  utc(2026, 1, 4), utc(2026, 1, 5)}));
  // Interval 0: the run is due at its logical date and covers no time.
  EXPECT_EQ(all.infos().run_afters(), all.infos().starts());
  EXPECT_EQ(all.infos().ends(), all.infos().starts());
}

TEST(PlanBackfill, RangeBetweenFiresIsAnEmptyPlan) {
  const cron_trigger_timetable daily(cron("0 0 * * *"));
  const backfill_plan plan =
      plan_backfill(daily, params(utc(2026, 1, 1, 6), utc(2026, 1, 1, 18)), now_, {});
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.size(), 0U);
}

TEST(PlanBackfill, FromDateIsAlignedUpToTheSchedule) {
  const cron_data_interval_timetable daily(cron("0 0 * * *"));
  const backfill_plan plan =
      plan_backfill(daily, params(utc(2026, 1, 1, 6), utc(2026, 1, 3)), now_, {});
  EXPECT_EQ(logical_dates(plan), (std::vector<instant>{utc(2026, 1, 2), utc(2026, 1, 3)}));
}

TEST(PlanBackfill, FarFutureToDateCostsNothingAndDoesNotCountAgainstMaxRuns) {
  const cron_trigger_timetable hourly(cron("0 * * * *"));
  backfill_params p = params(now_ - hours(10), now_ + days(365 * 200));
  p.max_runs = 20;
  const backfill_plan plan = plan_backfill(hourly, p, now_, {});
  ASSERT_EQ(plan.size(), 10U);  // now is 12:00: 02:00 .. 11:00
  EXPECT_EQ(logical_dates(plan).front(), now_ - hours(10));
  EXPECT_EQ(logical_dates(plan).back(), now_ - hours(1));
  p.from_date = now_ - hours(30);
  try {
    (void)plan_backfill(hourly, p, now_, {});
    FAIL() << "expected std::length_error";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("max_runs=20"), std::string::npos) << e.what();
  }
}

TEST(PlanBackfill, RunBackwardsReversesTheDatesAndOrdinalsFollowThePlan) {
  const cron_trigger_timetable daily(cron("0 0 * * *"));
  const existing_run_index existing({{utc(2026, 1, 2), S::failed}});
  const backfill_plan forward = plan_backfill(
      daily, params(utc(2026, 1, 1), utc(2026, 1, 3), R::failed, false), now_, existing);
  const backfill_plan backward = plan_backfill(
      daily, params(utc(2026, 1, 1), utc(2026, 1, 3), R::failed, true), now_, existing);
  EXPECT_EQ(logical_dates(backward),
            (std::vector<instant>{utc(2026, 1, 3), utc(2026, 1, 2), utc(2026, 1, 1)}));
  EXPECT_EQ(decisions(backward), (std::vector<backfill_decision>{create, clear, create}));
  ASSERT_EQ(forward.size(), 3U);
  ASSERT_EQ(backward.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(forward[i].sort_ordinal, i + 1);
    EXPECT_EQ(backward[i].sort_ordinal, i + 1);
    EXPECT_EQ(backward[i].info, forward[2 - i].info);
    EXPECT_EQ(backward[i].action, forward[2 - i].action);
  }
  EXPECT_EQ(backward[0].logical_date(), utc(2026, 1, 3));  // ordinal 1 = most recent date
}

// ---------------------------------------------------------------------------------------------
// reconciliation through the planner

TEST(PlanBackfill, MixedExistingRunsUnderEachBehavior) {
  const cron_trigger_timetable daily(cron("0 0 * * *"));
  // Jan 1 no run, Jan 2 queued, Jan 3 running, Jan 4 success, Jan 5 failed.
  const existing_run_index existing({{utc(2026, 1, 2), S::queued},
                                     {utc(2026, 1, 3), S::running},
                                     {utc(2026, 1, 4), S::success},
                                     {utc(2026, 1, 5), S::failed},
                                     {utc(2025, 12, 1), S::failed}});  // outside the range
  const auto plan_with = [&](reprocess_behavior r) {
    return decisions(
        plan_backfill(daily, params(utc(2026, 1, 1), utc(2026, 1, 5), r), now_, existing));
  };
  EXPECT_EQ(plan_with(R::none),
            (std::vector<backfill_decision>{create, in_flight, in_flight, exists, exists}));
  EXPECT_EQ(plan_with(R::failed),
            (std::vector<backfill_decision>{create, in_flight, in_flight, exists, clear}));
  EXPECT_EQ(plan_with(R::completed),
            (std::vector<backfill_decision>{create, in_flight, in_flight, clear, clear}));
}

TEST(PlanBackfill, ExistingRunsAreMatchedOnTheLogicalDateNotRunAfter) {
  // Data intervals: the run for [Jan 1, Jan 2] has logical date Jan 1 and runs after Jan 2.
  const cron_data_interval_timetable daily(cron("0 0 * * *"));
  const existing_run_index existing({{utc(2026, 1, 2), S::success}});
  const backfill_plan plan =
      plan_backfill(daily, params(utc(2026, 1, 1), utc(2026, 1, 2)), now_, existing);
  EXPECT_EQ(decisions(plan), (std::vector<backfill_decision>{create, exists}));
}

TEST(PlanBackfill, RepeatedLogicalDateFindsTheRunItsFirstOccurrencePlanned) {
  // Interval one month: fires Mar 28..31 all map to logical date Feb 28 (2026 is no leap year).
  const cron_trigger_timetable tt(cron("0 0 * * *"), calendar_delta{1, 0});
  const backfill_params p = params(utc(2026, 3, 27), utc(2026, 3, 31), R::failed);
  const backfill_plan fresh = plan_backfill(tt, p, now_, {});
  EXPECT_EQ(logical_dates(fresh),
            (std::vector<instant>{utc(2026, 2, 27), utc(2026, 2, 28), utc(2026, 2, 28),
                                  utc(2026, 2, 28), utc(2026, 2, 28)}));
  EXPECT_EQ(decisions(fresh),
            (std::vector<backfill_decision>{create, create, in_flight, in_flight, in_flight}));

  const backfill_plan cleared =
      plan_backfill(tt, p, now_, existing_run_index({{utc(2026, 2, 28), S::failed}}));
  EXPECT_EQ(decisions(cleared),
            (std::vector<backfill_decision>{create, clear, in_flight, in_flight, in_flight}));

  // A skipped date leaves the existing run as it is: the repeats get the same answer.
  const backfill_plan kept =
      plan_backfill(tt, p, now_, existing_run_index({{utc(2026, 2, 28), S::success}}));
  EXPECT_EQ(decisions(kept),
            (std::vector<backfill_decision>{create, exists, exists, exists, exists}));

  // Backwards, the latest fire (Mar 31) claims the date first.
  backfill_params back = p;
  back.run_backwards = true;
  const backfill_plan reversed = plan_backfill(tt, back, now_, {});
  EXPECT_EQ(reversed.infos().run_afters().front(), utc(2026, 3, 31));
  EXPECT_EQ(decisions(reversed),
            (std::vector<backfill_decision>{create, in_flight, in_flight, in_flight, create}));
}

TEST(PlanBackfillFromInfos, FiltersReversesAndDecidesWithoutValidating) {
  // Infos from a timetable written in Python may come in any order; validation is the
  // caller's (here from > to would be refused by validate_backfill).
  const run_info_batch infos({utc(2026, 1, 3), utc(2026, 1, 1), utc(2026, 1, 9)},
                             {utc(2026, 1, 2), utc(2026, 1, 1), utc(2026, 1, 8)},
                             {utc(2026, 1, 3), utc(2026, 1, 1), utc(2026, 1, 9)});
  backfill_params p = params(utc(2026, 2, 1), utc(2026, 1, 1), R::completed, true);
  const backfill_plan plan = plan_backfill_from_infos(
      infos, p, utc(2026, 1, 5), existing_run_index({{utc(2026, 1, 1), S::success}}));
  EXPECT_EQ(logical_dates(plan), (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2)}));
  EXPECT_EQ(decisions(plan), (std::vector<backfill_decision>{clear, create}));
}

// ---------------------------------------------------------------------------------------------
// the result type

TEST(BackfillPlan, ColumnsMustAgree) {
  const run_info_batch two({1, 2}, {1, 2}, {1, 2});
  EXPECT_THROW(backfill_plan(two, {backfill_action::create}, {{}, {}}), std::invalid_argument);
  EXPECT_THROW(backfill_plan(two, {backfill_action::create, backfill_action::skip}, {{}, {}}),
               std::invalid_argument);
  EXPECT_THROW(backfill_plan(two, {backfill_action::create, backfill_action::clear},
                             {{}, backfill_skip_reason::in_flight}),
               std::invalid_argument);
  const backfill_plan ok(two, {backfill_action::create, backfill_action::skip},
                         {{}, backfill_skip_reason::already_exists});
  EXPECT_EQ(ok.count(backfill_action::create), 1U);
  EXPECT_EQ(ok.count(backfill_action::skip), 1U);
  EXPECT_EQ(ok.count(backfill_action::clear), 0U);
  const std::vector<backfill_plan_entry> entries = ok.to_vector();
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[1], (backfill_plan_entry{2, run_info{2, {2, 2}}, backfill_action::skip,
                                             backfill_skip_reason::already_exists}));
  EXPECT_EQ(entries[1].logical_date(), 2);
  EXPECT_TRUE(backfill_plan().empty());
}

// ---------------------------------------------------------------------------------------------
// the planner against a straightforward reference on random schedules

std::unique_ptr<timetable> random_timetable(std::mt19937_64& rng, std::string& description) {
  static const char* const zones[] = {"UTC", "Europe/Amsterdam", "America/New_York",
                                      "Australia/Lord_Howe"};
  static const char* const crons[] = {
      "0 0 * * *", "*/15 * * * *",   "0 * * * *",  "30 2 * * *",   "0 0 1 * *",
      "0 0 * * 0", "0 9-17 * * 1-5", "0 0 31 * *", "45 */3 * * *", "0 0 L * *"};
  const char* zone = zones[rng() % std::size(zones)];
  const char* expr = crons[rng() % std::size(crons)];
  description = std::string("'") + expr + "' in " + zone;
  const calendar_delta interval =
      rng() % 4 == 0 ? calendar_delta{1, 0}
                     : (rng() % 2 == 0 ? calendar_delta{} : calendar_delta::fixed(hours(1)));
  switch (rng() % 5) {
    case 0:
      description = "cron trigger " + description + " months=" + std::to_string(interval.months);
      return std::make_unique<cron_trigger_timetable>(cron(expr, zone), interval);
    case 1:
      description = "cron data interval " + description;
      return std::make_unique<cron_data_interval_timetable>(cron(expr, zone));
    case 2:
      description = "multiple cron trigger " + description;
      return std::make_unique<multiple_cron_trigger_timetable>(
          std::vector<cron_schedule>{cron(expr, zone), cron("0 12 * * *", zone)}, interval);
    case 3:
      description = "delta trigger";
      return std::make_unique<delta_trigger_timetable>(
          calendar_delta::fixed(minutes(static_cast<std::int64_t>(5 + rng() % 3000))), interval);
    default:
      description = "delta data interval";
      return std::make_unique<delta_data_interval_timetable>(
          rng() % 3 == 0
              ? calendar_delta{1, 0}
              : calendar_delta::fixed(minutes(static_cast<std::int64_t>(5 + rng() % 3000))));
  }
}

/// Airflow's procedure written plainly: every run between from and to (no clamping at now),
/// filter, reverse, then one map lookup per date, runs planned earlier becoming queued.
std::vector<backfill_plan_entry> reference_plan(const timetable& tt, const backfill_params& p,
                                                instant now,
                                                std::map<instant, dagrun_state> existing) {
  std::vector<run_info> infos;
  for (const run_info& info : tt.infos_between(p.from_date, p.to_date, now).to_vector()) {
    if (info.interval.end < now) infos.push_back(info);
  }
  if (p.run_backwards) std::reverse(infos.begin(), infos.end());
  std::vector<backfill_plan_entry> out;
  for (const run_info& info : infos) {
    const auto it = existing.find(info.logical_date());
    const std::optional<dagrun_state> state =
        it == existing.end() ? std::nullopt : std::optional<dagrun_state>(it->second);
    const backfill_decision d = decide_backfill_date(state, p.reprocess);
    if (d.action != backfill_action::skip) existing[info.logical_date()] = dagrun_state::queued;
    out.push_back({out.size() + 1, info, d.action, d.reason});
  }
  return out;
}

TEST(PlanBackfill, EqualsTheReferenceOnRandomSchedulesAndRuns) {
  std::mt19937_64 rng(20260506);
  std::size_t entries = 0;
  std::size_t skips = 0;
  std::size_t clears = 0;
  for (int i = 0; i < 300; ++i) {
    std::string description;
    const std::unique_ptr<timetable> tt = random_timetable(rng, description);
    const instant from =
        utc(2026, 1, 1) + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(300)));
    const instant to = from + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(40)));
    // now anywhere from just after from to well after to.
    const instant now =
        from + 1 + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(60)));
    const backfill_params p =
        params(from, to, static_cast<reprocess_behavior>(rng() % reprocess_behavior_count),
               rng() % 2 == 0);
    // Existing runs at about a third of the dates, plus some that match nothing.
    std::map<instant, dagrun_state> existing;
    const run_info_batch all = tt->infos_between(from, to, now);
    for (const instant d : all.starts()) {
      if (rng() % 3 == 0) existing[d] = static_cast<dagrun_state>(rng() % dagrun_state_count);
    }
    existing[from - days(1) - 7] = dagrun_state::failed;
    std::vector<existing_run> runs;
    for (const auto& [date, state] : existing) runs.push_back({date, state});
    std::shuffle(runs.begin(), runs.end(), rng);

    SCOPED_TRACE(description + " from " + detail::python_utc_str(from) + " to " +
                 detail::python_utc_str(to) + " now " + detail::python_utc_str(now));
    const backfill_plan plan = plan_backfill(*tt, p, now, existing_run_index(runs));
    ASSERT_EQ(plan.to_vector(), reference_plan(*tt, p, now, existing));
    entries += plan.size();
    skips += plan.count(backfill_action::skip);
    clears += plan.count(backfill_action::clear);
  }
  // The comparison covered real volume and every action.
  EXPECT_GT(entries, 5'000U);
  EXPECT_GT(skips, 100U);
  EXPECT_GT(clears, 100U);
}

TEST(PlanBackfill, ForwardAndBackwardPlansMirrorEachOther) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    std::string description;
    const std::unique_ptr<timetable> tt = random_timetable(rng, description);
    const instant from =
        utc(2025, 6, 1) + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(200)));
    const instant to = from + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(20)));
    std::vector<existing_run> runs;
    const run_info_batch all = tt->infos_between(from, to, now_);
    for (const instant d : all.starts()) {
      if (rng() % 4 == 0) runs.push_back({d, static_cast<dagrun_state>(rng() % 4)});
    }
    std::sort(runs.begin(), runs.end(), [](const existing_run& a, const existing_run& b) {
      return a.logical_date < b.logical_date;
    });
    runs.erase(std::unique(runs.begin(), runs.end(),
                           [](const existing_run& a, const existing_run& b) {
                             return a.logical_date == b.logical_date;
                           }),
               runs.end());
    const existing_run_index index(runs);
    SCOPED_TRACE(description);
    backfill_params p = params(from, to, R::completed, false);
    const backfill_plan forward = plan_backfill(*tt, p, now_, index);
    p.run_backwards = true;
    const backfill_plan backward = plan_backfill(*tt, p, now_, index);
    ASSERT_EQ(forward.size(), backward.size());
    const std::vector<instant>& dates = forward.infos().starts();
    const bool repeats = std::adjacent_find(dates.begin(), dates.end()) != dates.end();
    for (std::size_t k = 0; k < forward.size(); ++k) {
      const std::size_t m = forward.size() - 1 - k;
      EXPECT_EQ(backward[m].sort_ordinal, m + 1);
      EXPECT_EQ(backward[m].info, forward[k].info);
      // Which occurrence of a repeated date claims it depends on the direction.
      if (!repeats) {
        EXPECT_EQ(backward[m].action, forward[k].action);
        EXPECT_EQ(backward[m].reason, forward[k].reason);
      }
    }
  }
}

}  // namespace
}  // namespace dagcore
