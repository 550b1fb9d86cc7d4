// Cron expressions and cron schedules with Airflow's semantics.
//
// cron_expression parses five fields (minute hour day-of-month month day-of-week), presets,
// names, ranges, steps, lists, `7` as Sunday, `L` (last day of month; `5L` last Friday), `#`
// (`1#2` second Monday) and Jenkins-style hashed fields (`H`, `H/15`, `H(0-29)`, `H(0-29)/10`),
// and answers next/previous questions in wall time, as croniter does on naive datetimes: a
// restricted day-of-month and a restricted day-of-week match either.
//
// cron_schedule adds a time zone and Airflow's DST rules (docs/airflow-behaviour.md 2.9.2 / 2.9.6):
// - a cron whose hour field is `*` fires at least hourly and steps in absolute time: the next
//   fire is t + (next wall time - wall time of t), so a repeated hour fires twice and a skipped
//   hour not at all;
// - any other cron is computed in wall time and the wall time is then placed in the zone: a
//   repeated wall time takes its second occurrence (fold=1), a skipped one moves forward by the
//   length of the gap (0 2 * * * on a spring-forward day fires at 03:00 local).
// next/prev are strict; align_to_next/align_to_prev and between() follow Airflow's timetables.
//
// Fast paths: every-N-minutes, hourly, daily, weekly and monthly shapes skip the general field
// search (tests/cpp/test_cron.cpp proves they agree with it), and a fixed-offset zone (UTC)
// skips the zone database.
//
// Errors: cron_error (a std::invalid_argument) whose message starts like croniter's,
// "[<expr>] is not acceptable", then names the field and value.
// Thread safety: both classes are immutable values after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dagcore/time_zone.hpp"

namespace dagcore {

class cron_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The parsed fields as bit sets (bit i set: value i fires).
struct cron_fields {
  std::uint64_t minutes = 0;                   // bits 0..59
  std::uint32_t hours = 0;                     // bits 0..23
  std::uint32_t days_of_month = 0;             // bits 1..31
  std::uint16_t months = 0;                    // bits 1..12
  std::uint8_t days_of_week = 0;               // bits 0..6, 0 = Sunday
  bool last_day_of_month = false;              // `L` in day-of-month
  std::uint8_t last_weekdays = 0;              // `5L`: bit 5 = the last Friday of the month
  std::array<std::uint8_t, 7> nth_weekdays{};  // `1#2`: nth_weekdays[1] bit 1 = 2nd Monday
  bool day_of_month_restricted = false;        // not `*` (croniter's rule for combining the two)
  bool day_of_week_restricted = false;
  bool hour_wildcard = false;  // the hour field is `*`: fires at least hourly
};

/// The common shapes that have a fast path.
enum class cron_shape : std::uint8_t {
  general,
  every_n_minutes,  // "*/N * * * *" with N dividing 60 (and "M-59/N"-free offsets "K/N")
  hourly,           // "M * * * *"
  daily,            // "M H * * *"
  weekly,           // "M H * * D"
  monthly,          // "M H D * *" with D <= 28
};

class cron_expression {
 public:
  /// Parses `expr`; `hash_key` seeds `H` fields (a DAG passes its dag_id). Throws cron_error.
  explicit cron_expression(std::string_view expr, std::string_view hash_key = {});

  /// The expression as given (presets not expanded).
  [[nodiscard]] const std::string& expression() const noexcept { return m_expression; }
  /// The five fields after preset expansion and hashing (`H` replaced by numbers).
  [[nodiscard]] const std::string& resolved() const noexcept { return m_resolved; }
  [[nodiscard]] const cron_fields& fields() const noexcept { return m_fields; }
  [[nodiscard]] cron_shape shape() const noexcept { return m_shape; }
  [[nodiscard]] bool fires_at_least_hourly() const noexcept { return m_fields.hour_wildcard; }

  /// Whether the wall time (to the minute; seconds must be 0) is a fire time.
  [[nodiscard]] bool matches(const cctz::civil_second& wall) const noexcept;
  /// The first fire time strictly after `wall`, if any within 400 years.
  [[nodiscard]] std::optional<cctz::civil_second> next(const local_time& wall) const noexcept;
  /// The last fire time strictly before `wall`, if any within 400 years.
  [[nodiscard]] std::optional<cctz::civil_second> prev(const local_time& wall) const noexcept;

  /// The same answers through the general field search only (tests compare the fast paths).
  [[nodiscard]] std::optional<cctz::civil_second> next_general(
      const local_time& wall) const noexcept;
  [[nodiscard]] std::optional<cctz::civil_second> prev_general(
      const local_time& wall) const noexcept;

 private:
  [[nodiscard]] bool day_matches(const cctz::civil_day& day) const noexcept;

  std::string m_expression;
  std::string m_resolved;
  cron_fields m_fields;
  cron_shape m_shape = cron_shape::general;
  int m_minute = 0, m_hour = 0, m_day = 0, m_weekday = 0, m_step = 0;  // fast-path parameters
};

/// A cron expression in a time zone: fire instants by Airflow's rules.
class cron_schedule {
 public:
  cron_schedule(cron_expression expr, time_zone zone);

  [[nodiscard]] const cron_expression& expression() const noexcept { return m_expr; }
  [[nodiscard]] const time_zone& zone() const noexcept { return m_zone; }

  /// The first fire strictly after `t`, or std::nullopt if the cron never fires again.
  [[nodiscard]] std::optional<instant> next(instant t) const;
  /// The last fire strictly before `t`, or std::nullopt.
  [[nodiscard]] std::optional<instant> prev(instant t) const;
  /// Airflow's _align_to_next: t if t is a fire time (prev(next(t)) == t), else next(t).
  [[nodiscard]] std::optional<instant> align_to_next(instant t) const;
  /// Airflow's _align_to_prev: t if t is a fire time, else prev(t).
  [[nodiscard]] std::optional<instant> align_to_prev(instant t) const;
  /// Whether the schedule fires at `t`.
  [[nodiscard]] bool matches(instant t) const;

  /// Every fire in [start, end] (both inclusive), in order; throws std::length_error naming
  /// the count if there are more than `max_runs` (counted before anything is allocated).
  [[nodiscard]] std::vector<instant> between(instant start, instant end,
                                             std::uint64_t max_runs = 1'000'000) const;
  /// The number of fires in [start, end] (no allocation).
  [[nodiscard]] std::uint64_t count_between(instant start, instant end) const;

 private:
  template <class Sink>
  void for_each_between(instant start, instant end, Sink&& sink) const;
  // The search inside one segment of constant offset; `exhausted` says no later wall exists.
  std::optional<instant> next_in_segment(const zone_segment& seg, instant t, bool& exhausted) const;
  std::optional<instant> prev_in_segment(const zone_segment& seg, instant t, bool& exhausted) const;
  // next(t) starting from the segment `seg` (which must contain t), advancing it as it goes.
  std::optional<instant> next_from(zone_segment& seg, instant t) const;

  cron_expression m_expr;
  time_zone m_zone;
  // A fixed-offset zone with an "every N minutes"/"hourly" cron fires on an arithmetic
  // progression: stride and phase let between() skip the per-step search.
  instant m_stride = 0;
};

}  // namespace dagcore
