#!/usr/bin/env python3
"""Benchmark dagcore's run-state engine and backfill planner against straightforward Python.

Why this benchmark exists: Airflow decides every active DAG run in Python on every scheduler
loop: it evaluates the trigger rule of each schedulable task instance over its upstream states,
propagates skips and upstream failures, and derives the run's state from its leaves. A scheduler
with thousands of active runs of a wide DAG spends its loop there. Creating a backfill walks
``croniter`` one date at a time and looks up each date's existing run. dagcore does both in one
C++ call for many runs or for the whole date range.

Workloads (fixed seeds, same process):

1. Run decisions: a 50-task DAG (3 setups, 2 teardowns, one with ``on_failure_fail_dagrun``, a
   setup without teardown, 5 layers of 9 tasks with every trigger rule, a task downstream of a
   teardown) and 10,000 runs whose states come from simulating partial progress in topological
   order: a task whose rule passes gets an outcome (mostly success, some failed or skipped, a few
   running/queued/scheduled/up_for_retry/deferred, in "stuck" runs some removed) if it lies
   within the run's progress prefix, else stays without state; a task the rules would skip or
   fail gets that state most of the time and otherwise stays without state, as it would until
   the next scheduler loop propagates it. The runs cover running, success, failed (task failure)
   and deadlocked decisions, and most have states to change.
2. Backfill planning: ``0 * * * *`` (CronTriggerTimetable, UTC) from 2015-01-01 00:00 to
   2024-12-31 23:00 UTC inclusive (87,672 dates); 10% of the dates (a fixed random sample)
   already have a run, in mixed states (success 50%, failed 25%, running 15%, queued 10%).
   Timed with reprocess behavior "failed" (every action and reason occurs); the plans of all
   three behaviors are checked.

Contestants, run decisions (the figures are per run):

- Python reference: a straightforward implementation of the rules (docs/airflow-behaviour.md
  3.3-3.6; trigger_rule_dep.py's tables with flag_upstream_failed, the setup constraint with
  Airflow's relevant setups, effective leaves, the deadlock check), written below. Per-DAG facts
  (upstream lists, indirect setups, leaves) are computed once, as Airflow's DAG object does; per
  run it works on a list of states in graph order. Skips and failures propagate in rounds, as
  Airflow's scheduler loops do and as dagcore's ``RunGraph.decide``/``decide_many``/
  ``decide_many_compact`` do (run_state.hpp): each round evaluates every candidate against the
  states at the round's start (each loop's ``finished_tis`` is fixed for the loop), applies its
  changes together, and rounds repeat until one changes nothing. Every dagcore path must agree
  with it on every run. The same reference with a single topological pass (each change seen by
  the later tasks at once) is run once, untimed, only to count the runs whose decision would
  differ under one pass (an informational note, no target).
- The headline, for both decide targets (``decide_us_per_run``, ``decide_speedup_vs_python``):
  dagcore starting from the compact form a scheduler keeps its states in (one ``bytes`` per run,
  one state code per task in graph order, ``RunGraph.encode``'s form), timed from those rows to
  usable results: joining the rows into one block (``b"".join(rows)``),
  ``RunGraph.decide_many_compact`` on it (decoding and validating the codes in C++, the
  decisions, building the RunDecisionBatch) and reading the batch's four columns (states,
  reasons, changed, schedulable) as bytes. Also reported from the compact form: the same call on
  one prebuilt block; ``decide_many`` on the bytes rows (a RunDecision object per run);
  ``decide`` once per row.
- Informational, from other inputs: the compact input built from the per-run state lists
  (members of TaskInstanceState or None, graph order) in Python (``bytes(map(code,
  chain(runs)))``) and by ``RunGraph.encode_many`` (C++), each alone and each followed by
  ``decide_many_compact`` and the columns; ``decide_many`` on mappings (task_id -> state for
  every task, prebuilt: the encoding happens inside the call).

Every dagcore path is checked against the reference on every run: run state, reason,
schedulable set and changed states must be equal (mismatches are counted and shown, never hidden).

Contestants, backfill (the figures are the whole plan, ms):

- Python reference: croniter ``get_next(datetime)`` over the range (aware UTC), then a dict
  lookup per date in the existing runs and in the reprocess table, giving (logical date, action,
  reason) tuples.
- dagcore ``plan_backfill`` (a list of BackfillPlanEntry; ``plan_ms_hourly_10y``),
  ``plan_backfill_batch`` (columns, nothing materialized) and ``plan_backfill_batch`` with its
  logical dates, actions and reasons read out as lists. The timetable and the existing-runs dict
  are built once outside the timers and given to every contestant.

Timing method: ``time.perf_counter_ns`` around each contestant with the garbage collector paused,
dagcore's contestants interleaved in each repeat, the best repeat reported.

Output: plain-text tables with the targets marked PASS/MISS, then, as the last line of stdout,
one JSON object holding every figure. A benchmark reports; it never asserts, so the exit status
is 0 whether or not a target is met, and when dagcore's run-state or backfill module is missing
the references still run and the JSON line says so (only a dagcore that does not import at all
stops the script, with a build hint, as the other benchmarks do).

Usage: ``python benchmarks/run_state_bench.py [--quick]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import chain
from typing import Any

from common import fmt, format_table, gc_paused, missing_dagcore, ratio, rounded

try:
    import dagcore
    from dagcore.state import TI_STATE_CODES, DagRunState, TaskInstanceState
    from dagcore.trigger_rule import TriggerRule
except ImportError as exc:  # pragma: no cover - depends on the build
    raise missing_dagcore("run_state_bench", exc) from exc

try:  # the engines under test; without them the script still runs the references and reports
    from dagcore.backfill import plan_backfill, plan_backfill_batch
    from dagcore.run_state import RunGraph, TaskSpec
    from dagcore.timetables import CronTriggerTimetable
    ENGINE_IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the build
    ENGINE_IMPORT_ERROR = str(exc)

try:
    from croniter import croniter
except ImportError:  # pragma: no cover - Debian package python3-croniter
    croniter = None

UTC = timezone.utc
TI = TaskInstanceState
TR = TriggerRule
SEED = 20_260_104

RUNS = 10_000
LAYERS = 5
WIDTH = 9  # 3 setups + 5 x 9 work tasks + 2 teardowns = 50 tasks

BACKFILL_FROM = datetime(2015, 1, 1, tzinfo=UTC)
BACKFILL_TO = datetime(2024, 12, 31, 23, tzinfo=UTC)  # inclusive: 87,672 hourly dates
BACKFILL_NOW = datetime(2026, 1, 1, tzinfo=UTC)
BACKFILL_CRON = "0 * * * *"
EXISTING_FRACTION = 0.10
EXISTING_STATES = ((DagRunState.SUCCESS, 50), (DagRunState.FAILED, 25),
                   (DagRunState.RUNNING, 15), (DagRunState.QUEUED, 10))
TIMED_REPROCESS = "failed"
REPROCESS_BEHAVIORS = ("none", "failed", "completed")

# Targets from the issue.
TARGET_DECIDE_SPEEDUP = 30.0  # dagcore >= 30x the Python (scheduler-loop rounds) reference
TARGET_DECIDE_US = 5.0  # <= 5 us per run decision, from the compact input form (bytes per run)
TARGET_PLAN_SPEEDUP = 50.0  # plan_backfill >= 50x the Python reference
TARGET_PLAN_MS = 250.0  # <= 250 ms for the hourly 10-year plan


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Sizes of one run; ``--quick`` only lowers the repeats (the workloads stay full size)."""

    quick: bool
    runs: int
    reference_repeats: int
    dagcore_repeats: int
    plan_reference_repeats: int

    @classmethod
    def for_mode(cls, *, quick: bool) -> Settings:
        """Return the sizes for a quick or a full run."""
        if quick:
            return cls(quick=True, runs=RUNS, reference_repeats=1, dagcore_repeats=3,
                       plan_reference_repeats=1)
        return cls(quick=False, runs=RUNS, reference_repeats=3, dagcore_repeats=15,
                   plan_reference_repeats=3)


# =========================================================================== Python reference
#
# Airflow's rules as a careful Python programmer would write them (trigger_rule_dep.py,
# DagRun.update_state / task_instance_scheduling_decisions / _tis_for_dagrun_state).

FINISHED = TI.finished
SCHEDULABLE = TI.schedulable
FAILED_STATES = TI.failed_states
SUCCESS_STATES = TI.success_states


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDef:
    """One task of the benchmark DAG (the benchmark's own record, converted to dagcore's)."""

    task_id: str
    upstream: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TR.ALL_SUCCESS
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    depends_on_past: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One run's decision in a form both sides convert to: run state, Airflow's reason
    ("success", "task_failure", "all_tasks_deadlocked", None while running), schedulable task
    indices (sorted), changed states as sorted (index, state) pairs."""

    state: DagRunState
    reason: str | None
    schedulable: tuple[int, ...]
    changed: tuple[tuple[int, TaskInstanceState], ...]


class RefGraph:
    """The per-DAG facts Airflow's DAG object caches, indexed 0..n-1 in the given task order
    (which must be topological: the benchmark's order is, and dagcore keeps such an order)."""

    def __init__(self, tasks: Sequence[TaskDef]) -> None:
        self.tasks = list(tasks)
        self.n = len(self.tasks)
        self.index = {t.task_id: i for i, t in enumerate(self.tasks)}
        self.upstream = [tuple(dict.fromkeys(self.index[u] for u in t.upstream))
                         for t in self.tasks]
        if any(u >= i for i, ups in enumerate(self.upstream) for u in ups):
            raise ValueError("tasks must be given in topological order")
        downstream: list[list[int]] = [[] for _ in range(self.n)]
        for i, ups in enumerate(self.upstream):
            for u in ups:
                downstream[u].append(i)
        self.downstream = [tuple(d) for d in downstream]
        self.rule = [t.trigger_rule for t in self.tasks]
        self.is_setup = [t.is_setup for t in self.tasks]
        self.is_teardown = [t.is_teardown for t in self.tasks]
        self.depends_on_past = [t.depends_on_past for t in self.tasks]
        self.upstream_setups = [sum(1 for u in ups if self.is_setup[u]) for ups in self.upstream]
        ancestors: list[frozenset[int]] = []
        for ups in self.upstream:
            ancestors.append(frozenset(ups).union(*(ancestors[u] for u in ups)))
        descendants: list[frozenset[int]] = [frozenset()] * self.n
        for i in reversed(range(self.n)):
            downs = self.downstream[i]
            descendants[i] = frozenset(downs).union(*(descendants[d] for d in downs))
        self.indirect_setups = [self._indirect_setups(i, ancestors[i], descendants[i])
                                for i in range(self.n)]
        self.leaves = self._effective_leaves()

    def _indirect_setups(self, i: int, ancestors: frozenset[int],
                         descendants: frozenset[int]) -> tuple[int, ...]:
        """Airflow's get_upstreams_only_setups minus the direct upstreams (none for teardowns):
        an upstream setup is relevant if it has no teardown or one of its teardowns is
        downstream of the task."""
        if self.is_teardown[i]:
            return ()
        out = []
        for s in sorted(ancestors):
            if not self.is_setup[s] or s in self.upstream[i]:
                continue
            teardowns = [d for d in self.downstream[s] if self.is_teardown[d]]
            if not teardowns or any(d in descendants for d in teardowns):
                out.append(s)
        return tuple(out)

    def _effective_leaves(self) -> tuple[int, ...]:
        """Airflow's _tis_for_dagrun_state task set."""

        def ignorable(i: int) -> bool:
            return self.is_teardown[i] and not self.tasks[i].on_failure_fail_dagrun

        leaves = [i for i in range(self.n)
                  if all(ignorable(d) for d in self.downstream[i]) and not ignorable(i)]
        return tuple(leaves or [i for i in range(self.n) if not self.downstream[i]])


def ref_evaluate(g: RefGraph, i: int, states: Sequence[TaskInstanceState | None]
                 ) -> tuple[TaskInstanceState | None, bool]:
    """TriggerRuleDep for task i with flag_upstream_failed: (new state or None, passes?)."""
    ups = g.upstream[i]
    if not ups:
        return None, True
    rule = g.rule[i]
    if rule is TR.ALWAYS:
        return None, True

    setups_pass = True
    indirect = g.indirect_setups[i]
    if indirect:  # the setup constraint: fail or skip fast, else wait for every setup
        s_success = s_skipped = s_failed = 0
        for s in indirect:
            st = states[s]
            if st is TI.SUCCESS:
                s_success += 1
            elif st is TI.SKIPPED:
                s_skipped += 1
            elif st is TI.FAILED or st is TI.UPSTREAM_FAILED:
                s_failed += 1
        if s_failed:
            return TI.UPSTREAM_FAILED, False
        if s_skipped:
            return TI.SKIPPED, False
        setups_pass = s_success >= len(indirect)

    success = skipped = failed = upstream_failed = removed = done = 0
    success_setup = skipped_setup = 0
    for u in ups:
        st = states[u]
        if st not in FINISHED:
            continue
        done += 1
        if st is TI.SUCCESS:
            success += 1
            if g.is_setup[u]:
                success_setup += 1
        elif st is TI.SKIPPED:
            skipped += 1
            if g.is_setup[u]:
                skipped_setup += 1
        elif st is TI.FAILED:
            failed += 1
        elif st is TI.UPSTREAM_FAILED:
            upstream_failed += 1
        else:
            removed += 1
    upstream = len(ups)
    upstream_setup = g.upstream_setups[i]
    upstream_done = done >= upstream

    new: TaskInstanceState | None = None
    if rule is TR.ALL_SUCCESS:
        if upstream_failed or failed:
            new = TI.UPSTREAM_FAILED
        elif skipped:
            new = TI.SKIPPED
    elif rule is TR.ALL_FAILED:
        if success or skipped:
            new = TI.SKIPPED
    elif rule is TR.ONE_SUCCESS:
        if upstream_done and done == skipped:
            new = TI.SKIPPED
        elif upstream_done and success <= 0:
            new = TI.UPSTREAM_FAILED
    elif rule is TR.ONE_FAILED:
        if upstream_done and not (failed or upstream_failed):
            new = TI.SKIPPED
    elif rule is TR.ONE_DONE:
        if upstream_done and not (failed or success):
            new = TI.SKIPPED
    elif rule is TR.NONE_FAILED:
        if upstream_failed or failed:
            new = TI.UPSTREAM_FAILED
    elif rule is TR.NONE_FAILED_MIN_ONE_SUCCESS:
        if upstream_failed or failed:
            new = TI.UPSTREAM_FAILED
        elif skipped == upstream:
            new = TI.SKIPPED
    elif rule is TR.NONE_SKIPPED:
        if skipped:
            new = TI.SKIPPED
    elif rule is TR.ALL_SKIPPED:
        if success or failed or upstream_failed:
            new = TI.SKIPPED
    elif rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        if skipped > 0:
            new = TI.SKIPPED
        elif success + failed + upstream_failed + removed >= upstream - skipped and success == 0:
            new = TI.UPSTREAM_FAILED
    elif rule is TR.ALL_DONE_SETUP_SUCCESS:
        if upstream_done and upstream_setup and skipped_setup >= upstream_setup:
            new = TI.SKIPPED
        elif upstream_done and upstream_setup and success_setup == 0:
            new = TI.UPSTREAM_FAILED

    if rule is TR.ONE_SUCCESS:
        passed = success > 0
    elif rule is TR.ONE_FAILED:
        passed = bool(failed or upstream_failed)
    elif rule is TR.ONE_DONE:
        passed = success + failed > 0
    elif rule is TR.ALL_SUCCESS:
        passed = upstream - success <= 0
    elif rule is TR.ALL_FAILED:
        passed = upstream - failed - upstream_failed <= 0
    elif rule is TR.ALL_DONE:
        passed = upstream_done
    elif rule is TR.NONE_FAILED or rule is TR.NONE_FAILED_MIN_ONE_SUCCESS:
        passed = upstream - success - skipped <= 0
    elif rule is TR.NONE_SKIPPED:
        passed = upstream_done and skipped == 0
    elif rule is TR.ALL_SKIPPED:
        passed = upstream - skipped <= 0
    elif rule is TR.ALL_DONE_SETUP_SUCCESS:
        passed = upstream_done and (not upstream_setup or success_setup > 0)
    elif rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        passed = (skipped == 0 and success + failed + upstream_failed + removed >= upstream
                  and success > 0)
    else:
        passed = False
    return new, passed and setups_pass


def ref_decide(g: RefGraph, states: Sequence[TaskInstanceState | None], *,
               propagation: str = "rounds") -> Decision:
    """Decide one run from its task states (graph order).

    ``propagation="rounds"`` (the reference, dagcore's semantics): Airflow's scheduler loops,
    each evaluating every candidate against the states at the start of the loop and applying
    the loop's changes together, until a loop changes nothing. ``"topological"``: one pass in
    graph order, each change seen by the tasks after it at once (informational only: it counts
    the runs a single pass would decide differently).
    """
    current = list(states)
    changed: dict[int, TaskInstanceState] = {}
    n = g.n
    if propagation == "topological":
        schedulable = []
        for i in range(n):
            if current[i] not in SCHEDULABLE:
                continue
            new, passed = ref_evaluate(g, i, current)
            if new is not None:
                current[i] = changed[i] = new
            elif passed:
                schedulable.append(i)
    elif propagation == "rounds":
        while True:
            schedulable = []
            changes = []
            for i in range(n):
                if current[i] not in SCHEDULABLE:
                    continue
                new, passed = ref_evaluate(g, i, current)
                if new is not None:
                    changes.append((i, new))
                elif passed:
                    schedulable.append(i)
            if not changes:
                break
            for i, new in changes:
                current[i] = changed[i] = new
    else:
        raise ValueError(f"unknown propagation {propagation!r}")
    changes_out = tuple(sorted(changed.items()))

    unfinished = [i for i in range(n) if current[i] not in FINISHED]
    if not unfinished:
        if any(current[i] in FAILED_STATES for i in g.leaves):  # removed: neither
            return Decision(state=DagRunState.FAILED, reason="task_failure", schedulable=(),
                            changed=changes_out)
        return Decision(state=DagRunState.SUCCESS, reason="success", schedulable=(),
                        changed=changes_out)
    should_schedule = all(current[i] is not TI.DEFERRED and not g.depends_on_past[i]
                          for i in unfinished)
    if should_schedule and not schedulable:
        # Airflow's "premature" re-check: an in-flight task whose dependencies are met.
        runnable = any(ref_evaluate(g, i, current)[1] for i in unfinished
                       if current[i] not in SCHEDULABLE)
        if not runnable:
            return Decision(state=DagRunState.FAILED, reason="all_tasks_deadlocked",
                            schedulable=(), changed=changes_out)
    return Decision(state=DagRunState.RUNNING, reason=None, schedulable=tuple(schedulable),
                    changed=changes_out)


# --------------------------------------------------------------------------- backfill reference

# (existing run state, reprocess behavior) -> (action, reason), docs/airflow-behaviour.md 2.5.
BACKFILL_TABLE: dict[tuple[DagRunState, str], tuple[str, str | None]] = {}
for _state in DagRunState:
    for _behavior in REPROCESS_BEHAVIORS:
        if _state not in DagRunState.finished:
            BACKFILL_TABLE[(_state, _behavior)] = ("skip", "in flight")
        elif (_state is DagRunState.FAILED and _behavior != "none") or _behavior == "completed":
            BACKFILL_TABLE[(_state, _behavior)] = ("clear", None)
        else:
            BACKFILL_TABLE[(_state, _behavior)] = ("skip", "already exists")

PlanRow = tuple[datetime, str, str | None]


def ref_hourly_dates(start: datetime, end: datetime) -> list[datetime]:
    """Every ``0 * * * *`` fire in [start, end] (aware UTC), one croniter ``get_next`` each."""
    it = croniter(BACKFILL_CRON, start - timedelta(seconds=1))  # start is inclusive
    get_next = it.get_next
    out: list[datetime] = []
    append = out.append
    while True:
        t = get_next(datetime)
        if t > end:
            return out
        append(t)


def ref_reconcile(dates: Sequence[datetime], existing: Mapping[datetime, DagRunState],
                  reprocess: str, now: datetime) -> list[PlanRow]:
    """Per date: keep it if its (zero-length) interval ended before now, look up its run."""
    table = {state: BACKFILL_TABLE[(state, reprocess)] for state in DagRunState}
    plan: list[PlanRow] = []
    append = plan.append
    get = existing.get
    for d in dates:
        if not d < now:
            continue
        state = get(d)
        if state is None:
            append((d, "create", None))
        else:
            action, reason = table[state]
            append((d, action, reason))
    return plan


def ref_plan_backfill(existing: Mapping[datetime, DagRunState], reprocess: str) -> list[PlanRow]:
    """The whole reference plan: croniter dates, then the per-date lookups."""
    return ref_reconcile(ref_hourly_dates(BACKFILL_FROM, BACKFILL_TO), existing, reprocess,
                         BACKFILL_NOW)


# =========================================================================== workload

# Work-task rules besides all_success (one of each rule, more of the common ones), shuffled
# over layers 1-4; layer 0 is all_success but for one all_done_setup_success task.
OTHER_RULES = (TR.NONE_FAILED, TR.NONE_FAILED, TR.NONE_FAILED, TR.NONE_FAILED_MIN_ONE_SUCCESS,
               TR.NONE_FAILED_MIN_ONE_SUCCESS, TR.NONE_FAILED_MIN_ONE_SUCCESS, TR.ONE_SUCCESS,
               TR.ONE_SUCCESS, TR.ALL_DONE, TR.ALL_DONE, TR.ONE_FAILED, TR.ONE_DONE,
               TR.NONE_SKIPPED, TR.ALL_DONE_MIN_ONE_SUCCESS, TR.ALL_FAILED, TR.ALL_SKIPPED,
               TR.ALWAYS)


def build_tasks(seed: int = SEED) -> list[TaskDef]:
    """The 50-task DAG, in topological order (deterministic for ``seed``).

    setup_cluster feeds layer 0 tasks 0-5 and is torn down after layer 2 (teardown_cluster);
    setup_db feeds layer 0 tasks 5-8 and is torn down at the end (teardown_db, whose failure
    fails the run); setup_cache has no teardown and feeds two layer-1 tasks. Each work task in
    layers 1-4 has 1-3 upstreams in the layer above and sometimes one two layers up; layer 3's
    first task also waits for teardown_cluster (so setup_cluster is not a relevant setup of it).
    """
    rng = random.Random(seed)
    work_rules = list(OTHER_RULES)
    work_rules += [TR.ALL_SUCCESS] * ((LAYERS - 1) * WIDTH - len(work_rules))
    rng.shuffle(work_rules)
    tasks = [TaskDef(task_id="setup_cluster", is_setup=True),
             TaskDef(task_id="setup_db", is_setup=True),
             TaskDef(task_id="setup_cache", is_setup=True)]
    layers: list[list[str]] = []
    for layer in range(LAYERS):
        names = [f"layer{layer}_task{k}" for k in range(WIDTH)]
        for k, name in enumerate(names):
            if layer == 0:
                ups = (["setup_cluster"] if k <= 5 else []) + (["setup_db"] if k >= 5 else [])
                rule = TR.ALL_DONE_SETUP_SUCCESS if k == 5 else TR.ALL_SUCCESS
            else:
                ups = rng.sample(layers[-1], rng.choice((1, 2, 2, 3)))
                if layer >= 2 and rng.random() < 0.25:
                    ups.append(rng.choice(layers[-2]))
                if layer == 1 and k < 2:
                    ups.append("setup_cache")
                if layer == 3 and k == 0:
                    ups.append("teardown_cluster")
                rule = work_rules.pop()
            tasks.append(TaskDef(task_id=name, upstream=tuple(dict.fromkeys(ups)),
                                 trigger_rule=rule))
        layers.append(names)
        if layer == 2:
            tasks.append(TaskDef(task_id="teardown_cluster", is_teardown=True,
                                 trigger_rule=TR.ALL_DONE_SETUP_SUCCESS,
                                 upstream=("setup_cluster", *names[:4])))
    tasks.append(TaskDef(task_id="teardown_db", is_teardown=True, on_failure_fail_dagrun=True,
                         trigger_rule=TR.ALL_DONE_SETUP_SUCCESS,
                         upstream=("setup_db", *layers[-1][4:])))
    return tasks


OUTCOMES = (TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.RUNNING, TI.QUEUED, TI.SCHEDULED,
            TI.UP_FOR_RETRY, TI.REMOVED, TI.DEFERRED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """One kind of run: how far it got, how often pending propagation was applied, outcomes."""

    name: str
    weight: int
    progress: tuple[float, float]  # fraction of the topological order that ran
    propagated: float  # probability that a skip/upstream_failed was already written
    outcome_weights: tuple[float, ...]  # over OUTCOMES


PROFILES = (
    Profile(name="finished_clean", weight=25, progress=(1.0, 1.0), propagated=0.97,
            outcome_weights=(97, 0, 3, 0, 0, 0, 0, 0, 0)),
    Profile(name="finished_with_failures", weight=15, progress=(1.0, 1.0), propagated=0.95,
            outcome_weights=(88, 8, 4, 0, 0, 0, 0, 0, 0)),
    Profile(name="in_progress", weight=45, progress=(0.0, 1.0), propagated=0.6,
            outcome_weights=(88, 3, 3, 3, 2, 1, 0.5, 0, 0.2)),
    Profile(name="stuck", weight=15, progress=(1.0, 1.0), propagated=0.7,
            outcome_weights=(88, 2, 3, 0, 0, 0, 0, 6, 0)),
)


def generate_runs(g: RefGraph, count: int, seed: int
                  ) -> tuple[list[list[TaskInstanceState | None]], list[str]]:
    """``count`` runs' task states (graph order) by simulated partial progress, and each
    run's profile name. A task only gets an in-flight or finished outcome when its rule passes
    on the states of the tasks before it, so in-flight tasks always have their dependencies
    met, as in a real run."""
    rng = random.Random(seed)
    weights = [p.weight for p in PROFILES]
    runs: list[list[TaskInstanceState | None]] = []
    kinds: list[str] = []
    for _ in range(count):
        profile = rng.choices(PROFILES, weights)[0]
        cutoff = int(rng.uniform(*profile.progress) * g.n)
        states: list[TaskInstanceState | None] = [None] * g.n
        for i in range(g.n):
            new, passed = ref_evaluate(g, i, states)
            if new is not None:
                if rng.random() < profile.propagated:
                    states[i] = new
            elif passed and i < cutoff:
                states[i] = rng.choices(OUTCOMES, profile.outcome_weights)[0]
        runs.append(states)
        kinds.append(profile.name)
    return runs, kinds


def generate_existing_runs(dates: Sequence[datetime], seed: int) -> dict[datetime, DagRunState]:
    """10% of ``dates`` with a run, in mixed states."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(dates)), round(len(dates) * EXISTING_FRACTION)))
    states = [s for s, _ in EXISTING_STATES]
    weights = [w for _, w in EXISTING_STATES]
    return {dates[i]: rng.choices(states, weights)[0] for i in chosen}


# =========================================================================== dagcore adapters

CODE_OF: dict[TaskInstanceState | None, int] = dict(TI_STATE_CODES)
STATE_OF_CODE: list[TaskInstanceState | None] = [None] * len(TI_STATE_CODES)
for _s, _c in TI_STATE_CODES.items():
    STATE_OF_CODE[_c] = _s
RUN_STATE_BY_CODE = (DagRunState.QUEUED, DagRunState.RUNNING, DagRunState.SUCCESS,
                     DagRunState.FAILED)  # RunDecisionBatch.states codes (run_state.hpp)
RUN_REASON_BY_CODE = (None, "success", "task_failure", "all_tasks_deadlocked")


def dagcore_graph(tasks: Sequence[TaskDef]) -> Any:
    """The benchmark DAG as a dagcore RunGraph."""
    return RunGraph([TaskSpec(t.task_id, upstream=t.upstream, trigger_rule=t.trigger_rule,
                              is_setup=t.is_setup, is_teardown=t.is_teardown,
                              on_failure_fail_dagrun=t.on_failure_fail_dagrun,
                              depends_on_past=t.depends_on_past) for t in tasks])


def compact_block(runs: Sequence[Sequence[TaskInstanceState | None]]) -> bytes:
    """Every run's states as one block of codes, run by run (decide_many_compact's input)."""
    return bytes(map(CODE_OF.__getitem__, chain.from_iterable(runs)))


def compact_rows(runs: Sequence[Sequence[TaskInstanceState | None]]) -> list[bytes]:
    """Every run's states as one bytes object per run (decide_many's compact input)."""
    code = CODE_OF.__getitem__
    return [bytes(map(code, run)) for run in runs]


def batch_columns(batch: Any) -> tuple[bytes, bytes, bytes, bytes]:
    """A RunDecisionBatch's columns as bytes: states, reasons, changed, schedulable."""
    return batch.states, batch.reasons, batch.changed, batch.schedulable


def decisions_from_columns(columns: tuple[bytes, bytes, bytes, bytes], n: int,
                           to_ref: Sequence[int]) -> list[Decision]:
    """Decisions from compact columns; ``to_ref`` maps a graph index to the benchmark's."""
    states, reasons, changed, schedulable = columns
    out = []
    for r in range(len(states)):
        lo = r * n
        out.append(Decision(
            state=RUN_STATE_BY_CODE[states[r]],
            reason=RUN_REASON_BY_CODE[reasons[r]],
            schedulable=tuple(sorted(to_ref[i] for i in range(n) if schedulable[lo + i])),
            changed=tuple(sorted((to_ref[i], STATE_OF_CODE[changed[lo + i]])  # type: ignore[misc]
                                 for i in range(n) if changed[lo + i]))))
    return out


def decisions_from_objects(decisions: Sequence[Any], index: Mapping[str, int]) -> list[Decision]:
    """Decisions from RunDecision objects (task ids mapped to the benchmark's indices)."""
    return [Decision(state=d.state, reason=d.reason,
                     schedulable=tuple(sorted(index[t] for t in d.schedulable)),
                     changed=tuple(sorted((index[t], s) for t, s in d.changed.items())))
            for d in decisions]


# =========================================================================== timing / checks


def timed(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Return (ns elapsed, result) of one call."""
    t0 = time.perf_counter_ns()
    result = fn()
    return time.perf_counter_ns() - t0, result


def diff_decisions(a: Decision, b: Decision, names: Sequence[str]) -> str:
    """What differs between two decisions of one run (a: the reference, b: the other)."""
    parts = []
    if (a.state, a.reason) != (b.state, b.reason):
        parts.append(f"run state {a.state.value}/{a.reason} vs {b.state.value}/{b.reason}")
    only_a = sorted(set(a.schedulable) - set(b.schedulable))
    only_b = sorted(set(b.schedulable) - set(a.schedulable))
    if only_a or only_b:
        parts.append("schedulable only in the reference ["
                     + ",".join(names[i] for i in only_a) + "], only in the other ["
                     + ",".join(names[i] for i in only_b) + "]")
    ca, cb = dict(a.changed), dict(b.changed)
    for i in sorted(set(ca) | set(cb)):
        if ca.get(i) != cb.get(i):
            sa, sb = ca.get(i), cb.get(i)
            parts.append(f"{names[i]} set to {sa.value if sa else 'nothing'} vs "
                         f"{sb.value if sb else 'nothing'}")
    return "; ".join(parts)


@dataclass(slots=True, kw_only=True)
class Check:
    """How one contestant's results compare with the reference's."""

    mismatches: int = 0
    runs: set[int] = field(default_factory=set)  # indices of the runs that differ
    by_field: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def compare_decisions(ref: Sequence[Decision], got: Sequence[Decision], names: Sequence[str],
                      kinds: Sequence[str], runs: Sequence[Sequence[TaskInstanceState | None]],
                      limit: int = 3) -> Check:
    """Count runs whose decisions differ (any field), by field, with a few examples."""
    check = Check(mismatches=abs(len(ref) - len(got)))
    for r, (a, b) in enumerate(zip(ref, got)):
        if a == b:
            continue
        check.mismatches += 1
        check.runs.add(r)
        for name in ("state", "reason", "schedulable", "changed"):
            if getattr(a, name) != getattr(b, name):
                check.by_field[name] += 1
        if len(check.examples) < limit:
            given = ",".join(f"{names[i]}={s.value}" for i, s in enumerate(runs[r]) if s)
            check.examples.append(f"run {r} ({kinds[r]}): {diff_decisions(a, b, names)}\n"
                                  f"      given states: {given}")
    return check


# =========================================================================== 1. run decisions

DECIDE_CONTESTANTS: dict[str, str] = {
    "reference": "Python reference (scheduler-loop rounds)",
    "compact_rows": "decide_many_compact from bytes rows (headline)",
    "compact_block": "decide_many_compact from one block",
    "rows_objects": "decide_many(bytes rows), objects out",
    "decide_per_run": "decide(bytes row) per run",
    "lists_encode_many": "encode_many(lists) + decide_many_compact",
    "lists_python": "Python-encoded lists + decide_many_compact",
    "mappings": "decide_many(mappings)",
    "encode_many_only": "encode_many(lists) alone (C++)",
    "encode_python_only": "lists -> block in Python alone",
}
# Contestants that only build the compact input (no decision): no speedup, no check.
ENCODE_ONLY = ("encode_many_only", "encode_python_only")
HEADLINE = "compact_rows"
DECIDE_LEGEND = """\
   Python reference: the rules in Python on each run's list of states, skips and failures
   propagated in rounds as Airflow's scheduler loops do (dagcore's semantics); every mismatch
   column counts the runs on which that dagcore path differs from it (state, reason,
   schedulable or changed). From the compact form (a scheduler's stored states: one bytes per
   run, one code per task in graph order), timed through to results:
   decide_many_compact from bytes rows (the headline, both decide targets): b"".join(rows), the
   call (C++ decoding and validation, the decisions, the RunDecisionBatch) and its four columns
   (states, reasons, changed, schedulable) read as bytes. From one block: the same on a block
   joined outside the timer. decide_many(bytes rows): a RunDecision object per run. decide per
   run: RunGraph.decide once per bytes row.
   Informational, from other inputs: encode_many(lists) / Python-encoded lists: the compact
   block built from the per-run lists of states by RunGraph.encode_many (C++) or by
   bytes(map(code, chain(runs))) in Python, then decide_many_compact and the columns; the two
   "alone" rows time only that construction. decide_many(mappings): per run a dict task_id ->
   state (every task, None for no state), built outside the timer; RunDecision objects out."""


@dataclass(slots=True, kw_only=True)
class DecideResult:
    """Everything measured on the run-decision workload."""

    runs: int
    tasks: int
    ns: dict[str, int | None]  # best total ns per contestant
    checks: dict[str, Check]  # contestant -> comparison with the reference
    one_pass_check: Check | None  # the reference vs the same rules in a single pass
    outcomes: Counter[str]  # reference decisions by state/reason
    with_changes: int
    with_schedulable: int
    profiles: Counter[str]


def bench_decide(cfg: Settings, notes: list[str]) -> DecideResult:
    """Time the reference and every dagcore path; check every path on every run."""
    tasks = build_tasks()
    g = RefGraph(tasks)
    names = [t.task_id for t in tasks]
    runs, kinds = generate_runs(g, cfg.runs, SEED + 1)
    best: dict[str, int | None] = dict.fromkeys(DECIDE_CONTESTANTS)

    def record(name: str, ns: int) -> None:
        prev = best[name]
        best[name] = ns if prev is None else min(prev, ns)

    ref: list[Decision] = []
    for _ in range(cfg.reference_repeats):
        with gc_paused():
            ns, ref = timed(lambda: [ref_decide(g, s, propagation="rounds") for s in runs])
        record("reference", ns)
    one_pass = [ref_decide(g, s, propagation="topological") for s in runs]  # untimed

    result = DecideResult(
        runs=len(runs), tasks=g.n, ns=best, checks={},
        one_pass_check=compare_decisions(ref, one_pass, names, kinds, runs, limit=2),
        outcomes=Counter(d.state.value if d.reason is None else f"{d.state.value}/{d.reason}"
                         for d in ref),
        with_changes=sum(1 for d in ref if d.changed),
        with_schedulable=sum(1 for d in ref if d.schedulable),
        profiles=Counter(kinds))

    if ENGINE_IMPORT_ERROR is not None:
        return result
    graph = dagcore_graph(tasks)
    graph_ids = list(graph.task_ids)
    index = {t: i for i, t in enumerate(names)}
    to_ref = [index[t] for t in graph_ids]
    if to_ref == list(range(g.n)):
        runs_g = runs
    else:  # RunGraph keeps a topological order as given; if it did not, map through task ids
        notes.append("RunGraph reordered the benchmark's (topological) task list; the compact "
                     "inputs are built in the graph's order outside the timers")
        runs_g = [[run[i] for i in to_ref] for run in runs]
    n, n_runs = g.n, len(runs)
    code = CODE_OF.__getitem__
    rows = compact_rows(runs_g)  # the scheduler's stored states: one bytes per run
    block = compact_block(runs_g)
    if b"".join(rows) != block or [graph.encode(dict(zip(names, run))) for run in runs] != rows:
        notes.append("the benchmark's compact rows differ from RunGraph.encode's")
    mappings = [dict(zip(names, run)) for run in runs]
    decide_many_compact = graph.decide_many_compact
    decide_many = graph.decide_many
    decide = graph.decide
    encode_many = graph.encode_many
    join = b"".join

    contestants: dict[str, Callable[[], Any]] = {
        "compact_rows": lambda: batch_columns(decide_many_compact(join(rows), n_runs)),
        "compact_block": lambda: batch_columns(decide_many_compact(block, n_runs)),
        "rows_objects": lambda: decide_many(rows),
        "decide_per_run": lambda: [decide(row) for row in rows],
        "lists_encode_many": lambda: batch_columns(decide_many_compact(encode_many(runs_g),
                                                                       n_runs)),
        "lists_python": lambda: batch_columns(decide_many_compact(
            bytes(map(code, chain.from_iterable(runs_g))), n_runs)),
        "mappings": lambda: decide_many(mappings),
        "encode_many_only": lambda: encode_many(runs_g),
        "encode_python_only": lambda: bytes(map(code, chain.from_iterable(runs_g))),
    }
    outputs: dict[str, Any] = {}
    for _ in range(cfg.dagcore_repeats):
        for name, fn in contestants.items():  # interleaved, so drift hits everyone alike
            with gc_paused():
                ns, out = timed(fn)
            record(name, ns)
            outputs[name] = out
            del out

    for name in ENCODE_ONLY:
        if outputs[name] != block:
            notes.append(f"{DECIDE_CONTESTANTS[name]}: the block differs from the compact rows")
    converted: dict[str, list[Decision]] = {}
    for name in ("compact_rows", "compact_block", "lists_encode_many", "lists_python"):
        converted[name] = decisions_from_columns(outputs[name], n, to_ref)
    for name in ("rows_objects", "decide_per_run", "mappings"):
        converted[name] = decisions_from_objects(outputs[name], index)
    for name, decisions in converted.items():
        check = compare_decisions(ref, decisions, names, kinds, runs)
        result.checks[name] = check
        if check.mismatches:
            notes.append(f"{DECIDE_CONTESTANTS[name]}: {check.mismatches} run(s) differ from the "
                         f"reference (fields: {dict(check.by_field)}); first ones (reference vs "
                         f"dagcore):\n    " + "\n    ".join(check.examples))
    return result


# =========================================================================== 2. backfill

PLAN_CONTESTANTS: dict[str, str] = {
    "reference": "croniter + dict lookups (Python)",
    "plan_list": "plan_backfill (list of entries)",
    "plan_batch": "plan_backfill_batch (columns)",
    "plan_batch_columns": "plan_backfill_batch + 3 columns read",
}
PLAN_LEGEND = """\
   croniter + dict lookups: croniter get_next(datetime) per date (aware UTC), then per date a
   lookup in the existing runs and in the reprocess table, one (date, action, reason) tuple each.
   plan_backfill: dagcore's list of BackfillPlanEntry (each with its DagRunInfo and datetimes).
   plan_backfill_batch: the C++ plan with nothing materialized; + 3 columns: its logical dates,
   actions and reasons read out as lists."""


@dataclass(slots=True, kw_only=True)
class PlanResult:
    """Everything measured on the backfill workload."""

    dates: int
    existing: int
    ns: dict[str, int | None]
    mismatches: dict[str, int | None]  # reprocess behavior -> positions that differ (all forms)
    ordinals_ok: bool | None
    composition: dict[str, Counter[str]]  # reprocess behavior -> "action[/reason]" counts


def plan_rows_from_entries(entries: Sequence[Any]) -> list[PlanRow]:
    """(logical date, action, reason) per BackfillPlanEntry."""
    return [(e.logical_date, e.action.value, None if e.reason is None else e.reason.value)
            for e in entries]


def plan_rows_from_batch(plan: Any) -> list[PlanRow]:
    """(logical date, action, reason) from a BackfillPlan's columns."""
    return [(d, a.value, None if r is None else r.value)
            for d, a, r in zip(plan.logical_dates, plan.actions, plan.reasons)]


def compare_plans(ref: Sequence[PlanRow], got: Sequence[PlanRow]) -> tuple[int, list[str]]:
    """Positions whose (date, action, reason) differ, plus the length difference."""
    bad = abs(len(ref) - len(got))
    examples = []
    for k, (a, b) in enumerate(zip(ref, got)):
        if a != b:
            bad += 1
            if len(examples) < 3:
                examples.append(f"#{k + 1}: reference {a[0].isoformat()} {a[1]} {a[2]}, dagcore "
                                f"{b[0].isoformat()} {b[1]} {b[2]}")
    if len(ref) != len(got):
        examples.append(f"{len(ref):,} reference dates, {len(got):,} dagcore dates")
    return bad, examples


def bench_plan(cfg: Settings, notes: list[str]) -> PlanResult:
    """Time the reference and dagcore's planners; check all three reprocess behaviors."""
    hours = int((BACKFILL_TO - BACKFILL_FROM) / timedelta(hours=1)) + 1
    dates = [BACKFILL_FROM + timedelta(hours=k) for k in range(hours)]
    existing = generate_existing_runs(dates, SEED + 2)
    best: dict[str, int | None] = dict.fromkeys(PLAN_CONTESTANTS)
    result = PlanResult(dates=hours, existing=len(existing), ns=best,
                        mismatches=dict.fromkeys(REPROCESS_BEHAVIORS), ordinals_ok=None,
                        composition={})

    def record(name: str, ns: int) -> None:
        prev = best[name]
        best[name] = ns if prev is None else min(prev, ns)

    ref_plan: list[PlanRow] | None = None
    if croniter is not None:
        for _ in range(cfg.plan_reference_repeats):
            with gc_paused():
                ns, ref_plan = timed(lambda: ref_plan_backfill(existing, TIMED_REPROCESS))
            record("reference", ns)
        if len(ref_plan) != hours:  # type: ignore[arg-type]
            notes.append(f"croniter listed {len(ref_plan):,} dates, expected {hours:,}")
        ref_dates = [row[0] for row in ref_plan]  # type: ignore[union-attr]
    else:
        notes.append("croniter is not installed (Debian: python3-croniter): the backfill "
                     "reference is skipped; dagcore's plans are checked against the table on "
                     "arithmetic hourly dates")
        ref_dates = dates
    for behavior in REPROCESS_BEHAVIORS:
        rows = ref_reconcile(ref_dates, existing, behavior, BACKFILL_NOW)
        result.composition[behavior] = Counter(a if r is None else f"{a}/{r}" for _, a, r in rows)
    if ENGINE_IMPORT_ERROR is not None:
        return result

    timetable = CronTriggerTimetable(BACKFILL_CRON, timezone="UTC")

    def call(fn: Callable[..., Any], behavior: str) -> Any:
        return fn(timetable, from_date=BACKFILL_FROM, to_date=BACKFILL_TO,
                  existing_runs=existing, reprocess_behavior=behavior, now=BACKFILL_NOW)

    def batch_and_columns() -> Any:
        plan = call(plan_backfill_batch, TIMED_REPROCESS)
        return plan.logical_dates, plan.actions, plan.reasons

    contestants: dict[str, Callable[[], Any]] = {
        "plan_list": lambda: call(plan_backfill, TIMED_REPROCESS),
        "plan_batch": lambda: call(plan_backfill_batch, TIMED_REPROCESS),
        "plan_batch_columns": batch_and_columns,
    }
    outputs: dict[str, Any] = {}
    for _ in range(cfg.dagcore_repeats):
        for name, fn in contestants.items():
            with gc_paused():
                ns, out = timed(fn)
            record(name, ns)
            outputs[name] = out
            del out

    entries = outputs["plan_list"]
    result.ordinals_ok = [e.sort_ordinal for e in entries] == list(range(1, len(entries) + 1))
    if not result.ordinals_ok:
        notes.append("plan_backfill: sort_ordinal is not 1..N in plan order")
    for behavior in REPROCESS_BEHAVIORS:
        rows = ref_reconcile(ref_dates, existing, behavior, BACKFILL_NOW)
        if behavior == TIMED_REPROCESS:
            forms = {"plan_backfill": plan_rows_from_entries(entries),
                     "plan_backfill_batch": plan_rows_from_batch(outputs["plan_batch"]),
                     "plan_backfill_batch columns": [
                         (d, a.value, None if r is None else r.value)
                         for d, a, r in zip(*outputs["plan_batch_columns"])]}
            if ref_plan is not None and ref_plan != rows:
                notes.append("the timed reference plan differs from the untimed one")
        else:
            forms = {"plan_backfill": plan_rows_from_entries(call(plan_backfill, behavior)),
                     "plan_backfill_batch": plan_rows_from_batch(call(plan_backfill_batch,
                                                                      behavior))}
        total = 0
        for form, got in forms.items():
            bad, examples = compare_plans(rows, got)
            total += bad
            if bad:
                notes.append(f"backfill, reprocess {behavior!r}, {form}: {bad} date(s) differ "
                             f"from the reference: {'; '.join(examples)}")
        result.mismatches[behavior] = total
    return result


# =========================================================================== output


def main(argv: Sequence[str] | None = None) -> int:
    """Run both workloads, print the tables and the JSON line; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)

    cfg = Settings.for_mode(quick=args.quick)
    started = time.perf_counter()
    notes: list[str] = []
    if ENGINE_IMPORT_ERROR is not None:
        notes.append(f"dagcore's run-state/backfill engines could not be imported "
                     f"({ENGINE_IMPORT_ERROR}); only the Python references ran")
    dec = bench_decide(cfg, notes)
    plan = bench_plan(cfg, notes)
    elapsed_s = time.perf_counter() - started

    croniter_version = None
    if croniter is not None:
        try:
            from importlib.metadata import version
            croniter_version = version("croniter")
        except Exception:  # noqa: BLE001 - the version is informational only
            croniter_version = None

    us = {name: (None if ns is None else ns / 1_000 / dec.runs) for name, ns in dec.ns.items()}
    ref_us = us["reference"]
    fig: dict[str, Any] = {
        "benchmark": "run_state", "quick": cfg.quick, "python": platform.python_version(),
        "dagcore_version": getattr(dagcore, "__version__", None),
        "croniter_version": croniter_version, "cpus": os.cpu_count(),
        "engine_import_error": ENGINE_IMPORT_ERROR,
        "reference_repeats": cfg.reference_repeats, "dagcore_repeats": cfg.dagcore_repeats,
        "decide_runs": dec.runs, "decide_tasks": dec.tasks,
        "decide_headline": HEADLINE,
        "decide_reference": "scheduler-loop rounds",
        "decide_us_per_run": rounded(us[HEADLINE], 3),
        "decide_speedup_vs_python": rounded(ratio(ref_us, us[HEADLINE]), 1),
    }
    for name in DECIDE_CONTESTANTS:
        fig[f"decide_us_per_run_{name}"] = rounded(us[name], 3)
        fig[f"decide_ms_total_{name}"] = rounded(None if dec.ns[name] is None
                                                 else dec.ns[name] / 1e6, 2)
    for name in DECIDE_CONTESTANTS:
        if name == "reference" or name in ENCODE_ONLY:
            continue
        fig[f"decide_speedup_vs_python_{name}"] = rounded(ratio(ref_us, us[name]), 1)
        check = dec.checks.get(name)
        fig[f"decide_mismatches_{name}"] = None if check is None else check.mismatches
    # Runs on which any dagcore path differs from the reference.
    fig["decide_mismatches"] = (len(set().union(*(c.runs for c in dec.checks.values())))
                                if dec.checks else None)
    fig["decide_one_pass_would_differ"] = (None if dec.one_pass_check is None
                                           else dec.one_pass_check.mismatches)
    for key, count in sorted(dec.outcomes.items()):
        fig[f"decide_outcome_{key.replace('/', '_')}"] = count
    fig["decide_runs_with_changes"] = dec.with_changes
    fig["decide_runs_with_schedulable"] = dec.with_schedulable

    ms = {name: (None if ns is None else ns / 1e6) for name, ns in plan.ns.items()}
    fig.update({
        "plan_dates": plan.dates, "plan_existing_runs": plan.existing,
        "plan_reprocess_behavior": TIMED_REPROCESS,
        "plan_ms_hourly_10y": rounded(ms["plan_list"], 2),
        "plan_speedup_vs_python": rounded(ratio(ms["reference"], ms["plan_list"]), 1),
        "plan_batch_ms_hourly_10y": rounded(ms["plan_batch"], 2),
        "plan_batch_speedup_vs_python": rounded(ratio(ms["reference"], ms["plan_batch"]), 1),
        "plan_batch_columns_ms_hourly_10y": rounded(ms["plan_batch_columns"], 2),
        "plan_batch_columns_speedup_vs_python": rounded(
            ratio(ms["reference"], ms["plan_batch_columns"]), 1),
        "plan_reference_ms_hourly_10y": rounded(ms["reference"], 1),
    })
    for behavior in REPROCESS_BEHAVIORS:
        fig[f"plan_mismatches_{behavior}"] = plan.mismatches[behavior]
    fig["plan_mismatches"] = (None if any(v is None for v in plan.mismatches.values())
                              else sum(plan.mismatches.values()))  # type: ignore[arg-type]
    fig["plan_sort_ordinals_ok"] = plan.ordinals_ok

    targets: dict[str, tuple[str, str, bool]] = {}
    s = fig["decide_speedup_vs_python"]
    targets["decide_speedup_vs_python"] = (
        f"decide from bytes rows >= {TARGET_DECIDE_SPEEDUP:.0f}x the Python reference (rounds)",
        fmt(s, ",.1f", "x"), s is not None and s >= TARGET_DECIDE_SPEEDUP)
    u = fig["decide_us_per_run"]
    targets["decide_us_per_run"] = (
        f"decide from bytes rows <= {TARGET_DECIDE_US:.0f} us per run (decode, decide, results)",
        fmt(u, ".2f", " us"), u is not None and u <= TARGET_DECIDE_US)
    m = fig["decide_mismatches"]
    targets["decide_mismatches"] = ("decisions equal the rounds reference, every run and path",
                                    fmt(m, "d", " mismatches"), m == 0)
    s = fig["plan_speedup_vs_python"]
    targets["plan_speedup_vs_python"] = (
        f"plan_backfill >= {TARGET_PLAN_SPEEDUP:.0f}x the Python reference",
        fmt(s, ",.1f", "x"), s is not None and s >= TARGET_PLAN_SPEEDUP)
    t = fig["plan_ms_hourly_10y"]
    targets["plan_ms_hourly_10y"] = (
        f"plan_backfill <= {TARGET_PLAN_MS:.0f} ms, hourly over 10 years",
        fmt(t, ".1f", " ms"), t is not None and t <= TARGET_PLAN_MS)
    m = fig["plan_mismatches"]
    targets["plan_mismatches"] = ("plans equal the reference, 3 reprocess behaviors",
                                  fmt(m, "d", " mismatches"), m == 0)
    fig["targets_met"] = {key: met for key, (_, _, met) in targets.items()}
    fig["all_targets_met"] = all(fig["targets_met"].values())
    fig["elapsed_s"] = round(elapsed_s, 2)

    out: list[str] = [
        f"dagcore run-state benchmark ({'quick' if cfg.quick else 'full'}): Python "
        f"{fig['python']}, dagcore {fig['dagcore_version']}, croniter {croniter_version}, "
        f"{fig['cpus']} CPUs\n"]
    rows = []
    for name, label in DECIDE_CONTESTANTS.items():
        check = dec.checks.get(name)
        if name == "reference":
            agree = "(reference)"
        elif name in ENCODE_ONLY:
            agree = "-"
        else:
            agree = "n/a" if check is None else str(check.mismatches)
        rows.append([label, fmt(None if dec.ns[name] is None else dec.ns[name] / 1e6, ",.1f"),
                     fmt(us[name], ",.2f"),
                     "-" if name == "reference" or name in ENCODE_ONLY
                     else fmt(ratio(ref_us, us[name]), ",.1f", "x"), agree])
    out.append(format_table(
        f"1. Run decisions: {dec.runs:,} runs of a {dec.tasks}-task DAG. Reference best of "
        f"{cfg.reference_repeats}, dagcore best of {cfg.dagcore_repeats}",
        ["contestant", "total ms", "us per run", "speedup", "mismatches"], rows))
    out.append(DECIDE_LEGEND + "\n")
    outcome_rows = [[key, f"{count:,}"] for key, count in sorted(dec.outcomes.items())]
    outcome_rows += [["runs with states to change", f"{dec.with_changes:,}"],
                     ["runs with schedulable tasks", f"{dec.with_schedulable:,}"]]
    outcome_rows += [[f"profile {k}", f"{v:,}"] for k, v in sorted(dec.profiles.items())]
    out.append(format_table("2. What the runs decide (the rounds reference's decisions; run "
                            "state/reason)", ["decision", "runs"], outcome_rows))
    rows = []
    for name, label in PLAN_CONTESTANTS.items():
        rows.append([label, fmt(ms[name], ",.1f"),
                     fmt(None if ms[name] is None else ms[name] * 1e6 / plan.dates, ",.0f"),
                     "-" if name == "reference" else fmt(ratio(ms["reference"], ms[name]),
                                                         ",.1f", "x")])
    out.append(format_table(
        f"3. Backfill plan: {BACKFILL_CRON!r} UTC, {BACKFILL_FROM:%Y-%m-%d %H:%M} to "
        f"{BACKFILL_TO:%Y-%m-%d %H:%M} ({plan.dates:,} dates), {plan.existing:,} existing runs, "
        f"reprocess {TIMED_REPROCESS!r}. Reference best of {cfg.plan_reference_repeats}, dagcore "
        f"best of {cfg.dagcore_repeats}",
        ["contestant", "total ms", "ns per date", "speedup"], rows))
    out.append(PLAN_LEGEND + "\n")
    keys = sorted({k for c in plan.composition.values() for k in c})
    rows = [[behavior, *(f"{plan.composition[behavior][k]:,}" for k in keys),
             fmt(plan.mismatches[behavior], "d")] for behavior in REPROCESS_BEHAVIORS]
    out.append(format_table("4. Plans by reprocess behavior (reference counts; mismatches over "
                            "every dagcore form checked)",
                            ["reprocess", *keys, "mismatches"], rows))
    out.append(format_table("Targets", ["target", "measured", "result"],
                            [[desc, measured, "PASS" if met else "MISS"]
                             for desc, measured, met in targets.values()]))
    oc = dec.one_pass_check
    if oc is not None:
        notes.append(
            f"informational, no target: {oc.mismatches:,} of {dec.runs:,} runs would decide "
            f"differently if skips and failures propagated in a single topological pass (each "
            f"task seeing its upstreams' final states at once) instead of in scheduler-loop "
            f"rounds; dagcore is checked against the rounds reference only"
            + (f" (fields: {dict(oc.by_field)}). First ones (rounds vs one pass):\n    "
               + "\n    ".join(oc.examples) if oc.mismatches else ""))
    if notes:
        out.append("Notes:\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    out.append(f"elapsed {elapsed_s:.1f} s")
    print("\n".join(out))
    print(json.dumps(fig, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
