// Timetables (see the contract in timetable.hpp).
//
// Design note: every kind is written as Airflow's class is, as a function of (last interval,
// restriction, now) built on four schedule primitives (next, prev, align_to_next,
// align_to_prev); the data-interval kinds share one body (next_interval_info) and differ only in
// those primitives and in _skip_to_latest. The bulk overrides do not re-derive that logic: they
// specialise it for catchup=true and a known start, where the cron walk of cron_schedule or
// repeated delta steps give the same sequence directly. tests/cpp/test_timetable.cpp checks
// them against the generic driver (repeated next_dagrun_info) on random schedules and zones.
#include "dagcore/timetable.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace dagcore {
namespace {

instant checked_add(instant t, std::int64_t micros) {
  instant out = 0;
  if (__builtin_add_overflow(t, micros, &out)) {
    throw std::overflow_error("date value out of range: " + std::to_string(t) + " + " +
                              std::to_string(micros) + " microseconds");
  }
  return out;
}

constexpr bool is_leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr int days_in_month(std::int64_t y, int m) noexcept {
  constexpr int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : lengths[m - 1];
}

/// `t` moved by `months` calendar months on UTC civil time, the day clamped to the month.
instant add_months(instant t, std::int64_t months) {
  if (months == 0) return t;
  const local_time l = utc_local(t);
  const std::int64_t index = l.civil.year() * 12 + (l.civil.month() - 1) + months;
  const std::int64_t year = floor_div(index, 12);
  // int64 microseconds span about +-292,000 years; refuse before the civil arithmetic overflows.
  if (year > 290'000 || year < -290'000) {
    throw std::overflow_error("date value out of range: year " + std::to_string(year));
  }
  const auto month = static_cast<int>(index - year * 12 + 1);
  const int day = std::min(l.civil.day(), days_in_month(year, month));
  const cctz::civil_second moved(year, month, day, l.civil.hour(), l.civil.minute(),
                                 l.civil.second());
  return utc_instant(moved) + l.micros;
}

std::string length_message(std::uint64_t count, std::uint64_t max_runs) {
  return "the range holds " + std::to_string(count) +
         " runs, more than max_runs=" + std::to_string(max_runs);
}

void check_count(std::uint64_t count, std::uint64_t max_runs) {
  if (count > max_runs) throw std::length_error(length_message(count, max_runs));
}

/// Python's timedelta / int: the quotient rounded half to even (so the buffer of a period that
/// is not a multiple of 10 microseconds matches Airflow's to the microsecond).
constexpr std::int64_t divide_and_round(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = floor_div(a, b);
  const std::int64_t r = a - q * b;
  const std::int64_t twice = 2 * r;
  if (twice > b || (twice == b && q % 2 != 0)) ++q;
  return q;
}

template <class T>
std::optional<T> max_of(const std::optional<T>& a, const std::optional<T>& b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

/// The body Airflow's _DataIntervalTimetable.next_dagrun_info shares between cron and delta:
/// `s` provides next/align_to_next/align_to_prev/skip_to_latest for the schedule.
template <class Schedule>
std::optional<run_info> next_interval_info(const Schedule& s,
                                           const std::optional<data_interval>& last,
                                           const time_restriction& restriction, instant now) {
  std::optional<instant> earliest = restriction.earliest;
  if (!restriction.catchup) {
    earliest = s.skip_to_latest(earliest, now);
    if (!earliest) return std::nullopt;
  } else if (earliest) {
    earliest = s.align_to_next(*earliest);
    if (!earliest) return std::nullopt;
  }
  std::optional<instant> start;
  if (!last) {
    if (!earliest) return std::nullopt;
    start = earliest;
  } else {
    // Aligning matters when the schedule changed since the last run.
    start = max_of(s.align_to_prev(last->end), earliest);
    // A zero-length previous interval (left by a trigger timetable, whose logical date is its
    // end) must not be followed by a run with that same logical date.
    if (start && last->start == last->end && *start == last->start) start = s.next(*start);
  }
  if (!start) return std::nullopt;
  if (restriction.latest && *start > *restriction.latest) return std::nullopt;
  const std::optional<instant> end = s.next(*start);
  if (!end) return std::nullopt;
  return run_info::of_interval(*start, *end);
}

/// The bulk driver every kind could use: repeated next_dagrun_info, counted first.
template <class Next>
run_info_batch drive(Next&& next, std::uint64_t max_runs) {
  const auto walk = [&](auto&& sink) {
    std::optional<run_info> info = next(std::optional<data_interval>{});
    while (info) {
      sink(*info);
      const data_interval previous = info->interval;
      info = next(std::optional<data_interval>(previous));
      if (info && info->interval == previous) {
        throw std::logic_error("timetable repeated the data interval [" +
                               std::to_string(previous.start) + ", " +
                               std::to_string(previous.end) + "]");
      }
    }
  };
  std::uint64_t count = 0;
  walk([&](const run_info&) { ++count; });
  check_count(count, max_runs);
  run_info_batch out;
  out.reserve(count);
  walk([&](const run_info& info) { out.push_back(info); });
  return out;
}

/// Walks start, start + delta, ... (one period at a time) while <= latest.
template <class Sink>
void walk_delta(const calendar_delta& delta, instant start, instant latest, Sink&& sink) {
  for (instant t = start; t <= latest; t = add(t, delta)) {
    sink(t);
  }
}

std::uint64_t count_delta(const calendar_delta& delta, instant start, instant latest) {
  if (start > latest) return 0;
  if (delta.is_fixed()) {
    // (latest - start) may not fit in int64 when the two are far apart.
    const auto span = static_cast<std::uint64_t>(latest) - static_cast<std::uint64_t>(start);
    return span / static_cast<std::uint64_t>(delta.micros) + 1;
  }
  std::uint64_t n = 0;
  walk_delta(delta, start, latest, [&](instant) { ++n; });
  return n;
}

/// A trigger run whose fire is `fire`: interval [fire - interval, fire], due at the fire.
run_info trigger_info(instant fire, const calendar_delta& interval) {
  return run_info::of_interval(interval.is_zero() ? fire : subtract(fire, interval), fire);
}

/// Fills the start column of a trigger batch from its fires.
std::vector<instant> trigger_starts(const std::vector<instant>& fires,
                                    const calendar_delta& interval) {
  if (interval.is_zero()) return fires;
  std::vector<instant> starts;
  starts.reserve(fires.size());
  if (interval.is_fixed()) {
    for (const instant f : fires) starts.push_back(checked_add(f, -interval.micros));
  } else {
    for (const instant f : fires) starts.push_back(subtract(f, interval));
  }
  return starts;
}

void check_non_negative_interval(const calendar_delta& interval) {
  if (!interval.is_non_negative()) {
    throw std::invalid_argument(
        "interval must not be negative (months=" + std::to_string(interval.months) +
        ", microseconds=" + std::to_string(interval.micros) + ")");
  }
}

void check_positive_delta(const calendar_delta& delta) {
  if (!delta.is_positive()) {
    throw std::invalid_argument(
        "schedule interval must be positive, not months=" + std::to_string(delta.months) +
        ", microseconds=" + std::to_string(delta.micros));
  }
}

std::optional<instant> cron_skip_to_latest(const cron_schedule& schedule,
                                           const std::optional<instant>& earliest, instant now);

/// The schedule primitives of a cron data-interval timetable, for next_interval_info.
struct cron_primitives {
  const cron_schedule& schedule;

  [[nodiscard]] std::optional<instant> next(instant t) const { return schedule.next(t); }
  [[nodiscard]] std::optional<instant> align_to_next(instant t) const {
    return schedule.align_to_next(t);
  }
  [[nodiscard]] std::optional<instant> align_to_prev(instant t) const {
    return schedule.align_to_prev(t);
  }
  [[nodiscard]] std::optional<instant> skip_to_latest(const std::optional<instant>& earliest,
                                                      instant now) const {
    return cron_skip_to_latest(schedule, earliest, now);
  }
};

/// CronDataIntervalTimetable._skip_to_latest: the start of the most recent complete period
/// (the one starting now if now is on a boundary), but not before the aligned start date.
std::optional<instant> cron_skip_to_latest(const cron_schedule& schedule,
                                           const std::optional<instant>& earliest, instant now) {
  std::optional<instant> new_start;
  if (const std::optional<instant> last_start = schedule.prev(now)) {
    const std::optional<instant> next_start = schedule.next(*last_start);
    if (next_start && *next_start == now) {
      new_start = last_start;
    } else if (!next_start || *next_start > now) {
      new_start = schedule.prev(*last_start);
    } else {
      throw std::logic_error("cron schedule: next(prev(" + std::to_string(now) +
                             ")) is earlier than the time itself");
    }
  }
  if (!earliest) return new_start;
  return max_of(new_start, schedule.align_to_next(*earliest));
}

/// The schedule primitives of a delta data-interval timetable.
struct delta_primitives {
  calendar_delta delta;

  [[nodiscard]] std::optional<instant> next(instant t) const { return add(t, delta); }
  // Members, not static: every schedule kind offers the same interface to the templates.
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  [[nodiscard]] std::optional<instant> align_to_next(instant t) const { return t; }
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  [[nodiscard]] std::optional<instant> align_to_prev(instant t) const { return t; }
  [[nodiscard]] std::optional<instant> skip_to_latest(const std::optional<instant>& earliest,
                                                      instant now) const;
};

std::optional<instant> delta_primitives::skip_to_latest(const std::optional<instant>& earliest,
                                                        instant now) const {
  if (!delta.is_fixed() && earliest) {
    // Calendar deltas stay on the start date's grid, stepping one period at a time (Jan 31 ->
    // Feb 28 -> Mar 28): the start of the last period that has ended by now, or the start date
    // itself while its first period is still running.
    instant result = *earliest;
    instant s = *earliest;
    for (instant n = add(s, delta); n <= now; n = add(s, delta)) {
      result = s;
      s = n;
    }
    return result;
  }
  // Airflow's _round: now floored to a multiple of the delta since the epoch (a calendar delta
  // without a start date counts a year as 365 days and a month as 30), then one period back.
  std::int64_t period = delta.micros;
  if (!delta.is_fixed()) {
    period += std::int64_t{delta.months / 12} * 365 * micros_per_day +
              std::int64_t{delta.months % 12} * 30 * micros_per_day;
  }
  const instant rounded = floor_div(now, period) * period;
  const instant new_start = subtract(rounded, delta);
  if (!earliest) return new_start;
  return std::max(new_start, *earliest);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// calendar arithmetic

instant add(instant t, const calendar_delta& d) {
  return checked_add(add_months(t, d.months), d.micros);
}

instant subtract(instant t, const calendar_delta& d) {
  if (d.micros == std::numeric_limits<std::int64_t>::min()) {
    throw std::overflow_error("date value out of range: cannot negate the delta");
  }
  return checked_add(add_months(t, -static_cast<std::int64_t>(d.months)), -d.micros);
}

// ---------------------------------------------------------------------------------------------
// run_info_batch

run_info_batch::run_info_batch(std::vector<instant> run_afters, std::vector<instant> starts,
                               std::vector<instant> ends)
    : m_run_after(std::move(run_afters)), m_start(std::move(starts)), m_end(std::move(ends)) {
  if (m_run_after.size() != m_start.size() || m_run_after.size() != m_end.size()) {
    throw std::invalid_argument(
        "run_info_batch columns differ in length: " + std::to_string(m_run_after.size()) + ", " +
        std::to_string(m_start.size()) + ", " + std::to_string(m_end.size()));
  }
}

std::vector<run_info> run_info_batch::to_vector() const {
  std::vector<run_info> out;
  out.reserve(size());
  for (std::size_t i = 0; i < size(); ++i) out.push_back((*this)[i]);
  return out;
}

void run_info_batch::reserve(std::size_t n) {
  m_run_after.reserve(n);
  m_start.reserve(n);
  m_end.reserve(n);
}

void run_info_batch::push_back(const run_info& info) {
  m_run_after.push_back(info.run_after);
  m_start.push_back(info.interval.start);
  m_end.push_back(info.interval.end);
}

std::string_view to_string(timetable_kind kind) noexcept {
  switch (kind) {
    case timetable_kind::null:
      return "null";
    case timetable_kind::once:
      return "once";
    case timetable_kind::continuous:
      return "continuous";
    case timetable_kind::cron_trigger:
      return "cron_trigger";
    case timetable_kind::multiple_cron_trigger:
      return "multiple_cron_trigger";
    case timetable_kind::cron_data_interval:
      return "cron_data_interval";
    case timetable_kind::delta_trigger:
      return "delta_trigger";
    case timetable_kind::delta_data_interval:
      return "delta_data_interval";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// timetable (bulk driver)

run_info_batch timetable::infos_between(instant earliest, instant latest, instant now,
                                        std::uint64_t max_runs) const {
  return do_infos_between(earliest, latest, now, max_runs);
}

run_info_batch timetable::do_infos_between(instant earliest, instant latest, instant now,
                                           std::uint64_t max_runs) const {
  const time_restriction restriction{earliest, latest, true};
  return drive(
      [&](const std::optional<data_interval>& last) {
        return next_dagrun_info(last, restriction, now);
      },
      max_runs);
}

// ---------------------------------------------------------------------------------------------
// null, once, continuous

std::optional<run_info> null_timetable::next_dagrun_info(const std::optional<data_interval>&,
                                                         const time_restriction&, instant) const {
  return std::nullopt;
}

data_interval null_timetable::infer_manual_data_interval(instant run_after, instant) const {
  return data_interval::exact(run_after);
}

std::optional<run_info> once_timetable::next_dagrun_info(const std::optional<data_interval>& last,
                                                         const time_restriction& restriction,
                                                         instant now) const {
  if (last) return std::nullopt;  // already ran
  // "@once" runs at the start date whether catchup is on or not (Airflow since 1.10).
  const instant run_after = restriction.earliest.value_or(now);
  if (restriction.latest && run_after > *restriction.latest) return std::nullopt;
  return run_info::exact(run_after);
}

data_interval once_timetable::infer_manual_data_interval(instant run_after, instant) const {
  return data_interval::exact(run_after);
}

std::optional<run_info> continuous_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  if (!restriction.earliest) return std::nullopt;  // no start date: never runs
  instant start = 0;
  instant end = 0;
  if (!last) {
    start = *restriction.earliest;
    end = std::max(start, now);
  } else if (last->end > now) {
    // The start date lies in the future: keep the previous run's length from the start date.
    start = *restriction.earliest;
    end = checked_add(start, last->end - last->start);
  } else {
    start = last->end;
    end = now;
  }
  if (restriction.latest && end > *restriction.latest) return std::nullopt;
  return run_info::of_interval(start, end);
}

data_interval continuous_timetable::infer_manual_data_interval(instant run_after, instant) const {
  return data_interval::exact(run_after);
}

run_info_batch continuous_timetable::do_infos_between(instant, instant, instant,
                                                      std::uint64_t) const {
  throw std::invalid_argument(
      "a continuous timetable has no finite list of runs between two dates (each run starts "
      "when the previous one ends): it cannot be backfilled");
}

// ---------------------------------------------------------------------------------------------
// cron trigger

cron_trigger_timetable::cron_trigger_timetable(cron_schedule schedule, calendar_delta interval,
                                               run_immediately_policy run_immediately)
    : m_schedule(std::move(schedule)), m_interval(interval), m_run_immediately(run_immediately) {
  check_non_negative_interval(m_interval);
  if (m_run_immediately.how == run_immediately_policy::mode::within &&
      m_run_immediately.window < 0) {
    throw std::invalid_argument("run_immediately must not be a negative timedelta (" +
                                std::to_string(m_run_immediately.window) + " microseconds)");
  }
}

std::optional<instant> cron_trigger_timetable::first_run(instant now) const {
  const std::optional<instant> past = m_schedule.align_to_prev(now);
  const std::optional<instant> next = m_schedule.align_to_next(now);
  if (!past) return next;
  if (m_run_immediately.how == run_immediately_policy::mode::always) return past;
  if (!next) return past;
  std::int64_t buffer = 0;
  if (m_run_immediately.how == run_immediately_policy::mode::within) {
    buffer = m_run_immediately.window;
  } else {
    buffer = std::max(divide_and_round(*next - *past, 10), 5 * micros_per_minute);
  }
  return now - *past <= buffer ? past : next;
}

std::optional<run_info> cron_trigger_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  std::optional<instant> fire;
  if (restriction.catchup) {
    if (last) {
      fire = m_schedule.next(last->end);
    } else if (!restriction.earliest) {
      fire = first_run(now);
    } else {
      fire = m_schedule.align_to_next(*restriction.earliest);
    }
  } else {
    fire = m_schedule.align_to_prev(now);
    if (last) {
      fire = max_of(fire, m_schedule.next(last->end));
    } else if (!restriction.earliest) {
      // run_immediately only matters without a start date.
      fire = max_of(fire, first_run(now));
    }
    if (restriction.earliest) fire = max_of(fire, m_schedule.align_to_next(*restriction.earliest));
  }
  if (!fire) return std::nullopt;
  if (restriction.latest && *restriction.latest < *fire) return std::nullopt;
  return trigger_info(*fire, m_interval);
}

data_interval cron_trigger_timetable::infer_manual_data_interval(instant run_after, instant) const {
  return trigger_info(run_after, m_interval).interval;
}

run_info_batch cron_trigger_timetable::do_infos_between(instant earliest, instant latest, instant,
                                                        std::uint64_t max_runs) const {
  // catchup=true with a start: align_to_next(earliest), then next() until past latest, which
  // is exactly the cron walk of between() (it counts before allocating).
  if (latest < earliest) return {};
  std::vector<instant> fires = m_schedule.between(earliest, latest, max_runs);
  std::vector<instant> starts = trigger_starts(fires, m_interval);
  std::vector<instant> ends = fires;
  return {std::move(fires), std::move(starts), std::move(ends)};
}

// ---------------------------------------------------------------------------------------------
// multiple cron trigger

multiple_cron_trigger_timetable::multiple_cron_trigger_timetable(
    std::vector<cron_schedule> schedules, calendar_delta interval,
    run_immediately_policy run_immediately) {
  if (schedules.empty()) throw std::invalid_argument("cron expression required");
  m_parts.reserve(schedules.size());
  for (cron_schedule& s : schedules) {
    m_parts.emplace_back(std::move(s), interval, run_immediately);
  }
}

std::optional<run_info> multiple_cron_trigger_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  // Airflow: min over the parts' infos by a key; None sorts last; ties keep the first part.
  // catchup: key = logical date. No catchup: logical dates <= now sort by -logical date (the
  // latest due run wins), later ones by +logical date, and any due run beats any future one.
  std::optional<run_info> best;
  const auto better = [&](const run_info& a, const run_info& b) {
    const instant la = a.logical_date();
    const instant lb = b.logical_date();
    if (restriction.catchup) return la < lb;
    const bool a_due = la <= now;
    const bool b_due = lb <= now;
    if (a_due != b_due) return a_due;
    return a_due ? la > lb : la < lb;
  };
  for (const cron_trigger_timetable& part : m_parts) {
    std::optional<run_info> info = part.next_dagrun_info(last, restriction, now);
    if (info && (!best || better(*info, *best))) best = info;
  }
  return best;
}

data_interval multiple_cron_trigger_timetable::infer_manual_data_interval(instant run_after,
                                                                          instant now) const {
  // The parts share their interval, so they all infer the same; Airflow takes the min start.
  data_interval best = m_parts.front().infer_manual_data_interval(run_after, now);
  for (const cron_trigger_timetable& part : m_parts) {
    const data_interval d = part.infer_manual_data_interval(run_after, now);
    if (d.start < best.start) best = d;
  }
  return best;
}

run_info_batch multiple_cron_trigger_timetable::do_infos_between(instant earliest, instant latest,
                                                                 instant,
                                                                 std::uint64_t max_runs) const {
  // Repeated next_dagrun_info with catchup: each part proposes its first fire after the last
  // chosen fire F (align_to_next(earliest) at first); the smallest logical date wins, ties to
  // the first part. One cursor per part replaces the per-call re-search: a part whose cursor
  // is at or before F moves to its next fire after F.
  if (latest < earliest) return {};
  const calendar_delta& interval = m_parts.front().interval();
  const auto walk = [&](auto&& sink) {
    std::vector<std::optional<instant>> cursor;
    cursor.reserve(m_parts.size());
    for (const cron_trigger_timetable& part : m_parts) {
      std::optional<instant> c = part.schedule().align_to_next(earliest);
      if (c && *c > latest) c.reset();
      cursor.push_back(c);
    }
    for (;;) {
      std::optional<run_info> best;
      for (const std::optional<instant>& c : cursor) {
        if (!c) continue;
        const run_info info = trigger_info(*c, interval);
        if (!best || info.logical_date() < best->logical_date()) best = info;
      }
      if (!best) return;
      sink(*best);
      const instant fire = best->run_after;
      for (std::size_t i = 0; i < cursor.size(); ++i) {
        std::optional<instant>& c = cursor[i];
        if (c && *c <= fire) {
          c = m_parts[i].schedule().next(fire);
          if (c && *c > latest) c.reset();
        }
      }
    }
  };
  std::uint64_t count = 0;
  walk([&](const run_info&) { ++count; });
  check_count(count, max_runs);
  run_info_batch out;
  out.reserve(count);
  walk([&](const run_info& info) { out.push_back(info); });
  return out;
}

// ---------------------------------------------------------------------------------------------
// cron data interval

cron_data_interval_timetable::cron_data_interval_timetable(cron_schedule schedule)
    : m_schedule(std::move(schedule)) {}

std::optional<run_info> cron_data_interval_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  return next_interval_info(cron_primitives{m_schedule}, last, restriction, now);
}

data_interval cron_data_interval_timetable::infer_manual_data_interval(instant run_after,
                                                                       instant) const {
  // The last complete period before run_after: a daily run triggered at 01:00 on the 25th
  // covers [00:00 24th, 00:00 25th].
  const instant end = m_schedule.align_to_prev(run_after).value_or(run_after);
  return {m_schedule.prev(end).value_or(end), end};
}

run_info_batch cron_data_interval_timetable::do_infos_between(instant earliest, instant latest,
                                                              instant,
                                                              std::uint64_t max_runs) const {
  // catchup=true with a start: starts are align_to_next(earliest), then align_to_prev(next(s))
  // = next(s) (next() lands on a fire), so the starts are the cron walk of between() and each
  // end is the following start; the last end is one more next().
  if (latest < earliest) return {};
  std::vector<instant> starts = m_schedule.between(earliest, latest, max_runs);
  if (starts.empty()) return {};
  std::vector<instant> ends(starts.begin() + 1, starts.end());
  ends.reserve(starts.size());
  if (const std::optional<instant> last_end = m_schedule.next(starts.back())) {
    ends.push_back(*last_end);
  } else {
    starts.pop_back();  // a start with no following fire has no interval: the walk stops there
  }
  std::vector<instant> run_afters = ends;
  return {std::move(run_afters), std::move(starts), std::move(ends)};
}

// ---------------------------------------------------------------------------------------------
// delta trigger

delta_trigger_timetable::delta_trigger_timetable(calendar_delta delta, calendar_delta interval)
    : m_delta(delta), m_interval(interval) {
  check_positive_delta(m_delta);
  check_non_negative_interval(m_interval);
}

std::optional<run_info> delta_trigger_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  // DeltaMixin: align_to_next/align_to_prev are the identity, _calc_first_run is now.
  instant fire = 0;
  if (restriction.catchup) {
    if (last) {
      fire = add(last->end, m_delta);
    } else {
      fire = restriction.earliest.value_or(now);
    }
  } else {
    fire = now;
    if (last) {
      fire = std::max(fire, add(last->end, m_delta));
    }
    if (restriction.earliest) fire = std::max(fire, *restriction.earliest);
  }
  if (restriction.latest && *restriction.latest < fire) return std::nullopt;
  return trigger_info(fire, m_interval);
}

data_interval delta_trigger_timetable::infer_manual_data_interval(instant run_after,
                                                                  instant) const {
  return trigger_info(run_after, m_interval).interval;
}

run_info_batch delta_trigger_timetable::do_infos_between(instant earliest, instant latest, instant,
                                                         std::uint64_t max_runs) const {
  const std::uint64_t count = count_delta(m_delta, earliest, latest);
  check_count(count, max_runs);
  std::vector<instant> fires;
  fires.reserve(count);
  walk_delta(m_delta, earliest, latest, [&](instant t) { fires.push_back(t); });
  std::vector<instant> starts = trigger_starts(fires, m_interval);
  std::vector<instant> ends = fires;
  return {std::move(fires), std::move(starts), std::move(ends)};
}

// ---------------------------------------------------------------------------------------------
// delta data interval

delta_data_interval_timetable::delta_data_interval_timetable(calendar_delta delta)
    : m_delta(delta) {
  check_positive_delta(m_delta);
}

std::optional<run_info> delta_data_interval_timetable::next_dagrun_info(
    const std::optional<data_interval>& last, const time_restriction& restriction,
    instant now) const {
  return next_interval_info(delta_primitives{m_delta}, last, restriction, now);
}

data_interval delta_data_interval_timetable::infer_manual_data_interval(instant run_after,
                                                                        instant) const {
  return {subtract(run_after, m_delta), run_after};
}

run_info_batch delta_data_interval_timetable::do_infos_between(instant earliest, instant latest,
                                                               instant,
                                                               std::uint64_t max_runs) const {
  // Starts are earliest, +delta, ... <= latest; each end is the next start.
  const std::uint64_t count = count_delta(m_delta, earliest, latest);
  check_count(count, max_runs);
  std::vector<instant> starts;
  starts.reserve(count);
  walk_delta(m_delta, earliest, latest, [&](instant t) { starts.push_back(t); });
  std::vector<instant> ends;
  ends.reserve(count);
  for (const instant s : starts) ends.push_back(add(s, m_delta));
  std::vector<instant> run_afters = ends;
  return {std::move(run_afters), std::move(starts), std::move(ends)};
}

}  // namespace dagcore
