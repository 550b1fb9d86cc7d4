// Timetables: which DAG runs a schedule asks for, with Airflow 3's semantics.
//
// Contract
// - Kinds (docs/airflow-behaviour.md 2.9): null (never), once, continuous, cron_trigger,
//   multiple_cron_trigger, cron_data_interval, delta_trigger, delta_data_interval. Each answers
//   next_dagrun_info(last automated data interval, restriction, now) and
//   infer_manual_data_interval(run_after, now) exactly as the Airflow class of the same name,
//   including catchup off (_skip_to_latest / align_to_prev(now)), run_immediately and the
//   newer "a zero-length previous interval must not re-emit its logical date" guard.
// - Time: every time is an `instant` (int64 UTC microseconds). Nothing here reads the clock:
//   "now" is a parameter. Cron timetables compute in their zone through cron_schedule; delta
//   arithmetic is done on UTC civil time, as Airflow adds a (relative)delta to a UTC datetime:
//   calendar months first, clamping the day to the month's length, then the fixed part. One
//   period is added at a time, so a monthly schedule from Jan 31 runs Feb 28, Mar 28, ...
// - Bulk: infos_between(earliest, latest, now, max_runs) returns what repeated
//   next_dagrun_info calls with time_restriction{earliest, latest, catchup=true} return, last
//   info feeding the next call, until the first std::nullopt (both ends inclusive on the
//   timetable's start value). Cron and delta kinds have direct implementations; the count is
//   computed first and std::length_error (naming the count) is thrown before anything is
//   allocated when it exceeds max_runs. A continuous timetable has no finite list
//   (std::invalid_argument).
// - Complexity: next_dagrun_info is O(1) cron/zone steps (a calendar delta with catchup off
//   walks one period at a time from the start date: O(periods since then)); infos_between is
//   O(runs) cron steps (O(1) to count for the cron engine's arithmetic fast paths).
// - Errors: construction checks its arguments (std::invalid_argument, cron_error for a bad
//   cron, "schedule interval must be positive" for a non-positive delta); results that leave
//   the int64 range throw std::overflow_error. Strong exception guarantee throughout: every
//   member is const.
// - Thread safety: timetables and batches are immutable values after construction; every
//   const member may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dagcore/cron.hpp"
#include "dagcore/time_zone.hpp"

namespace dagcore {

/// A (relative) schedule delta: `months` calendar months (years * 12 + months) and a fixed
/// part in microseconds (weeks, days, hours, minutes, seconds, microseconds). A plain
/// timedelta has months == 0.
struct calendar_delta {
  std::int32_t months = 0;
  std::int64_t micros = 0;

  [[nodiscard]] static constexpr calendar_delta fixed(std::int64_t micros) noexcept {
    return {0, micros};
  }
  [[nodiscard]] constexpr bool is_fixed() const noexcept { return months == 0; }
  [[nodiscard]] constexpr bool is_zero() const noexcept { return months == 0 && micros == 0; }
  /// Moves every instant forward: no negative part and not zero. (A delta that mixes signs,
  /// such as one month minus a day, is refused: whether it moves forward depends on the date.)
  [[nodiscard]] constexpr bool is_positive() const noexcept {
    return months >= 0 && micros >= 0 && !is_zero();
  }
  [[nodiscard]] constexpr bool is_non_negative() const noexcept {
    return months >= 0 && micros >= 0;
  }

  friend constexpr bool operator==(const calendar_delta&, const calendar_delta&) = default;
};

/// `t + d` on UTC civil time (dateutil's order: months with day clamping, then the fixed part).
/// Throws std::overflow_error if the result leaves the int64 range.
[[nodiscard]] instant add(instant t, const calendar_delta& d);
/// `t - d`, i.e. `t + (-d)`: months back with day clamping, then the fixed part.
[[nodiscard]] instant subtract(instant t, const calendar_delta& d);

/// [start, end]; a run's logical date is its start.
struct data_interval {
  instant start = 0;
  instant end = 0;

  [[nodiscard]] static constexpr data_interval exact(instant t) noexcept { return {t, t}; }
  friend constexpr bool operator==(const data_interval&, const data_interval&) = default;
};

/// One run a timetable asks for.
struct run_info {
  instant run_after = 0;
  data_interval interval;

  [[nodiscard]] constexpr instant logical_date() const noexcept { return interval.start; }
  /// Airflow's DagRunInfo.interval: the run is due when the interval ends.
  [[nodiscard]] static constexpr run_info of_interval(instant start, instant end) noexcept {
    return {end, {start, end}};
  }
  [[nodiscard]] static constexpr run_info exact(instant t) noexcept { return {t, {t, t}}; }
  friend constexpr bool operator==(const run_info&, const run_info&) = default;
};

/// The DAG's bounds: runs whose start value lies in [earliest, latest]; catchup off skips to
/// the most recent period.
struct time_restriction {
  std::optional<instant> earliest;
  std::optional<instant> latest;
  bool catchup = false;
};

/// Many run infos as three columns (run_after, interval start = logical date, interval end),
/// so the binding can hand each column to Python as one list.
class run_info_batch {
 public:
  run_info_batch() = default;
  /// The three columns must have the same length (std::invalid_argument otherwise).
  run_info_batch(std::vector<instant> run_afters, std::vector<instant> starts,
                 std::vector<instant> ends);

  [[nodiscard]] std::size_t size() const noexcept { return m_run_after.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_run_after.empty(); }
  [[nodiscard]] run_info operator[](std::size_t i) const noexcept {
    return {m_run_after[i], {m_start[i], m_end[i]}};
  }
  [[nodiscard]] const std::vector<instant>& run_afters() const noexcept { return m_run_after; }
  [[nodiscard]] const std::vector<instant>& starts() const noexcept { return m_start; }
  [[nodiscard]] const std::vector<instant>& ends() const noexcept { return m_end; }
  [[nodiscard]] std::vector<run_info> to_vector() const;

  void reserve(std::size_t n);
  void push_back(const run_info& info);

  friend bool operator==(const run_info_batch&, const run_info_batch&) = default;

 private:
  std::vector<instant> m_run_after;
  std::vector<instant> m_start;
  std::vector<instant> m_end;
};

enum class timetable_kind : std::uint8_t {
  null,
  once,
  continuous,
  cron_trigger,
  multiple_cron_trigger,
  cron_data_interval,
  delta_trigger,
  delta_data_interval,
};

[[nodiscard]] std::string_view to_string(timetable_kind kind) noexcept;

inline constexpr std::uint64_t default_max_runs = 1'000'000;

/// The interface every kind implements.
class timetable {
 public:
  virtual ~timetable() = default;

  [[nodiscard]] virtual timetable_kind kind() const noexcept = 0;
  /// Whether runs recur (false for null, once and continuous: no backfill).
  [[nodiscard]] virtual bool periodic() const noexcept { return true; }
  /// Whether the scheduler ever creates runs (false for null).
  [[nodiscard]] virtual bool can_be_scheduled() const noexcept { return true; }

  /// The next automated run after `last` within `restriction`, or std::nullopt.
  [[nodiscard]] virtual std::optional<run_info> next_dagrun_info(
      const std::optional<data_interval>& last, const time_restriction& restriction,
      instant now) const = 0;
  /// The data interval of a run triggered manually at `run_after`.
  [[nodiscard]] virtual data_interval infer_manual_data_interval(instant run_after,
                                                                 instant now) const = 0;

  /// Every run repeated next_dagrun_info calls with catchup on would produce from `earliest`
  /// to `latest` (see the contract above). Throws std::length_error naming the count when it
  /// exceeds `max_runs`, before allocating.
  [[nodiscard]] run_info_batch infos_between(instant earliest, instant latest, instant now,
                                             std::uint64_t max_runs = default_max_runs) const;

 protected:
  timetable() = default;
  timetable(const timetable&) = default;
  timetable& operator=(const timetable&) = default;

  /// The bulk implementation; the default drives next_dagrun_info twice (count, then fill).
  [[nodiscard]] virtual run_info_batch do_infos_between(instant earliest, instant latest,
                                                        instant now, std::uint64_t max_runs) const;
};

/// Never schedules (`schedule=None`); manual runs only.
class null_timetable final : public timetable {
 public:
  [[nodiscard]] timetable_kind kind() const noexcept override { return timetable_kind::null; }
  [[nodiscard]] bool periodic() const noexcept override { return false; }
  [[nodiscard]] bool can_be_scheduled() const noexcept override { return false; }
  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;
};

/// One run at the start date (or now without one), catchup or not (`schedule="@once"`).
class once_timetable final : public timetable {
 public:
  [[nodiscard]] timetable_kind kind() const noexcept override { return timetable_kind::once; }
  [[nodiscard]] bool periodic() const noexcept override { return false; }
  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;
};

/// A new run as soon as the previous one ends (`schedule="@continuous"`): [last end, now].
class continuous_timetable final : public timetable {
 public:
  [[nodiscard]] timetable_kind kind() const noexcept override { return timetable_kind::continuous; }
  [[nodiscard]] bool periodic() const noexcept override { return false; }
  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  /// Throws std::invalid_argument: repeated calls never end on their own.
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;
};

/// CronTriggerTimetable's `run_immediately`: what the first run is when there is no start date.
struct run_immediately_policy {
  enum class mode : std::uint8_t {
    buffer,  ///< False: the past fire if now is within max(10% of the period, 5 min) of it
    always,  ///< True: the most recent past fire
    within,  ///< a timedelta: the past fire if now is within `window` of it
  };
  mode how = mode::buffer;
  std::int64_t window = 0;  ///< microseconds, for mode::within (not negative)

  [[nodiscard]] static constexpr run_immediately_policy from_bool(bool value) noexcept {
    return {value ? mode::always : mode::buffer, 0};
  }
  [[nodiscard]] static constexpr run_immediately_policy within_micros(std::int64_t w) noexcept {
    return {mode::within, w};
  }
  friend constexpr bool operator==(const run_immediately_policy&,
                                   const run_immediately_policy&) = default;
};

/// Runs at each cron fire; the run's data interval is [fire - interval, fire], so its logical
/// date is the fire time when interval is zero (Airflow 3's default for cron strings).
class cron_trigger_timetable final : public timetable {
 public:
  /// Throws std::invalid_argument if `interval` is negative.
  cron_trigger_timetable(cron_schedule schedule, calendar_delta interval = {},
                         run_immediately_policy run_immediately = {});

  [[nodiscard]] timetable_kind kind() const noexcept override {
    return timetable_kind::cron_trigger;
  }
  [[nodiscard]] const cron_schedule& schedule() const noexcept { return m_schedule; }
  [[nodiscard]] const calendar_delta& interval() const noexcept { return m_interval; }
  [[nodiscard]] const run_immediately_policy& run_immediately() const noexcept {
    return m_run_immediately;
  }

  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;

 private:
  /// _calc_first_run: the fire to start from when there is neither a previous run nor a start.
  [[nodiscard]] std::optional<instant> first_run(instant now) const;

  cron_schedule m_schedule;
  calendar_delta m_interval;
  run_immediately_policy m_run_immediately;
};

/// Several cron trigger timetables sharing zone, interval and run_immediately: the next run is
/// the earliest of theirs (catchup) or the latest one already due, else the earliest future
/// one (no catchup). Fires shared by several crons run once.
class multiple_cron_trigger_timetable final : public timetable {
 public:
  /// Throws std::invalid_argument("cron expression required") if `schedules` is empty.
  multiple_cron_trigger_timetable(std::vector<cron_schedule> schedules,
                                  calendar_delta interval = {},
                                  run_immediately_policy run_immediately = {});

  [[nodiscard]] timetable_kind kind() const noexcept override {
    return timetable_kind::multiple_cron_trigger;
  }
  [[nodiscard]] const std::vector<cron_trigger_timetable>& parts() const noexcept {
    return m_parts;
  }

  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;

 private:
  std::vector<cron_trigger_timetable> m_parts;
};

/// Runs at the END of each cron period, with data interval [fire, next fire] (Airflow 2's
/// behaviour, selected by create_cron_data_intervals).
class cron_data_interval_timetable final : public timetable {
 public:
  explicit cron_data_interval_timetable(cron_schedule schedule);

  [[nodiscard]] timetable_kind kind() const noexcept override {
    return timetable_kind::cron_data_interval;
  }
  [[nodiscard]] const cron_schedule& schedule() const noexcept { return m_schedule; }

  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  /// The last complete period before run_after: [prev(end), end], end = align_to_prev.
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;

 private:
  cron_schedule m_schedule;
};

/// Runs every `delta` from the start date (or now); data interval [fire - interval, fire].
class delta_trigger_timetable final : public timetable {
 public:
  /// Throws std::invalid_argument("schedule interval must be positive") unless
  /// delta.is_positive(), and if `interval` is negative.
  explicit delta_trigger_timetable(calendar_delta delta, calendar_delta interval = {});

  [[nodiscard]] timetable_kind kind() const noexcept override {
    return timetable_kind::delta_trigger;
  }
  [[nodiscard]] const calendar_delta& delta() const noexcept { return m_delta; }
  [[nodiscard]] const calendar_delta& interval() const noexcept { return m_interval; }

  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;

 private:
  calendar_delta m_delta;
  calendar_delta m_interval;
};

/// Data intervals of length `delta` from the start date, each run at its interval's end.
/// With catchup off a fixed delta skips to the epoch-aligned grid (Airflow's _round); a
/// calendar delta (months/years) stays aligned to the start date, one period at a time.
class delta_data_interval_timetable final : public timetable {
 public:
  /// Throws std::invalid_argument("schedule interval must be positive") unless
  /// delta.is_positive().
  explicit delta_data_interval_timetable(calendar_delta delta);

  [[nodiscard]] timetable_kind kind() const noexcept override {
    return timetable_kind::delta_data_interval;
  }
  [[nodiscard]] const calendar_delta& delta() const noexcept { return m_delta; }

  [[nodiscard]] std::optional<run_info> next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const override;
  /// [run_after - delta, run_after].
  [[nodiscard]] data_interval infer_manual_data_interval(instant run_after,
                                                         instant now) const override;

 protected:
  [[nodiscard]] run_info_batch do_infos_between(instant earliest, instant latest, instant now,
                                                std::uint64_t max_runs) const override;

 private:
  calendar_delta m_delta;
};

}  // namespace dagcore
