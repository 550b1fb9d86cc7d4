// Backfill planning (see the contract in backfill.hpp).
//
// Design note: the plan is built in three passes over plain columns. Generation stops at
// min(to_date, now) because nothing later can have ended before now; the ended filter and the
// direction only choose positions; each kept date is looked up once in the sorted index of
// existing runs. The table of decide_backfill_date is the only place the reprocess rules live.
// Repeated logical dates are impossible when the dates are strictly monotone (every cron and
// delta kind except a trigger timetable with a calendar interval), so the overlay that tracks
// runs created or cleared earlier in the same plan is only built when they are not.
#include "dagcore/backfill.hpp"

#include <tsl/robin_map.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dagcore {
namespace {

std::string dag_label(const std::string& dag_id) { return dag_id.empty() ? "The Dag" : dag_id; }

/// Whether `dates` (in plan order) never repeat a value: strictly increasing or decreasing.
bool strictly_monotone(const std::vector<instant>& dates) noexcept {
  const auto n = dates.size();
  if (n < 2) return true;
  bool increasing = true;
  bool decreasing = true;
  for (std::size_t i = 1; i < n && (increasing || decreasing); ++i) {
    increasing = increasing && dates[i - 1] < dates[i];
    decreasing = decreasing && dates[i - 1] > dates[i];
  }
  return increasing || decreasing;
}

}  // namespace

namespace detail {

std::string python_utc_str(instant t) {
  const local_time l = utc_local(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d",
                static_cast<long long>(l.civil.year()), l.civil.month(), l.civil.day(),
                l.civil.hour(), l.civil.minute(), l.civil.second());
  std::string out = buf;
  if (l.micros != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(l.micros));
    out += buf;
  }
  return out + "+00:00";
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// errors

invalid_backfill_date_range::invalid_backfill_date_range(instant from_date, instant to_date)
    : backfill_error("from_date (" + detail::python_utc_str(from_date) +
                     ") must not be after to_date (" + detail::python_utc_str(to_date) + ")"),
      m_from(from_date),
      m_to(to_date) {}

// ---------------------------------------------------------------------------------------------
// existing_run_index

existing_run_index::existing_run_index(std::vector<existing_run> runs) {
  std::sort(runs.begin(), runs.end(), [](const existing_run& a, const existing_run& b) {
    return a.logical_date < b.logical_date;
  });
  const auto dup = std::adjacent_find(runs.begin(), runs.end(),
                                      [](const existing_run& a, const existing_run& b) {
                                        return a.logical_date == b.logical_date;
                                      });
  if (dup != runs.end()) {
    throw std::invalid_argument("existing_runs has more than one run with logical date " +
                                detail::python_utc_str(dup->logical_date) +
                                " (a DAG has at most one run per logical date)");
  }
  m_dates.reserve(runs.size());
  m_states.reserve(runs.size());
  for (const existing_run& r : runs) {
    m_dates.push_back(r.logical_date);
    m_states.push_back(r.state);
  }
}

std::optional<dagrun_state> existing_run_index::find(instant logical_date) const noexcept {
  const auto it = std::lower_bound(m_dates.begin(), m_dates.end(), logical_date);
  if (it == m_dates.end() || *it != logical_date) return std::nullopt;
  return m_states[static_cast<std::size_t>(it - m_dates.begin())];
}

// ---------------------------------------------------------------------------------------------
// backfill_plan

backfill_plan::backfill_plan(run_info_batch infos, std::vector<backfill_action> actions,
                             std::vector<backfill_skip_reason> reasons)
    : m_infos(std::move(infos)), m_actions(std::move(actions)), m_reasons(std::move(reasons)) {
  if (m_actions.size() != m_infos.size() || m_reasons.size() != m_infos.size()) {
    throw std::invalid_argument(
        "backfill_plan columns differ in length: " + std::to_string(m_infos.size()) + " infos, " +
        std::to_string(m_actions.size()) + " actions, " + std::to_string(m_reasons.size()) +
        " reasons");
  }
  for (std::size_t i = 0; i < m_actions.size(); ++i) {
    const bool skip = m_actions[i] == backfill_action::skip;
    if (skip != (m_reasons[i] != backfill_skip_reason::none)) {
      throw std::invalid_argument("backfill_plan entry " + std::to_string(i + 1) + ": action " +
                                  std::string(to_string(m_actions[i])) +
                                  (skip ? " needs a reason" : " cannot have a reason"));
    }
  }
}

std::size_t backfill_plan::count(backfill_action action) const noexcept {
  return static_cast<std::size_t>(std::count(m_actions.begin(), m_actions.end(), action));
}

std::vector<backfill_plan_entry> backfill_plan::to_vector() const {
  std::vector<backfill_plan_entry> out;
  out.reserve(size());
  for (std::size_t i = 0; i < size(); ++i) out.push_back((*this)[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// planning

void validate_backfill(bool periodic, const backfill_params& params, instant now) {
  // Airflow's _create_backfill checks the schedule (step 3) before _validate_backfill_params
  // (step 5), whose checks run in this order.
  if (!periodic) {
    throw dag_non_periodic_schedule_error(dag_label(params.dag_id) +
                                          " has a non-periodic schedule that does not support "
                                          "backfills");
  }
  if (params.from_date > params.to_date) {
    throw invalid_backfill_date_range(params.from_date, params.to_date);
  }
  if (params.from_date >= now && params.to_date >= now) {
    throw invalid_backfill_date("Backfill cannot be executed for future dates.");
  }
  if (params.depends_on_past) {
    if (params.run_backwards) {
      throw invalid_backfill_direction(
          "Backfill cannot be run in reverse when the Dag has tasks where depends_on_past=True "
          "or depends_on_previous_tasks is set.");
    }
    if (params.reprocess == reprocess_behavior::none) {
      throw invalid_reprocess_behavior(
          "Dag has tasks for which depends_on_past=True or depends_on_previous_tasks is set. "
          "You must set reprocess behavior to reprocess completed or reprocess failed.");
    }
  }
}

backfill_plan plan_backfill_from_infos(const run_info_batch& infos, const backfill_params& params,
                                       instant now, const existing_run_index& existing) {
  const std::vector<instant>& run_afters = infos.run_afters();
  const std::vector<instant>& starts = infos.starts();
  const std::vector<instant>& ends = infos.ends();

  // Positions of the intervals that have ended, in plan order.
  std::vector<std::size_t> order;
  order.reserve(infos.size());
  for (std::size_t i = 0; i < infos.size(); ++i) {
    if (ends[i] < now) order.push_back(i);
  }
  if (params.run_backwards) std::reverse(order.begin(), order.end());

  const std::size_t n = order.size();
  std::vector<instant> out_run_after(n);
  std::vector<instant> out_start(n);
  std::vector<instant> out_end(n);
  for (std::size_t k = 0; k < n; ++k) {
    out_run_after[k] = run_afters[order[k]];
    out_start[k] = starts[order[k]];
    out_end[k] = ends[order[k]];
  }

  std::vector<backfill_action> actions(n);
  std::vector<backfill_skip_reason> reasons(n);
  if (strictly_monotone(out_start)) {
    for (std::size_t k = 0; k < n; ++k) {
      const backfill_decision d =
          decide_backfill_date(existing.find(out_start[k]), params.reprocess);
      actions[k] = d.action;
      reasons[k] = d.reason;
    }
  } else {
    // Runs created or cleared earlier in this plan are queued when a later entry looks them up.
    tsl::robin_map<instant, dagrun_state> planned;
    for (std::size_t k = 0; k < n; ++k) {
      const auto hit = planned.find(out_start[k]);
      const std::optional<dagrun_state> state = hit != planned.end()
                                                    ? std::optional<dagrun_state>(hit->second)
                                                    : existing.find(out_start[k]);
      const backfill_decision d = decide_backfill_date(state, params.reprocess);
      actions[k] = d.action;
      reasons[k] = d.reason;
      if (d.action != backfill_action::skip) planned[out_start[k]] = dagrun_state::queued;
    }
  }
  return {run_info_batch(std::move(out_run_after), std::move(out_start), std::move(out_end)),
          std::move(actions), std::move(reasons)};
}

backfill_plan plan_backfill(const timetable& tt, const backfill_params& params, instant now,
                            const existing_run_index& existing) {
  validate_backfill(tt.periodic(), params, now);
  // After validation from_date < now and from_date <= to_date, so latest >= from_date. An
  // interval that ends before now starts (and, for trigger kinds, fires) before it too, and
  // the runs up to a smaller bound are a prefix of the runs up to a larger one.
  const instant latest = std::min(params.to_date, now);
  const run_info_batch infos = tt.infos_between(params.from_date, latest, now, params.max_runs);
  return plan_backfill_from_infos(infos, params, now, existing);
}

}  // namespace dagcore
