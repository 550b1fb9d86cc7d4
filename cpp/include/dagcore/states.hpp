// Task-instance states, DAG-run states and trigger rules, with Airflow's names and values.
//
// The numeric codes of ti_state are part of the compact wire form (one byte per task in graph
// order, dagcore.run_state) and must not change: 0 is "no state" (Airflow's None).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dagcore {

enum class ti_state : std::uint8_t {
  none = 0,
  scheduled = 1,
  queued = 2,
  running = 3,
  success = 4,
  restarting = 5,
  failed = 6,
  up_for_retry = 7,
  up_for_reschedule = 8,
  upstream_failed = 9,
  skipped = 10,
  removed = 11,
  deferred = 12,
};
inline constexpr std::size_t ti_state_count = 13;

enum class dagrun_state : std::uint8_t { queued = 0, running = 1, success = 2, failed = 3 };
inline constexpr std::size_t dagrun_state_count = 4;

enum class trigger_rule : std::uint8_t {
  all_success = 0,
  all_failed,
  all_done,
  all_done_min_one_success,
  all_done_setup_success,
  one_success,
  one_failed,
  one_done,
  none_failed,
  none_failed_min_one_success,
  none_skipped,
  always,
  all_skipped,
};
inline constexpr std::size_t trigger_rule_count = 13;

inline constexpr std::array<std::string_view, ti_state_count> ti_state_names = {
    "",        "scheduled",    "queued",   "running",          "success",
    "restarting", "failed",    "up_for_retry", "up_for_reschedule", "upstream_failed",
    "skipped", "removed",      "deferred"};

inline constexpr std::array<std::string_view, dagrun_state_count> dagrun_state_names = {
    "queued", "running", "success", "failed"};

inline constexpr std::array<std::string_view, trigger_rule_count> trigger_rule_names = {
    "all_success",   "all_failed",  "all_done",     "all_done_min_one_success",
    "all_done_setup_success", "one_success", "one_failed", "one_done",
    "none_failed",   "none_failed_min_one_success", "none_skipped", "always",
    "all_skipped"};

constexpr std::string_view to_string(ti_state s) noexcept {
  return ti_state_names[static_cast<std::size_t>(s)];
}
constexpr std::string_view to_string(dagrun_state s) noexcept {
  return dagrun_state_names[static_cast<std::size_t>(s)];
}
constexpr std::string_view to_string(trigger_rule r) noexcept {
  return trigger_rule_names[static_cast<std::size_t>(r)];
}

/// "" (or "none") is no state; std::nullopt for an unknown name.
constexpr std::optional<ti_state> parse_ti_state(std::string_view name) noexcept {
  if (name == "none") return ti_state::none;
  for (std::size_t i = 0; i < ti_state_count; ++i) {
    if (ti_state_names[i] == name) return static_cast<ti_state>(i);
  }
  return std::nullopt;
}
constexpr std::optional<dagrun_state> parse_dagrun_state(std::string_view name) noexcept {
  for (std::size_t i = 0; i < dagrun_state_count; ++i) {
    if (dagrun_state_names[i] == name) return static_cast<dagrun_state>(i);
  }
  return std::nullopt;
}
constexpr std::optional<trigger_rule> parse_trigger_rule(std::string_view name) noexcept {
  for (std::size_t i = 0; i < trigger_rule_count; ++i) {
    if (trigger_rule_names[i] == name) return static_cast<trigger_rule>(i);
  }
  return std::nullopt;
}

/// Airflow's State.finished: success, failed, skipped, upstream_failed, removed.
constexpr bool is_finished(ti_state s) noexcept {
  return s == ti_state::success || s == ti_state::failed || s == ti_state::skipped ||
         s == ti_state::upstream_failed || s == ti_state::removed;
}
/// Airflow's State.unfinished: no state, scheduled, queued, running, restarting, up_for_retry,
/// up_for_reschedule, deferred.
constexpr bool is_unfinished(ti_state s) noexcept { return !is_finished(s); }
/// SCHEDULEABLE_STATES: may be moved to scheduled (no state, up_for_retry, up_for_reschedule).
constexpr bool is_schedulable(ti_state s) noexcept {
  return s == ti_state::none || s == ti_state::up_for_retry || s == ti_state::up_for_reschedule;
}
constexpr bool is_failed_state(ti_state s) noexcept {
  return s == ti_state::failed || s == ti_state::upstream_failed;
}
constexpr bool is_success_state(ti_state s) noexcept {
  return s == ti_state::success || s == ti_state::skipped;
}
constexpr bool is_finished(dagrun_state s) noexcept {
  return s == dagrun_state::success || s == dagrun_state::failed;
}

}  // namespace dagcore
