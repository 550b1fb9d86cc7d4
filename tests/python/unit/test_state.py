"""dagcore.state and dagcore.trigger_rule: Airflow's values, the named sets, the compact codes.

The named sets must partition the enums as docs/airflow-behaviour.md 3.1 documents them, and
the compact codes must mean in C++ what they mean in Python: each code is decided through the
engine and must behave as the state it stands for.
"""

from __future__ import annotations

import pytest

from dagcore.run_state import RunGraph, TaskSpec
from dagcore.state import (
    TI_STATE_CODES,
    DagRunState,
    TaskInstanceState,
    code_of,
    state_of_code,
)
from dagcore.trigger_rule import TriggerRule

TI = TaskInstanceState
ALL_TI_STATES: set[TaskInstanceState | None] = {None, *TaskInstanceState}


def test_task_instance_state_values_are_airflows() -> None:
    assert {s.value for s in TaskInstanceState} == {
        "scheduled", "queued", "running", "success", "restarting", "failed", "up_for_retry",
        "up_for_reschedule", "upstream_failed", "skipped", "removed", "deferred",
    }
    assert TI.UP_FOR_RETRY == "up_for_retry"
    assert str(TI.UPSTREAM_FAILED) == "upstream_failed"
    assert TI("skipped") is TI.SKIPPED


def test_dag_run_state_values_are_airflows() -> None:
    assert [s.value for s in DagRunState] == ["queued", "running", "success", "failed"]
    assert str(DagRunState.RUNNING) == "running"


def test_finished_and_unfinished_partition_the_states_with_none() -> None:
    assert TI.finished | TI.unfinished == ALL_TI_STATES
    assert not TI.finished & TI.unfinished
    assert None in TI.unfinished


def test_named_sets_are_as_documented() -> None:
    assert TI.finished == {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED}
    assert TI.failed_states == {TI.FAILED, TI.UPSTREAM_FAILED}
    assert TI.success_states == {TI.SUCCESS, TI.SKIPPED}
    assert TI.schedulable == {None, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE}
    # finished = failed | success | {removed}, the three disjoint; schedulable is unfinished.
    assert TI.failed_states | TI.success_states | {TI.REMOVED} == TI.finished
    assert not TI.failed_states & TI.success_states
    assert TI.schedulable <= TI.unfinished


def test_dag_run_sets_partition_the_run_states() -> None:
    assert DagRunState.finished == {DagRunState.SUCCESS, DagRunState.FAILED}
    assert DagRunState.unfinished == {DagRunState.QUEUED, DagRunState.RUNNING}
    assert DagRunState.finished | DagRunState.unfinished == set(DagRunState)
    assert not DagRunState.finished & DagRunState.unfinished


def test_named_sets_are_immutable() -> None:
    for named in (TI.finished, TI.unfinished, TI.failed_states, TI.success_states,
                  TI.schedulable, DagRunState.finished, DagRunState.unfinished):
        assert isinstance(named, frozenset)


def test_codes_are_a_bijection_onto_0_to_12() -> None:
    assert set(TI_STATE_CODES) == ALL_TI_STATES
    assert sorted(TI_STATE_CODES.values()) == list(range(13))
    assert TI_STATE_CODES[None] == 0


@pytest.mark.parametrize("state", sorted(ALL_TI_STATES, key=lambda s: code_of(s)),
                         ids=lambda s: str(s))
def test_code_round_trip(state: TaskInstanceState | None) -> None:
    code = code_of(state)
    assert state_of_code(code) is state
    if state is not None:
        assert code_of(state.value) == code


def test_code_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="'bogus' is not a task instance state"):
        code_of("bogus")
    with pytest.raises(ValueError, match="13 is not a task instance state code"):
        state_of_code(13)
    with pytest.raises(ValueError, match="-1"):
        state_of_code(-1)


@pytest.mark.parametrize("state", sorted(ALL_TI_STATES, key=lambda s: code_of(s)),
                         ids=lambda s: str(s))
def test_codes_mean_the_same_state_in_cpp(state: TaskInstanceState | None) -> None:
    # One task with this state: the engine's verdict depends on which named sets it is in.
    graph = RunGraph([TaskSpec("t")])
    decision = graph.decide(bytes([code_of(state)]))
    if state in TI.failed_states:
        assert decision.state is DagRunState.FAILED
    elif state in TI.finished:
        assert decision.state is DagRunState.SUCCESS  # success, skipped, removed
    else:
        assert decision.state is DagRunState.RUNNING
    assert decision.schedulable == (("t",) if state in TI.schedulable else ())
    assert graph.decode(bytes([code_of(state)])) == {"t": state}


def test_trigger_rules_are_airflows_thirteen() -> None:
    assert {r.value for r in TriggerRule} == {
        "all_success", "all_failed", "all_done", "all_done_min_one_success",
        "all_done_setup_success", "one_success", "one_failed", "one_done", "none_failed",
        "none_failed_min_one_success", "none_skipped", "always", "all_skipped",
    }
    assert len(TriggerRule) == 13
    assert str(TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS) == "none_failed_min_one_success"
    assert TriggerRule("always") is TriggerRule.ALWAYS
