// libFuzzer target for the cron parser and the schedule engine (`make fuzz`).
//
// Input: "<expression>\n<hash key>\n<tail>". The first line is the expression, the second the
// hash key (both may be empty; without a newline the whole input is the expression). Parsing may
// only fail with dagcore::cron_error: any other exception escaping, a crash or a sanitizer report
// is a finding. The optional binary tail picks the instants probed, 4 bytes each (an anchor near
// a DST transition of the zones below, a leap day, the epoch, 2038..., plus a signed offset of up
// to ~97 days in seconds); without a tail a hash of the input picks them, so plain-text seeds
// explore too.
//
// Each check is a promise of cron.hpp; a violation calls __builtin_trap() so that libFuzzer keeps
// the input. Wall time (cron_expression), for every probe:
//   - next(w) > w and prev(w) < w, on a whole minute, and both match();
//   - the fast paths answer as the general search does (next == next_general, prev == ...);
//   - no fire is skipped: prev(next(w)) <= w and next(prev(w)) >= w;
//   - a matching minute m is next(m - 1 s) and prev(m + 1 s);
//   - parsing is deterministic, and resolved() (no `H` left) parses, without a hash key, to the
//     same fields.
// Instants (cron_schedule in UTC, Europe/Zurich and Australia/Lord_Howe with its 30-minute shift):
//   - next(t) > t and prev(t) < t ("strictly");
//   - align_to_next(t) is t if prev(next(t)) == t, else next(t); align_to_prev(t) is t or prev(t);
//   - between(s, e) is Airflow's iteration: align_to_next(s), then next() of each, while <= e; it
//     has count_between(s, e) elements and throws std::length_error when max_runs is one short;
//   - in UTC the schedule answers what the wall-time expression answers;
//   - prev(next(t)) <= t and next(prev(t)) >= t when no offset change is near. Near one, Airflow's
//     rules (fold=1 placement, gap shifting, absolute steps over Lord Howe's 30-minute shift) do
//     not promise this round trip, so it is not asserted there.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dagcore/cron.hpp"
#include "dagcore/time_zone.hpp"

namespace {

using dagcore::cron_error;
using dagcore::cron_expression;
using dagcore::cron_schedule;
using dagcore::instant;
using dagcore::local_time;
using dagcore::micros_per_day;
using dagcore::micros_per_second;
using dagcore::time_zone;

#define DAGCORE_FUZZ_CHECK(cond)   \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (false)

// Seconds since the epoch, UTC, that the probes start from.
constexpr std::array<std::int64_t, 12> anchor_seconds = {
    0,           // 1970-01-01T00:00:00Z
    -1,          // one second before the epoch: negative instants
    946684800,   // 2000-01-01T00:00:00Z
    1679792400,  // 2023-03-26T01:00:00Z Europe/Zurich springs forward (+01:00 -> +02:00)
    1698541200,  // 2023-10-29T01:00:00Z Europe/Zurich falls back (+02:00 -> +01:00)
    1680361200,  // 2023-04-01T15:00:00Z Lord Howe falls back 30 min (+11:00 -> +10:30)
    1696087800,  // 2023-09-30T15:30:00Z Lord Howe springs forward 30 min (+10:30 -> +11:00)
    1709164800,  // 2024-02-29T00:00:00Z leap day
    1711846800,  // 2024-03-31T01:00:00Z Europe/Zurich springs forward
    1729990800,  // 2024-10-27T01:00:00Z Europe/Zurich falls back
    2147483648,  // 2038-01-19T03:14:08Z one past the 32-bit time_t range
    4102444799,  // 2099-12-31T23:59:59Z
};

constexpr std::size_t max_probes = 6;

struct zones {
  time_zone utc = time_zone();
  time_zone zurich = time_zone::load("Europe/Zurich");
  time_zone lord_howe = time_zone::load("Australia/Lord_Howe");
};

const zones& the_zones() {
  static const zones z;  // loaded once; cctz caches the rules
  return z;
}

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
  std::uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < size; ++i) {
    h = (h ^ data[i]) * 1099511628211ULL;
  }
  return h;
}

/// One probe instant from 4 selector bytes: an anchor, an offset in seconds, half a second or not.
instant probe_from(std::uint8_t b0, std::uint8_t b1, std::uint8_t b2, std::uint8_t b3) {
  const std::int64_t anchor = anchor_seconds[(b0 & 0x7F) % anchor_seconds.size()];
  const std::int64_t raw = static_cast<std::int64_t>(b1) | (static_cast<std::int64_t>(b2) << 8) |
                           (static_cast<std::int64_t>(b3) << 16);
  const std::int64_t offset = raw - (std::int64_t{1} << 23);  // about +-97 days
  const instant micros = (b0 & 0x80) != 0 ? 500'000 : 0;
  return (anchor + offset) * micros_per_second + micros;
}

std::vector<instant> probes(const std::uint8_t* data, std::size_t size, std::size_t tail_at) {
  std::vector<instant> out;
  for (std::size_t i = tail_at; i + 4 <= size && out.size() < max_probes; i += 4) {
    out.push_back(probe_from(data[i], data[i + 1], data[i + 2], data[i + 3]));
  }
  if (out.empty()) {
    // No tail: the exact anchors near the transitions, and two points derived from the input.
    out.push_back(anchor_seconds[3] * micros_per_second);  // Zurich spring forward
    out.push_back(anchor_seconds[6] * micros_per_second);  // Lord Howe spring forward
    std::uint64_t h = fnv1a(data, size);
    for (int i = 0; i < 2; ++i) {
      out.push_back(probe_from(static_cast<std::uint8_t>(h), static_cast<std::uint8_t>(h >> 8),
                               static_cast<std::uint8_t>(h >> 16),
                               static_cast<std::uint8_t>(h >> 24)));
      h >>= 32;
    }
  }
  return out;
}

/// Microseconds from an arbitrary origin, to compare local times and fire times on one axis.
std::int64_t wall_micros(const cctz::civil_second& c, std::int64_t micros = 0) {
  return (c - cctz::civil_second()) * micros_per_second + micros;
}
std::int64_t wall_micros(const local_time& w) { return wall_micros(w.civil, w.micros); }

bool same_fields(const dagcore::cron_fields& a, const dagcore::cron_fields& b) {
  return a.minutes == b.minutes && a.hours == b.hours && a.days_of_month == b.days_of_month &&
         a.months == b.months && a.days_of_week == b.days_of_week &&
         a.last_day_of_month == b.last_day_of_month && a.last_weekdays == b.last_weekdays &&
         a.nth_weekdays == b.nth_weekdays &&
         a.day_of_month_restricted == b.day_of_month_restricted &&
         a.day_of_week_restricted == b.day_of_week_restricted && a.hour_wildcard == b.hour_wildcard;
}

void check_wall(const cron_expression& expr, const local_time& w) {
  const std::int64_t at = wall_micros(w);
  const auto next = expr.next(w);
  const auto prev = expr.prev(w);
  DAGCORE_FUZZ_CHECK(expr.next_general(w) == next);
  DAGCORE_FUZZ_CHECK(expr.prev_general(w) == prev);
  if (next) {
    DAGCORE_FUZZ_CHECK(wall_micros(*next) > at);
    DAGCORE_FUZZ_CHECK(next->second() == 0);
    DAGCORE_FUZZ_CHECK(expr.matches(*next));
    if (const auto back = expr.prev(local_time{*next, 0})) {
      DAGCORE_FUZZ_CHECK(wall_micros(*back) <= at);  // nothing fires in (w, next)
    }
  }
  if (prev) {
    DAGCORE_FUZZ_CHECK(wall_micros(*prev) < at);
    DAGCORE_FUZZ_CHECK(prev->second() == 0);
    DAGCORE_FUZZ_CHECK(expr.matches(*prev));
    if (const auto forward = expr.next(local_time{*prev, 0})) {
      DAGCORE_FUZZ_CHECK(wall_micros(*forward) >= at);  // nothing fires in (prev, w)
    }
  }
  const cctz::civil_minute minute(w.civil);
  const cctz::civil_second m(minute);
  if (expr.matches(m)) {
    DAGCORE_FUZZ_CHECK(expr.next(local_time{m - 1, 0}) == m);
    DAGCORE_FUZZ_CHECK(expr.prev(local_time{m + 1, 0}) == m);
  }
}

/// True when `zone`'s UTC offset cannot change within [a - 1 day, b + 1 day]: the offsets at both
/// ends agree and the window is shorter than the ~5 months between these zones' transitions.
bool quiet(const time_zone& zone, instant a, instant b) {
  if (zone.is_fixed()) return true;
  const instant lo = std::min(a, b) - micros_per_day;
  const instant hi = std::max(a, b) + micros_per_day;
  return hi - lo <= 120 * micros_per_day && zone.offset_at(lo) == zone.offset_at(hi);
}

void check_between(const cron_schedule& s, instant start, instant end) {
  const std::vector<instant> fires = s.between(start, end);
  const std::uint64_t count = s.count_between(start, end);
  DAGCORE_FUZZ_CHECK(fires.size() == count);
  // Airflow's iteration (TimeRestriction(start, end, catchup=True)): align, then next().
  std::optional<instant> expected = s.align_to_next(start);
  for (const instant f : fires) {
    DAGCORE_FUZZ_CHECK(expected.has_value() && *expected == f);
    DAGCORE_FUZZ_CHECK(f >= start && f <= end);
    expected = s.next(f);
  }
  DAGCORE_FUZZ_CHECK(!expected.has_value() || *expected > end);
  if (count > 0) {
    bool threw = false;
    try {
      (void)s.between(start, end, count - 1);
    } catch (const std::length_error&) {
      threw = true;
    }
    DAGCORE_FUZZ_CHECK(threw);
  }
}

void check_schedule(const cron_schedule& s, instant t, bool with_between) {
  const auto next = s.next(t);
  const auto prev = s.prev(t);
  const time_zone& zone = s.zone();
  if (next) {
    DAGCORE_FUZZ_CHECK(*next > t);
    const auto back = s.prev(*next);
    if (back && quiet(zone, std::min(*back, t), *next)) {
      DAGCORE_FUZZ_CHECK(*back <= t);
    }
  }
  if (prev) {
    DAGCORE_FUZZ_CHECK(*prev < t);
    const auto forward = s.next(*prev);
    if (forward && quiet(zone, *prev, std::max(*forward, t))) {
      DAGCORE_FUZZ_CHECK(*forward >= t);
    }
  }
  const auto up = s.align_to_next(t);
  if (next && s.prev(*next) == t) {
    DAGCORE_FUZZ_CHECK(up == t);
  } else {
    DAGCORE_FUZZ_CHECK(up == next);
  }
  const auto down = s.align_to_prev(t);
  DAGCORE_FUZZ_CHECK(down == t || down == prev);
  if (zone.is_fixed() && zone.fixed_offset_seconds() == 0) {
    // UTC: no folds or gaps, so both of Airflow's rules reduce to the wall-time answer.
    const local_time w = dagcore::utc_local(t);
    const auto wall_next = s.expression().next(w);
    const auto wall_prev = s.expression().prev(w);
    DAGCORE_FUZZ_CHECK(next.has_value() == wall_next.has_value());
    DAGCORE_FUZZ_CHECK(!next || *next == dagcore::utc_instant(*wall_next));
    DAGCORE_FUZZ_CHECK(prev.has_value() == wall_prev.has_value());
    DAGCORE_FUZZ_CHECK(!prev || *prev == dagcore::utc_instant(*wall_prev));
    DAGCORE_FUZZ_CHECK(!next || s.matches(*next));
  }
  if (with_between) {
    // A day and a bit: up to ~1,500 fires for "* * * * *", enough to cross a transition.
    const instant span = micros_per_day + (t % 3'600'000'000 + 3'600'000'000) % 3'600'000'000;
    check_between(s, t, t + span);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t first_nl = input.find('\n');
  const std::string_view expr_text = input.substr(0, first_nl);
  std::string_view key;
  std::size_t tail_at = size;
  if (first_nl != std::string_view::npos) {
    const std::size_t second_nl = input.find('\n', first_nl + 1);
    key =
        input.substr(first_nl + 1, second_nl == std::string_view::npos ? std::string_view::npos
                                                                       : second_nl - first_nl - 1);
    if (second_nl != std::string_view::npos) tail_at = second_nl + 1;
  }

  std::optional<cron_expression> parsed;
  try {
    parsed.emplace(expr_text, key);
  } catch (const cron_error&) {
    return 0;  // rejected with the promised error type: fine
  }
  const cron_expression& expr = *parsed;

  // Deterministic, and the resolved form is a plain cron that means the same.
  const cron_expression again(expr_text, key);
  DAGCORE_FUZZ_CHECK(again.resolved() == expr.resolved());
  DAGCORE_FUZZ_CHECK(same_fields(again.fields(), expr.fields()));
  DAGCORE_FUZZ_CHECK(expr.expression() == expr_text);
  std::optional<cron_expression> reparsed;
  try {
    reparsed.emplace(expr.resolved());
  } catch (const cron_error&) {
    __builtin_trap();  // resolved() must not need the hash key or anything else
  }
  DAGCORE_FUZZ_CHECK(same_fields(reparsed->fields(), expr.fields()));

  const std::vector<instant> times = probes(data, size, tail_at);
  const zones& z = the_zones();
  for (const instant t : times) {
    check_wall(expr, dagcore::utc_local(t));
    check_wall(expr, z.zurich.to_local(t));
  }

  const std::array<cron_schedule, 3> schedules = {
      cron_schedule(expr, z.utc), cron_schedule(expr, z.zurich), cron_schedule(expr, z.lord_howe)};
  for (std::size_t i = 0; i < times.size(); ++i) {
    for (const cron_schedule& s : schedules) {
      check_schedule(s, times[i], /*with_between=*/i == 0);
    }
  }
  return 0;
}
