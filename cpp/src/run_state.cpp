// The run-state engine (run_state.hpp).
//
// Design note: the decision for one run works on one row of state codes in rounds, as
// Airflow's scheduler loops do: every schedulable candidate of a round is evaluated against the
// states at the start of the round, and the round's changes (skipped / upstream_failed) are
// applied together; the next round re-evaluates only tasks whose inputs changed. The call ends
// where Airflow's scheduler ends after enough loops with no task running in between, including
// the case where a loop decides a task on partial information (a skip seen one loop before a
// failure arrives on another upstream: Airflow skips). tests/cpp/test_run_state.cpp checks this
// against an emulation of Airflow's loop on random DAGs. The hot path works on uint8_t codes
// and CSR index arrays and allocates nothing; the batch entry point reuses one scratch row.
#include "dagcore/run_state.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace dagcore {
namespace {

using index_type = run_graph::index_type;

constexpr std::uint8_t code(ti_state s) noexcept { return static_cast<std::uint8_t>(s); }

constexpr std::uint8_t success_code = code(ti_state::success);
constexpr std::uint8_t skipped_code = code(ti_state::skipped);
constexpr std::uint8_t failed_code = code(ti_state::failed);
constexpr std::uint8_t upstream_failed_code = code(ti_state::upstream_failed);
constexpr std::uint8_t removed_code = code(ti_state::removed);
constexpr std::uint8_t deferred_code = code(ti_state::deferred);

// Per-code lookup tables, so the hot loop does one load instead of a chain of compares.
template <class Pred>
constexpr std::array<bool, 256> table(Pred pred) {
  std::array<bool, 256> t{};
  for (std::size_t c = 0; c < ti_state_count; ++c) t[c] = pred(static_cast<ti_state>(c));
  return t;
}
constexpr auto finished_table = table([](ti_state s) { return is_finished(s); });
constexpr auto schedulable_table = table([](ti_state s) { return is_schedulable(s); });
constexpr auto failed_table = table([](ti_state s) { return is_failed_state(s); });

// Packed counting: success, skipped, failed, upstream_failed and removed as five 12-bit fields
// of one word, for tasks with at most packed_limit upstream tasks (no field can overflow).
constexpr unsigned packed_bits = 12;
constexpr std::uint32_t packed_limit = (1U << packed_bits) - 1;
constexpr std::array<std::uint64_t, 256> packed_table = [] {
  std::array<std::uint64_t, 256> t{};
  const std::uint8_t fields[] = {success_code, skipped_code, failed_code, upstream_failed_code,
                                 removed_code};
  for (unsigned f = 0; f < 5; ++f) t[fields[f]] = std::uint64_t{1} << (f * packed_bits);
  return t;
}();
constexpr std::uint32_t unpack(std::uint64_t sum, unsigned field) noexcept {
  return static_cast<std::uint32_t>((sum >> (field * packed_bits)) & packed_limit);
}

bool finished(std::uint8_t c) noexcept { return finished_table[c]; }
bool schedulable(std::uint8_t c) noexcept { return schedulable_table[c]; }

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

/// Builds CSR arrays from per-row lists.
void to_csr(const std::vector<std::vector<index_type>>& rows, std::vector<index_type>& off,
            std::vector<index_type>& data) {
  off.assign(1, 0);
  off.reserve(rows.size() + 1);
  std::size_t total = 0;
  for (const auto& r : rows) total += r.size();
  if (total >= std::numeric_limits<index_type>::max()) {
    throw std::length_error("a DAG with " + std::to_string(total) + " edges is too large");
  }
  data.clear();
  data.reserve(total);
  for (const auto& r : rows) {
    data.insert(data.end(), r.begin(), r.end());
    off.push_back(static_cast<index_type>(data.size()));
  }
}

}  // namespace

// -------------------------------------------------------------------------------------------
// decision_batch

decision_batch::decision_batch(std::size_t n_runs, std::size_t n_tasks)
    : m_tasks(n_tasks),
      m_states(n_runs, static_cast<std::uint8_t>(dagrun_state::running)),
      m_reasons(n_runs, static_cast<std::uint8_t>(run_reason::none)),
      m_changed(n_runs * n_tasks, 0),
      m_schedulable(n_runs * n_tasks, 0) {}

run_decision decision_batch::operator[](std::size_t run) const {
  run_decision d;
  d.state = state(run);
  d.reason = reason(run);
  const auto ch = changed(run);
  const auto sc = schedulable(run);
  for (std::size_t i = 0; i < m_tasks; ++i) {
    if (sc[i] != 0) d.schedulable.push_back(static_cast<std::uint32_t>(i));
    if (ch[i] != 0)
      d.changed.push_back({static_cast<std::uint32_t>(i), static_cast<ti_state>(ch[i])});
  }
  return d;
}

// -------------------------------------------------------------------------------------------
// construction

run_graph::run_graph(const std::vector<task_spec>& tasks) {
  const std::size_t n = tasks.size();
  if (n >= std::numeric_limits<index_type>::max()) {
    throw std::length_error("a DAG of " + std::to_string(n) + " tasks is too large");
  }

  // Ids and per-task checks, by position in `tasks`.
  std::unordered_map<std::string_view, std::size_t> position_of;
  position_of.reserve(n);
  for (std::size_t p = 0; p < n; ++p) {
    const task_spec& t = tasks[p];
    if (t.task_id.empty()) throw std::invalid_argument("task_id must not be empty");
    if (!position_of.emplace(t.task_id, p).second) {
      throw std::invalid_argument("duplicate task_id " + quoted(t.task_id));
    }
    if (t.is_setup && t.is_teardown) {
      throw std::invalid_argument("task " + quoted(t.task_id) +
                                  " cannot be both a setup and a teardown");
    }
    if (t.on_failure_fail_dagrun && !t.is_teardown) {
      throw std::invalid_argument("Cannot set task on_failure_fail_dagrun for " +
                                  quoted(t.task_id) + " because it is not a teardown task.");
    }
    if (!detail::valid_rule(t.rule)) {
      throw std::invalid_argument("task " + quoted(t.task_id) + " has an unknown trigger rule");
    }
  }

  std::vector<std::vector<std::size_t>> ups(n);
  std::vector<std::vector<std::size_t>> downs(n);
  for (std::size_t p = 0; p < n; ++p) {
    for (const std::string& u : tasks[p].upstream) {
      const auto it = position_of.find(u);
      if (it == position_of.end()) {
        throw std::invalid_argument("task " + quoted(tasks[p].task_id) + " has unknown upstream " +
                                    quoted(u));
      }
      ups[p].push_back(it->second);
    }
    std::sort(ups[p].begin(), ups[p].end());
    ups[p].erase(std::unique(ups[p].begin(), ups[p].end()), ups[p].end());
    for (const std::size_t u : ups[p]) downs[u].push_back(p);
  }

  // Kahn's algorithm, always taking the earliest-given ready task: the stable topological order.
  std::vector<std::size_t> indegree(n);
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t p = 0; p < n; ++p) {
    indegree[p] = ups[p].size();
    if (indegree[p] == 0) ready.push(p);
  }
  std::vector<std::size_t> order;
  order.reserve(n);
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const std::size_t p = ready.top();
    ready.pop();
    order.push_back(p);
    placed[p] = true;
    for (const std::size_t d : downs[p]) {
      if (--indegree[d] == 0) ready.push(d);
    }
  }
  if (order.size() != n) {
    // Every task left over has an unplaced upstream: walking upstream from one must come back
    // to a task already on the walk.
    std::size_t v = 0;
    while (placed[v]) ++v;
    std::vector<std::size_t> walk;
    std::vector<std::size_t> step(n, n);
    while (step[v] == n) {
      step[v] = walk.size();
      walk.push_back(v);
      for (const std::size_t u : ups[v]) {
        if (!placed[u]) {
          v = u;
          break;
        }
      }
    }
    // walk[step[v]..] goes upstream; print it downstream: v -> ... -> v.
    std::string msg = "cycle detected in DAG: " + tasks[v].task_id;
    for (std::size_t k = walk.size(); k-- > step[v];) msg += " -> " + tasks[walk[k]].task_id;
    throw std::invalid_argument(msg);
  }

  std::vector<index_type> index_of(n);
  for (std::size_t k = 0; k < n; ++k) index_of[order[k]] = static_cast<index_type>(k);

  m_ids.reserve(n);
  m_position.reserve(n);
  m_rule.reserve(n);
  m_flags.reserve(n);
  m_index.reserve(n);
  std::vector<std::vector<index_type>> up_rows(n);
  std::vector<std::vector<index_type>> down_rows(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t p = order[k];
    const task_spec& t = tasks[p];
    m_ids.push_back(t.task_id);
    m_index.emplace(t.task_id, static_cast<index_type>(k));
    m_position.push_back(p);
    m_rule.push_back(t.rule);
    std::uint8_t f = 0;
    if (t.is_setup) f |= flag_setup;
    if (t.is_teardown) f |= flag_teardown;
    if (t.on_failure_fail_dagrun) f |= flag_fail_dagrun;
    if (t.depends_on_past) f |= flag_depends_on_past;
    if (t.limits_concurrency) f |= flag_limits_concurrency;
    m_flags.push_back(f);
    for (const std::size_t u : ups[p]) up_rows[k].push_back(index_of[u]);
    for (const std::size_t d : downs[p]) down_rows[k].push_back(index_of[d]);
    std::sort(up_rows[k].begin(), up_rows[k].end());
    std::sort(down_rows[k].begin(), down_rows[k].end());
  }
  to_csr(up_rows, m_up_off, m_up);
  to_csr(down_rows, m_down_off, m_down);

  m_up_setups.assign(n, 0);
  for (index_type i = 0; i < n; ++i) {
    for (const index_type u : upstream(i)) m_up_setups[i] += is_setup(u) ? 1 : 0;
  }
  compute_setups();
  compute_leaves();
}

void run_graph::compute_setups() {
  const auto n = static_cast<index_type>(size());
  std::vector<std::vector<index_type>> relevant(n);
  std::vector<std::uint32_t> below(n, 0);  // stamp: downstream of the current setup
  std::vector<std::uint32_t> above(n, 0);  // stamp: upstream of one of its teardowns
  std::uint32_t stamp = 0;
  std::vector<index_type> stack;
  std::vector<index_type> descendants;
  for (index_type s = 0; s < n; ++s) {
    if (!is_setup(s)) continue;
    ++stamp;
    descendants.clear();
    stack.assign(downstream(s).begin(), downstream(s).end());
    for (const index_type d : stack) below[d] = stamp;
    while (!stack.empty()) {
      const index_type v = stack.back();
      stack.pop_back();
      descendants.push_back(v);
      for (const index_type d : downstream(v)) {
        if (below[d] != stamp) {
          below[d] = stamp;
          stack.push_back(d);
        }
      }
    }
    bool has_teardown = false;
    for (const index_type d : downstream(s)) {
      if (!is_teardown(d)) continue;
      has_teardown = true;
      for (const index_type u : upstream(d)) {
        if (above[u] != stamp) {
          above[u] = stamp;
          stack.push_back(u);
        }
      }
    }
    while (!stack.empty()) {
      const index_type v = stack.back();
      stack.pop_back();
      for (const index_type u : upstream(v)) {
        if (above[u] != stamp) {
          above[u] = stamp;
          stack.push_back(u);
        }
      }
    }
    // Relevant: the setup has no teardown, or a teardown of it is downstream of the task.
    for (const index_type v : descendants) {
      if (!has_teardown || above[v] == stamp) relevant[v].push_back(s);
    }
  }
  to_csr(relevant, m_rsetup_off, m_rsetup);

  std::vector<std::vector<index_type>> indirect(n);
  for (index_type i = 0; i < n; ++i) {
    if (is_teardown(i)) continue;  // a teardown has no indirect setups
    const auto ups = upstream(i);
    for (const index_type s : relevant_setups(i)) {
      if (!std::binary_search(ups.begin(), ups.end(), s)) indirect[i].push_back(s);
    }
  }
  to_csr(indirect, m_isetup_off, m_isetup);

  // Who reads a setup through the setup constraint: re-evaluated when that setup changes.
  std::vector<std::vector<index_type>> users(n);
  for (index_type i = 0; i < n; ++i) {
    for (const index_type s : indirect_setups(i)) users[s].push_back(i);
  }
  to_csr(users, m_isetup_users_off, m_isetup_users);
}

void run_graph::compute_leaves() {
  const auto n = static_cast<index_type>(size());
  // A teardown without on_failure_fail_dagrun does not count for the run state.
  const auto ignorable = [this](index_type i) {
    return is_teardown(i) && !on_failure_fail_dagrun(i);
  };
  for (index_type i = 0; i < n; ++i) {
    const auto down = downstream(i);
    if (!ignorable(i) && std::all_of(down.begin(), down.end(), ignorable)) m_leaves.push_back(i);
  }
  if (m_leaves.empty()) {  // a DAG of teardowns only
    for (index_type i = 0; i < n; ++i) {
      if (downstream(i).empty()) m_leaves.push_back(i);
    }
  }
}

std::optional<index_type> run_graph::find(std::string_view task_id) const noexcept {
  const auto it = m_index.find(task_id);
  if (it == m_index.end()) return std::nullopt;
  return it->second;
}

// -------------------------------------------------------------------------------------------
// decisions

// inline (only this file calls it): in the position-independent shared library a plain member
// function may be interposed, so every call went through the PLT and none was inlined into the
// rounds' loops; inlined, a decision of the scheduler benchmark's 50-task DAG costs a third.
inline evaluation_code run_graph::evaluate_task(index_type i, const std::uint8_t* states,
                                                bool flag_upstream_failed) const noexcept {
  const index_type ub = m_up_off[i];
  const index_type ue = m_up_off[i + 1];
  if (ub == ue) return {true, ti_state::none, trigger_reason::no_upstream};
  const trigger_rule rule = m_rule[i];
  if (rule == trigger_rule::always) return {true, ti_state::none, trigger_reason::always};

  bool setups_ok = true;
  const index_type sb = m_isetup_off[i];
  const index_type se = m_isetup_off[i + 1];
  if (sb != se) {
    upstream_counts s;
    s.upstream = se - sb;
    for (index_type k = sb; k < se; ++k) {
      switch (states[m_isetup[k]]) {
        case success_code:
          ++s.success;
          break;
        case skipped_code:
          ++s.skipped;
          break;
        case failed_code:
          ++s.failed;
          break;
        case upstream_failed_code:
          ++s.upstream_failed;
          break;
        default:
          break;
      }
    }
    const evaluation_code setup = evaluate_setup_constraint(s, flag_upstream_failed);
    if (setup.changes_state()) return setup;
    setups_ok = setup.passed;
  }

  upstream_counts c;
  if (ue - ub <= packed_limit) {
    // One table load and one add per upstream task: five 12-bit counters in a 64-bit word.
    std::uint64_t sum = 0;
    for (index_type k = ub; k < ue; ++k) sum += packed_table[states[m_up[k]]];
    c = upstream_counts::of(ue - ub, unpack(sum, 0), unpack(sum, 1), unpack(sum, 2), unpack(sum, 3),
                            unpack(sum, 4));
  } else {
    std::array<std::uint32_t, ti_state_count> by_state{};
    for (index_type k = ub; k < ue; ++k) ++by_state[states[m_up[k]]];
    c = upstream_counts::of(ue - ub, by_state[success_code], by_state[skipped_code],
                            by_state[failed_code], by_state[upstream_failed_code],
                            by_state[removed_code]);
  }
  if (rule == trigger_rule::all_done_setup_success && m_up_setups[i] != 0) {
    c.upstream_setup = m_up_setups[i];
    for (index_type k = ub; k < ue; ++k) {
      const index_type u = m_up[k];
      if (!is_setup(u)) continue;
      c.success_setup += states[u] == success_code ? 1U : 0U;
      c.skipped_setup += states[u] == skipped_code ? 1U : 0U;
    }
  }
  evaluation_code ev = evaluate_code(rule, c, flag_upstream_failed);
  if (ev.passed && !setups_ok) {
    ev.passed = false;
    ev.reason = trigger_reason::setups_not_successful;
  }
  return ev;
}

run_graph::outcome run_graph::decide_row(std::uint8_t* states, std::uint8_t* changed,
                                         std::uint8_t* schedulable_out,
                                         decide_scratch& scratch) const noexcept {
  std::fill(scratch.dirty.begin(), scratch.dirty.end(), std::uint8_t{1});
  propagate(states, changed, schedulable_out, scratch);
  return run_outcome(states, schedulable_out);
}

void run_graph::propagate(std::uint8_t* states, std::uint8_t* changed,
                          std::uint8_t* schedulable_out, decide_scratch& scratch) const noexcept {
  const auto n = static_cast<index_type>(size());
  // Rounds, as Airflow's scheduler loops: every candidate of a round is evaluated against the
  // states at the start of the round, and the round's changes are applied together. A later
  // round re-evaluates only the tasks whose inputs changed (downstream tasks, and tasks that
  // read a changed setup through the setup constraint); any other task would decide the same.
  std::uint8_t* dirty = scratch.dirty.data();
  index_type* pending = scratch.pending.data();
  for (;;) {
    index_type n_pending = 0;
    for (index_type i = 0; i < n; ++i) {
      if (!dirty[i]) continue;
      dirty[i] = 0;
      if (!schedulable(states[i])) continue;
      const evaluation_code ev = evaluate_task(i, states, true);
      if (ev.changes_state()) {
        changed[i] = code(ev.new_state);
        schedulable_out[i] = 0;
        pending[n_pending++] = i;
      } else {
        schedulable_out[i] = ev.passed ? 1 : 0;
      }
    }
    if (n_pending == 0) break;
    for (index_type k = 0; k < n_pending; ++k) {
      const index_type i = pending[k];
      states[i] = changed[i];
      for (const index_type d : downstream(i)) dirty[d] = 1;
      for (const index_type u : row(m_isetup_users_off, m_isetup_users, i)) dirty[u] = 1;
    }
  }
}

run_graph::outcome run_graph::run_outcome(const std::uint8_t* states,
                                          const std::uint8_t* schedulable_out) const noexcept {
  const auto n = static_cast<index_type>(size());
  bool any_schedulable = false;
  bool any_unfinished = false;
  bool blocked = false;  // Airflow's should_schedule is false: no deadlock detection
  for (index_type i = 0; i < n; ++i) {
    const std::uint8_t s = states[i];
    const bool unfinished = !finished(s);
    any_schedulable |= schedulable_out[i] != 0;
    any_unfinished |= unfinished;
    blocked |= unfinished & (((m_flags[i] & flag_blocks_deadlock) != 0) | (s == deferred_code));
  }
  if (!any_unfinished) {
    for (const index_type leaf : m_leaves) {
      if (failed_table[states[leaf]]) return {dagrun_state::failed, run_reason::task_failure};
    }
    return {dagrun_state::success, run_reason::success};
  }
  if (blocked || any_schedulable) return {dagrun_state::running, run_reason::none};
  // Airflow's premature check: an unfinished task already past scheduling (queued, running...)
  // whose dependencies are met means the run is making progress.
  for (index_type i = 0; i < n; ++i) {
    const std::uint8_t s = states[i];
    if (finished(s) || schedulable(s)) continue;
    if (evaluate_task(i, states, false).passed) return {dagrun_state::running, run_reason::none};
  }
  return {dagrun_state::failed, run_reason::all_tasks_deadlocked};
}

void run_graph::check_size(std::size_t n_codes, std::size_t n_runs) const {
  const std::size_t n = size();
  if (n_runs != 0 && n > std::numeric_limits<std::size_t>::max() / n_runs) {
    throw std::length_error("too many runs: " + std::to_string(n_runs));
  }
  if (n_codes != n_runs * n) {
    throw std::invalid_argument("expected " + std::to_string(n_runs * n) + " state codes (" +
                                std::to_string(n_runs) + " run(s) of " + std::to_string(n) +
                                " task(s)), got " + std::to_string(n_codes));
  }
}

void run_graph::check_row(std::span<const std::uint8_t> row, std::optional<std::size_t> run) const {
  std::uint8_t highest = 0;  // a max reduction vectorises; the search runs only on bad input
  for (const std::uint8_t c : row) highest = std::max(highest, c);
  if (highest < ti_state_count) return;
  const auto bad =
      std::find_if(row.begin(), row.end(), [](std::uint8_t c) { return c >= ti_state_count; });
  const std::string where = run ? "run " + std::to_string(*run) + ": " : "";
  throw std::invalid_argument(where + "task " +
                              quoted(m_ids[static_cast<std::size_t>(bad - row.begin())]) +
                              " has unknown state code " + std::to_string(*bad));
}

run_decision run_graph::decide(std::span<const ti_state> states) const {
  std::vector<std::uint8_t> codes(states.size());
  for (std::size_t i = 0; i < states.size(); ++i) codes[i] = code(states[i]);
  return decide_codes(codes);
}

run_decision run_graph::decide_codes(std::span<const std::uint8_t> codes) const {
  check_size(codes.size(), 1);
  const std::size_t n = size();
  std::vector<std::uint8_t> states(codes.begin(), codes.end());
  check_row(states, std::nullopt);
  std::vector<std::uint8_t> changed(n, 0);
  std::vector<std::uint8_t> sched(n, 0);
  decide_scratch scratch(n);
  const outcome o = decide_row(states.data(), changed.data(), sched.data(), scratch);
  run_decision d;
  d.state = o.state;
  d.reason = o.reason;
  for (std::size_t i = 0; i < n; ++i) {
    if (sched[i] != 0) d.schedulable.push_back(static_cast<std::uint32_t>(i));
    if (changed[i] != 0) {
      d.changed.push_back({static_cast<std::uint32_t>(i), static_cast<ti_state>(changed[i])});
    }
  }
  return d;
}

decision_batch run_graph::decide_many(std::span<const std::uint8_t> codes,
                                      std::size_t n_runs) const {
  check_size(codes.size(), n_runs);
  const std::size_t n = size();
  decision_batch out(n_runs, n);
  std::vector<std::uint8_t> row(n);
  decide_scratch scratch(n);
  for (std::size_t r = 0; r < n_runs; ++r) {
    // The row is checked after the copy, so a caller's buffer that changes meanwhile (another
    // thread writing a bytearray) cannot put an unchecked code into the kernel.
    if (n != 0) std::memcpy(row.data(), codes.data() + r * n, n);
    check_row(row, r);
    const outcome o = decide_row(row.data(), out.m_changed.data() + r * n,
                                 out.m_schedulable.data() + r * n, scratch);
    out.m_states[r] = static_cast<std::uint8_t>(o.state);
    out.m_reasons[r] = static_cast<std::uint8_t>(o.reason);
  }
  return out;
}

decision_batch run_graph::decide_many_cascade(std::span<const std::uint8_t> codes,
                                              std::size_t n_runs,
                                              std::span<const std::uint8_t> auto_success,
                                              std::size_t max_rounds,
                                              std::vector<std::uint8_t>& done,
                                              std::vector<std::uint32_t>& rounds) const {
  check_size(codes.size(), n_runs);
  const std::size_t n = size();
  if (auto_success.size() != n) {
    throw std::invalid_argument("expected " + std::to_string(n) +
                                " auto-success flags (one per task), got " +
                                std::to_string(auto_success.size()));
  }
  if (max_rounds == 0) throw std::invalid_argument("max_rounds must be >= 1");
  decision_batch out(n_runs, n);
  done.assign(n_runs * n, 0);
  rounds.assign(n_runs, 0);
  std::vector<std::uint8_t> work(n);
  std::vector<index_type> ready(n);
  decide_scratch scratch(n);
  for (std::size_t r = 0; r < n_runs; ++r) {
    if (n != 0) std::memcpy(work.data(), codes.data() + r * n, n);
    check_row(work, r);
    std::uint8_t* states = work.data();
    std::uint8_t* changed = out.m_changed.data() + r * n;
    std::uint8_t* sched = out.m_schedulable.data() + r * n;
    std::uint8_t* marked = done.data() + r * n;
    std::fill(scratch.dirty.begin(), scratch.dirty.end(), std::uint8_t{1});
    outcome o{dagrun_state::running, run_reason::none};
    for (std::size_t round = 1;; ++round) {
      propagate(states, changed, sched, scratch);
      std::size_t n_ready = 0;
      for (index_type i = 0; i < static_cast<index_type>(n); ++i) {
        if (sched[i] != 0 && auto_success[i] != 0 && states[i] == 0) ready[n_ready++] = i;
      }
      const bool last = n_ready == 0 || round >= max_rounds;
      if (last) o = run_outcome(states, sched);
      // Set success, as the scheduler does between its rounds; the tasks they feed are
      // evaluated again in the next round (a task set success is no candidate any more).
      for (std::size_t k = 0; k < n_ready; ++k) {
        const index_type i = ready[k];
        states[i] = success_code;
        marked[i] = 1;
        sched[i] = 0;
        for (const index_type d : downstream(i)) scratch.dirty[d] = 1;
        for (const index_type u : row(m_isetup_users_off, m_isetup_users, i)) scratch.dirty[u] = 1;
      }
      if (last) {
        rounds[r] = static_cast<std::uint32_t>(round);
        break;
      }
    }
    out.m_states[r] = static_cast<std::uint8_t>(o.state);
    out.m_reasons[r] = static_cast<std::uint8_t>(o.reason);
  }
  return out;
}

// -------------------------------------------------------------------------------------------
// runs with mapped tasks: instance counts per task and state

namespace {
constexpr std::size_t K = ti_state_count;

std::uint32_t total(const std::uint32_t* task_counts) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t s = 0; s < K; ++s) sum += task_counts[s];
  return sum;
}
std::uint32_t candidates(const std::uint32_t* task_counts) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t s = 0; s < K; ++s) sum += schedulable_table[s] ? task_counts[s] : 0U;
  return sum;
}
std::uint32_t unfinished(const std::uint32_t* task_counts) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t s = 0; s < K; ++s) sum += finished_table[s] ? 0U : task_counts[s];
  return sum;
}
}  // namespace

// inline for the reason given at evaluate_task.
inline evaluation_code run_graph::evaluate_counts(index_type i, const std::uint32_t* counts,
                                                  bool flag_upstream_failed) const noexcept {
  const index_type ub = m_up_off[i];
  const index_type ue = m_up_off[i + 1];
  if (ub == ue) return {true, ti_state::none, trigger_reason::no_upstream};
  const trigger_rule rule = m_rule[i];
  if (rule == trigger_rule::always) return {true, ti_state::none, trigger_reason::always};
  const auto add = [counts](upstream_counts& c, index_type u) {
    const std::uint32_t* h = counts + static_cast<std::size_t>(u) * K;
    c.upstream += total(h);
    c.success += h[success_code];
    c.skipped += h[skipped_code];
    c.failed += h[failed_code];
    c.upstream_failed += h[upstream_failed_code];
    c.removed += h[removed_code];
  };
  bool setups_ok = true;
  const index_type sb = m_isetup_off[i];
  const index_type se = m_isetup_off[i + 1];
  if (sb != se) {
    upstream_counts s;
    for (index_type k = sb; k < se; ++k) add(s, m_isetup[k]);
    s.done = s.success + s.skipped + s.failed + s.upstream_failed + s.removed;
    const evaluation_code setup = evaluate_setup_constraint(s, flag_upstream_failed);
    if (setup.changes_state()) return setup;
    setups_ok = setup.passed;
  }
  upstream_counts c;
  for (index_type k = ub; k < ue; ++k) add(c, m_up[k]);
  c.done = c.success + c.skipped + c.failed + c.upstream_failed + c.removed;
  if (rule == trigger_rule::all_done_setup_success && m_up_setups[i] != 0) {
    for (index_type k = ub; k < ue; ++k) {
      const index_type u = m_up[k];
      if (!is_setup(u)) continue;
      const std::uint32_t* h = counts + static_cast<std::size_t>(u) * K;
      c.upstream_setup += total(h);
      c.success_setup += h[success_code];
      c.skipped_setup += h[skipped_code];
    }
  }
  evaluation_code ev = evaluate_code(rule, c, flag_upstream_failed);
  if (ev.passed && !setups_ok) {
    ev.passed = false;
    ev.reason = trigger_reason::setups_not_successful;
  }
  return ev;
}

run_graph::outcome run_graph::decide_counts_row(std::uint32_t* counts, std::uint8_t* changed,
                                                std::uint8_t* schedulable_out,
                                                decide_scratch& scratch) const noexcept {
  // decide_row's rounds over instance counts: a task is a candidate while any instance is
  // schedulable; a state change moves all its schedulable instances to the new state.
  const auto n = static_cast<index_type>(size());
  std::uint8_t* dirty = scratch.dirty.data();
  index_type* pending = scratch.pending.data();
  std::fill(dirty, dirty + n, std::uint8_t{1});
  for (;;) {
    index_type n_pending = 0;
    for (index_type i = 0; i < n; ++i) {
      if (!dirty[i]) continue;
      dirty[i] = 0;
      if (candidates(counts + static_cast<std::size_t>(i) * K) == 0) continue;
      const evaluation_code ev = evaluate_counts(i, counts, true);
      if (ev.changes_state()) {
        changed[i] = code(ev.new_state);
        schedulable_out[i] = 0;
        pending[n_pending++] = i;
      } else {
        schedulable_out[i] = ev.passed ? 1 : 0;
      }
    }
    if (n_pending == 0) break;
    for (index_type k = 0; k < n_pending; ++k) {
      const index_type i = pending[k];
      std::uint32_t* h = counts + static_cast<std::size_t>(i) * K;
      std::uint32_t moved = 0;
      for (std::size_t s = 0; s < K; ++s) {
        if (!schedulable_table[s]) continue;
        moved += h[s];
        h[s] = 0;
      }
      h[changed[i]] += moved;
      for (const index_type d : downstream(i)) dirty[d] = 1;
      for (const index_type u : row(m_isetup_users_off, m_isetup_users, i)) dirty[u] = 1;
    }
  }
  bool any_schedulable = false;
  bool any_unfinished = false;
  bool blocked = false;
  for (index_type i = 0; i < n; ++i) {
    const std::uint32_t* h = counts + static_cast<std::size_t>(i) * K;
    const bool open = unfinished(h) != 0;
    any_schedulable |= schedulable_out[i] != 0;
    any_unfinished |= open;
    blocked |= open & (((m_flags[i] & flag_blocks_deadlock) != 0) | (h[deferred_code] != 0));
  }
  if (!any_unfinished) {
    for (const index_type leaf : m_leaves) {
      const std::uint32_t* h = counts + static_cast<std::size_t>(leaf) * K;
      for (std::size_t s = 0; s < K; ++s) {
        if (failed_table[s] && h[s] != 0) return {dagrun_state::failed, run_reason::task_failure};
      }
    }
    return {dagrun_state::success, run_reason::success};
  }
  if (blocked || any_schedulable) return {dagrun_state::running, run_reason::none};
  for (index_type i = 0; i < n; ++i) {
    const std::uint32_t* h = counts + static_cast<std::size_t>(i) * K;
    if (unfinished(h) - candidates(h) == 0) continue;  // no instance past scheduling
    if (evaluate_counts(i, counts, false).passed) return {dagrun_state::running, run_reason::none};
  }
  return {dagrun_state::failed, run_reason::all_tasks_deadlocked};
}

decision_batch run_graph::decide_counts(std::span<const std::uint32_t> counts,
                                        std::size_t n_runs) const {
  const std::size_t n = size();
  const std::size_t width = n * K;
  if (n_runs != 0 && width != 0 && width > std::numeric_limits<std::size_t>::max() / n_runs) {
    throw std::length_error("too many runs: " + std::to_string(n_runs));
  }
  if (counts.size() != n_runs * width) {
    throw std::invalid_argument("expected " + std::to_string(n_runs * width) +
                                " instance counts (" + std::to_string(n_runs) + " run(s) of " +
                                std::to_string(n) + " task(s) x " + std::to_string(K) +
                                " states), got " + std::to_string(counts.size()));
  }
  decision_batch out(n_runs, n);
  std::vector<std::uint32_t> row(width);
  decide_scratch scratch(n);
  for (std::size_t r = 0; r < n_runs; ++r) {
    if (width != 0)
      std::memcpy(row.data(), counts.data() + r * width, width * sizeof(std::uint32_t));
    for (std::size_t i = 0; i < n; ++i) {
      // Sums of instance counts must not wrap: a task has at most 2^31 instances in all.
      std::uint64_t sum = 0;
      for (std::size_t s = 0; s < K; ++s) sum += row[i * K + s];
      if (sum > (std::uint64_t{1} << 31)) {
        throw std::invalid_argument("run " + std::to_string(r) + ": task " + quoted(m_ids[i]) +
                                    " has " + std::to_string(sum) + " instances (too many)");
      }
    }
    const outcome o = decide_counts_row(row.data(), out.m_changed.data() + r * n,
                                        out.m_schedulable.data() + r * n, scratch);
    out.m_states[r] = static_cast<std::uint8_t>(o.state);
    out.m_reasons[r] = static_cast<std::uint8_t>(o.reason);
  }
  return out;
}

// -------------------------------------------------------------------------------------------
// clear closure

std::vector<index_type> run_graph::clear_closure(std::span<const index_type> tasks,
                                                 bool upstream_too, bool downstream_too) const {
  const auto n = static_cast<index_type>(size());
  std::vector<bool> matched(n, false);
  std::vector<bool> keep(n, false);
  for (const index_type t : tasks) {
    if (t >= n) throw std::out_of_range("task index " + std::to_string(t) + " out of range");
    matched[t] = true;
    keep[t] = true;
  }
  // Airflow's get_upstreams_only_setups_and_teardowns: relevant setups and their teardowns.
  const auto add_relevant_setups = [&](index_type t) {
    for (const index_type s : relevant_setups(t)) {
      keep[s] = true;
      for (const index_type d : downstream(s)) {
        if (is_teardown(d)) keep[d] = true;
      }
    }
  };
  // All tasks reachable from the matched ones through `next` (not the matched ones themselves
  // unless reachable from another).
  const auto reach = [&](auto next) {
    std::vector<bool> seen(n, false);
    std::vector<index_type> stack;
    for (index_type t = 0; t < n; ++t) {
      if (!matched[t]) continue;
      for (const index_type v : next(t)) {
        if (!seen[v]) {
          seen[v] = true;
          stack.push_back(v);
        }
      }
    }
    while (!stack.empty()) {
      const index_type v = stack.back();
      stack.pop_back();
      for (const index_type w : next(v)) {
        if (!seen[w]) {
          seen[w] = true;
          stack.push_back(w);
        }
      }
    }
    return seen;
  };

  if (downstream_too) {
    const std::vector<bool> below = reach([this](index_type v) { return downstream(v); });
    for (index_type v = 0; v < n; ++v) {
      if (!below[v]) continue;
      keep[v] = true;
      if (!matched[v] && !is_setup(v) && !is_teardown(v)) add_relevant_setups(v);
    }
  }
  if (upstream_too) {
    // get_upstreams_follow_setups: every upstream task, and the teardowns of upstream setups.
    const std::vector<bool> above = reach([this](index_type v) { return upstream(v); });
    for (index_type v = 0; v < n; ++v) {
      if (!above[v]) continue;
      keep[v] = true;
      if (!is_setup(v)) continue;
      for (const index_type d : downstream(v)) {
        if (is_teardown(d)) keep[d] = true;
      }
    }
  }
  for (index_type t = 0; t < n; ++t) {
    if (!matched[t]) continue;
    if (!upstream_too && !is_setup(t) && !is_teardown(t)) add_relevant_setups(t);
    if (is_setup(t) && !downstream_too) {
      for (const index_type d : downstream(t)) {
        if (is_teardown(d)) keep[d] = true;
      }
    }
  }
  std::vector<index_type> out;
  for (index_type v = 0; v < n; ++v) {
    if (keep[v]) out.push_back(v);
  }
  return out;
}

}  // namespace dagcore
