"""The run-state engine: Airflow's trigger rules and DAG-run decisions, computed in C++.

:func:`evaluate_trigger_rule` is Airflow's trigger-rule dependency for one task from the counts of
its finished upstream task instances: whether the task may run, the state the scheduler gives it
when the rule can no longer pass (``skipped`` or ``upstream_failed``), and Airflow's reason text.

:class:`RunGraph` compiles a DAG's structure once (a list of :class:`TaskSpec`) and then decides
runs: :meth:`RunGraph.decide` applies the trigger rules and the setup/teardown constraint, carries
skips and failures through the whole DAG in one call, in rounds like Airflow's scheduler loops
(one call ends where the scheduler ends after one loop per level), lists the tasks that may be
queued now and derives the run's state as Airflow's
``DagRun.update_state`` does (effective leaves, teardowns, deadlock detection).
:meth:`RunGraph.decide_many` decides many runs in one C++ call with the GIL released; runs given
in the compact form (one ``bytes`` per run, one state code per task in graph order, see
:meth:`RunGraph.encode`), as lists of states in graph order or as plain dicts are read in C++
without Python work per task, and
:meth:`RunGraph.decide_many_compact` takes one block of codes (:meth:`RunGraph.encode_many`) and
returns compact columns instead of objects, for a scheduler that keeps states as bytes.

Semantics (docs/airflow-behaviour.md 3.3-3.6) in short:

* candidates are the tasks with no state, ``up_for_retry`` or ``up_for_reschedule`` (retry and
  reschedule delays are the scheduler's business: such a task is ready when its rule passes);
* propagation runs in rounds like the scheduler's loops, each seeing the states from its start:
  a skip that reaches a task one loop before a failure from another upstream skips it, as in
  Airflow; when both are known at once, the failure wins (``upstream_failed``);
* a ``removed`` task instance is finished, counts as ``removed`` for its downstream tasks (it is
  not a success: an ``all_success`` task downstream of it waits) and is not a leaf;
* a run with mapped tasks is decided from instance counts per task and state
  (:meth:`RunGraph.decide_counts`): every instance of a mapped upstream counts, as in Airflow.

Example:
    >>> from dagcore.run_state import RunGraph, TaskSpec
    >>> graph = RunGraph([TaskSpec("extract"), TaskSpec("load", upstream=("extract",)),
    ...                   TaskSpec("alert", upstream=("load",), trigger_rule="one_failed")])
    >>> decision = graph.decide({"extract": "failed"})
    >>> decision.state.value, decision.schedulable
    ('running', ('alert',))
    >>> {task: state.value for task, state in decision.changed.items()}
    {'load': 'upstream_failed'}
    >>> decision = graph.decide({"extract": "success", "load": "success"})
    >>> {task: state.value for task, state in decision.changed.items()}
    {'alert': 'skipped'}
    >>> decision.state.value, decision.reason
    ('success', 'success')
    >>> batch = graph.decide_many_compact(graph.encode({"extract": "success"}) * 2)
    >>> len(batch), batch[1].schedulable
    (2, ('load',))
"""

from __future__ import annotations

import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from dagcore._native import core
from dagcore.state import TI_STATE_CODES, DagRunState, TaskInstanceState, state_of_code
from dagcore.trigger_rule import TriggerRule

__all__ = [
    "DAGRUN_STATE_BY_CODE",
    "RUN_REASON_BY_CODE",
    "RunDecision",
    "RunDecisionBatch",
    "RunGraph",
    "RunStates",
    "StateLike",
    "TaskSpec",
    "TriggerRuleEvaluation",
    "evaluate_trigger_rule",
]

StateLike: TypeAlias = TaskInstanceState | str | None
"""A task instance's state: a member, its value (``"success"``), or ``None`` for no state."""

RunStates: TypeAlias = (Mapping[str, StateLike] | Sequence[StateLike] | bytes | bytearray
                        | memoryview)
"""One run's task states: by task id, in graph order, or in the compact form."""

DAGRUN_STATE_BY_CODE: tuple[DagRunState, ...] = (
    DagRunState.QUEUED, DagRunState.RUNNING, DagRunState.SUCCESS, DagRunState.FAILED)
"""The run state each code of :attr:`RunDecisionBatch.states` stands for."""

RUN_REASON_BY_CODE: tuple[str | None, ...] = (None, "success", "task_failure",
                                              "all_tasks_deadlocked")
"""The reason each code of :attr:`RunDecisionBatch.reasons` stands for."""

RunDecisionBatch = core.RunDecisionBatch
"""Decisions for many runs as compact columns (see :meth:`RunGraph.decide_many_compact`)."""

_TI_BY_CODE: tuple[TaskInstanceState | None, ...] = tuple(
    state_of_code(code) for code in range(len(TI_STATE_CODES)))
_MAX_COUNT = 2**32 - 1


# -------------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task of a DAG, as far as run states are concerned.

    Attributes:
        task_id: the task's id (unique in the DAG).
        upstream: the ids of its direct upstream tasks.
        trigger_rule: its trigger rule; ``None`` (the default) means ``all_success``, or
            ``all_done_setup_success`` for a teardown, as Airflow's ``as_teardown()`` sets it.
            After construction it is always a :class:`~dagcore.trigger_rule.TriggerRule`.
        is_setup: the task is a setup task.
        is_teardown: the task is a teardown task.
        on_failure_fail_dagrun: (teardowns only) the teardown's failure fails the run.
        depends_on_past: the task has ``depends_on_past`` (or ``depends_on_previous_tasks``)
            set; while it is unfinished the run is never declared deadlocked.
        limits_concurrency: the task has ``max_active_tis_per_dag`` or
            ``max_active_tis_per_dagrun`` set; likewise no deadlock detection while unfinished.

    Raises:
        TypeError: a field has the wrong type (``upstream`` given as one string, say).
        ValueError: an empty task id, an unknown trigger rule, a task both setup and teardown,
            or ``on_failure_fail_dagrun`` on a task that is not a teardown.
    """

    task_id: str
    upstream: tuple[str, ...] = ()
    trigger_rule: TriggerRule | str | None = None
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    depends_on_past: bool = False
    limits_concurrency: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.task_id, str):
            raise TypeError(f"task_id must be a str, got {type(self.task_id).__name__}")
        if not self.task_id:
            raise ValueError("task_id must not be empty")
        if isinstance(self.upstream, (str, bytes)) or not isinstance(self.upstream, Iterable):
            raise TypeError(f"upstream of task {self.task_id!r} must be a collection of task ids, "
                            f"got {type(self.upstream).__name__}")
        upstream = tuple(self.upstream)
        for up in upstream:
            if not isinstance(up, str):
                raise TypeError(f"upstream of task {self.task_id!r} must hold str task ids, got "
                                f"{type(up).__name__}")
        object.__setattr__(self, "upstream", upstream)
        for name in ("is_setup", "is_teardown", "on_failure_fail_dagrun", "depends_on_past",
                     "limits_concurrency"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name} of task {self.task_id!r} must be a bool, got "
                                f"{type(value).__name__}")
        rule = self.trigger_rule
        if rule is None:
            rule = (TriggerRule.ALL_DONE_SETUP_SUCCESS if self.is_teardown
                    else TriggerRule.ALL_SUCCESS)
        object.__setattr__(self, "trigger_rule", _trigger_rule(rule))
        if self.is_setup and self.is_teardown:
            raise ValueError(f"task {self.task_id!r} cannot be both a setup and a teardown")
        if self.on_failure_fail_dagrun and not self.is_teardown:
            raise ValueError(f"Cannot set task on_failure_fail_dagrun for {self.task_id!r} because "
                             f"it is not a teardown task.")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDecision:
    """What one scheduling decision for a run found.

    Attributes:
        state: the run's state: ``RUNNING`` while it goes on, else ``SUCCESS`` or ``FAILED``.
        schedulable: the tasks that may be queued now, in graph (topological) order.
        changed: the states this decision assigned (``SKIPPED`` or ``UPSTREAM_FAILED``), by task
            id in graph order; the caller persists them.
        reason: Airflow's message for the state: ``"success"``, ``"task_failure"``,
            ``"all_tasks_deadlocked"``, or ``None`` while running.
    """

    state: DagRunState
    schedulable: tuple[str, ...]
    changed: dict[str, TaskInstanceState]
    reason: str | None

    @property
    def finished(self) -> bool:
        """Whether the run is over (success or failed)."""
        return self.state in DagRunState.finished


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerRuleEvaluation:
    """The result of a trigger-rule evaluation.

    Attributes:
        passed: whether the task may run.
        new_state: the state the task gets (``SKIPPED`` or ``UPSTREAM_FAILED``), or ``None``.
        reason: why the rule failed (Airflow's text), the short-circuit that let it pass ("The
            task instance did not have any upstream tasks.", "The task had a always trigger rule
            set."), or ``None`` when it simply passed.
    """

    passed: bool
    new_state: TaskInstanceState | None
    reason: str | None


# -------------------------------------------------------------------------------------------------
# trigger rules


def _trigger_rule(rule: object) -> TriggerRule:
    if isinstance(rule, TriggerRule):
        return rule
    if not isinstance(rule, str):
        raise TypeError(f"a trigger rule must be a TriggerRule or a str, got {type(rule).__name__}")
    try:
        return TriggerRule(rule)
    except ValueError:
        known = ", ".join(r.value for r in TriggerRule)
        raise ValueError(f"unknown trigger rule {rule!r} (expected one of: {known})") from None


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= _MAX_COUNT:
        raise ValueError(f"{name} must be between 0 and {_MAX_COUNT}, got {value}")
    return value


def evaluate_trigger_rule(
    rule: TriggerRule | str,
    *,
    upstream: int,
    success: int = 0,
    skipped: int = 0,
    failed: int = 0,
    upstream_failed: int = 0,
    removed: int = 0,
    done: int | None = None,
    upstream_setup: int = 0,
    success_setup: int = 0,
    skipped_setup: int = 0,
    flag_upstream_failed: bool = True,
) -> TriggerRuleEvaluation:
    """Airflow's trigger-rule dependency for one task.

    The counts are over the task's *finished* direct upstream task instances; ``upstream`` is the
    number of its direct upstream tasks, ``upstream_setup`` how many of them are setups.

    Args:
        rule: the task's trigger rule.
        upstream: the number of direct upstream tasks.
        success: finished upstream task instances in ``success``.
        skipped: ... in ``skipped``.
        failed: ... in ``failed``.
        upstream_failed: ... in ``upstream_failed``.
        removed: ... in ``removed``.
        done: finished upstream task instances; defaults to the sum of the five counts above.
        upstream_setup: direct upstream tasks that are setups.
        success_setup: those in ``success``.
        skipped_setup: those in ``skipped``.
        flag_upstream_failed: apply the state changes (the scheduler does); without it the
            evaluation only says whether the rule passes.

    Returns:
        Whether the task may run, the state it gets, and the reason.

    Raises:
        ValueError: an unknown rule, or a negative count.
        TypeError: a count that is not an int.

    Example:
        >>> result = evaluate_trigger_rule("all_success", upstream=2, success=1, failed=1)
        >>> result.passed, result.new_state.value
        (False, 'upstream_failed')
        >>> result.reason.startswith("Task's trigger rule 'all_success' requires all upstream")
        True
        >>> result.reason.endswith("to have succeeded, but found 1 non-success(es).")
        True
    """
    resolved = _trigger_rule(rule)
    counts = {
        "upstream": upstream, "success": success, "skipped": skipped, "failed": failed,
        "upstream_failed": upstream_failed, "removed": removed,
    }
    for name, value in counts.items():
        _count(name, value)
    if done is None:
        done = success + skipped + failed + upstream_failed + removed
        if done > _MAX_COUNT:
            raise ValueError(f"done (the sum of the finished counts) must be at most {_MAX_COUNT}, "
                             f"got {done}")
    else:
        _count("done", done)
    _count("upstream_setup", upstream_setup)
    _count("success_setup", success_setup)
    _count("skipped_setup", skipped_setup)
    if not isinstance(flag_upstream_failed, bool):
        raise TypeError(
            f"flag_upstream_failed must be a bool, got {type(flag_upstream_failed).__name__}")
    passed, code, reason = core.evaluate_trigger_rule(
        resolved.value, upstream, success, skipped, failed, upstream_failed, removed, done,
        upstream_setup, success_setup, skipped_setup, flag_upstream_failed)
    return TriggerRuleEvaluation(passed=passed,
                                 new_state=None if code is None else _TI_BY_CODE[code],
                                 reason=reason or None)


# -------------------------------------------------------------------------------------------------
# runs


def _state_codes() -> dict[Any, int]:
    codes: dict[Any, int] = dict(TI_STATE_CODES)
    # Plain names too (a str enum member already hashes and compares as its value; this keeps
    # the lookup right even if that changes).
    codes.update({state.value: code for state, code in TI_STATE_CODES.items() if state is not None})
    return codes


_CODES = _state_codes()


class RunGraph:
    """A DAG's structure compiled once for run-state decisions.

    Tasks are kept in a topological order, the stable one: a list that is already topological
    keeps its order (:attr:`task_ids`). That order is the compact form's order and the order of
    every result.

    Args:
        tasks: the DAG's tasks.

    Raises:
        TypeError: an item is not a :class:`TaskSpec`.
        ValueError: a duplicate task id, an upstream id that is not a task, or a cycle; the
            message names them ("cycle detected in DAG: a -> b -> a").
    """

    __slots__ = ("_core", "_index", "_task_ids", "_tasks")

    def __init__(self, tasks: Iterable[TaskSpec]) -> None:
        specs = list(tasks)
        for spec in specs:
            if not isinstance(spec, TaskSpec):
                raise TypeError(f"tasks must be TaskSpec objects, got {type(spec).__name__}")
        self._core = core.RunGraph(
            [(s.task_id, s.upstream, str(s.trigger_rule), s.is_setup, s.is_teardown,
              s.on_failure_fail_dagrun, s.depends_on_past, s.limits_concurrency) for s in specs],
            RunDecision, DAGRUN_STATE_BY_CODE, _TI_BY_CODE)
        self._task_ids: tuple[str, ...] = self._core.task_ids
        # Keyed by object: _task_index looks up whatever it is given and sorts out the errors.
        self._index: dict[object, int] = {task_id: i for i, task_id in enumerate(self._task_ids)}
        self._tasks = tuple(specs[p] for p in self._core.positions)

    # -- structure ---------------------------------------------------------------------------------

    @property
    def task_ids(self) -> tuple[str, ...]:
        """The task ids in graph (topological) order: the compact form's order."""
        return self._task_ids

    @property
    def tasks(self) -> tuple[TaskSpec, ...]:
        """The task specs in graph order."""
        return self._tasks

    def __len__(self) -> int:
        return len(self._task_ids)

    def __contains__(self, task_id: object) -> bool:
        return isinstance(task_id, str) and task_id in self._index

    def __repr__(self) -> str:
        return f"RunGraph({len(self._task_ids)} tasks)"

    def index(self, task_id: str) -> int:
        """A task's position in graph order.

        Raises:
            ValueError: no task has that id.
        """
        return self._task_index(task_id)

    def leaves_for_run_state(self) -> set[str]:
        """The effective leaves, whose states decide a finished run's state.

        A task is an effective leaf when all its downstream tasks are teardowns without
        ``on_failure_fail_dagrun`` and it is not such a teardown itself; in a DAG of teardowns
        only, the tasks without downstream tasks. (A run's REMOVED task instances are left out
        when it is decided.)
        """
        ids = self._task_ids
        return {ids[i] for i in self._core.leaves_for_run_state()}

    def clear_closure(self, task_ids: Iterable[str] | str, *, upstream: bool = False,
                      downstream: bool = False) -> set[str]:
        """The tasks clearing ``task_ids`` clears, as Airflow's ``partial_subset`` selects them.

        The given tasks; with ``downstream`` every task downstream of them, with ``upstream`` every
        task upstream of them and the teardowns of those setups; and, for each work task cleared,
        its relevant setups with their teardowns (so a resource is set up again for the work and
        torn down after it). A setup cleared without its downstream tasks brings its teardowns.

        Args:
            task_ids: the tasks to clear (one id may be given as a plain string).
            upstream: include upstream tasks.
            downstream: include downstream tasks.

        Raises:
            ValueError: an unknown task id.
            TypeError: an id that is not a str.
        """
        if isinstance(task_ids, str):
            task_ids = (task_ids,)
        roots = [self._task_index(task_id) for task_id in task_ids]
        ids = self._task_ids
        return {ids[i] for i in self._core.clear_closure(roots, bool(upstream), bool(downstream))}

    # -- the compact form --------------------------------------------------------------------------

    def encode(self, states: Mapping[str, StateLike]) -> bytes:
        """The compact form of a run's states: one state code per task in graph order.

        Codes are :data:`dagcore.state.TI_STATE_CODES`; a task missing from ``states`` has no
        state (code 0).

        Raises:
            TypeError: ``states`` is not a mapping, a key is not a str, or a value is not a
                state, a state name or None.
            ValueError: an unknown task id or state name (the message names it).
        """
        if not isinstance(states, Mapping):
            raise TypeError(f"states must be a mapping of task id to state, got "
                            f"{type(states).__name__}")
        out = bytearray(len(self._task_ids))
        for task_id, state in states.items():
            index = self._task_index(task_id)  # an unknown task first, then its state
            out[index] = _code(task_id, state)
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> dict[str, TaskInstanceState | None]:
        """The states a compact row stands for, by task id in graph order.

        Raises:
            ValueError: wrong length or an unknown code.
        """
        row = bytes(data)
        if len(row) != len(self._task_ids):
            raise ValueError(f"expected {len(self._task_ids)} state codes (one per task), got "
                             f"{len(row)}")
        out: dict[str, TaskInstanceState | None] = {}
        for task_id, code in zip(self._task_ids, row):
            if code >= len(_TI_BY_CODE):
                raise ValueError(f"task {task_id!r} has unknown state code {code}")
            out[task_id] = _TI_BY_CODE[code]
        return out

    # -- decisions ---------------------------------------------------------------------------------

    def encode_many(self, runs: Iterable[RunStates]) -> bytes:
        """The compact block of many runs, run by run: :meth:`decide_many_compact`'s input.

        Args:
            runs: each run's states in any form :meth:`decide_many` accepts; lists or tuples of
                states in graph order are encoded in C++ (fastest from Python objects).

        Raises:
            TypeError, ValueError: as :meth:`decide_many`.
        """
        if not isinstance(runs, (list, tuple)):
            runs = list(runs)
        return self._core.encode_many(runs, self._encode_run)

    def decide(self, states: RunStates) -> RunDecision:
        """Decides one run.

        Args:
            states: each task's state as a mapping (a missing task has no state), a list or
                tuple of states in graph order, or the compact form.

        Returns:
            The run's state, the tasks that may be queued now and the states assigned.

        Raises:
            TypeError: ``states`` is none of those forms, or holds wrong types.
            ValueError: an unknown task id, state name or code, or a row of the wrong length.
        """
        if isinstance(states, (bytes, bytearray, memoryview)):
            return self._core.decide(states)
        if not isinstance(states, (Mapping, list, tuple)):
            raise TypeError(f"states must be a mapping of task id to state, a list or tuple of "
                            f"states in graph order, or bytes, got {type(states).__name__}")
        return self._core.decide(self._core.encode_many((states,), self._encode_run))

    def decide_many(self, runs: Iterable[RunStates]) -> list[RunDecision]:
        """Decides many runs in one C++ call (the GIL is released while it computes).

        Args:
            runs: each run's states: the compact form (``bytes``, fastest), a list or tuple of
                states in graph order, or a mapping of task id to state (plain dicts with str
                keys are read in C++; other mappings go through :meth:`encode`).

        Returns:
            One decision per run, in order.

        Raises:
            TypeError: a run is none of those forms, or holds wrong types.
            ValueError: an unknown task id, state name or code, or a row of the wrong length
                (the message names the run or the task).
        """
        if not isinstance(runs, (list, tuple)):
            runs = list(runs)
        return self._core.decide_many(runs, self._encode_run)

    def flags(self, task_ids: Iterable[str]) -> bytes:
        """One byte per task in graph order, 1 for the tasks of ``task_ids``, else 0 (the
        ``auto_success`` argument of :meth:`decide_many_cascade`).

        Raises:
            TypeError: ``task_ids`` is one string, or holds something else than str.
            ValueError: an unknown task id (the message names it).
        """
        if isinstance(task_ids, (str, bytes)):
            raise TypeError(f"task_ids must be a collection of task ids, got "
                            f"{type(task_ids).__name__}")
        out = bytearray(len(self._task_ids))
        for task_id in task_ids:
            out[self._task_index(task_id)] = 1
        return bytes(out)

    def decide_many_cascade(self, runs: Iterable[RunStates], auto_success: bytes,
                            max_rounds: int) -> tuple[list[RunDecision], list[tuple[str, ...]],
                                                      int]:
        """:meth:`decide_many` with the scheduler's rounds for tasks that finish without running
        (its ``EmptyOperator`` tasks), in one C++ call.

        After a run's decision, every schedulable task flagged in ``auto_success`` that has no
        state is set ``success`` and the run is decided again, until a decision makes none
        ready or ``max_rounds`` decisions were made (the tasks the last one made ready are still
        set success; the run's state is that decision's). Each later decision is the decision
        of the whole run with those tasks successful (only the tasks they feed are evaluated
        again, any other would decide the same), so the result equals calling :meth:`decide`
        round after round as the scheduler did (the tests compare the two).

        Args:
            runs: each run's states, in any form :meth:`decide_many` accepts.
            auto_success: one flag per task in graph order (:meth:`flags`).
            max_rounds: at most this many decisions per run (>= 1).

        Returns:
            Per run the decision (``changed`` holds every state the rounds assigned, the
            successes of flagged tasks excluded; ``schedulable`` the last decision's tasks less
            those set success), per run the ids of the tasks set success in graph order, and the
            number of decisions made in all.

        Raises:
            TypeError, ValueError: as :meth:`decide_many`; ``auto_success`` is not one flag per
                task; ``max_rounds`` is not an int >= 1.
        """
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int):
            raise TypeError(f"max_rounds must be an int, got {type(max_rounds).__name__}")
        if not isinstance(runs, (list, tuple)):
            runs = list(runs)
        decisions, done, total = self._core.decide_many_cascade(runs, self._encode_run,
                                                                auto_success, max_rounds)
        return decisions, done, total

    def decide_many_compact(self, buffer: bytes | bytearray | memoryview,
                            n_runs: int | None = None) -> RunDecisionBatch:
        """Decides many runs given as one block of state codes, returning compact columns.

        For a scheduler that keeps states in the compact form: no Python object is made per run
        or task unless the batch is indexed.

        Args:
            buffer: ``n_runs * len(task_ids)`` state codes, run by run (bytes, bytearray,
                memoryview or any C-contiguous byte buffer).
            n_runs: the number of runs; by default ``len(buffer) // len(task_ids)``.

        Returns:
            The batch; ``batch[i]`` is run ``i``'s :class:`RunDecision`.

        Raises:
            TypeError: ``buffer`` is not a contiguous byte buffer.
            ValueError: its size is not ``n_runs * len(task_ids)``, or it holds an unknown code.
        """
        if n_runs is None:
            n = len(self._task_ids)
            size = memoryview(buffer).nbytes
            if n == 0:
                raise ValueError("n_runs is required for a graph without tasks")
            if size % n:
                raise ValueError(f"a buffer of {size} bytes is not a whole number of runs of {n} "
                                 f"tasks")
            n_runs = size // n
        elif isinstance(n_runs, bool) or not isinstance(n_runs, int):
            raise TypeError(f"n_runs must be an int, got {type(n_runs).__name__}")
        return self._core.decide_many_compact(buffer, n_runs)

    # -- runs with mapped tasks: instance counts ---------------------------------------------------

    def encode_counts(self, states: Mapping[str, StateLike | Mapping[StateLike, int]]) -> bytes:
        """The counts form of a run whose tasks may have many instances (mapped tasks).

        Args:
            states: by task id, a state (one instance in that state) or a mapping of state to
                the number of the task's instances in it (a mapped task); a task missing here
                has one instance without state. ``{}`` for a mapped task means no instances.

        Returns:
            ``len(task_ids) * 13`` native unsigned 32-bit counts, task by task in graph order,
            by state code (:data:`dagcore.state.TI_STATE_CODES`).

        Raises:
            TypeError, ValueError: an unknown task id or state, or a count that is not an int in
                ``0 .. 2**31`` (the message names the task).
        """
        if not isinstance(states, Mapping):
            raise TypeError(f"states must be a mapping of task id to a state or to counts by "
                            f"state, got {type(states).__name__}")
        width = len(TI_STATE_CODES)
        out = array.array("I", bytes(4 * width * len(self._task_ids)))
        for i in range(len(self._task_ids)):
            out[i * width] = 1  # one instance without state
        for task_id, value in states.items():
            base = self._task_index(task_id) * width
            out[base] = 0
            if isinstance(value, Mapping):
                for state, n in value.items():
                    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 2**31:
                        raise ValueError(f"the count of task {task_id!r} in state {state!r} must "
                                         f"be an int in 0..2**31, got {n!r}")
                    out[base + _code(task_id, state)] += n
            else:
                out[base + _code(task_id, value)] = 1
        return out.tobytes()

    def decide_counts(self, runs: Iterable[bytes | Mapping[str, Any]]) -> list[RunDecision]:
        """Decides runs with mapped tasks (see :meth:`decide_counts_compact`); each run is the
        counts form (bytes) or a mapping as :meth:`encode_counts` takes."""
        block = b"".join(run if isinstance(run, (bytes, bytearray)) else self.encode_counts(run)
                         for run in runs)
        width = 4 * len(TI_STATE_CODES) * len(self._task_ids)
        batch = self.decide_counts_compact(block, len(block) // width if width else 0)
        return [batch[i] for i in range(len(batch))]

    def decide_counts_compact(self, buffer: bytes | bytearray | memoryview,
                              n_runs: int) -> RunDecisionBatch:
        """Decides runs given as instance counts, in one C++ call with the GIL released.

        A task's trigger rule counts every instance of its upstream tasks, as Airflow counts task
        instance rows when an upstream is mapped (docs/airflow-behaviour.md 3.5); a task is a
        candidate while any of its instances is schedulable, and ``changed``/``schedulable`` in
        the result apply to all of its schedulable instances. So a run of one task mapped over
        10,000 inputs is decided from 13 counts, not 10,000 states.

        Args:
            buffer: ``n_runs`` runs in the counts form (:meth:`encode_counts`), concatenated.
            n_runs: the number of runs.

        Raises:
            ValueError: a buffer of the wrong size, or a task with more than 2**31 instances.
        """
        if isinstance(n_runs, bool) or not isinstance(n_runs, int):
            raise TypeError(f"n_runs must be an int, got {type(n_runs).__name__}")
        return self._core.decide_counts_compact(buffer, n_runs)

    # -- helpers -----------------------------------------------------------------------------------

    def _task_index(self, task_id: object) -> int:
        try:
            return self._index[task_id]
        except (KeyError, TypeError):
            if not isinstance(task_id, str):
                raise TypeError(f"task ids must be str, got {type(task_id).__name__}") from None
            raise ValueError(f"unknown task id {task_id!r}") from None

    def _encode_run(self, run: object) -> bytes:
        if isinstance(run, Mapping):
            return self.encode(run)
        if isinstance(run, memoryview):
            return run.tobytes()
        raise TypeError(f"a run must be bytes (the compact form), a list or tuple of states in "
                        f"graph order, or a mapping of task id to state, got {type(run).__name__}")


def _code(task_id: str, state: object) -> int:
    try:
        return _CODES[state]
    except KeyError:
        if isinstance(state, str):
            raise ValueError(f"{state!r} is not a task instance state (task {task_id!r})") from None
    except TypeError:  # unhashable
        pass
    raise TypeError(f"the state of task {task_id!r} must be a TaskInstanceState, a state name or "
                    f"None, got {type(state).__name__}")
