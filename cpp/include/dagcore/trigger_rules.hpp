// Trigger rules: whether a task may run given the states of its direct upstream tasks, and the
// state the scheduler gives it once the rule can no longer pass (Airflow's TriggerRuleDep).
//
// Contract
// - evaluate(rule, counts, flag_upstream_failed) follows docs/airflow-behaviour.md 3.5:
//   the short-circuits (no upstream task -> pass, "always" -> pass, in that order), the
//   state-change table (applied only with flag_upstream_failed, as the scheduler does), the
//   pass/fail table and the failure texts ("Task's trigger rule 'all_success' requires all
//   upstream tasks to have succeeded, but found 1 non-success(es)."). Airflow appends the
//   upstream states and task ids to its texts; ours stop at the sentence.
// - Counts are over the *finished* direct upstream task instances (success, skipped, failed,
//   upstream_failed, removed; done = their sum unless the caller says otherwise) and `upstream`
//   is the number of direct upstream tasks. Differences are computed in signed 64-bit
//   arithmetic, so inconsistent counts (success > upstream) behave as Airflow's Python ints do.
// - Mapped tasks: dagcore has no mapped tasks yet, so the refinements Airflow applies to mapped
//   task instances (map_index, the "- removed" adjustments, REMOVED as a new state, counting TI
//   rows instead of tasks) do not apply. A REMOVED upstream counts in `removed` and `done` and
//   is not a success: under all_success it blocks the task without changing its state.
// - evaluate_setup_constraint is docs/airflow-behaviour.md 3.6's extra check for a non-teardown
// task's indirect
//   setups; the run-state engine (run_state.hpp) applies it before the rule.
// - Hot path: evaluate_code and evaluate_setup_constraint are constexpr, noexcept and allocate
//   nothing; they return a reason code, and describe() builds the text only when asked.
// - Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dagcore/states.hpp"

namespace dagcore {

/// The finished direct upstream task instances of one task, by state (docs/airflow-behaviour.md 3.5
/// counting).
struct upstream_counts {
  std::uint32_t upstream = 0;  ///< direct upstream tasks
  std::uint32_t success = 0;
  std::uint32_t skipped = 0;
  std::uint32_t failed = 0;
  std::uint32_t upstream_failed = 0;
  std::uint32_t removed = 0;
  std::uint32_t done = 0;            ///< finished upstream task instances
  std::uint32_t upstream_setup = 0;  ///< direct upstream tasks that are setups
  std::uint32_t success_setup = 0;
  std::uint32_t skipped_setup = 0;

  /// Counts with `done` = success + skipped + failed + upstream_failed + removed.
  [[nodiscard]] static constexpr upstream_counts of(std::uint32_t upstream, std::uint32_t success,
                                                    std::uint32_t skipped, std::uint32_t failed,
                                                    std::uint32_t upstream_failed,
                                                    std::uint32_t removed) noexcept {
    upstream_counts c;
    c.upstream = upstream;
    c.success = success;
    c.skipped = skipped;
    c.failed = failed;
    c.upstream_failed = upstream_failed;
    c.removed = removed;
    c.done = success + skipped + failed + upstream_failed + removed;
    return c;
  }

  friend constexpr bool operator==(const upstream_counts&, const upstream_counts&) = default;
};

/// Why a rule passed or failed; each failing code has one of Airflow's texts (describe()).
enum class trigger_reason : std::uint8_t {
  met = 0,      ///< passed (no text)
  no_upstream,  ///< passed: "The task instance did not have any upstream tasks."
  always,       ///< passed: "The task had a always trigger rule set."
  one_success_none_found,
  one_failed_none_found,
  one_done_none_found,
  all_success_non_successes,
  all_failed_non_failures,
  all_done_not_done,
  none_failed_non_successes,
  none_skipped_found_skipped,
  all_skipped_non_skipped,
  setup_success_not_done,         ///< all_done_setup_success, upstream not done
  setup_success_no_setup,         ///< all_done_setup_success, no setup succeeded
  min_one_success_found_skipped,  ///< all_done_min_one_success
  min_one_success_not_done,
  min_one_success_no_success,
  setups_not_successful,  ///< the setup constraint (docs/airflow-behaviour.md 3.6)
  unknown_rule,           ///< "No strategy to evaluate trigger rule '<x>'."
};

/// The allocation-free result: `new_state` is ti_state::none when the state does not change
/// (none is never a state the rules assign).
struct evaluation_code {
  bool passed = false;
  ti_state new_state = ti_state::none;
  trigger_reason reason = trigger_reason::met;

  [[nodiscard]] constexpr bool changes_state() const noexcept {
    return new_state != ti_state::none;
  }
  friend constexpr bool operator==(const evaluation_code&, const evaluation_code&) = default;
};

/// The full result: pass/fail, the state change (skipped, upstream_failed or none) and the
/// reason text ("" when the rule simply passed).
struct evaluation {
  bool passed = false;
  std::optional<ti_state> new_state;
  std::string reason;

  friend bool operator==(const evaluation&, const evaluation&) = default;
};

namespace detail {
inline constexpr bool valid_rule(trigger_rule rule) noexcept {
  return static_cast<std::size_t>(rule) < trigger_rule_count;
}
}  // namespace detail

/// Airflow's trigger-rule dependency for one task (docs/airflow-behaviour.md 3.5). Never throws; an
/// out-of-range rule value fails with trigger_reason::unknown_rule. Always inlined: the run-state
/// engine calls it once per task evaluation, and as a call (the compiler kept it out of line for
/// its size) it was a third of a decision's time, the counts passed through memory.
[[nodiscard]] [[gnu::always_inline]] constexpr inline evaluation_code evaluate_code(
    trigger_rule rule, const upstream_counts& c, bool flag_upstream_failed) noexcept {
  using R = trigger_reason;
  using S = ti_state;
  if (c.upstream == 0) return {true, S::none, R::no_upstream};
  if (rule == trigger_rule::always) return {true, S::none, R::always};

  const std::int64_t upstream = c.upstream;
  const std::int64_t success = c.success;
  const std::int64_t skipped = c.skipped;
  const std::int64_t failed = c.failed;
  const std::int64_t upstream_failed = c.upstream_failed;
  const std::int64_t removed = c.removed;
  const std::int64_t done = c.done;
  const std::int64_t upstream_setup = c.upstream_setup;
  const std::int64_t success_setup = c.success_setup;
  const std::int64_t skipped_setup = c.skipped_setup;
  const bool upstream_done = done >= upstream;
  // all_done_min_one_success: skipped upstreams are not "done" for this rule.
  const std::int64_t non_skipped_done = success + failed + upstream_failed + removed;
  const std::int64_t non_skipped_upstream = upstream - skipped;

  S change = S::none;
  if (flag_upstream_failed) {
    switch (rule) {
      case trigger_rule::all_success:
        if (upstream_failed > 0 || failed > 0) {
          change = S::upstream_failed;
        } else if (skipped > 0) {
          change = S::skipped;
        }
        break;
      case trigger_rule::all_failed:
        if (success > 0 || skipped > 0) change = S::skipped;
        break;
      case trigger_rule::one_success:
        if (upstream_done && done == skipped) {
          change = S::skipped;
        } else if (upstream_done && success <= 0) {
          change = S::upstream_failed;
        }
        break;
      case trigger_rule::one_failed:
        if (upstream_done && failed == 0 && upstream_failed == 0) change = S::skipped;
        break;
      case trigger_rule::one_done:
        if (upstream_done && failed == 0 && success == 0) change = S::skipped;
        break;
      case trigger_rule::none_failed:
        if (upstream_failed > 0 || failed > 0) change = S::upstream_failed;
        break;
      case trigger_rule::none_failed_min_one_success:
        if (upstream_failed > 0 || failed > 0) {
          change = S::upstream_failed;
        } else if (skipped == upstream) {
          change = S::skipped;
        }
        break;
      case trigger_rule::none_skipped:
        if (skipped > 0) change = S::skipped;
        break;
      case trigger_rule::all_skipped:
        if (success > 0 || failed > 0 || upstream_failed > 0) change = S::skipped;
        break;
      case trigger_rule::all_done_setup_success:
        if (upstream_done && upstream_setup > 0 && skipped_setup >= upstream_setup) {
          change = S::skipped;
        } else if (upstream_done && upstream_setup > 0 && success_setup == 0) {
          change = S::upstream_failed;
        }
        break;
      case trigger_rule::all_done_min_one_success:
        if (skipped > 0) {
          change = S::skipped;
        } else if (non_skipped_done >= non_skipped_upstream && success == 0) {
          change = S::upstream_failed;
        }
        break;
      case trigger_rule::all_done:
      case trigger_rule::always:
        break;
    }
  }

  R failure = R::met;
  switch (rule) {
    case trigger_rule::one_success:
      if (success <= 0) failure = R::one_success_none_found;
      break;
    case trigger_rule::one_failed:
      if (failed == 0 && upstream_failed == 0) failure = R::one_failed_none_found;
      break;
    case trigger_rule::one_done:
      if (success + failed <= 0) failure = R::one_done_none_found;
      break;
    case trigger_rule::all_success:
      if (upstream - success > 0) failure = R::all_success_non_successes;
      break;
    case trigger_rule::all_failed:
      if (upstream - failed - upstream_failed > 0) failure = R::all_failed_non_failures;
      break;
    case trigger_rule::all_done:
      if (!upstream_done) failure = R::all_done_not_done;
      break;
    case trigger_rule::none_failed:
    case trigger_rule::none_failed_min_one_success:
      if (upstream - success - skipped > 0) failure = R::none_failed_non_successes;
      break;
    case trigger_rule::none_skipped:
      if (!upstream_done || skipped > 0) failure = R::none_skipped_found_skipped;
      break;
    case trigger_rule::all_skipped:
      if (upstream - skipped > 0) failure = R::all_skipped_non_skipped;
      break;
    case trigger_rule::all_done_setup_success:
      if (!upstream_done) {
        failure = R::setup_success_not_done;
      } else if (upstream_setup > 0 && success_setup == 0) {
        failure = R::setup_success_no_setup;
      }
      break;
    case trigger_rule::all_done_min_one_success:
      if (skipped > 0) {
        failure = R::min_one_success_found_skipped;
      } else if (non_skipped_done < non_skipped_upstream) {
        failure = R::min_one_success_not_done;
      } else if (success == 0) {
        failure = R::min_one_success_no_success;
      }
      break;
    case trigger_rule::always:
      break;
    default:
      return {false, S::none, R::unknown_rule};
  }
  return {failure == R::met, change, failure};
}

/// Reference 3.6: a non-teardown task's *indirect* setups (relevant setups upstream that are not
/// direct upstreams) must all succeed. `setups` counts them (in `upstream`), and the finished
/// ones by state. With flag_upstream_failed a failed or upstream_failed setup makes the task
/// upstream_failed and otherwise a skipped one makes it skipped, without waiting for the other
/// setups; when that happens the trigger rule itself is not evaluated. The check passes only
/// when every indirect setup succeeded.
[[nodiscard]] constexpr evaluation_code evaluate_setup_constraint(
    const upstream_counts& setups, bool flag_upstream_failed) noexcept {
  ti_state change = ti_state::none;
  if (flag_upstream_failed) {
    if (setups.failed > 0 || setups.upstream_failed > 0) {
      change = ti_state::upstream_failed;
    } else if (setups.skipped > 0) {
      change = ti_state::skipped;
    }
  }
  const bool passed = static_cast<std::int64_t>(setups.upstream) - setups.success <= 0;
  return {passed, change, passed ? trigger_reason::met : trigger_reason::setups_not_successful};
}

/// The text of a reason, with the counts that go into it ("" for trigger_reason::met).
[[nodiscard]] std::string describe(trigger_rule rule, trigger_reason reason,
                                   const upstream_counts& counts);

/// evaluate_code plus the reason text.
[[nodiscard]] evaluation evaluate(trigger_rule rule, const upstream_counts& counts,
                                  bool flag_upstream_failed);

}  // namespace dagcore
