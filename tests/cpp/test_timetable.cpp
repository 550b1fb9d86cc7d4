// Timetables: tables of expected run infos per kind (catchup on and off, with a frozen "now"),
// calendar arithmetic, DST-spanning data intervals, the max_runs guard, and the bulk path
// checked against repeated next_dagrun_info on random schedules, zones and ranges.
//
// Times in the tables are written in UTC; each row's comment gives the local wall time and its
// UTC offset where a zone other than UTC is involved.
#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagcore/timetable.hpp"

namespace dagcore {

// Readable failure messages: run infos print as ISO UTC times. (Internal linkage: other test
// files may print the same types.)
static std::string iso(instant t) {
  const local_time l = utc_local(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d",
                static_cast<long long>(l.civil.year()), l.civil.month(), l.civil.day(),
                l.civil.hour(), l.civil.minute(), l.civil.second());
  std::string out = buf;
  if (l.micros != 0) out += "." + std::to_string(l.micros);
  return out + "Z";
}

static void PrintTo(const data_interval& d, std::ostream* os) {
  *os << "[" << iso(d.start) << ", " << iso(d.end) << "]";
}

static void PrintTo(const run_info& r, std::ostream* os) {
  *os << "run_after " << iso(r.run_after) << " ";
  PrintTo(r.interval, os);
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

run_info interval_info(instant start, instant end) { return run_info::of_interval(start, end); }
run_info exact(instant t) { return run_info::exact(t); }

/// What iter_dagrun_infos_between does in Airflow, written independently of the library's
/// own bulk driver: next_dagrun_info until None, each info's interval fed to the next call.
std::vector<run_info> repeated(const timetable& tt, instant earliest, instant latest, instant now,
                               std::size_t limit = 200'000) {
  const time_restriction r{earliest, latest, true};
  std::vector<run_info> out;
  std::optional<data_interval> last;
  while (const std::optional<run_info> info = tt.next_dagrun_info(last, r, now)) {
    out.push_back(*info);
    last = info->interval;
    if (out.size() > limit) throw std::runtime_error("runaway timetable");
  }
  return out;
}

struct next_case {
  const char* name;
  std::optional<data_interval> last;
  time_restriction restriction;
  instant now;
  std::optional<run_info> expected;
};

void expect_cases(const timetable& tt, const std::vector<next_case>& cases) {
  for (const next_case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(tt.next_dagrun_info(c.last, c.restriction, c.now), c.expected);
  }
}

// ---------------------------------------------------------------------------------------------
// calendar arithmetic

TEST(CalendarDelta, MonthsClampTheDayThenAddTheFixedPart) {
  const calendar_delta month{1, 0};
  EXPECT_EQ(add(utc(2023, 1, 31, 6, 30), month), utc(2023, 2, 28, 6, 30));
  EXPECT_EQ(add(utc(2024, 1, 31), month), utc(2024, 2, 29));  // leap year
  EXPECT_EQ(add(utc(2023, 12, 15), month), utc(2024, 1, 15));
  EXPECT_EQ(add(utc(2024, 2, 29), calendar_delta{12, 0}), utc(2025, 2, 28));
  // dateutil: Jan 31 + relativedelta(months=1, days=1) = Feb 28 + 1 day.
  EXPECT_EQ(add(utc(2023, 1, 31), calendar_delta{1, days(1)}), utc(2023, 3, 1));
  EXPECT_EQ(add(utc(2023, 1, 31, 0, 0, 0, 7), calendar_delta::fixed(hours(25))),
            utc(2023, 2, 1, 1, 0, 0, 7));
  EXPECT_EQ(add(utc(1969, 12, 31, 23), calendar_delta{2, 0}), utc(1970, 2, 28, 23));
}

TEST(CalendarDelta, SubtractIsAddingTheNegation) {
  EXPECT_EQ(subtract(utc(2023, 3, 31), calendar_delta{1, 0}), utc(2023, 2, 28));
  EXPECT_EQ(subtract(utc(2024, 3, 1), calendar_delta{0, days(1)}), utc(2024, 2, 29));
  EXPECT_EQ(subtract(utc(2023, 1, 15, 12), calendar_delta{1, hours(12)}), utc(2022, 12, 15));
  EXPECT_EQ(subtract(utc(2023, 1, 15), calendar_delta{0, 0}), utc(2023, 1, 15));
}

TEST(CalendarDelta, OnePeriodAtATimeKeepsTheClampedDay) {
  // Jan 31 -> Feb 28 -> Mar 28 -> Apr 28: each step adds one month to the previous result.
  const calendar_delta month{1, 0};
  std::vector<instant> walk{utc(2026, 1, 31)};
  for (int i = 0; i < 3; ++i) walk.push_back(add(walk.back(), month));
  EXPECT_EQ(walk, (std::vector<instant>{utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 28),
                                        utc(2026, 4, 28)}));
}

TEST(CalendarDelta, Sign) {
  EXPECT_TRUE((calendar_delta{1, 0}.is_positive()));
  EXPECT_TRUE((calendar_delta{0, 1}.is_positive()));
  EXPECT_TRUE((calendar_delta{1, days(1)}.is_positive()));
  EXPECT_FALSE((calendar_delta{0, 0}.is_positive()));
  EXPECT_FALSE((calendar_delta{0, -1}.is_positive()));
  EXPECT_FALSE((calendar_delta{1, -days(1)}.is_positive()));  // sign depends on the date
  EXPECT_FALSE((calendar_delta{-1, days(40)}.is_positive()));
  EXPECT_TRUE((calendar_delta{0, 0}.is_non_negative()));
  EXPECT_FALSE((calendar_delta{0, -1}.is_non_negative()));
}

TEST(CalendarDelta, OverflowThrows) {
  EXPECT_THROW((void)add(std::numeric_limits<instant>::max() - 5, calendar_delta::fixed(10)),
               std::overflow_error);
  EXPECT_THROW((void)subtract(std::numeric_limits<instant>::min() + 5, calendar_delta::fixed(10)),
               std::overflow_error);
  EXPECT_THROW((void)add(0, calendar_delta{std::numeric_limits<std::int32_t>::max(), 0}),
               std::overflow_error);
  EXPECT_THROW((void)subtract(0, calendar_delta{std::numeric_limits<std::int32_t>::max(), 0}),
               std::overflow_error);
}

// ---------------------------------------------------------------------------------------------
// null, once, continuous

TEST(NullTimetable, NeverSchedules) {
  const null_timetable tt;
  EXPECT_FALSE(tt.periodic());
  EXPECT_FALSE(tt.can_be_scheduled());
  EXPECT_EQ(
      tt.next_dagrun_info(std::nullopt, {utc(2026, 1, 1), std::nullopt, true}, utc(2026, 5, 5)),
      std::nullopt);
  EXPECT_EQ(tt.infer_manual_data_interval(utc(2026, 5, 5, 1), 0),
            data_interval::exact(utc(2026, 5, 5, 1)));
  EXPECT_EQ(tt.infos_between(utc(2026, 1, 1), utc(2026, 12, 31), 0).size(), 0U);
}

TEST(OnceTimetable, RunsOnceAtTheStartDate) {
  const once_timetable tt;
  EXPECT_FALSE(tt.periodic());
  EXPECT_TRUE(tt.can_be_scheduled());
  const instant start = utc(2026, 1, 1, 5);
  const instant now = utc(2026, 5, 5, 12);
  expect_cases(
      tt, {
              {"start date, catchup", std::nullopt, {start, std::nullopt, true}, now, exact(start)},
              {"start date, no catchup (still the start date)",
               std::nullopt,
               {start, std::nullopt, false},
               now,
               exact(start)},
              {"no start date: now",
               std::nullopt,
               {std::nullopt, std::nullopt, false},
               now,
               exact(now)},
              {"start after end date",
               std::nullopt,
               {start, utc(2025, 12, 31), true},
               now,
               std::nullopt},
              {"start equals end date", std::nullopt, {start, start, true}, now, exact(start)},
              {"already ran",
               data_interval::exact(start),
               {start, std::nullopt, true},
               now,
               std::nullopt},
          });
  const run_info_batch batch = tt.infos_between(start, utc(2026, 2, 1), now);
  EXPECT_EQ(batch.to_vector(), std::vector<run_info>{exact(start)});
  EXPECT_EQ(tt.infos_between(start, utc(2025, 2, 1), now).size(), 0U);
}

TEST(ContinuousTimetable, EachRunFromThePreviousEndToNow) {
  const continuous_timetable tt;
  EXPECT_FALSE(tt.periodic());
  const instant start = utc(2026, 1, 1);
  const instant now = utc(2026, 5, 5, 12);
  const instant future = utc(2026, 6, 1);
  expect_cases(tt, {
                       {"first run: [start, now]",
                        std::nullopt,
                        {start, std::nullopt, false},
                        now,
                        interval_info(start, now)},
                       {"first run with a future start: [start, start]",
                        std::nullopt,
                        {future, std::nullopt, false},
                        now,
                        interval_info(future, future)},
                       {"later run: [last end, now]",
                        data_interval{utc(2026, 5, 5), utc(2026, 5, 5, 11)},
                        {start, std::nullopt, false},
                        now,
                        interval_info(utc(2026, 5, 5, 11), now)},
                       {"previous run ends in the future: same length from the start date",
                        data_interval{future, future + hours(2)},
                        {future, std::nullopt, true},
                        now,
                        interval_info(future, future + hours(2))},
                       {"no start date: never",
                        std::nullopt,
                        {std::nullopt, std::nullopt, true},
                        now,
                        std::nullopt},
                       {"now after the end date",
                        std::nullopt,
                        {start, utc(2026, 5, 1), true},
                        now,
                        std::nullopt},
                   });
  EXPECT_EQ(tt.infer_manual_data_interval(now, now), data_interval::exact(now));
  try {
    (void)tt.infos_between(start, future, now);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("continuous"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// cron trigger

TEST(CronTriggerTimetable, CatchupFromTheStartDate) {
  const cron_trigger_timetable tt(cron("0 0 * * *"));
  EXPECT_TRUE(tt.periodic());
  const instant now = utc(2026, 5, 5, 12);
  expect_cases(tt, {
                       {"start on a fire time runs it",
                        std::nullopt,
                        {utc(2026, 1, 1), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 1))},
                       {"start between fires aligns up",
                        std::nullopt,
                        {utc(2026, 1, 1, 5), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 2))},
                       {"after a run: the next fire",
                        data_interval::exact(utc(2026, 1, 2)),
                        {utc(2026, 1, 1), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 3))},
                       {"after a data-interval run: next fire after its end",
                        data_interval{utc(2026, 1, 1), utc(2026, 1, 2)},
                        {utc(2026, 1, 1), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 3))},
                       {"fire after the end date",
                        data_interval::exact(utc(2026, 1, 2)),
                        {utc(2026, 1, 1), utc(2026, 1, 2, 23, 59), true},
                        now,
                        std::nullopt},
                       {"fire equal to the end date",
                        data_interval::exact(utc(2026, 1, 2)),
                        {utc(2026, 1, 1), utc(2026, 1, 3), true},
                        now,
                        exact(utc(2026, 1, 3))},
                   });
}

TEST(CronTriggerTimetable, NoCatchupRunsTheLatestDueFire) {
  const cron_trigger_timetable tt(cron("0 0 * * *"));
  const instant now = utc(2026, 5, 5, 12);
  expect_cases(tt, {
                       {"old start date: today's fire",
                        std::nullopt,
                        {utc(2026, 1, 1), std::nullopt, false},
                        now,
                        exact(utc(2026, 5, 5))},
                       {"old previous run: today's fire",
                        data_interval::exact(utc(2026, 1, 10)),
                        {utc(2026, 1, 1), std::nullopt, false},
                        now,
                        exact(utc(2026, 5, 5))},
                       {"today's fire already ran: tomorrow",
                        data_interval::exact(utc(2026, 5, 5)),
                        {utc(2026, 1, 1), std::nullopt, false},
                        now,
                        exact(utc(2026, 5, 6))},
                       {"future start date wins",
                        std::nullopt,
                        {utc(2026, 6, 1, 3), std::nullopt, false},
                        now,
                        exact(utc(2026, 6, 2))},
                   });
}

TEST(CronTriggerTimetable, FirstRunWithoutStartDateFollowsRunImmediately) {
  // Daily: the default buffer is max(10% of 24 h, 5 min) = 2 h 24 min after the past fire.
  const instant early = utc(2026, 5, 5, 2, 24);    // 2 h 24 min after midnight: within
  const instant late = utc(2026, 5, 5, 2, 24, 1);  // one second later: outside
  const time_restriction none{std::nullopt, std::nullopt, true};
  const time_restriction none_no_catchup{std::nullopt, std::nullopt, false};
  const cron_trigger_timetable by_default(cron("0 0 * * *"));
  EXPECT_EQ(by_default.next_dagrun_info(std::nullopt, none, early), exact(utc(2026, 5, 5)));
  EXPECT_EQ(by_default.next_dagrun_info(std::nullopt, none, late), exact(utc(2026, 5, 6)));
  EXPECT_EQ(by_default.next_dagrun_info(std::nullopt, none_no_catchup, late),
            exact(utc(2026, 5, 6)));

  const cron_trigger_timetable always(cron("0 0 * * *"), {},
                                      run_immediately_policy::from_bool(true));
  EXPECT_EQ(always.next_dagrun_info(std::nullopt, none, utc(2026, 5, 5, 23)),
            exact(utc(2026, 5, 5)));

  const cron_trigger_timetable within(cron("0 0 * * *"), {},
                                      run_immediately_policy::within_micros(hours(13)));
  EXPECT_EQ(within.next_dagrun_info(std::nullopt, none, utc(2026, 5, 5, 13)),
            exact(utc(2026, 5, 5)));
  EXPECT_EQ(within.next_dagrun_info(std::nullopt, none, utc(2026, 5, 5, 13, 0, 0, 1)),
            exact(utc(2026, 5, 6)));

  // Every 10 minutes: 10% is 1 minute, so the 5-minute floor applies.
  const cron_trigger_timetable often(cron("*/10 * * * *"));
  EXPECT_EQ(often.next_dagrun_info(std::nullopt, none, utc(2026, 5, 5, 12, 5)),
            exact(utc(2026, 5, 5, 12, 0)));
  EXPECT_EQ(often.next_dagrun_info(std::nullopt, none, utc(2026, 5, 5, 12, 5, 1)),
            exact(utc(2026, 5, 5, 12, 10)));
}

TEST(CronTriggerTimetable, IntervalSetsTheDataIntervalAndLogicalDate) {
  const cron_trigger_timetable hourly_window(cron("0 0 * * *"), calendar_delta::fixed(hours(1)));
  // Fire 2026-01-02 00:00: data interval [01-01 23:00, 01-02 00:00], logical date 23:00.
  const auto info = hourly_window.next_dagrun_info(
      std::nullopt, {utc(2026, 1, 1, 5), std::nullopt, true}, utc(2026, 5, 5));
  ASSERT_TRUE(info);
  EXPECT_EQ(*info, interval_info(utc(2026, 1, 1, 23), utc(2026, 1, 2)));
  EXPECT_EQ(info->logical_date(), utc(2026, 1, 1, 23));
  EXPECT_EQ(hourly_window.infer_manual_data_interval(utc(2026, 5, 5, 7, 30), 0),
            (data_interval{utc(2026, 5, 5, 6, 30), utc(2026, 5, 5, 7, 30)}));

  // A calendar interval: a fire on Mar 31 looks back one month to Feb 28, May 31 to Apr 30.
  const cron_trigger_timetable monthly_window(cron("0 0 31 * *"), calendar_delta{1, 0});
  const run_info_batch batch =
      monthly_window.infos_between(utc(2026, 3, 1), utc(2026, 5, 31), utc(2026, 6, 1));
  EXPECT_EQ(batch.to_vector(),
            (std::vector<run_info>{interval_info(utc(2026, 2, 28), utc(2026, 3, 31)),
                                   interval_info(utc(2026, 4, 30), utc(2026, 5, 31))}));

  EXPECT_THROW(cron_trigger_timetable(cron("0 0 * * *"), calendar_delta::fixed(-1)),
               std::invalid_argument);
  EXPECT_THROW(
      cron_trigger_timetable(cron("0 0 * * *"), {}, run_immediately_policy::within_micros(-1)),
      std::invalid_argument);
}

TEST(CronTriggerTimetable, DstRulesThroughTheTimetable) {
  // Europe/Zurich, 2023-03-26: 02:00-03:00 does not exist; 2023-10-29: 02:00-03:00 twice.
  const cron_trigger_timetable at_two(cron("0 2 * * *", "Europe/Zurich"));
  const cron_trigger_timetable at_half_two(cron("30 2 * * *", "Europe/Zurich"));
  const instant now = utc(2024, 1, 1);
  std::vector<run_info> spring =
      at_two.infos_between(utc(2023, 3, 25), utc(2023, 3, 27), now).to_vector();
  EXPECT_EQ(spring, (std::vector<run_info>{
                        exact(utc(2023, 3, 25, 1)),  // 02:00+01:00
                        exact(utc(2023, 3, 26, 1)),  // 02:00 skipped -> 03:00+02:00
                        exact(utc(2023, 3, 27, 0)),  // 02:00+02:00
                    }));
  std::vector<run_info> autumn =
      at_half_two.infos_between(utc(2023, 10, 28), utc(2023, 10, 30, 2), now).to_vector();
  EXPECT_EQ(autumn, (std::vector<run_info>{
                        exact(utc(2023, 10, 28, 0, 30)),  // 02:30+02:00
                        exact(utc(2023, 10, 29, 1, 30)),  // 02:30 twice -> second, +01:00
                        exact(utc(2023, 10, 30, 1, 30)),  // 02:30+01:00
                    }));
  // Hourly crons step in absolute time: the repeated hour runs twice.
  const cron_trigger_timetable hourly(cron("0 * * * *", "Europe/Amsterdam"));
  EXPECT_EQ(hourly.infos_between(utc(2026, 10, 24, 23), utc(2026, 10, 25, 2), now).to_vector(),
            (std::vector<run_info>{
                exact(utc(2026, 10, 24, 23)),  // 01:00+02:00
                exact(utc(2026, 10, 25, 0)),   // 02:00+02:00
                exact(utc(2026, 10, 25, 1)),   // 02:00+01:00 (the repeated hour)
                exact(utc(2026, 10, 25, 2)),   // 03:00+01:00
            }));
}

// ---------------------------------------------------------------------------------------------
// multiple cron trigger

TEST(MultipleCronTriggerTimetable, MergesFiresAndRunsSharedOnesOnce) {
  std::vector<cron_schedule> crons{cron("0 */12 * * *"), cron("0 0 * * *"), cron("0 6 * * *")};
  const multiple_cron_trigger_timetable tt(crons);
  const run_info_batch batch = tt.infos_between(utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 5, 5));
  EXPECT_EQ(batch.to_vector(), (std::vector<run_info>{
                                   exact(utc(2026, 1, 1, 0)),  // both 0 */12 and 0 0: once
                                   exact(utc(2026, 1, 1, 6)),
                                   exact(utc(2026, 1, 1, 12)),
                                   exact(utc(2026, 1, 2, 0)),
                               }));
  EXPECT_EQ(batch.to_vector(), repeated(tt, utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 5, 5)));
  EXPECT_THROW(multiple_cron_trigger_timetable({}), std::invalid_argument);
}

TEST(MultipleCronTriggerTimetable, NoCatchupPrefersTheLatestDueRunElseTheEarliestFuture) {
  const multiple_cron_trigger_timetable tt({cron("0 9 * * *"), cron("0 17 * * *")});
  const time_restriction no_start{std::nullopt, std::nullopt, false};
  expect_cases(
      tt,
      {
          // 09:00 is 1 h ago (within the 2.4 h buffer): due; 17:00 is in the future.
          {"one due, one future", std::nullopt, no_start, utc(2026, 5, 5, 10),
           exact(utc(2026, 5, 5, 9))},
          // 09:00 is 3 h ago (outside the buffer): its next is tomorrow; 17:00 today is earlier.
          {"both future: the earliest", std::nullopt, no_start, utc(2026, 5, 5, 12),
           exact(utc(2026, 5, 5, 17))},
          {"after the 09:00 run at 18:00: 17:00 is due", data_interval::exact(utc(2026, 5, 5, 9)),
           no_start, utc(2026, 5, 5, 18), exact(utc(2026, 5, 5, 17))},
          {"catchup: the earliest logical date",
           data_interval::exact(utc(2026, 5, 5, 9)),
           {utc(2026, 1, 1), std::nullopt, true},
           utc(2026, 5, 6),
           exact(utc(2026, 5, 5, 17))},
      });
}

TEST(MultipleCronTriggerTimetable, EqualLogicalDatesKeepTheFirstCron) {
  // With a one-month interval, fires on Mar 30 and Mar 31 both have logical date Feb 28: the
  // first cron's info wins and the other cron's Mar 30 is never run (Airflow's min()).
  const multiple_cron_trigger_timetable tt({cron("0 0 31 * *"), cron("0 0 30 * *")},
                                           calendar_delta{1, 0});
  const instant e = utc(2026, 3, 29);
  const instant l = utc(2026, 4, 1);
  const run_info_batch batch = tt.infos_between(e, l, utc(2026, 5, 5));
  EXPECT_EQ(batch.to_vector(),
            std::vector<run_info>{interval_info(utc(2026, 2, 28), utc(2026, 3, 31))});
  EXPECT_EQ(batch.to_vector(), repeated(tt, e, l, utc(2026, 5, 5)));
}

// ---------------------------------------------------------------------------------------------
// cron data interval

TEST(CronDataIntervalTimetable, CatchupRunsEachPeriodAtItsEnd) {
  const cron_data_interval_timetable tt(cron("0 0 * * *"));
  const instant now = utc(2026, 5, 5, 12);
  expect_cases(
      tt, {
              {"start between fires aligns up",
               std::nullopt,
               {utc(2026, 1, 1, 5), std::nullopt, true},
               now,
               interval_info(utc(2026, 1, 2), utc(2026, 1, 3))},
              {"start on a fire",
               std::nullopt,
               {utc(2026, 1, 1), std::nullopt, true},
               now,
               interval_info(utc(2026, 1, 1), utc(2026, 1, 2))},
              {"after a run",
               data_interval{utc(2026, 1, 2), utc(2026, 1, 3)},
               {utc(2026, 1, 1), std::nullopt, true},
               now,
               interval_info(utc(2026, 1, 3), utc(2026, 1, 4))},
              {"no start date and no previous run: nothing",
               std::nullopt,
               {std::nullopt, std::nullopt, true},
               now,
               std::nullopt},
              {"start after the end date",
               std::nullopt,
               {utc(2026, 1, 2), utc(2026, 1, 1, 23), true},
               now,
               std::nullopt},
              {"previous run off the schedule (schedule changed): aligned back",
               data_interval{utc(2026, 1, 1), utc(2026, 1, 1, 7, 30)},
               {utc(2026, 1, 1), std::nullopt, true},
               now,
               interval_info(utc(2026, 1, 1), utc(2026, 1, 2))},
              // The newest Airflow guard: a trigger timetable left [t, t]; t must not run again.
              {"zero-length previous interval on a fire: next period",
               data_interval::exact(utc(2026, 5, 5)),
               {utc(2026, 1, 1), std::nullopt, true},
               now,
               interval_info(utc(2026, 5, 6), utc(2026, 5, 7))},
              {"zero-length previous interval off the schedule: aligned back",
               data_interval::exact(utc(2026, 5, 5, 7)),
               {utc(2026, 1, 1), std::nullopt, true},
               now,
               interval_info(utc(2026, 5, 5), utc(2026, 5, 6))},
          });
}

TEST(CronDataIntervalTimetable, NoCatchupRunsTheLatestCompletePeriod) {
  const cron_data_interval_timetable tt(cron("0 0 * * *"));
  expect_cases(tt, {
                       {"mid-day: yesterday's period",
                        std::nullopt,
                        {utc(2026, 1, 1), std::nullopt, false},
                        utc(2026, 5, 5, 12),
                        interval_info(utc(2026, 5, 4), utc(2026, 5, 5))},
                       {"exactly on a boundary: the period that just ended",
                        std::nullopt,
                        {utc(2026, 1, 1), std::nullopt, false},
                        utc(2026, 5, 5),
                        interval_info(utc(2026, 5, 4), utc(2026, 5, 5))},
                       {"no start date",
                        std::nullopt,
                        {std::nullopt, std::nullopt, false},
                        utc(2026, 5, 5, 12),
                        interval_info(utc(2026, 5, 4), utc(2026, 5, 5))},
                       {"after yesterday's run: today's",
                        data_interval{utc(2026, 5, 4), utc(2026, 5, 5)},
                        {utc(2026, 1, 1), std::nullopt, false},
                        utc(2026, 5, 5, 12),
                        interval_info(utc(2026, 5, 5), utc(2026, 5, 6))},
                       {"start date in the future: its aligned period",
                        std::nullopt,
                        {utc(2026, 6, 1, 3), std::nullopt, false},
                        utc(2026, 5, 5, 12),
                        interval_info(utc(2026, 6, 2), utc(2026, 6, 3))},
                   });
}

TEST(CronDataIntervalTimetable, InferManualDataIntervalIsTheLastCompletePeriod) {
  const cron_data_interval_timetable tt(cron("0 0 * * *"));
  EXPECT_EQ(tt.infer_manual_data_interval(utc(2026, 5, 25, 1), 0),
            (data_interval{utc(2026, 5, 24), utc(2026, 5, 25)}));
  EXPECT_EQ(tt.infer_manual_data_interval(utc(2026, 5, 25), 0),
            (data_interval{utc(2026, 5, 24), utc(2026, 5, 25)}));
}

TEST(CronDataIntervalTimetable, DstSpanningIntervalsAre23And25Hours) {
  struct row {
    const char* zone;
    instant start;
    instant end;
    instant length;
  };
  const std::vector<row> rows{
      // Europe/Amsterdam 2026-03-29: 00:00+01:00 -> 2026-03-30 00:00+02:00.
      {"Europe/Amsterdam", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), hours(23)},
      // Europe/Amsterdam 2026-10-25: 00:00+02:00 -> 2026-10-26 00:00+01:00.
      {"Europe/Amsterdam", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), hours(25)},
      // America/New_York 2026-03-08: 00:00-05:00 -> 2026-03-09 00:00-04:00.
      {"America/New_York", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), hours(23)},
      // America/New_York 2026-11-01: 00:00-04:00 -> 2026-11-02 00:00-05:00.
      {"America/New_York", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), hours(25)},
      // Australia/Lord_Howe 2026-04-05: 00:00+11:00 -> 2026-04-06 00:00+10:30 (30 min shift).
      {"Australia/Lord_Howe", utc(2026, 4, 4, 13), utc(2026, 4, 5, 13, 30),
       hours(24) + minutes(30)},
      // Australia/Lord_Howe 2026-10-04: 00:00+10:30 -> 2026-10-05 00:00+11:00.
      {"Australia/Lord_Howe", utc(2026, 10, 3, 13, 30), utc(2026, 10, 4, 13),
       hours(23) + minutes(30)},
      // Asia/Kolkata has no DST: 00:00+05:30 -> 00:00+05:30.
      {"Asia/Kolkata", utc(2026, 5, 4, 18, 30), utc(2026, 5, 5, 18, 30), hours(24)},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(std::string(r.zone) + " " + iso(r.start));
    const cron_data_interval_timetable tt(cron("0 0 * * *", r.zone));
    const auto info = tt.next_dagrun_info(std::nullopt, {r.start, std::nullopt, true}, 0);
    ASSERT_TRUE(info);
    EXPECT_EQ(*info, interval_info(r.start, r.end));
    EXPECT_EQ(info->interval.end - info->interval.start, r.length);
    EXPECT_EQ(tt.infos_between(r.start, r.start, 0).to_vector(),
              std::vector<run_info>{interval_info(r.start, r.end)});
  }
}

// ---------------------------------------------------------------------------------------------
// delta trigger

TEST(DeltaTriggerTimetable, CatchupAndNoCatchup) {
  const delta_trigger_timetable tt(calendar_delta::fixed(hours(6)));
  const instant now = utc(2026, 5, 5, 12, 34);
  expect_cases(tt, {
                       {"catchup: the start date itself (no alignment)",
                        std::nullopt,
                        {utc(2026, 1, 1, 5), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 1, 5))},
                       {"catchup: previous end + delta",
                        data_interval::exact(utc(2026, 1, 1, 5)),
                        {utc(2026, 1, 1, 5), std::nullopt, true},
                        now,
                        exact(utc(2026, 1, 1, 11))},
                       {"catchup, no start date: now",
                        std::nullopt,
                        {std::nullopt, std::nullopt, true},
                        now,
                        exact(now)},
                       {"no catchup, old start: now",
                        std::nullopt,
                        {utc(2026, 1, 1), std::nullopt, false},
                        now,
                        exact(now)},
                       {"no catchup, recent run: its end + delta",
                        data_interval::exact(utc(2026, 5, 5, 12)),
                        {utc(2026, 1, 1), std::nullopt, false},
                        now,
                        exact(utc(2026, 5, 5, 18))},
                       {"no catchup, future start",
                        std::nullopt,
                        {utc(2026, 6, 1), std::nullopt, false},
                        now,
                        exact(utc(2026, 6, 1))},
                       {"after the end date",
                        data_interval::exact(utc(2026, 1, 1, 5)),
                        {utc(2026, 1, 1, 5), utc(2026, 1, 1, 10), true},
                        now,
                        std::nullopt},
                   });
  const delta_trigger_timetable windowed(calendar_delta::fixed(days(1)),
                                         calendar_delta::fixed(hours(2)));
  EXPECT_EQ(windowed.next_dagrun_info(std::nullopt, {utc(2026, 1, 1), std::nullopt, true}, now),
            interval_info(utc(2025, 12, 31, 22), utc(2026, 1, 1)));
  EXPECT_EQ(windowed.infer_manual_data_interval(utc(2026, 5, 5, 1), now),
            (data_interval{utc(2026, 5, 4, 23), utc(2026, 5, 5, 1)}));
  EXPECT_THROW(delta_trigger_timetable(calendar_delta{}), std::invalid_argument);
  EXPECT_THROW(delta_trigger_timetable(calendar_delta::fixed(-hours(1))), std::invalid_argument);
}

TEST(DeltaTriggerTimetable, CalendarMonthsOnePeriodAtATime) {
  const delta_trigger_timetable tt(calendar_delta{1, 0});
  const run_info_batch batch = tt.infos_between(utc(2026, 1, 31), utc(2026, 5, 31), 0);
  EXPECT_EQ(batch.to_vector(),
            (std::vector<run_info>{exact(utc(2026, 1, 31)), exact(utc(2026, 2, 28)),
                                   exact(utc(2026, 3, 28)), exact(utc(2026, 4, 28)),
                                   exact(utc(2026, 5, 28))}));
  EXPECT_EQ(batch.to_vector(), repeated(tt, utc(2026, 1, 31), utc(2026, 5, 31), 0));
}

// ---------------------------------------------------------------------------------------------
// delta data interval

TEST(DeltaDataIntervalTimetable, CatchupAndEpochGridWithoutCatchup) {
  const delta_data_interval_timetable daily(calendar_delta::fixed(days(1)));
  const delta_data_interval_timetable seven_hours(calendar_delta::fixed(hours(7)));
  const instant now = utc(2026, 5, 5, 12);
  expect_cases(daily, {
                          {"catchup: from the start date, unaligned",
                           std::nullopt,
                           {utc(2026, 1, 1, 5), std::nullopt, true},
                           now,
                           interval_info(utc(2026, 1, 1, 5), utc(2026, 1, 2, 5))},
                          {"catchup: after a run",
                           data_interval{utc(2026, 1, 1, 5), utc(2026, 1, 2, 5)},
                           {utc(2026, 1, 1, 5), std::nullopt, true},
                           now,
                           interval_info(utc(2026, 1, 2, 5), utc(2026, 1, 3, 5))},
                          {"no catchup: now floored to whole days since the epoch, minus one day",
                           std::nullopt,
                           {utc(2026, 1, 1, 5), std::nullopt, false},
                           now,
                           interval_info(utc(2026, 5, 4), utc(2026, 5, 5))},
                          {"zero-length previous interval: not the same logical date",
                           data_interval::exact(utc(2026, 5, 1)),
                           {utc(2026, 1, 1), std::nullopt, true},
                           now,
                           interval_info(utc(2026, 5, 2), utc(2026, 5, 3))},
                      });
  // 2026-05-05T12:00Z floored to a multiple of 7 h since the epoch is 06:00Z.
  expect_cases(seven_hours, {
                                {"no catchup, 7 h grid",
                                 std::nullopt,
                                 {utc(2026, 1, 1), std::nullopt, false},
                                 now,
                                 interval_info(utc(2026, 5, 4, 23), utc(2026, 5, 5, 6))},
                                {"no catchup, start after the grid point",
                                 std::nullopt,
                                 {utc(2026, 5, 5, 1), std::nullopt, false},
                                 now,
                                 interval_info(utc(2026, 5, 5, 1), utc(2026, 5, 5, 8))},
                            });
  EXPECT_EQ(daily.infer_manual_data_interval(utc(2026, 5, 5, 7), now),
            (data_interval{utc(2026, 5, 4, 7), utc(2026, 5, 5, 7)}));
}

TEST(DeltaDataIntervalTimetable, CalendarMonthsStayAlignedToTheStartDate) {
  const delta_data_interval_timetable monthly(calendar_delta{1, 0});
  // Start Jan 31: boundaries Jan 31, Feb 28, Mar 28, Apr 28, May 28, Jun 28 (one period at a
  // time). On Jun 29 the last complete period is [May 28, Jun 28].
  EXPECT_EQ(monthly.next_dagrun_info(std::nullopt, {utc(2026, 1, 31), std::nullopt, false},
                                     utc(2026, 6, 29)),
            interval_info(utc(2026, 5, 28), utc(2026, 6, 28)));
  // Before the first period ends, the first period (due at its end).
  EXPECT_EQ(monthly.next_dagrun_info(std::nullopt, {utc(2026, 1, 31), std::nullopt, false},
                                     utc(2026, 2, 27)),
            interval_info(utc(2026, 1, 31), utc(2026, 2, 28)));
  // Exactly at a boundary: the period that just ended.
  EXPECT_EQ(monthly.next_dagrun_info(std::nullopt, {utc(2026, 1, 15), std::nullopt, false},
                                     utc(2026, 4, 15)),
            interval_info(utc(2026, 3, 15), utc(2026, 4, 15)));
  const run_info_batch batch = monthly.infos_between(utc(2026, 1, 31), utc(2026, 4, 28), 0);
  EXPECT_EQ(batch.to_vector(),
            (std::vector<run_info>{interval_info(utc(2026, 1, 31), utc(2026, 2, 28)),
                                   interval_info(utc(2026, 2, 28), utc(2026, 3, 28)),
                                   interval_info(utc(2026, 3, 28), utc(2026, 4, 28)),
                                   interval_info(utc(2026, 4, 28), utc(2026, 5, 28))}));
  EXPECT_EQ(monthly.infer_manual_data_interval(utc(2026, 3, 31), 0),
            (data_interval{utc(2026, 2, 28), utc(2026, 3, 31)}));
}

TEST(DeltaDataIntervalTimetable, NonPositiveDeltaIsRefused) {
  for (const calendar_delta d : {calendar_delta{}, calendar_delta::fixed(-1), calendar_delta{-1, 0},
                                 calendar_delta{1, -days(1)}}) {
    try {
      const delta_data_interval_timetable tt(d);
      ADD_FAILURE() << "accepted months=" << d.months << " micros=" << d.micros;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("schedule interval must be positive"), std::string::npos)
          << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// bulk

TEST(InfosBetween, MaxRunsIsCheckedBeforeAllocatingAndNamesTheCount) {
  const instant e = utc(2025, 1, 1);
  const instant l = utc(2026, 1, 1);  // 365 days of minutes, both ends inclusive: 525,601
  const std::vector<std::unique_ptr<timetable>> kinds = [] {
    std::vector<std::unique_ptr<timetable>> v;
    v.push_back(std::make_unique<cron_trigger_timetable>(cron("* * * * *")));
    v.push_back(std::make_unique<cron_data_interval_timetable>(cron("* * * * *")));
    v.push_back(std::make_unique<multiple_cron_trigger_timetable>(
        std::vector<cron_schedule>{cron("* * * * *"), cron("*/2 * * * *")}));
    v.push_back(std::make_unique<delta_trigger_timetable>(calendar_delta::fixed(minutes(1))));
    v.push_back(std::make_unique<delta_data_interval_timetable>(calendar_delta::fixed(minutes(1))));
    return v;
  }();
  for (const auto& tt : kinds) {
    SCOPED_TRACE(std::string(to_string(tt->kind())));
    try {
      (void)tt->infos_between(e, l, l, 1000);
      ADD_FAILURE() << "no std::length_error";
    } catch (const std::length_error& err) {
      EXPECT_NE(std::string(err.what()).find("525601"), std::string::npos) << err.what();
      EXPECT_NE(std::string(err.what()).find("max_runs=1000"), std::string::npos) << err.what();
    }
    EXPECT_EQ(tt->infos_between(e, e + hours(1), l, 61).size(), 61U);
    EXPECT_EQ(tt->infos_between(e, e - 1, l).size(), 0U);  // latest before earliest: nothing
  }
}

TEST(InfosBetween, ColumnsAndRows) {
  const cron_data_interval_timetable tt(cron("0 0 * * *"));
  const run_info_batch b = tt.infos_between(utc(2026, 1, 1), utc(2026, 1, 3), 0);
  ASSERT_EQ(b.size(), 3U);
  EXPECT_EQ(b.starts(), (std::vector<instant>{utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3)}));
  EXPECT_EQ(b.ends(), (std::vector<instant>{utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4)}));
  EXPECT_EQ(b.run_afters(), b.ends());
  EXPECT_EQ(b[1], interval_info(utc(2026, 1, 2), utc(2026, 1, 3)));
  EXPECT_EQ(b[1].logical_date(), utc(2026, 1, 2));
  EXPECT_THROW(run_info_batch({1, 2}, {1}, {1, 2}), std::invalid_argument);
}

struct random_case {
  std::string description;
  std::unique_ptr<timetable> tt;
};

calendar_delta random_interval(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
    case 1:
      return {};
    case 2:
      return calendar_delta::fixed(hours(1));
    case 3:
      return calendar_delta::fixed(days(1) + minutes(30));
    default:
      return {1, 0};
  }
}

random_case make_random_case(std::mt19937_64& rng) {
  static const char* const zones[] = {"UTC",
                                      "Europe/Amsterdam",
                                      "America/New_York",
                                      "Asia/Kolkata",
                                      "Australia/Lord_Howe",
                                      "Europe/Zurich",
                                      "America/Sao_Paulo",
                                      "America/Havana",
                                      "Asia/Beirut",
                                      "America/Santiago",
                                      "Pacific/Apia"};
  static const char* const crons[] = {
      "0 0 * * *",   "*/15 * * * *", "0 * * * *",   "30 2 * * *",     "0 2 * * *",
      "30 1 * * *",  "0 0 1 * *",    "0 0 * * 0",   "0 9-17 * * 1-5", "5 4 * * sun",
      "*/7 * * * *", "0 0 29 2 *",   "0 0 31 * *",  "45 */3 * * *",   "0 12 1,15 * *",
      "0 0 L * *",   "0 3 * * 5L",   "0 0 * * 1#2", "0 0 1 */3 *",    "20 0-5 * * *"};
  const char* zone = zones[rng() % std::size(zones)];
  const char* expr = crons[rng() % std::size(crons)];
  const std::string where = std::string(" '") + expr + "' in " + zone;
  switch (rng() % 5) {
    case 0: {
      const calendar_delta interval = random_interval(rng);
      return {"cron trigger" + where + " interval months=" + std::to_string(interval.months) +
                  " micros=" + std::to_string(interval.micros),
              std::make_unique<cron_trigger_timetable>(cron(expr, zone), interval)};
    }
    case 1:
      return {"cron data interval" + where,
              std::make_unique<cron_data_interval_timetable>(cron(expr, zone))};
    case 2: {
      const char* second = crons[rng() % std::size(crons)];
      const calendar_delta interval = random_interval(rng);
      return {"multiple cron trigger" + where + " + '" + second +
                  "' interval months=" + std::to_string(interval.months),
              std::make_unique<multiple_cron_trigger_timetable>(
                  std::vector<cron_schedule>{cron(expr, zone), cron(second, zone)}, interval)};
    }
    case 3: {
      const calendar_delta delta =
          rng() % 3 == 0
              ? calendar_delta{static_cast<std::int32_t>(1 + rng() % 14),
                               static_cast<std::int64_t>(rng() % 3) * days(1)}
              : calendar_delta::fixed(minutes(static_cast<std::int64_t>(1 + rng() % 5000)));
      return {"delta trigger months=" + std::to_string(delta.months) +
                  " micros=" + std::to_string(delta.micros),
              std::make_unique<delta_trigger_timetable>(delta, random_interval(rng))};
    }
    default: {
      const calendar_delta delta =
          rng() % 3 == 0
              ? calendar_delta{static_cast<std::int32_t>(1 + rng() % 14),
                               static_cast<std::int64_t>(rng() % 3) * hours(5)}
              : calendar_delta::fixed(minutes(static_cast<std::int64_t>(1 + rng() % 5000)));
      return {"delta data interval months=" + std::to_string(delta.months) +
                  " micros=" + std::to_string(delta.micros),
              std::make_unique<delta_data_interval_timetable>(delta)};
    }
  }
}

TEST(InfosBetween, EqualsRepeatedNextDagrunInfoOnRandomSchedules) {
  std::mt19937_64 rng(20260505);
  // Ranges start near DST transitions of the zones above (and anywhere) and last up to ~40
  // days, so hourly and sub-hourly crons cross a fold or a gap in most cases. The bulk cron
  // kinds take cron_schedule::between's segment walk; this compares them with the generic
  // driver, whose next() calls are the per-date path.
  const std::vector<instant> anchors{
      utc(2026, 3, 29, 0), utc(2026, 10, 25, 0), utc(2026, 3, 8, 6), utc(2026, 11, 1, 5),
      utc(2026, 4, 4, 14), utc(2026, 10, 3, 15), utc(2023, 3, 26, 0), utc(2023, 10, 29, 0),
      utc(2024, 2, 28, 12), utc(2018, 11, 4, 3), utc(2019, 2, 17, 2), utc(2000, 1, 1),
      utc(1969, 12, 25),
      // Midnight transitions (Havana, Beirut, Santiago both ways) and Apia's skipped day.
      utc(2026, 3, 8, 5), utc(2026, 3, 28, 22), utc(2026, 9, 6, 4), utc(2026, 4, 5, 3),
      utc(2011, 12, 30, 10)};
  int compared = 0;
  std::size_t runs = 0;
  for (int i = 0; i < 600; ++i) {
    random_case c = make_random_case(rng);
    const instant anchor = anchors[rng() % anchors.size()];
    const instant earliest =
        anchor - days(3) + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(3)));
    const instant length = static_cast<instant>(rng() % static_cast<std::uint64_t>(days(40)));
    const instant latest = earliest + (rng() % 10 == 0 ? -minutes(1) : length);
    const instant now =
        earliest + static_cast<instant>(rng() % static_cast<std::uint64_t>(days(60)));
    SCOPED_TRACE(c.description + " from " + iso(earliest) + " to " + iso(latest));
    const std::vector<run_info> expected = repeated(*c.tt, earliest, latest, now);
    const run_info_batch bulk = c.tt->infos_between(earliest, latest, now);
    ASSERT_EQ(bulk.to_vector(), expected);
    ++compared;
    runs += expected.size();
  }
  EXPECT_EQ(compared, 600);
  EXPECT_GT(runs, 10'000U);  // the comparison covered real volume, not empty ranges
}

}  // namespace
}  // namespace dagcore
