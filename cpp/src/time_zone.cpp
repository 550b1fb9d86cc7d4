#include "dagcore/time_zone.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

namespace dagcore {
namespace {

using seconds_point = cctz::time_point<cctz::seconds>;

seconds_point to_seconds_point(std::int64_t seconds) {
  return seconds_point(cctz::seconds(seconds));
}

std::int64_t seconds_of(const seconds_point& tp) noexcept { return tp.time_since_epoch().count(); }

instant clamp_instant(std::int64_t seconds) noexcept {
  constexpr std::int64_t limit = instant_max / micros_per_second;
  if (seconds >= limit) return instant_max;
  if (seconds <= -limit) return instant_min;
  return seconds * micros_per_second;
}

}  // namespace

local_time utc_local(instant t) noexcept {
  const std::int64_t days = floor_div(t, micros_per_day);
  std::int64_t rest = t - days * micros_per_day;
  std::int64_t y = 0;
  int m = 0;
  int d = 0;
  civil_from_days(days, y, m, d);
  const auto hour = static_cast<int>(rest / micros_per_hour);
  rest %= micros_per_hour;
  const auto minute = static_cast<int>(rest / micros_per_minute);
  rest %= micros_per_minute;
  const auto second = static_cast<int>(rest / micros_per_second);
  return {cctz::civil_second(y, m, d, hour, minute, second), rest % micros_per_second};
}

instant utc_instant(const cctz::civil_second& wall) noexcept {
  return days_from_civil(wall.year(), wall.month(), wall.day()) * micros_per_day +
         wall.hour() * micros_per_hour + wall.minute() * micros_per_minute +
         wall.second() * micros_per_second;
}

time_zone::time_zone() : time_zone("UTC", cctz::utc_time_zone()) {}

time_zone::time_zone(std::string name, cctz::time_zone zone)
    : m_name(std::move(name)), m_zone(zone) {
  cctz::time_zone::civil_transition trans;
  m_fixed = !m_zone.next_transition(seconds_point::min(), &trans);
  m_offset = m_zone.lookup(to_seconds_point(0)).offset;
}

time_zone time_zone::load(std::string_view name) {
  // Airflow's [core] default_timezone is spelled "utc"; the database only knows "UTC".
  if (name.size() == 3 && (name[0] | 0x20) == 'u' && (name[1] | 0x20) == 't' &&
      (name[2] | 0x20) == 'c') {
    return {};
  }
  cctz::time_zone zone;
  if (name.empty() || !cctz::load_time_zone(std::string(name), &zone)) {
    throw std::invalid_argument("unknown time zone '" + std::string(name) + "'");
  }
  return {std::string(name), zone};
}

local_time time_zone::to_local(instant t) const {
  if (m_fixed) return utc_local(t + m_offset * micros_per_second);
  const std::int64_t seconds = floor_div(t, micros_per_second);
  return {cctz::convert(to_seconds_point(seconds), m_zone), t - seconds * micros_per_second};
}

std::int64_t time_zone::offset_at(instant t) const {
  if (m_fixed) return m_offset;
  return m_zone.lookup(to_seconds_point(floor_div(t, micros_per_second))).offset;
}

zone_segment time_zone::segment_at(instant t) const {
  const std::int64_t here = offset_at(t) * micros_per_second;
  zone_segment seg{instant_min, instant_max, here, here, here};
  if (m_fixed) return seg;
  const std::int64_t seconds = floor_div(t, micros_per_second);
  cctz::time_zone::civil_transition trans;
  // Transitions fall on whole seconds: the last one at or before t, the first one after t.
  if (m_zone.prev_transition(to_seconds_point(seconds + 1), &trans)) {
    seg.start = clamp_instant(seconds_of(m_zone.lookup(trans.to).trans));
    if (seg.start > instant_min) seg.offset_before = offset_at(seg.start - 1) * micros_per_second;
  }
  if (m_zone.next_transition(to_seconds_point(seconds), &trans)) {
    seg.end = clamp_instant(seconds_of(m_zone.lookup(trans.to).trans));
    if (seg.end < instant_max) seg.offset_after = offset_at(seg.end) * micros_per_second;
  }
  return seg;
}

}  // namespace dagcore
