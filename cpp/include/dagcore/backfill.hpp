// Backfill planning: which dates a backfill covers and, for each, whether it creates a run,
// clears and reuses an existing one, or skips the date and why (docs/airflow-behaviour.md
// 2.3-2.5). A pure function of its inputs: no clock, no database.
//
// Contract
// - Validation, in Airflow's order (_create_backfill step 3, then _validate_backfill_params):
//     1. the timetable is not periodic          -> dag_non_periodic_schedule_error
//     2. from_date > to_date                    -> invalid_backfill_date_range
//     3. from_date >= now and to_date >= now    -> invalid_backfill_date
//     4. depends_on_past and run_backwards      -> invalid_backfill_direction
//     5. depends_on_past and reprocess "none"   -> invalid_reprocess_behavior
//   The first failing check throws; messages are Airflow's. from == to is allowed, and so is a
//   range that starts in the past and ends in the future.
// - Dates: the timetable's runs from from_date to to_date, both ends inclusive on the
//   timetable's start value (timetable::infos_between), keeping those whose data interval
//   ended strictly before `now`, reversed when run_backwards. An empty plan is a valid result
//   (the caller reports "No runs to create"). Because an interval that ends before `now` also
//   starts before it, generation stops at min(to_date, now): a to_date far in the future costs
//   nothing and does not count against max_runs.
// - Reconciliation (2.5), per date in plan order, against the run already at its logical date:
//       existing run       reprocess none    reprocess failed   reprocess completed
//       none               create            create             create
//       queued / running   skip: in flight   skip: in flight    skip: in flight
//       success            skip: exists      skip: exists       clear
//       failed             skip: exists      clear              clear
//   A logical date that occurs twice in one plan (a trigger timetable whose calendar interval
//   maps several fires onto one date) finds, the second time, the run the first occurrence
//   created or cleared (queued): it is skipped as in flight, as Airflow's unique
//   (dag_id, logical_date) constraint makes it.
// - sort_ordinal is 1..N in plan order (1 = the most recent date when run_backwards).
// - Complexity: O(D log E) for D generated dates and E existing runs, plus the timetable's
//   generation; building the existing-run index is O(E log E).
// - Errors: validation errors derive from backfill_error (a std::invalid_argument); more than
//   max_runs dates -> std::length_error (from infos_between); existing runs with a repeated
//   logical date -> std::invalid_argument naming it. Strong exception guarantee: inputs are
//   const, results are returned by value.
// - Thread safety: every type here is an immutable value once built; const members may be
//   called concurrently. Nothing holds references into arguments after a call returns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dagcore/states.hpp"
#include "dagcore/timetable.hpp"

namespace dagcore {

/// Which existing runs a backfill clears and reuses (Airflow's ReprocessBehavior).
enum class reprocess_behavior : std::uint8_t { none = 0, failed = 1, completed = 2 };
inline constexpr std::size_t reprocess_behavior_count = 3;
inline constexpr std::array<std::string_view, reprocess_behavior_count> reprocess_behavior_names = {
    "none", "failed", "completed"};

/// What a backfill does for one date.
enum class backfill_action : std::uint8_t {
  create = 0,  ///< no run at the logical date: a new backfill run
  clear = 1,   ///< an existing run is cleared, re-queued and attached to the backfill
  skip = 2,    ///< an existing run is left alone (see backfill_skip_reason)
};
inline constexpr std::size_t backfill_action_count = 3;
inline constexpr std::array<std::string_view, backfill_action_count> backfill_action_names = {
    "create", "clear", "skip"};

/// Why a date is skipped (Airflow's BackfillDagRunExceptionReason; "unknown" is never produced
/// by Airflow either). `none` goes with create and clear.
enum class backfill_skip_reason : std::uint8_t { none = 0, in_flight = 1, already_exists = 2 };
inline constexpr std::size_t backfill_skip_reason_count = 3;
inline constexpr std::array<std::string_view, backfill_skip_reason_count>
    backfill_skip_reason_names = {"", "in flight", "already exists"};

constexpr std::string_view to_string(reprocess_behavior r) noexcept {
  return reprocess_behavior_names[static_cast<std::size_t>(r)];
}
constexpr std::string_view to_string(backfill_action a) noexcept {
  return backfill_action_names[static_cast<std::size_t>(a)];
}
constexpr std::string_view to_string(backfill_skip_reason r) noexcept {
  return backfill_skip_reason_names[static_cast<std::size_t>(r)];
}

/// std::nullopt for an unknown name.
constexpr std::optional<reprocess_behavior> parse_reprocess_behavior(
    std::string_view name) noexcept {
  for (std::size_t i = 0; i < reprocess_behavior_count; ++i) {
    if (reprocess_behavior_names[i] == name) return static_cast<reprocess_behavior>(i);
  }
  return std::nullopt;
}

/// The action for one date and, for a skip, its reason.
struct backfill_decision {
  backfill_action action = backfill_action::create;
  backfill_skip_reason reason = backfill_skip_reason::none;

  friend constexpr bool operator==(const backfill_decision&, const backfill_decision&) = default;
};

/// Airflow's per-date table (see the contract): `existing` is the state of the run already at
/// the date's logical date, std::nullopt if there is none.
constexpr backfill_decision decide_backfill_date(std::optional<dagrun_state> existing,
                                                 reprocess_behavior reprocess) noexcept {
  if (!existing) return {backfill_action::create, backfill_skip_reason::none};
  switch (*existing) {
    case dagrun_state::success:
      if (reprocess == reprocess_behavior::completed) return {backfill_action::clear, {}};
      return {backfill_action::skip, backfill_skip_reason::already_exists};
    case dagrun_state::failed:
      if (reprocess == reprocess_behavior::none) {
        return {backfill_action::skip, backfill_skip_reason::already_exists};
      }
      return {backfill_action::clear, {}};
    case dagrun_state::queued:
    case dagrun_state::running:
      break;
  }
  return {backfill_action::skip, backfill_skip_reason::in_flight};
}

// ---------------------------------------------------------------------------------------------
// Validation errors (each maps to a Python ValueError subclass of the same Airflow name)

/// The base of every backfill validation error.
class backfill_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// "<dag_id> has a non-periodic schedule that does not support backfills".
class dag_non_periodic_schedule_error final : public backfill_error {
 public:
  using backfill_error::backfill_error;
};

/// "from_date (<from>) must not be after to_date (<to>)"; the dates are kept so that a caller
/// can word the message with its own representation of them.
class invalid_backfill_date_range final : public backfill_error {
 public:
  invalid_backfill_date_range(instant from_date, instant to_date);
  [[nodiscard]] instant from_date() const noexcept { return m_from; }
  [[nodiscard]] instant to_date() const noexcept { return m_to; }

 private:
  instant m_from;
  instant m_to;
};

/// "Backfill cannot be executed for future dates."
class invalid_backfill_date final : public backfill_error {
 public:
  using backfill_error::backfill_error;
};

/// depends_on_past with run_backwards.
class invalid_backfill_direction final : public backfill_error {
 public:
  using backfill_error::backfill_error;
};

/// depends_on_past with reprocess behavior "none".
class invalid_reprocess_behavior final : public backfill_error {
 public:
  using backfill_error::backfill_error;
};

// ---------------------------------------------------------------------------------------------
// Inputs

/// One run that already exists for the DAG.
struct existing_run {
  instant logical_date = 0;
  dagrun_state state = dagrun_state::queued;

  friend constexpr bool operator==(const existing_run&, const existing_run&) = default;
};

/// The existing runs by logical date, sorted once for O(log n) lookups.
class existing_run_index {
 public:
  existing_run_index() = default;
  /// Takes runs in any order. Throws std::invalid_argument naming the date if two runs share a
  /// logical date ((dag_id, logical_date) is unique in Airflow's dag_run table).
  explicit existing_run_index(std::vector<existing_run> runs);

  [[nodiscard]] std::size_t size() const noexcept { return m_dates.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_dates.empty(); }
  /// The state of the run at `logical_date`, std::nullopt if there is none.
  [[nodiscard]] std::optional<dagrun_state> find(instant logical_date) const noexcept;

 private:
  std::vector<instant> m_dates;  // sorted, unique
  std::vector<dagrun_state> m_states;
};

/// What a backfill asks for (the DAG-level facts reduced to what the rules read).
struct backfill_params {
  instant from_date = 0;
  instant to_date = 0;
  reprocess_behavior reprocess = reprocess_behavior::none;
  bool run_backwards = false;
  /// Whether any task has depends_on_past or depends_on_previous_tasks.
  bool depends_on_past = false;
  /// The most dates generated (see the contract: counted up to min(to_date, now)).
  std::uint64_t max_runs = default_max_runs;
  /// Names the DAG in the non-periodic message; empty: "The Dag".
  std::string dag_id;
};

// ---------------------------------------------------------------------------------------------
// Result

/// One planned date.
struct backfill_plan_entry {
  std::uint64_t sort_ordinal = 0;  ///< 1-based position in the plan
  run_info info;
  backfill_action action = backfill_action::create;
  backfill_skip_reason reason = backfill_skip_reason::none;

  [[nodiscard]] constexpr instant logical_date() const noexcept { return info.logical_date(); }
  friend constexpr bool operator==(const backfill_plan_entry&,
                                   const backfill_plan_entry&) = default;
};

/// A whole plan as columns (run infos, actions, reasons) in plan order; entry i has sort
/// ordinal i + 1.
class backfill_plan {
 public:
  backfill_plan() = default;
  /// The three columns must have the same length, and a reason must go with skips only
  /// (std::invalid_argument otherwise).
  backfill_plan(run_info_batch infos, std::vector<backfill_action> actions,
                std::vector<backfill_skip_reason> reasons);

  [[nodiscard]] std::size_t size() const noexcept { return m_infos.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_infos.empty(); }
  [[nodiscard]] const run_info_batch& infos() const noexcept { return m_infos; }
  [[nodiscard]] const std::vector<backfill_action>& actions() const noexcept { return m_actions; }
  [[nodiscard]] const std::vector<backfill_skip_reason>& reasons() const noexcept {
    return m_reasons;
  }
  /// Entry `i` (0-based; unchecked, as std::vector::operator[]).
  [[nodiscard]] backfill_plan_entry operator[](std::size_t i) const noexcept {
    return {static_cast<std::uint64_t>(i) + 1, m_infos[i], m_actions[i], m_reasons[i]};
  }
  /// How many entries have `action`.
  [[nodiscard]] std::size_t count(backfill_action action) const noexcept;
  [[nodiscard]] std::vector<backfill_plan_entry> to_vector() const;

  friend bool operator==(const backfill_plan&, const backfill_plan&) = default;

 private:
  run_info_batch m_infos;
  std::vector<backfill_action> m_actions;
  std::vector<backfill_skip_reason> m_reasons;
};

// ---------------------------------------------------------------------------------------------
// Planning

/// Airflow's checks, in its order (see the contract); returns normally if all pass.
void validate_backfill(bool periodic, const backfill_params& params, instant now);

/// Reconciles already generated run infos (in generation order, as infos_between returns them):
/// filters out intervals not ended before `now`, reverses when run_backwards, decides each date.
/// Does not validate: for run infos produced outside the C++ timetables (a timetable written in
/// Python), after validate_backfill.
[[nodiscard]] backfill_plan plan_backfill_from_infos(const run_info_batch& infos,
                                                     const backfill_params& params, instant now,
                                                     const existing_run_index& existing);

/// validate_backfill, then the timetable's dates, then plan_backfill_from_infos.
[[nodiscard]] backfill_plan plan_backfill(const timetable& tt, const backfill_params& params,
                                          instant now, const existing_run_index& existing);

namespace detail {
/// An instant as Python's str(datetime) writes an aware UTC datetime:
/// "2026-05-04 00:00:00+00:00", with ".ffffff" only when the microseconds are not zero.
[[nodiscard]] std::string python_utc_str(instant t);
}  // namespace detail

}  // namespace dagcore
