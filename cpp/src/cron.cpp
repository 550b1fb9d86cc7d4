// Cron parsing, wall-time search and zone placement. Design note on zones:
//
// A zone is a sequence of segments of constant UTC offset (time_zone::segment_at). Inside one
// segment wall time and absolute time move together, so the fires of a segment are the
// matching wall times w with w - offset inside it. Two rules decide the wall times at the
// segment edges:
// - fires-at-least-hourly crons (hour `*`) fire at every instant whose wall time matches, so
//   a repeated (fold) range fires in both segments and a skipped (gap) range never: Airflow's
//   "step in absolute time" behaviour, stated as a set so that next/prev mirror each other and
//   do not depend on where a walk started;
// - other crons give each matching wall time exactly one instant: in a fold the second
//   occurrence (so the pre-fold segment leaves the repeated range to the next segment), in a
//   gap the wall time shifted forward by the gap (those instants belong to the post-gap
//   segment, computed with the pre-gap offset).
// next/prev search the segment containing t, then walk segment by segment. between() walks the
// same way but generates the fires inside a segment's interior (away from the gap and fold
// ranges above) with cron_expression::for_each_wall, the wall times minus the segment's offset,
// and takes next() only at the edges (docs/performance.md section 1).
#include "dagcore/cron.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

namespace dagcore {
namespace {

using cctz::civil_day;
using cctz::civil_hour;
using cctz::civil_minute;
using cctz::civil_month;
using cctz::civil_second;
using cctz::civil_year;

constexpr int search_years = 400;  // the Gregorian calendar repeats every 400 years

struct field_spec {
  const char* name;
  int low;
  int high;
};

constexpr field_spec field_specs[5] = {{"minute", 0, 59},
                                       {"hour", 0, 23},
                                       {"day-of-month", 1, 31},
                                       {"month", 1, 12},
                                       {"day-of-week", 0, 7}};

constexpr std::string_view month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) parts.push_back(s.substr(start, i - start));
  }
  return parts;
}

std::string_view preset(std::string_view lowered) {
  if (lowered == "@hourly") return "0 * * * *";
  if (lowered == "@daily" || lowered == "@midnight") return "0 0 * * *";
  if (lowered == "@weekly") return "0 0 * * 0";
  if (lowered == "@monthly") return "0 0 1 * *";
  if (lowered == "@quarterly") return "0 0 1 */3 *";
  if (lowered == "@yearly" || lowered == "@annually") return "0 0 1 1 *";
  return {};
}

// FNV-1a: stable across processes, platforms and releases (std::hash is none of these).
constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int weekday_of(const civil_day& d) noexcept {  // 0 = Sunday
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::sunday:
      return 0;
    case cctz::weekday::monday:
      return 1;
    case cctz::weekday::tuesday:
      return 2;
    case cctz::weekday::wednesday:
      return 3;
    case cctz::weekday::thursday:
      return 4;
    case cctz::weekday::friday:
      return 5;
    case cctz::weekday::saturday:
      return 6;
  }
  return 0;
}

using detail::days_in_month;
using detail::next_bit;

/// The highest set bit at or below `from`, or -1.
template <class Mask>
int prev_bit(Mask mask, int from) noexcept {
  if (from < 0) return -1;
  constexpr int digits = std::numeric_limits<Mask>::digits;
  const Mask kept =
      from >= digits - 1 ? mask : static_cast<Mask>(mask & ((Mask{1} << (from + 1)) - 1));
  return kept == 0 ? -1 : digits - 1 - std::countl_zero(kept);
}

// --- parsing ------------------------------------------------------------------------------------

class parser {
 public:
  parser(std::string_view original, std::string_view hash_key)
      : m_original(original), m_hash_key(hash_key) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw cron_error("[" + std::string(m_original) + "] is not acceptable, " + why);
  }

  [[nodiscard]] int parse_number(std::string_view text, int field) const {
    const field_spec& spec = field_specs[field];
    if (text.empty()) fail(std::string("empty value in the ") + spec.name + " field");
    if (text.front() == '-') {
      fail(std::string("negative numbers not allowed: ") + spec.name + " " + std::string(text));
    }
    int value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size()) return value;
    if (ec == std::errc::result_out_of_range) {
      fail(std::string("out of range: ") + spec.name + " " + std::string(text) + " (allowed " +
           std::to_string(spec.low) + "-" + std::to_string(spec.high) + ")");
    }
    const std::string name = lower(text);
    if (field == 3) {
      for (int i = 0; i < 12; ++i) {
        if (name == month_names[i]) return i + 1;
      }
    } else if (field == 4) {
      for (int i = 0; i < 7; ++i) {
        if (name == day_names[i]) return i;
      }
    }
    fail("unknown name '" + std::string(text) + "' in the " + spec.name + " field");
  }

  void check_range(int value, int field) const {
    const field_spec& spec = field_specs[field];
    if (value < spec.low || value > spec.high) {
      fail(std::string("out of range: ") + spec.name + " " + std::to_string(value) + " (allowed " +
           std::to_string(spec.low) + "-" + std::to_string(spec.high) + ")");
    }
  }

  [[nodiscard]] int parse_step(std::string_view text, int field) const {
    const field_spec& spec = field_specs[field];
    int step = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), step);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      fail(std::string("bad step '") + std::string(text) + "' in the " + spec.name + " field");
    }
    if (step <= 0) fail(std::string("step 0 in the ") + spec.name + " field");
    return step;
  }

  [[nodiscard]] std::uint64_t hashed(int field) const {
    if (m_hash_key.empty()) {
      fail(std::string("H in the ") + field_specs[field].name + " field needs a hash_key");
    }
    return mix(fnv1a(m_hash_key) ^ mix(static_cast<std::uint64_t>(field) + 1));
  }

  /// Adds the values of one comma-separated item to `values` (bit i: value i); returns the
  /// item's text with H resolved.
  std::string parse_item(std::string_view item, int field, std::uint64_t& values,
                         cron_fields& out) const {
    const field_spec& spec = field_specs[field];
    if (item.empty()) fail(std::string("empty item in the ") + spec.name + " field");
    int high_limit = field == 4 ? 6 : spec.high;

    // Specials of day-of-month and day-of-week.
    const std::string lowered = lower(item);
    if (field == 2 && lowered == "l") {
      out.last_day_of_month = true;
      return "L";
    }
    if (field == 4) {
      if (const auto hash = lowered.find('#'); hash != std::string::npos) {
        int day = parse_number(item.substr(0, hash), 4);
        check_range(day, 4);
        day %= 7;
        const std::string_view nth_text = item.substr(hash + 1);
        int nth = 0;
        const auto [ptr, ec] =
            std::from_chars(nth_text.data(), nth_text.data() + nth_text.size(), nth);
        if (ec != std::errc() || ptr != nth_text.data() + nth_text.size() || nth < 1 || nth > 5) {
          fail("invalid day-of-week value '" + std::string(item) + "' (# takes 1-5)");
        }
        out.nth_weekdays[static_cast<std::size_t>(day)] |=
            static_cast<std::uint8_t>(1U << (nth - 1));
        return std::string(item);
      }
      if (lowered.size() > 1 && lowered.back() == 'l') {
        int day = parse_number(item.substr(0, item.size() - 1), 4);
        check_range(day, 4);
        day %= 7;
        out.last_weekdays |= static_cast<std::uint8_t>(1U << day);
        return std::string(item);
      }
    }

    // Split off a step.
    std::string_view range = item;
    int step = 1;
    bool has_step = false;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      step = parse_step(item.substr(slash + 1), field);
      has_step = true;
    }

    int low = spec.low;
    int high = field == 4 ? 6 : spec.high;
    std::string resolved;
    const std::string range_lower = lower(range);
    if (!range_lower.empty() && range_lower[0] == 'h') {
      // Jenkins-style hash: H, H/step, H(a-b), H(a-b)/step.
      int h_low = field == 2 ? 1 : spec.low;
      int h_high = field == 2 ? 28 : high_limit;  // H in day-of-month stays valid every month
      if (range_lower.size() > 1) {
        if (range_lower[1] != '(' || range_lower.back() != ')') {
          fail("bad H form '" + std::string(item) + "' in the " + spec.name + " field");
        }
        const std::string_view inner = range.substr(2, range.size() - 3);
        const auto dash = inner.find('-');
        if (dash == std::string_view::npos) {
          fail("bad H range '" + std::string(item) + "' in the " + spec.name + " field");
        }
        h_low = parse_number(inner.substr(0, dash), field);
        h_high = parse_number(inner.substr(dash + 1), field);
        check_range(h_low, field);
        check_range(h_high, field);
        if (h_low > h_high) fail("range " + std::string(inner) + " is backwards");
      }
      const std::uint64_t h = hashed(field);
      const int span = h_high - h_low + 1;
      if (has_step) {
        const int offset = static_cast<int>(h % static_cast<std::uint64_t>(std::min(step, span)));
        for (int v = h_low + offset; v <= h_high; v += step) {
          values |= std::uint64_t{1} << v;
          resolved += (resolved.empty() ? "" : ",") + std::to_string(v);
        }
      } else {
        const int v = h_low + static_cast<int>(h % static_cast<std::uint64_t>(span));
        values |= std::uint64_t{1} << v;
        resolved = std::to_string(v);
      }
      return resolved;
    }

    if (range == "*" || range == "?") {
      // full range
    } else if (const auto dash = range.find('-', 1); dash != std::string_view::npos) {
      low = parse_number(range.substr(0, dash), field);
      high = parse_number(range.substr(dash + 1), field);
      check_range(low, field);
      check_range(high, field);
      if (field == 4 && high == 0 && low > 0) high = 7;  // "FRI-SUN": Sunday as 7
      if (low > high)
        fail("range " + std::string(range) + " is backwards in the " + spec.name + " field");
    } else {
      low = parse_number(range, field);
      check_range(low, field);
      if (!has_step) high = low;  // "5/15" means 5-max/15
    }
    for (int v = low; v <= high; v += step) {
      values |= std::uint64_t{1} << (field == 4 ? v % 7 : v);
    }
    return std::string(item);
  }

  std::string parse_field(std::string_view text, int field, std::uint64_t& values,
                          cron_fields& out) const {
    std::string resolved;
    for (const std::string_view item : split(text, ',')) {
      if (!resolved.empty()) resolved += ',';
      resolved += parse_item(item, field, values, out);
    }
    return resolved;
  }

 private:
  std::string_view m_original;
  std::string_view m_hash_key;
};

std::uint64_t full_mask(int field) {
  const field_spec& spec = field_specs[field];
  const int high = field == 4 ? 6 : spec.high;
  std::uint64_t mask = 0;
  for (int v = spec.low; v <= high; ++v) mask |= std::uint64_t{1} << v;
  return mask;
}

int single_bit(std::uint64_t mask) noexcept {
  return std::popcount(mask) == 1 ? std::countr_zero(mask) : -1;
}

}  // namespace

// --- cron_expression ----------------------------------------------------------------------------

cron_expression::cron_expression(std::string_view expr, std::string_view hash_key)
    : m_expression(expr) {
  const parser p(expr, hash_key);
  std::string_view text = trim(expr);
  if (text.empty()) p.fail("empty expression");
  const std::string lowered = lower(text);
  if (lowered.front() == '@') {
    text = preset(lowered);
    if (text.empty()) p.fail("unknown preset '" + std::string(trim(expr)) + "'");
  }
  const std::vector<std::string_view> parts = split_whitespace(text);
  if (parts.size() != 5) {
    p.fail("expected 5 fields (minute hour day-of-month month day-of-week), got " +
           std::to_string(parts.size()));
  }
  std::uint64_t masks[5] = {};
  for (int i = 0; i < 5; ++i) {
    if (i) m_resolved += ' ';
    m_resolved += p.parse_field(parts[static_cast<std::size_t>(i)], i, masks[i], m_fields);
  }
  m_fields.minutes = masks[0];
  m_fields.hours = static_cast<std::uint32_t>(masks[1]);
  m_fields.days_of_month = static_cast<std::uint32_t>(masks[2]);
  m_fields.months = static_cast<std::uint16_t>(masks[3]);
  m_fields.days_of_week = static_cast<std::uint8_t>(masks[4]);
  m_fields.hour_wildcard = masks[1] == full_mask(1);
  const bool any_nth = std::any_of(m_fields.nth_weekdays.begin(), m_fields.nth_weekdays.end(),
                                   [](std::uint8_t b) { return b != 0; });
  m_fields.day_of_month_restricted = masks[2] != full_mask(2) || m_fields.last_day_of_month;
  m_fields.day_of_week_restricted =
      masks[4] != full_mask(4) || m_fields.last_weekdays != 0 || any_nth;
  // A day-of-month that no allowed month has would never fire.
  if (m_fields.day_of_month_restricted && !m_fields.day_of_week_restricted &&
      !m_fields.last_day_of_month) {
    bool possible = false;
    for (int month = 1; month <= 12 && !possible; ++month) {
      if (!((m_fields.months >> month) & 1U)) continue;
      const int longest = month == 2 ? 29 : days_in_month(2001, month);
      possible = (m_fields.days_of_month & ((std::uint64_t{1} << (longest + 1)) - 2)) != 0;
    }
    if (!possible) p.fail("no month in the month field has the days in the day-of-month field");
  }

  // Fast-path shapes.
  const bool days_all = !m_fields.day_of_month_restricted && !m_fields.day_of_week_restricted;
  const bool months_all = masks[3] == full_mask(3);
  const int minute = single_bit(masks[0]);
  const int hour = single_bit(masks[1]);
  if (days_all && months_all && m_fields.hour_wildcard && minute < 0) {
    const int first = std::countr_zero(masks[0]);
    const int second = next_bit(masks[0], first + 1);
    const int step = second - first;
    if (second > 0 && 60 % step == 0 && first < step) {
      std::uint64_t expected = 0;
      for (int v = first; v < 60; v += step) expected |= std::uint64_t{1} << v;
      if (expected == masks[0]) {
        m_shape = cron_shape::every_n_minutes;
        m_minute = first;
        m_step = step;
      }
    }
  } else if (minute >= 0 && months_all) {
    m_minute = minute;
    if (days_all && m_fields.hour_wildcard) {
      m_shape = cron_shape::hourly;
    } else if (hour >= 0) {
      m_hour = hour;
      const int dom = single_bit(masks[2]);
      const int dow = single_bit(masks[4]);
      if (days_all) {
        m_shape = cron_shape::daily;
      } else if (!m_fields.day_of_month_restricted && dow >= 0 && m_fields.last_weekdays == 0 &&
                 !any_nth) {
        m_shape = cron_shape::weekly;
        m_weekday = dow;
      } else if (!m_fields.day_of_week_restricted && dom >= 1 && dom <= 28 &&
                 !m_fields.last_day_of_month) {
        m_shape = cron_shape::monthly;
        m_day = dom;
      }
    }
  }
}

bool cron_expression::day_matches(const civil_day& day) const noexcept {
  return day_matches(day.day(), days_in_month(day.year(), day.month()), weekday_of(day));
}

bool cron_expression::day_matches(int d, int dim, int wd) const noexcept {
  const bool dom_ok =
      ((m_fields.days_of_month >> d) & 1U) || (m_fields.last_day_of_month && d == dim);
  const bool dow_ok = ((m_fields.days_of_week >> wd) & 1U) ||
                      (((m_fields.last_weekdays >> wd) & 1U) && d + 7 > dim) ||
                      ((m_fields.nth_weekdays[static_cast<std::size_t>(wd)] >> ((d - 1) / 7)) & 1U);
  if (m_fields.day_of_month_restricted && m_fields.day_of_week_restricted) return dom_ok || dow_ok;
  if (m_fields.day_of_month_restricted) return dom_ok;
  if (m_fields.day_of_week_restricted) return dow_ok;
  return true;
}

bool cron_expression::matches(const civil_second& wall) const noexcept {
  return wall.second() == 0 && ((m_fields.minutes >> wall.minute()) & 1U) &&
         ((m_fields.hours >> wall.hour()) & 1U) && ((m_fields.months >> wall.month()) & 1U) &&
         day_matches(civil_day(wall));
}

std::optional<civil_second> cron_expression::next_general(const local_time& wall) const noexcept {
  civil_minute m = civil_minute(wall.civil) + 1;
  const std::int64_t limit = wall.civil.year() + search_years;
  while (m.year() <= limit) {
    const int month = m.month();
    if (!((m_fields.months >> month) & 1U)) {
      const int nm = next_bit(m_fields.months, month + 1);
      m = nm > 0 ? civil_minute(m.year(), nm, 1, 0, 0)
                 : civil_minute(m.year() + 1, std::countr_zero(m_fields.months), 1, 0, 0);
      continue;
    }
    if (!day_matches(civil_day(m))) {
      m = civil_minute(civil_day(m) + 1);
      continue;
    }
    const int hour = m.hour();
    if (!((m_fields.hours >> hour) & 1U)) {
      const int nh = next_bit(m_fields.hours, hour + 1);
      m = nh >= 0 ? civil_minute(m.year(), m.month(), m.day(), nh, 0)
                  : civil_minute(civil_day(m) + 1);
      continue;
    }
    const int minute = m.minute();
    if (!((m_fields.minutes >> minute) & 1U)) {
      const int nmin = next_bit(m_fields.minutes, minute + 1);
      m = nmin >= 0 ? civil_minute(m.year(), m.month(), m.day(), hour, nmin)
                    : civil_minute(civil_hour(m) + 1);
      continue;
    }
    return civil_second(m);
  }
  return std::nullopt;
}

std::optional<civil_second> cron_expression::prev_general(const local_time& wall) const noexcept {
  auto m = civil_minute(wall.civil);
  if (wall.civil.second() == 0 && wall.micros == 0) m -= 1;
  const std::int64_t limit = wall.civil.year() - search_years;
  while (m.year() >= limit) {
    const int month = m.month();
    if (!((m_fields.months >> month) & 1U)) {
      const int pm = prev_bit(m_fields.months, month - 1);
      const civil_month target = pm > 0 ? civil_month(m.year(), pm)
                                        : civil_month(m.year() - 1, prev_bit(m_fields.months, 12));
      m = civil_minute(civil_day(target + 1) - 1) + (23 * 60 + 59);
      continue;
    }
    if (!day_matches(civil_day(m))) {
      m = civil_minute(civil_day(m)) - 1;
      continue;
    }
    const int hour = m.hour();
    if (!((m_fields.hours >> hour) & 1U)) {
      const int ph = prev_bit(m_fields.hours, hour - 1);
      m = ph >= 0 ? civil_minute(m.year(), m.month(), m.day(), ph, 59)
                  : civil_minute(civil_day(m)) - 1;
      continue;
    }
    const int minute = m.minute();
    if (!((m_fields.minutes >> minute) & 1U)) {
      const int pmin = prev_bit(m_fields.minutes, minute - 1);
      m = pmin >= 0 ? civil_minute(m.year(), m.month(), m.day(), hour, pmin)
                    : civil_minute(civil_hour(m)) - 1;
      continue;
    }
    return civil_second(m);
  }
  return std::nullopt;
}

std::optional<civil_second> cron_expression::next(const local_time& wall) const noexcept {
  const civil_minute start = civil_minute(wall.civil) + 1;  // the first minute strictly after
  switch (m_shape) {
    case cron_shape::general:
      return next_general(wall);
    case cron_shape::every_n_minutes: {
      const int ahead = ((m_minute - start.minute()) % m_step + m_step) % m_step;
      return civil_second(start + ahead);
    }
    case cron_shape::hourly: {
      civil_minute c(start.year(), start.month(), start.day(), start.hour(), m_minute);
      if (c < start) c = civil_minute(civil_hour(c) + 1) + m_minute;
      return civil_second(c);
    }
    case cron_shape::daily: {
      civil_minute c = civil_minute(civil_day(start)) + (m_hour * 60 + m_minute);
      if (c < start) c = civil_minute(civil_day(start) + 1) + (m_hour * 60 + m_minute);
      return civil_second(c);
    }
    case cron_shape::weekly: {
      const civil_day today(start);
      const civil_day day = today + (m_weekday - weekday_of(today) + 7) % 7;
      civil_minute c = civil_minute(day) + (m_hour * 60 + m_minute);
      if (c < start) c = civil_minute(day + 7) + (m_hour * 60 + m_minute);
      return civil_second(c);
    }
    case cron_shape::monthly: {
      civil_minute c(start.year(), start.month(), m_day, m_hour, m_minute);
      if (c < start)
        c = civil_minute(civil_day(civil_month(start) + 1) + (m_day - 1)) +
            (m_hour * 60 + m_minute);
      return civil_second(c);
    }
  }
  return next_general(wall);
}

std::optional<civil_second> cron_expression::prev(const local_time& wall) const noexcept {
  auto end = civil_minute(wall.civil);  // the last minute strictly before
  if (wall.civil.second() == 0 && wall.micros == 0) end -= 1;
  switch (m_shape) {
    case cron_shape::general:
      return prev_general(wall);
    case cron_shape::every_n_minutes: {
      const int back = ((end.minute() - m_minute) % m_step + m_step) % m_step;
      return civil_second(end - back);
    }
    case cron_shape::hourly: {
      civil_minute c(end.year(), end.month(), end.day(), end.hour(), m_minute);
      if (c > end) c = civil_minute(civil_hour(c) - 1) + m_minute;
      return civil_second(c);
    }
    case cron_shape::daily: {
      civil_minute c = civil_minute(civil_day(end)) + (m_hour * 60 + m_minute);
      if (c > end) c = civil_minute(civil_day(end) - 1) + (m_hour * 60 + m_minute);
      return civil_second(c);
    }
    case cron_shape::weekly: {
      const civil_day today(end);
      const civil_day day = today - (weekday_of(today) - m_weekday + 7) % 7;
      civil_minute c = civil_minute(day) + (m_hour * 60 + m_minute);
      if (c > end) c = civil_minute(day - 7) + (m_hour * 60 + m_minute);
      return civil_second(c);
    }
    case cron_shape::monthly: {
      civil_minute c(end.year(), end.month(), m_day, m_hour, m_minute);
      if (c > end)
        c = civil_minute(civil_day(civil_month(end) - 1) + (m_day - 1)) + (m_hour * 60 + m_minute);
      return civil_second(c);
    }
  }
  return prev_general(wall);
}

// --- cron_schedule ------------------------------------------------------------------------------

namespace {

local_time wall_of(instant utc_plus_offset) { return utc_local(utc_plus_offset); }

/// Wall-time ranges at a segment's edges under the per-wall-time rule (non-hourly crons).
struct segment_edges {
  // Walls in [excluded_from, excluded_to) belong to the next segment (a fold at `end`).
  instant excluded_from = instant_max;
  instant excluded_to = instant_max;
  // Walls in [gap_from, gap_to) are skipped wall times placed in this segment with
  // offset_before (a gap at `start`).
  instant gap_from = instant_max;
  instant gap_to = instant_max;
};

segment_edges edges_of(const zone_segment& seg) {
  segment_edges e;
  if (seg.end < instant_max && seg.offset_after < seg.offset) {
    e.excluded_from = seg.end + seg.offset_after;
    e.excluded_to = seg.end + seg.offset;
  }
  if (seg.start > instant_min && seg.offset_before < seg.offset) {
    e.gap_from = seg.start + seg.offset_before;
    e.gap_to = seg.start + seg.offset;
  }
  return e;
}

}  // namespace

cron_schedule::cron_schedule(cron_expression expr, time_zone zone)
    : m_expr(std::move(expr)), m_zone(std::move(zone)) {
  if (m_zone.is_fixed()) {
    if (m_expr.shape() == cron_shape::every_n_minutes) {
      const auto& f = m_expr.fields();
      const int first = std::countr_zero(f.minutes);
      const int second = next_bit(f.minutes, first + 1);
      m_stride = (second > 0 ? second - first : 60) * micros_per_minute;
    } else if (m_expr.shape() == cron_shape::hourly) {
      m_stride = micros_per_hour;
    }
  }
}

namespace {

/// The first matching wall time (as UTC-civil microseconds) at or after `from`.
std::optional<instant> first_wall_at_or_after(const cron_expression& expr, instant from) {
  const auto w = expr.next(wall_of(from - 1));
  if (!w) return std::nullopt;
  return utc_instant(*w);
}

/// The last matching wall time strictly before `to`.
std::optional<instant> last_wall_before(const cron_expression& expr, instant to) {
  const auto w = expr.prev(wall_of(to));
  if (!w) return std::nullopt;
  return utc_instant(*w);
}

}  // namespace

std::optional<instant> cron_schedule::next_in_segment(const zone_segment& seg, instant t,
                                                      bool& exhausted) const {
  const bool every_wall = m_expr.fires_at_least_hourly();
  std::optional<instant> best;
  const instant lower = std::max(t + 1, seg.start);  // instants considered: [lower, seg.end)
  const segment_edges edges = every_wall ? segment_edges{} : edges_of(seg);
  // Regular walls of this segment.
  std::optional<instant> w = first_wall_at_or_after(m_expr, lower + seg.offset);
  while (w && *w >= edges.excluded_from && *w < edges.excluded_to) {
    w = first_wall_at_or_after(m_expr, edges.excluded_to);
  }
  if (w && *w - seg.offset < seg.end) best = *w - seg.offset;
  // Skipped walls placed at the start of this segment.
  if (edges.gap_from < instant_max) {
    const auto g =
        first_wall_at_or_after(m_expr, std::max(edges.gap_from, lower + seg.offset_before));
    if (g && *g < edges.gap_to) {
      const instant c = *g - seg.offset_before;
      if (!best || c < *best) best = c;
    }
  }
  exhausted = !w;
  return best;
}

std::optional<instant> cron_schedule::prev_in_segment(const zone_segment& seg, instant t,
                                                      bool& exhausted) const {
  const bool every_wall = m_expr.fires_at_least_hourly();
  std::optional<instant> best;
  const instant upper = std::min(t, seg.end);  // instants considered: [seg.start, upper)
  const segment_edges edges = every_wall ? segment_edges{} : edges_of(seg);
  std::optional<instant> w = last_wall_before(m_expr, upper + seg.offset);
  while (w && *w >= edges.excluded_from && *w < edges.excluded_to) {
    w = last_wall_before(m_expr, edges.excluded_from);
  }
  if (w && *w - seg.offset >= seg.start) best = *w - seg.offset;
  if (edges.gap_from < instant_max) {
    const auto g = last_wall_before(m_expr, std::min(edges.gap_to, upper + seg.offset_before));
    if (g && *g >= edges.gap_from) {
      const instant c = *g - seg.offset_before;
      if (!best || c > *best) best = c;
    }
  }
  exhausted = !w;
  return best;
}

std::optional<instant> cron_schedule::next_from(zone_segment& seg, instant t) const {
  for (int hops = 0; hops < 4 * search_years; ++hops) {
    bool exhausted = false;
    if (auto found = next_in_segment(seg, t, exhausted)) return found;
    if (exhausted || seg.end >= instant_max) return std::nullopt;
    seg = m_zone.segment_at(seg.end);
  }
  return std::nullopt;
}

std::optional<instant> cron_schedule::next(instant t) const {
  zone_segment seg = m_zone.segment_at(t);
  return next_from(seg, t);
}

std::optional<instant> cron_schedule::prev(instant t) const {
  zone_segment seg = m_zone.segment_at(t - 1);
  for (int hops = 0; hops < 4 * search_years; ++hops) {
    bool exhausted = false;
    if (auto found = prev_in_segment(seg, t, exhausted)) return found;
    if (exhausted || seg.start <= instant_min) return std::nullopt;
    seg = m_zone.segment_at(seg.start - 1);
  }
  return std::nullopt;
}

bool cron_schedule::matches(instant t) const {
  const auto p = prev(t + 1);
  return p && *p == t;
}

std::optional<instant> cron_schedule::align_to_next(instant t) const {
  if (matches(t)) return t;
  return next(t);
}

std::optional<instant> cron_schedule::align_to_prev(instant t) const {
  if (matches(t)) return t;
  return prev(t);
}

namespace {

/// The instants of `seg` where next() is "the next matching wall time minus the offset": all of
/// it for fires-at-least-hourly crons; for the others, without the instants a gap's shifted
/// wall times can land on (the first `offset - offset_before` of a segment that starts with a
/// gap) and the instants whose wall times repeat in the next segment (the last
/// `offset - offset_after` of a segment that ends with a fold). See segment_edges.
struct segment_interior {
  instant lo;
  instant hi;
};

segment_interior interior_of(const zone_segment& seg, bool every_wall) {
  segment_interior in{seg.start, seg.end};
  if (every_wall) return in;
  if (seg.start > instant_min && seg.offset_before < seg.offset) {
    in.lo += seg.offset - seg.offset_before;
  }
  if (seg.end < instant_max && seg.offset_after < seg.offset) {
    in.hi -= seg.offset - seg.offset_after;
  }
  return in;
}

}  // namespace

template <class Sink>
void cron_schedule::for_each_between(instant start, instant end, Sink&& sink) const {
  std::optional<instant> t = align_to_next(start);
  if (m_stride > 0) {
    for (instant v = t ? *t : end + 1; v <= end; v += m_stride) sink(v);
    return;
  }
  if (!t || *t > end) return;
  // The walk is Airflow's iteration (next() of each fire), with next() inside a segment's
  // interior replaced by the wall-time walk it reduces to there: if t is in the interior (or
  // just before it), next_in_segment finds no gap fire and no excluded fold wall, so next(t) is
  // the first matching wall w >= t + 1 + offset, as w - offset, as long as that is < hi.
  // Everything else (the edges of a segment, the step into the next one) is next_from itself.
  // One segment lookup per offset change, not per fire.
  const bool every_wall = m_expr.fires_at_least_hourly();
  zone_segment seg = m_zone.segment_at(*t);
  instant cur = *t;
  sink(cur);
  for (;;) {
    const segment_interior in = interior_of(seg, every_wall);
    if (cur >= in.lo - 1 && cur < in.hi) {
      const instant stop = end < in.hi ? end + 1 : in.hi;  // instants [cur + 1, stop)
      const std::int64_t offset = seg.offset;
      m_expr.for_each_wall(cur + 1 + offset, stop + offset, [&](instant w) {
        cur = w - offset;
        sink(cur);
      });
    }
    t = next_from(seg, cur);
    if (!t || *t > end) return;
    cur = *t;
    sink(cur);
  }
}

std::uint64_t cron_schedule::count_between(instant start, instant end) const {
  if (end < start) return 0;
  if (m_stride > 0) {
    const std::optional<instant> first = align_to_next(start);
    if (!first || *first > end) return 0;
    return static_cast<std::uint64_t>((end - *first) / m_stride) + 1;
  }
  std::uint64_t n = 0;
  for_each_between(start, end, [&](instant) { ++n; });
  return n;
}

namespace {

[[noreturn]] void too_many_runs(std::uint64_t n, std::uint64_t max_runs) {
  throw std::length_error("the range holds " + std::to_string(n) +
                          " runs, more than max_runs=" + std::to_string(max_runs));
}

}  // namespace

std::vector<instant> cron_schedule::between(instant start, instant end,
                                            std::uint64_t max_runs) const {
  std::vector<instant> out;
  if (m_stride > 0) {  // a closed-form count: exact allocation up front
    const std::uint64_t n = count_between(start, end);
    if (n > max_runs) too_many_runs(n, max_runs);
    out.reserve(n);
    for_each_between(start, end, [&](instant v) { out.push_back(v); });
    return out;
  }
  // One walk: keep at most max_runs fires, count the rest for the error message.
  std::uint64_t n = 0;
  for_each_between(start, end, [&](instant v) {
    if (++n <= max_runs) out.push_back(v);
  });
  if (n > max_runs) too_many_runs(n, max_runs);
  return out;
}

std::vector<instant> cron_schedule::between_per_date(instant start, instant end,
                                                     std::uint64_t max_runs) const {
  std::vector<instant> out;
  std::uint64_t n = 0;
  std::optional<instant> t = align_to_next(start);
  zone_segment seg = m_zone.segment_at(t ? *t : end);
  while (t && *t <= end) {
    if (++n <= max_runs) out.push_back(*t);
    t = next_from(seg, *t);
  }
  if (n > max_runs) too_many_runs(n, max_runs);
  return out;
}

}  // namespace dagcore
