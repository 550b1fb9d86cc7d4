"""Task-instance and DAG-run states, with Airflow's values and named state sets.

``None`` is "no state" (a task instance that was created but not yet scheduled), as in Airflow.
The integer codes in :data:`TI_STATE_CODES` are the compact wire form of dagcore.run_state (one
byte per task in graph order) and match ``dagcore::ti_state`` in cpp/include/dagcore/states.hpp.
"""

from __future__ import annotations

from enum import Enum, EnumMeta

__all__ = [
    "DagRunState",
    "TI_STATE_CODES",
    "TaskInstanceState",
    "code_of",
    "state_of_code",
]


class _TaskInstanceStateSets(EnumMeta):
    """Declares TaskInstanceState's named sets, assigned after the class.

    On the metaclass, not in the class body: mypy (1.0, Debian 12) takes a name annotated in an
    Enum's body for a member, and then a set of states for a single state.
    """

    # Named sets, as Airflow's State.* (None is a member where Airflow includes it).
    finished: frozenset[TaskInstanceState]
    unfinished: frozenset[TaskInstanceState | None]
    failed_states: frozenset[TaskInstanceState]
    success_states: frozenset[TaskInstanceState]
    schedulable: frozenset[TaskInstanceState | None]


class TaskInstanceState(str, Enum, metaclass=_TaskInstanceStateSets):
    """A task instance's state (``None`` means no state yet)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    RESTARTING = "restarting"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"
    DEFERRED = "deferred"

    def __str__(self) -> str:
        return self.value


_TI = TaskInstanceState
TaskInstanceState.finished = frozenset({_TI.SUCCESS, _TI.FAILED, _TI.SKIPPED, _TI.UPSTREAM_FAILED,
                                        _TI.REMOVED})
TaskInstanceState.unfinished = frozenset({None, _TI.SCHEDULED, _TI.QUEUED, _TI.RUNNING,
                                          _TI.RESTARTING, _TI.UP_FOR_RETRY,
                                          _TI.UP_FOR_RESCHEDULE, _TI.DEFERRED})
TaskInstanceState.failed_states = frozenset({_TI.FAILED, _TI.UPSTREAM_FAILED})
TaskInstanceState.success_states = frozenset({_TI.SUCCESS, _TI.SKIPPED})
TaskInstanceState.schedulable = frozenset({None, _TI.UP_FOR_RETRY, _TI.UP_FOR_RESCHEDULE})


class _DagRunStateSets(EnumMeta):
    """Declares DagRunState's named sets (on the metaclass: see _TaskInstanceStateSets)."""

    finished: frozenset[DagRunState]
    unfinished: frozenset[DagRunState]


class DagRunState(str, Enum, metaclass=_DagRunStateSets):
    """A DAG run's state."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


DagRunState.finished = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
DagRunState.unfinished = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})

TI_STATE_CODES: dict[TaskInstanceState | None, int] = {
    None: 0,
    _TI.SCHEDULED: 1,
    _TI.QUEUED: 2,
    _TI.RUNNING: 3,
    _TI.SUCCESS: 4,
    _TI.RESTARTING: 5,
    _TI.FAILED: 6,
    _TI.UP_FOR_RETRY: 7,
    _TI.UP_FOR_RESCHEDULE: 8,
    _TI.UPSTREAM_FAILED: 9,
    _TI.SKIPPED: 10,
    _TI.REMOVED: 11,
    _TI.DEFERRED: 12,
}
_BY_CODE: list[TaskInstanceState | None] = [None] * len(TI_STATE_CODES)
for _state, _code in TI_STATE_CODES.items():
    _BY_CODE[_code] = _state


def code_of(state: TaskInstanceState | str | None) -> int:
    """The compact code of a state (a member, its value, or None)."""
    if state is None:
        return 0
    try:
        return TI_STATE_CODES[TaskInstanceState(state)]
    except ValueError:
        raise ValueError(f"{state!r} is not a task instance state") from None


def state_of_code(code: int) -> TaskInstanceState | None:
    """The state a compact code stands for."""
    if not 0 <= code < len(_BY_CODE):
        raise ValueError(f"{code!r} is not a task instance state code")
    return _BY_CODE[code]
