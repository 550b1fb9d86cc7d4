#include "dagcore/trigger_rules.hpp"

#include <cstdint>
#include <string>

namespace dagcore {
namespace {

std::string rule_name(trigger_rule rule) {
  if (detail::valid_rule(rule)) return std::string(to_string(rule));
  return std::to_string(static_cast<unsigned>(rule));
}

std::string prefix(trigger_rule rule) { return "Task's trigger rule '" + rule_name(rule) + "' "; }

std::string count(std::int64_t n) { return std::to_string(n); }

}  // namespace

std::string describe(trigger_rule rule, trigger_reason reason, const upstream_counts& c) {
  using R = trigger_reason;
  const std::int64_t upstream = c.upstream;
  switch (reason) {
    case R::met:
      return {};
    case R::no_upstream:
      return "The task instance did not have any upstream tasks.";
    case R::always:
      return "The task had a always trigger rule set.";
    case R::one_success_none_found:
      return prefix(rule) + "requires one upstream task success, but none were found.";
    case R::one_failed_none_found:
      return prefix(rule) + "requires one upstream task failure, but none were found.";
    case R::one_done_none_found:
      return prefix(rule) +
             "requires at least one upstream task failure or success but none were failed or "
             "success.";
    case R::all_success_non_successes:
      return prefix(rule) + "requires all upstream tasks to have succeeded, but found " +
             count(upstream - c.success) + " non-success(es).";
    case R::all_failed_non_failures:
      return prefix(rule) + "requires all upstream tasks to have failed, but found " +
             count(upstream - c.failed - c.upstream_failed) + " non-failure(s).";
    case R::all_done_not_done:
    case R::setup_success_not_done:
      return prefix(rule) + "requires all upstream tasks to have completed, but found " +
             count(upstream - c.done) + " task(s) that were not done.";
    case R::none_failed_non_successes:
      return prefix(rule) +
             "requires all upstream tasks to have succeeded or been skipped, but found " +
             count(upstream - c.success - c.skipped) + " non-success(es).";
    case R::none_skipped_found_skipped:
      return prefix(rule) + "requires all upstream tasks to not have been skipped, but found " +
             count(c.skipped) + " task(s) skipped.";
    case R::all_skipped_non_skipped:
      return prefix(rule) + "requires all upstream tasks to have been skipped, but found " +
             count(upstream - c.skipped) + " task(s) in non skipped state.";
    case R::setup_success_no_setup:
      return prefix(rule) + "requires at least one upstream setup task be successful, but found " +
             count(static_cast<std::int64_t>(c.upstream_setup) - c.success_setup) +
             " task(s) that were not.";
    case R::min_one_success_found_skipped:
      return prefix(rule) +
             "requires all upstream tasks to have completed successfully or failed, but found " +
             count(c.skipped) + " skipped task(s).";
    case R::min_one_success_not_done: {
      const std::int64_t non_skipped_done =
          static_cast<std::int64_t>(c.success) + c.failed + c.upstream_failed + c.removed;
      return prefix(rule) +
             "requires all non-skipped upstream tasks to have completed, but found " +
             count(upstream - c.skipped - non_skipped_done) + " task(s) that were not done.";
    }
    case R::min_one_success_no_success:
      return prefix(rule) +
             "requires all upstream tasks to have completed and at least one upstream task has "
             "succeeded, but found " +
             count(c.success) + " successful task(s).";
    case R::setups_not_successful:
      return "All setup tasks must complete successfully, but found " +
             count(upstream - c.success) + " setup task(s) that did not succeed.";
    case R::unknown_rule:
      return "No strategy to evaluate trigger rule '" + rule_name(rule) + "'.";
  }
  return {};
}

evaluation evaluate(trigger_rule rule, const upstream_counts& counts, bool flag_upstream_failed) {
  const evaluation_code code = evaluate_code(rule, counts, flag_upstream_failed);
  evaluation out;
  out.passed = code.passed;
  if (code.changes_state()) out.new_state = code.new_state;
  out.reason = describe(rule, code.reason, counts);
  return out;
}

}  // namespace dagcore
