// The cron engine: parsing, wall-time search, fast paths against the general search, and
// Airflow's DST rules on tables of real transitions (each row: the wall time and its offset).
#include <gtest/gtest.h>

#include <bit>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dagcore/cron.hpp"

namespace dagcore {
namespace {

using cctz::civil_second;

instant utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return utc_instant(civil_second(y, mo, d, h, mi, s));
}

std::vector<instant> walk_next(const cron_schedule& s, instant from, int n) {
  std::vector<instant> out;
  for (int i = 0; i < n; ++i) {
    const auto t = s.next(from);
    if (!t) break;
    out.push_back(from = *t);
  }
  return out;
}

cron_schedule sched(const char* expr, const char* zone, const char* key = "") {
  return cron_schedule(cron_expression(expr, key), time_zone::load(zone));
}

// --- parsing ------------------------------------------------------------------------------------

TEST(CronParse, FieldsPresetsNamesStepsAndLists) {
  const cron_expression e("*/15 9-17 1,15 JAN-mar mon-FRI");
  EXPECT_EQ(e.fields().minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
  EXPECT_EQ(e.fields().hours, 0b111111111U << 9);
  EXPECT_EQ(e.fields().days_of_month, (1U << 1) | (1U << 15));
  EXPECT_EQ(e.fields().months, 0b1110);
  EXPECT_EQ(e.fields().days_of_week, 0b0111110);
  EXPECT_TRUE(e.fields().day_of_month_restricted);
  EXPECT_TRUE(e.fields().day_of_week_restricted);
  EXPECT_FALSE(e.fires_at_least_hourly());

  EXPECT_EQ(cron_expression("10-50/10 * * * *").fields().minutes,
            (1ULL << 10) | (1ULL << 20) | (1ULL << 30) | (1ULL << 40) | (1ULL << 50));
  EXPECT_EQ(cron_expression("5/15 * * * *").fields().minutes,
            (1ULL << 5) | (1ULL << 20) | (1ULL << 35) | (1ULL << 50));
  EXPECT_EQ(cron_expression("0 0 * * 7").fields().days_of_week, 1U);  // 7 is Sunday
  EXPECT_EQ(cron_expression("0 0 * * 5-7").fields().days_of_week, 0b1100001U);
  EXPECT_EQ(cron_expression("0 0 * * 0-7").fields().day_of_week_restricted, false);
  EXPECT_EQ(cron_expression("@quarterly").resolved(), "0 0 1 */3 *");
  EXPECT_EQ(cron_expression("@midnight").resolved(), "0 0 * * *");
  EXPECT_EQ(cron_expression("@ANNUALLY").resolved(), "0 0 1 1 *");
  EXPECT_TRUE(cron_expression("@hourly").fires_at_least_hourly());
}

struct bad_cron {
  const char* expr;
  const char* fragment;  // expected in the message
};

class CronParseErrors : public ::testing::TestWithParam<bad_cron> {};

TEST_P(CronParseErrors, NameTheFieldAndValue) {
  try {
    cron_expression e(GetParam().expr);
    FAIL() << "accepted " << GetParam().expr;
  } catch (const cron_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("[" + std::string(GetParam().expr) + "] is not acceptable", 0), 0U)
        << message;
    EXPECT_NE(message.find(GetParam().fragment), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CronParseErrors,
    ::testing::Values(bad_cron{"0 0 1 13 0", "month 13"}, bad_cron{"60 * * * *", "minute 60"},
                      bad_cron{"* 24 * * *", "hour 24"}, bad_cron{"* * 0 * *", "day-of-month 0"},
                      bad_cron{"* * * * 8", "day-of-week 8"}, bad_cron{"*/0 * * * *", "step 0"},
                      bad_cron{"* * * FOO *", "unknown name 'FOO'"},
                      bad_cron{"* * * * *  *", "got 6"}, bad_cron{"* * * *", "got 4"},
                      bad_cron{"", "empty"}, bad_cron{"   ", "empty"},
                      bad_cron{"0 0 31 2 *", "no month"}, bad_cron{"@fortnightly", "preset"},
                      bad_cron{"50-10 * * * *", "backwards"}, bad_cron{"-5 * * * *", "negative"},
                      bad_cron{"1,,2 * * * *", "empty item"}, bad_cron{"* * * * 1#6", "1#6"},
                      bad_cron{"H * * * *", "hash_key"}, bad_cron{"* * * * 9L", "day-of-week 9"}));

TEST(CronParse, HashedFieldsAreStableAndSpread) {
  const cron_expression a("H H * * *", "etl_daily");
  const cron_expression b("H H * * *", "etl_daily");
  EXPECT_EQ(a.resolved(), b.resolved());
  std::vector<bool> seen(60);
  int distinct = 0;
  for (int i = 0; i < 200; ++i) {
    const cron_expression e("H * * * *", "dag_" + std::to_string(i));
    const int minute = std::countr_zero(e.fields().minutes);
    if (!seen[static_cast<std::size_t>(minute)]) ++distinct;
    seen[static_cast<std::size_t>(minute)] = true;
  }
  EXPECT_GE(distinct, 40);
  const cron_expression step("H/15 * * * *", "k");
  EXPECT_EQ(std::popcount(step.fields().minutes), 4);
  const int first = std::countr_zero(step.fields().minutes);
  EXPECT_LT(first, 15);
  EXPECT_EQ(step.fields().minutes, (1ULL << first) | (1ULL << (first + 15)) |
                                       (1ULL << (first + 30)) | (1ULL << (first + 45)));
  const cron_expression ranged("H(0-29) H(2-4) H * *", "k");
  EXPECT_LT(std::countr_zero(ranged.fields().minutes), 30);
  const int hour = std::countr_zero(ranged.fields().hours);
  EXPECT_GE(hour, 2);
  EXPECT_LE(hour, 4);
  const int day = std::countr_zero(ranged.fields().days_of_month);
  EXPECT_GE(day, 1);
  EXPECT_LE(day, 28);  // valid in every month
}

// --- wall-time semantics (UTC) ------------------------------------------------------------------

TEST(CronUtc, LeapDaysLastDaysAndNthWeekdays) {
  EXPECT_EQ(walk_next(sched("0 0 29 2 *", "UTC"), utc(2023, 3, 1), 2),
            (std::vector<instant>{utc(2024, 2, 29), utc(2028, 2, 29)}));
  EXPECT_EQ(walk_next(sched("0 0 L * *", "UTC"), utc(2024, 1, 1), 3),
            (std::vector<instant>{utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 31)}));
  EXPECT_EQ(walk_next(sched("0 0 * * 5L", "UTC"), utc(2024, 1, 1), 3),  // last Fridays
            (std::vector<instant>{utc(2024, 1, 26), utc(2024, 2, 23), utc(2024, 3, 29)}));
  EXPECT_EQ(walk_next(sched("0 0 * * 1#2", "UTC"), utc(2024, 1, 1), 3),  // second Mondays
            (std::vector<instant>{utc(2024, 1, 8), utc(2024, 2, 12), utc(2024, 3, 11)}));
  // A restricted day-of-month and a restricted day-of-week match either (croniter's rule).
  EXPECT_EQ(walk_next(sched("0 0 1 * MON", "UTC"), utc(2024, 1, 31), 3),
            (std::vector<instant>{utc(2024, 2, 1), utc(2024, 2, 5), utc(2024, 2, 12)}));
}

TEST(CronUtc, NextAndPrevAreStrict) {
  const cron_schedule s = sched("0 * * * *", "UTC");
  EXPECT_EQ(s.next(utc(2024, 1, 1, 10)), utc(2024, 1, 1, 11));
  EXPECT_EQ(s.next(utc(2024, 1, 1, 10) - 1), utc(2024, 1, 1, 10));
  EXPECT_EQ(s.prev(utc(2024, 1, 1, 10)), utc(2024, 1, 1, 9));
  EXPECT_EQ(s.prev(utc(2024, 1, 1, 10) + 1), utc(2024, 1, 1, 10));
  EXPECT_TRUE(s.matches(utc(2024, 1, 1, 10)));
  EXPECT_FALSE(s.matches(utc(2024, 1, 1, 10) + 1));
  EXPECT_EQ(s.align_to_next(utc(2024, 1, 1, 10)), utc(2024, 1, 1, 10));
  EXPECT_EQ(s.align_to_prev(utc(2024, 1, 1, 10, 30)), utc(2024, 1, 1, 10));
}

// --- DST tables ---------------------------------------------------------------------------------

struct dst_row {
  const char* expr;
  const char* zone;
  instant from;
  std::vector<instant> expected;  // the next fires after `from`
  const char* why;
};

class CronDst : public ::testing::TestWithParam<dst_row> {};

TEST_P(CronDst, FiresAsAirflowDoes) {
  const dst_row& row = GetParam();
  const cron_schedule s = sched(row.expr, row.zone);
  EXPECT_EQ(walk_next(s, row.from, static_cast<int>(row.expected.size())), row.expected) << row.why;
  // Reverse iteration mirrors forward iteration.
  std::vector<instant> back;
  instant t = row.expected.back();
  for (std::size_t i = 1; i < row.expected.size(); ++i) back.insert(back.begin(), t = *s.prev(t));
  back.push_back(row.expected.back());
  EXPECT_EQ(back, row.expected) << row.why;
  for (const instant fire : row.expected) EXPECT_TRUE(s.matches(fire)) << row.why;
}

INSTANTIATE_TEST_SUITE_P(
    Transitions, CronDst,
    ::testing::Values(
        // Europe/Zurich, spring gap 2023-03-26 02:00 CET -> 03:00 CEST.
        dst_row{"0 2 * * *",
                "Europe/Zurich",
                utc(2023, 3, 24, 12),
                {utc(2023, 3, 25, 1),   // 02:00+01:00
                 utc(2023, 3, 26, 1),   // 02:00 does not exist: 03:00+02:00
                 utc(2023, 3, 27, 0)},  // 02:00+02:00
                "Zurich spring gap, 0 2"},
        dst_row{"0 3 * * *",
                "Europe/Zurich",
                utc(2023, 3, 24, 12),
                {utc(2023, 3, 25, 2),   // 03:00+01:00
                 utc(2023, 3, 26, 1),   // 03:00+02:00 (the same instant as the gap's 02:00)
                 utc(2023, 3, 27, 1)},  // 03:00+02:00
                "Zurich spring gap, 0 3"},
        dst_row{"30 2 * * *",
                "Europe/Zurich",
                utc(2023, 3, 25, 12),
                {utc(2023, 3, 26, 1, 30),   // 02:30 does not exist: moved by the gap to 03:30+02:00
                 utc(2023, 3, 27, 0, 30)},  // 02:30+02:00
                "Zurich spring gap, 30 2"},
        // Europe/Zurich, autumn fold 2023-10-29 03:00 CEST -> 02:00 CET.
        dst_row{"0 2 * * *",
                "Europe/Zurich",
                utc(2023, 10, 27, 12),
                {utc(2023, 10, 28, 0),   // 02:00+02:00
                 utc(2023, 10, 29, 1),   // 02:00 happens twice: the second, 02:00+01:00
                 utc(2023, 10, 30, 1)},  // 02:00+01:00
                "Zurich autumn fold, 0 2"},
        dst_row{"0 3 * * *",
                "Europe/Zurich",
                utc(2023, 10, 27, 12),
                {utc(2023, 10, 28, 1),   // 03:00+02:00
                 utc(2023, 10, 29, 2),   // 03:00+01:00
                 utc(2023, 10, 30, 2)},  // 03:00+01:00
                "Zurich autumn fold, 0 3"},
        dst_row{"0 * * * *",
                "Europe/Zurich",
                utc(2023, 10, 28, 22, 30),
                {utc(2023, 10, 28, 23),  // 01:00+02:00
                 utc(2023, 10, 29, 0),   // 02:00+02:00
                 utc(2023, 10, 29, 1),   // 02:00+01:00: the repeated hour fires again
                 utc(2023, 10, 29, 2)},  // 03:00+01:00
                "Zurich fold, hourly"},
        dst_row{"*/30 * * * *",
                "Europe/Zurich",
                utc(2023, 3, 25, 23, 50),
                {utc(2023, 3, 26, 0),       // 01:00+01:00
                 utc(2023, 3, 26, 0, 30),   // 01:30+01:00
                 utc(2023, 3, 26, 1),       // 03:00+02:00: 02:00 and 02:30 were skipped
                 utc(2023, 3, 26, 1, 30)},  // 03:30+02:00
                "Zurich gap, every 30 minutes"},
        // America/New_York: 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST.
        dst_row{"30 2 * * *",
                "America/New_York",
                utc(2024, 3, 9, 12),
                {utc(2024, 3, 10, 7, 30),   // 02:30 skipped: 03:30-04:00
                 utc(2024, 3, 11, 6, 30)},  // 02:30-04:00
                "New York spring gap"},
        dst_row{"30 1 * * *",
                "America/New_York",
                utc(2024, 11, 2, 12),
                {utc(2024, 11, 3, 6, 30),   // 01:30 twice: the second, 01:30-05:00
                 utc(2024, 11, 4, 6, 30)},  // 01:30-05:00
                "New York autumn fold"},
        dst_row{"0 9 * * 1-5",
                "America/New_York",
                utc(2024, 3, 7, 0),
                {utc(2024, 3, 7, 14),    // Thu 09:00-05:00
                 utc(2024, 3, 8, 14),    // Fri 09:00-05:00
                 utc(2024, 3, 11, 13)},  // Mon 09:00-04:00
                "New York weekdays across the spring change"},
        // America/Los_Angeles, 2024-03-10: 02:00 PST -> 03:00 PDT.
        dst_row{"0 7-8 * * *",
                "America/Los_Angeles",
                utc(2024, 3, 9, 12),
                {utc(2024, 3, 9, 15),    // 07:00-08:00
                 utc(2024, 3, 9, 16),    // 08:00-08:00
                 utc(2024, 3, 10, 14),   // 07:00-07:00
                 utc(2024, 3, 10, 15)},  // 08:00-07:00
                "Los Angeles spring"},
        // Australia/Lord_Howe: 30-minute DST. 2023-04-02 02:00+11 -> 01:30+10:30 (15:00Z on
        // 04-01); 2023-10-01 02:00+10:30 -> 02:30+11 (15:30Z on 09-30).
        dst_row{"0 * * * *",
                "Australia/Lord_Howe",
                utc(2023, 4, 1, 13, 30),
                {utc(2023, 4, 1, 14),       // 01:00+11:00
                 utc(2023, 4, 1, 15, 30),   // 02:00+10:30 (01:30-02:00 repeats, no :00 in it)
                 utc(2023, 4, 1, 16, 30)},  // 03:00+10:30
                "Lord Howe fold, hourly"},
        dst_row{"0 2 * * *",
                "Australia/Lord_Howe",
                utc(2023, 9, 29, 0),
                {utc(2023, 9, 29, 15, 30),  // 02:00+10:30
                 utc(2023, 9, 30, 15, 30),  // 02:00 skipped: moved by 30 min, 02:30+11:00
                 utc(2023, 10, 1, 15)},     // 02:00+11:00
                "Lord Howe gap, daily"},
        dst_row{"15 1 * * *",
                "Australia/Lord_Howe",
                utc(2023, 3, 31, 0),
                {utc(2023, 3, 31, 14, 15),  // 01:15+11:00
                 utc(2023, 4, 1, 14, 15),   // 01:15+11:00 (01:15 is before the repeated range)
                 utc(2023, 4, 2, 14, 45)},  // 01:15+10:30
                "Lord Howe, before the fold"},
        dst_row{"45 1 * * *",
                "Australia/Lord_Howe",
                utc(2023, 3, 31, 0),
                {utc(2023, 3, 31, 14, 45),  // 01:45+11:00
                 utc(2023, 4, 1, 15, 15),   // 01:45 twice: the second, 01:45+10:30
                 utc(2023, 4, 2, 15, 15)},  // 01:45+10:30
                "Lord Howe, in the fold"},
        // Asia/Kolkata: +05:30 all year.
        dst_row{"0 * * * *",
                "Asia/Kolkata",
                utc(2024, 6, 1, 0),
                {utc(2024, 6, 1, 0, 30), utc(2024, 6, 1, 1, 30), utc(2024, 6, 1, 2, 30)},
                "Kolkata half-hour offset"},
        dst_row{"0 9 * * *",
                "Asia/Kolkata",
                utc(2024, 6, 1, 0),
                {utc(2024, 6, 1, 3, 30), utc(2024, 6, 2, 3, 30)},
                "Kolkata daily"}));

// --- fast paths against the general search ------------------------------------------------------

TEST(CronFastPaths, AgreeWithTheGeneralSearch) {
  std::mt19937_64 rng(20261121);
  const std::vector<std::string> shapes = {"*/%d * * * *", "%d * * * *", "%d %h * * *",
                                           "%d %h * * %w", "%d %h %m * *"};
  const int steps[] = {1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60};
  int fast = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string expr = shapes[rng() % shapes.size()];
    auto put = [&](const std::string& key, int value) {
      const auto at = expr.find(key);
      if (at != std::string::npos) expr.replace(at, key.size(), std::to_string(value));
    };
    put("*/%d", -1);
    if (expr.rfind("-1", 0) == 0) expr.replace(0, 2, "*/" + std::to_string(steps[rng() % 12]));
    put("%d", static_cast<int>(rng() % 60));
    put("%h", static_cast<int>(rng() % 24));
    put("%w", static_cast<int>(rng() % 7));
    put("%m", static_cast<int>(1 + rng() % 28));
    const cron_expression e(expr);
    fast += e.shape() != cron_shape::general ? 1 : 0;
    const instant t =
        utc(2020, 1, 1) + static_cast<instant>(rng() % (10ULL * 365 * micros_per_day));
    const local_time wall = utc_local(t - static_cast<instant>(rng() % 3) * micros_per_minute +
                                      (i % 2 ? 0 : static_cast<instant>(rng() % 60'000'000)));
    ASSERT_EQ(e.next(wall), e.next_general(wall)) << expr;
    ASSERT_EQ(e.prev(wall), e.prev_general(wall)) << expr;
  }
  EXPECT_GT(fast, 3000);  // the shapes above do take the fast paths
}

TEST(CronFastPaths, ShapesAreRecognised) {
  EXPECT_EQ(cron_expression("*/5 * * * *").shape(), cron_shape::every_n_minutes);
  EXPECT_EQ(cron_expression("5/15 * * * *").shape(), cron_shape::every_n_minutes);
  EXPECT_EQ(cron_expression("* * * * *").shape(), cron_shape::every_n_minutes);
  EXPECT_EQ(cron_expression("0 * * * *").shape(), cron_shape::hourly);
  EXPECT_EQ(cron_expression("0 0 * * *").shape(), cron_shape::daily);
  EXPECT_EQ(cron_expression("0 9 * * 1").shape(), cron_shape::weekly);
  EXPECT_EQ(cron_expression("0 0 1 * *").shape(), cron_shape::monthly);
  EXPECT_EQ(cron_expression("0 0 31 * *").shape(), cron_shape::general);
  EXPECT_EQ(cron_expression("*/7 * * * *").shape(), cron_shape::general);
  EXPECT_EQ(cron_expression("0 9 * * 1-5").shape(), cron_shape::general);
}

// --- bulk ---------------------------------------------------------------------------------------

TEST(CronBulk, BetweenIsInclusiveAndEqualsRepeatedNext) {
  const char* zones[] = {"UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe",
                         "Asia/Kolkata"};
  const char* exprs[] = {"0 * * * *",   "*/20 * * * *", "30 2 * * *",
                         "0 9 * * 1-5", "0 0 L * *",    "15 1,2,3 * * *"};
  for (const char* zone : zones) {
    for (const char* expr : exprs) {
      const cron_schedule s = sched(expr, zone);
      const instant start = utc(2023, 3, 1);
      const instant end = utc(2023, 12, 1);
      const std::vector<instant> bulk = s.between(start, end);
      std::vector<instant> walked;
      for (auto t = s.align_to_next(start); t && *t <= end; t = s.next(*t)) walked.push_back(*t);
      EXPECT_EQ(bulk, walked) << expr << " " << zone;
      EXPECT_EQ(s.count_between(start, end), bulk.size()) << expr << " " << zone;
      ASSERT_FALSE(bulk.empty());
      EXPECT_EQ(s.between(bulk.front(), bulk.back()), bulk) << "both ends inclusive";
    }
  }
  EXPECT_THROW((void)sched("* * * * *", "UTC").between(utc(2020, 1, 1), utc(2023, 1, 1), 1000),
               std::length_error);
  EXPECT_TRUE(sched("0 * * * *", "UTC").between(utc(2020, 1, 2), utc(2020, 1, 1)).empty());
}

// --- the segment walk of between() against the per-date path -----------------------------------

/// A random cron from a grammar that leans on the hours where transitions happen (0-3, 23).
std::string random_cron(std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<const char*> options) {
    return std::string(*(options.begin() + static_cast<std::ptrdiff_t>(rng() % options.size())));
  };
  auto num = [&](int low, int high) {
    return std::to_string(low +
                          static_cast<int>(rng() % static_cast<std::uint64_t>(high - low + 1)));
  };
  std::string minute;
  switch (rng() % 6) {
    case 0:
      minute = "*/" + pick({"5", "7", "10", "15", "20", "30", "45"});
      break;
    case 1:
      minute = num(0, 59) + "," + num(0, 59);
      break;
    case 2:
      minute = num(0, 29) + "-" + num(30, 59) + "/" + num(7, 20);
      break;
    case 3:
      minute = pick({"0", "30", "15", "45"});
      break;
    default:
      minute = num(0, 59);
      break;
  }
  std::string hour;
  switch (rng() % 7) {
    case 0:
      hour = "*";
      break;
    case 1:
      hour = "*/" + num(2, 6);
      break;
    case 2:
      hour = pick({"0", "1", "2", "3", "23"});
      break;
    case 3:
      hour = pick({"0", "1", "2"}) + "," + pick({"2", "3", "12", "23"});
      break;
    case 4:
      hour = num(0, 3) + "-" + num(3, 23);
      break;
    case 5:
      hour = num(0, 23);
      break;
    default:
      hour = pick({"0-2", "1-3", "22-23", "9-17"});
      break;
  }
  std::string dom = "*";
  switch (rng() % 8) {
    case 0:
      dom = num(1, 28);
      break;
    case 1:
      dom = "L";
      break;
    case 2:
      dom = num(1, 14) + "," + num(15, 31);
      break;
    case 3:
      dom = num(1, 10) + "-" + num(10, 28);
      break;
    default:
      break;
  }
  std::string month = "*";
  switch (rng() % 6) {
    case 0:
      month = pick({"3", "10", "3,10", "4,9", "11"});
      break;
    case 1:
      month = num(1, 6) + "-" + num(6, 12);
      break;
    case 2:
      month = "*/" + num(2, 4);
      break;
    default:
      break;
  }
  std::string dow = "*";
  switch (rng() % 8) {
    case 0:
      dow = "1-5";
      break;
    case 1:
      dow = pick({"0", "6", "sat,sun", "7"});
      break;
    case 2:
      dow = num(0, 6) + "L";
      break;
    case 3:
      dow = num(0, 6) + "#" + num(1, 5);
      break;
    default:
      break;
  }
  return minute + " " + hour + " " + dom + " " + month + " " + dow;
}

/// Zones with every kind of transition: 1-hour DST both ways, Lord Howe's 30 minutes, DST
/// changes at midnight (Havana, Beirut, Santiago, historical Sao Paulo), negative DST (Dublin),
/// a skipped day (Apia 2011), historical offset changes (Moscow, Kolkata), 45-minute offsets.
const char* const dst_zones[] = {
    "Europe/Amsterdam",  "America/New_York", "Australia/Lord_Howe", "Europe/London",
    "America/Sao_Paulo", "America/Havana",   "Asia/Beirut",         "America/Santiago",
    "Europe/Dublin",     "Pacific/Apia",     "Europe/Moscow",       "Asia/Kolkata",
    "Pacific/Chatham",   "Antarctica/Troll", "America/St_Johns",    "UTC"};

TEST(CronWalls, ForEachWallEqualsRepeatedNext) {
  std::mt19937_64 rng(20261207);
  std::size_t walls = 0;
  for (int i = 0; i < 1500; ++i) {
    const std::string expr = random_cron(rng);
    std::optional<cron_expression> e;
    try {
      e.emplace(expr);
    } catch (const cron_error&) {
      continue;  // a day-of-month no allowed month has
    }
    const instant from = utc(1990, 1, 1) +
                         static_cast<instant>(rng() % (60ULL * 365 * micros_per_day)) +
                         (i % 3 == 0 ? static_cast<instant>(rng() % 60'000'000) : 0);
    const instant to =
        from + static_cast<instant>(rng() % (i % 2 ? 3ULL : 120ULL) * micros_per_day);
    std::vector<instant> bulk;
    e->for_each_wall(from, to, [&](instant w) { bulk.push_back(w); });
    std::vector<instant> walked;
    for (auto w = e->next(utc_local(from - 1)); w && utc_instant(*w) < to;
         w = e->next(local_time{*w, 0})) {
      walked.push_back(utc_instant(*w));
    }
    ASSERT_EQ(bulk, walked) << expr << " from " << from << " to " << to;
    walls += walked.size();
  }
  EXPECT_GT(walls, 100'000U);
  // Negative instants (before 1970) and an empty range.
  const cron_expression e("30 1 * * 1-5");
  std::vector<instant> before_1970;
  e.for_each_wall(utc(1969, 12, 29), utc(1970, 1, 3), [&](instant w) { before_1970.push_back(w); });
  EXPECT_EQ(before_1970, (std::vector<instant>{utc(1969, 12, 29, 1, 30), utc(1969, 12, 30, 1, 30),
                                               utc(1969, 12, 31, 1, 30), utc(1970, 1, 1, 1, 30),
                                               utc(1970, 1, 2, 1, 30)}));
  int calls = 0;
  e.for_each_wall(utc(2020, 1, 6, 1, 30), utc(2020, 1, 6, 1, 30), [&](instant) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(CronBulk, SegmentWalkEqualsThePerDatePathOnRandomCronsAndZones) {
  std::mt19937_64 rng(20261208);
  std::size_t fires = 0;
  int near_transition = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string expr = random_cron(rng);
    const char* zone = dst_zones[rng() % std::size(dst_zones)];
    std::optional<cron_schedule> s;
    try {
      s.emplace(cron_expression(expr), time_zone::load(zone));
    } catch (const cron_error&) {
      continue;
    }
    // Half the ranges start a few days before a transition of the zone (any year 1900-2090,
    // so historical rules count too), the rest anywhere; lengths from minutes to two years.
    instant start = utc(1900, 1, 1) + static_cast<instant>(rng() % (190ULL * 365 * micros_per_day));
    if (rng() % 2 == 0) {
      const zone_segment seg = s->zone().segment_at(start);
      if (seg.end < instant_max) {
        start = seg.end - static_cast<instant>(rng() % (4ULL * micros_per_day));
        ++near_transition;
      }
    }
    if (rng() % 4 == 0) start = start / micros_per_minute * micros_per_minute;  // maybe a fire
    static constexpr instant lengths[] = {micros_per_hour, micros_per_day, 7 * micros_per_day,
                                          60 * micros_per_day, 730 * micros_per_day};
    instant length = lengths[rng() % std::size(lengths)];
    if (!s->expression().fires_at_least_hourly() || rng() % 2 == 0) {
      // fine as is
    } else {
      length = std::min<instant>(length, 40 * micros_per_day);  // keep minute crons affordable
    }
    const instant end = start + static_cast<instant>(rng() % static_cast<std::uint64_t>(length));
    SCOPED_TRACE(expr + " in " + zone + " from " + std::to_string(start) + " to " +
                 std::to_string(end));
    const std::vector<instant> reference = s->between_per_date(start, end, 10'000'000);
    ASSERT_EQ(s->between(start, end, 10'000'000), reference);
    ASSERT_EQ(s->count_between(start, end), reference.size());
    fires += reference.size();
  }
  EXPECT_GT(near_transition, 2000);
  EXPECT_GT(fires, 1'000'000U);
}

TEST(CronBulk, SegmentWalkOnTheBenchmarkSchedulesAndEveryTransitionOfADecade) {
  // Each schedule over 2020-2030 in each zone: every transition of the decade is crossed.
  const char* exprs[] = {"0 * * * *",    "0 9 * * 1-5",      "30 2 * * *", "0 0 * * *",
                         "*/20 * * * *", "15 0,1,2,3 * * *", "0 23 * * *", "59 1 * * 0"};
  for (const char* zone : dst_zones) {
    for (const char* expr : exprs) {
      const cron_schedule s = sched(expr, zone);
      const instant start = utc(2020, 1, 1);
      const instant end = utc(2030, 1, 1);
      EXPECT_EQ(s.between(start, end, 10'000'000), s.between_per_date(start, end, 10'000'000))
          << expr << " in " << zone;
    }
  }
}

TEST(CronBulk, MaxRunsNamesTheFullCountInZonesWithDst) {
  const cron_schedule s = sched("*/10 * * * *", "Europe/Amsterdam");
  const instant start = utc(2026, 1, 1);
  const instant end = utc(2026, 12, 31, 23);
  const std::uint64_t n = s.count_between(start, end);
  ASSERT_EQ(s.between(start, end, n).size(), n);
  for (const auto& run : {&cron_schedule::between, &cron_schedule::between_per_date}) {
    try {
      (void)(s.*run)(start, end, n - 1);
      ADD_FAILURE() << "no std::length_error";
    } catch (const std::length_error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(n) + " runs"), std::string::npos)
          << e.what();
    }
  }
}

TEST(TimeZone, UnknownZonesAreRejectedByName) {
  try {
    (void)time_zone::load("Mars/Olympus_Mons");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Mars/Olympus_Mons"), std::string::npos);
  }
  EXPECT_TRUE(time_zone::load("UTC").is_fixed());
  EXPECT_EQ(time_zone::load("utc").name(), "UTC");  // Airflow's default_timezone spelling
  EXPECT_FALSE(time_zone::load("Europe/Zurich").is_fixed());
}

TEST(TimeZone, UtcCivilRoundTrips) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const instant t = static_cast<instant>(rng() % (1ULL << 52)) - (instant{1} << 51);
    const local_time l = utc_local(t);
    ASSERT_EQ(utc_instant(l.civil) + l.micros, t);
  }
  EXPECT_EQ(utc_local(-1).civil, civil_second(1969, 12, 31, 23, 59, 59));
  EXPECT_EQ(utc_local(-1).micros, 999'999);
}

}  // namespace
}  // namespace dagcore
