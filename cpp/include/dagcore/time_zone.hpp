// Instants and time zones as the schedule engine sees them.
//
// An instant is an int64 count of microseconds since the Unix epoch, UTC: that is how times
// cross the Python boundary (DESIGN.md) and how run infos are stored in bulk. Local ("wall",
// "civil") times are cctz civil times plus a microsecond part. Zone rules come from the system
// database through cctz, which is correct for gaps, folds and dates after 2037.
//
// Thread safety: a time_zone is an immutable value; copies share cctz's cached rules.
#pragma once

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dagcore {

/// Microseconds since 1970-01-01T00:00:00Z.
using instant = std::int64_t;

inline constexpr instant micros_per_second = 1'000'000;
inline constexpr instant micros_per_minute = 60 * micros_per_second;
inline constexpr instant micros_per_hour = 60 * micros_per_minute;
inline constexpr instant micros_per_day = 24 * micros_per_hour;

/// A local wall time to the microsecond.
struct local_time {
  cctz::civil_second civil;
  std::int64_t micros = 0;  // 0..999'999

  friend bool operator==(const local_time&, const local_time&) = default;
};

/// A stretch of time with one UTC offset: [start, end). Offsets are in microseconds.
struct zone_segment {
  instant start;
  instant end;
  std::int64_t offset;
  std::int64_t offset_before;  // the offset just before `start` (== offset if none)
  std::int64_t offset_after;   // the offset from `end` on (== offset if none)
};

/// Far-away bounds used for "no transition" (kept well inside int64 so sums cannot overflow).
inline constexpr instant instant_min = -(instant{1} << 61);
inline constexpr instant instant_max = instant{1} << 61;

/// A time zone from the system database (or a fixed offset such as UTC).
class time_zone {
 public:
  /// UTC.
  time_zone();

  /// Loads `name` ("UTC", "Europe/Amsterdam", "+05:30" style fixed offsets are not accepted).
  /// Throws std::invalid_argument naming the zone if the database does not know it.
  static time_zone load(std::string_view name);

  [[nodiscard]] const std::string& name() const noexcept { return m_name; }
  [[nodiscard]] const cctz::time_zone& impl() const noexcept { return m_zone; }
  /// True when the zone never changes its offset (UTC, Asia/Kolkata today is not: history).
  [[nodiscard]] bool is_fixed() const noexcept { return m_fixed; }
  [[nodiscard]] std::int64_t fixed_offset_seconds() const noexcept { return m_offset; }

  [[nodiscard]] local_time to_local(instant t) const;
  /// The UTC offset in force at `t`, in seconds.
  [[nodiscard]] std::int64_t offset_at(instant t) const;
  /// The segment of constant offset that contains `t`.
  [[nodiscard]] zone_segment segment_at(instant t) const;

  friend bool operator==(const time_zone& a, const time_zone& b) noexcept {
    return a.m_name == b.m_name;
  }

 private:
  time_zone(std::string name, cctz::time_zone zone);

  std::string m_name;
  cctz::time_zone m_zone;
  bool m_fixed = true;
  std::int64_t m_offset = 0;
};

/// floor(a / b) for b > 0 (C++ division truncates toward zero).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/// The civil date `z` days after 1970-01-01 (the inverse of days_from_civil).
constexpr void civil_from_days(std::int64_t z, std::int64_t& y, int& m, int& d) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = yoe + era * 400 + (m <= 2);
}

/// The weekday of the day `z` days after 1970-01-01 (a Thursday), 0 = Sunday.
constexpr int weekday_from_days(std::int64_t z) noexcept {
  return static_cast<int>((z % 7 + 11) % 7);
}

/// UTC civil time of an instant (fast path without cctz).
local_time utc_local(instant t) noexcept;
/// The instant of a UTC civil time.
instant utc_instant(const cctz::civil_second& wall) noexcept;

}  // namespace dagcore
