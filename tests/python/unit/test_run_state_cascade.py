"""RunGraph.decide_many_cascade against the scheduler's rounds, on random DAGs (Hypothesis).

The scheduler used to decide a DAG version's runs round by round in Python (``decide_many``,
then every schedulable flagged task without state set success, then ``decide_many`` again for
the runs that had one, at most ``max_rounds`` decisions): :func:`rounds` below is that loop.
``decide_many_cascade`` does the same in one C++ call; both must give the same final decision
(run state, reason, schedulable tasks), the same accumulated changes, the same tasks set
success and the same number of decisions.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.run_state import RunGraph, TaskSpec
from dagcore.state import TaskInstanceState

from test_run_state_properties import STATES, dags

Outcome = tuple[str, str | None, tuple[str, ...], dict[str, str], tuple[str, ...]]


def rounds(graph: RunGraph, runs: list[dict[str, Any]], flagged: set[str], max_rounds: int
           ) -> tuple[list[Outcome], int]:
    """The scheduler's former Python rounds (jobs/scheduler.py, _decide_rounds without the
    depends_on_past check)."""
    states = [{tid: (s.value if isinstance(s, TaskInstanceState) else s)
               for tid, s in run.items()} for run in runs]
    for st_ in states:
        for tid in graph.task_ids:
            st_.setdefault(tid, None)
    original = [dict(s) for s in states]
    decisions: dict[int, Any] = {}
    schedule: dict[int, tuple[str, ...]] = {}
    done: dict[int, list[str]] = {i: [] for i in range(len(runs))}
    pending = list(range(len(runs)))
    made = 0
    for _ in range(max_rounds):
        results = graph.decide_many([states[i] for i in pending])
        made += len(pending)
        again = []
        for i, decision in zip(pending, results):
            decisions[i] = decision
            for tid, state in decision.changed.items():
                states[i][tid] = state.value
            ready = [tid for tid in decision.schedulable
                     if tid in flagged and states[i][tid] is None]
            schedule[i] = tuple(tid for tid in decision.schedulable if tid not in ready)
            if ready:
                for tid in ready:
                    states[i][tid] = "success"
                    done[i].append(tid)
                again.append(i)
        if not again:
            break
        pending = again
    out = []
    for i in range(len(runs)):
        changed = {tid: s for tid, s in states[i].items()
                   if s != original[i][tid] and tid not in done[i]}
        order = {tid: k for k, tid in enumerate(graph.task_ids)}
        out.append((decisions[i].state.value, decisions[i].reason, schedule[i], changed,
                    tuple(sorted(done[i], key=order.__getitem__))))
    return out, made


def cascade(graph: RunGraph, runs: list[dict[str, Any]], flagged: set[str], max_rounds: int
            ) -> tuple[list[Outcome], int]:
    results, done, made = graph.decide_many_cascade(runs, graph.flags(flagged), max_rounds)
    return [(d.state.value, d.reason, d.schedulable,
             {tid: s.value for tid, s in d.changed.items()}, ids)
            for d, ids in zip(results, done)], made


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[TaskSpec], list[dict[str, Any]], set[str], int]:
    specs = draw(dags())
    runs = []
    for _ in range(draw(st.integers(1, 4))):
        runs.append({spec.task_id: draw(st.sampled_from(STATES)) for spec in specs
                     if draw(st.integers(0, 2)) == 0})
    flagged = {spec.task_id for spec in specs if draw(st.booleans())}
    return specs, runs, flagged, draw(st.sampled_from([1, 2, 3, 1000]))


@settings(max_examples=400, deadline=None)
@given(cases())
def test_cascade_equals_the_rounds(case: tuple[list[TaskSpec], list[dict[str, Any]], set[str],
                                               int]) -> None:
    specs, runs, flagged, max_rounds = case
    graph = RunGraph(specs)
    assert cascade(graph, runs, flagged, max_rounds) == rounds(graph, runs, flagged, max_rounds)


def test_a_chain_of_empty_tasks_ends_in_one_call() -> None:
    graph = RunGraph([TaskSpec("a"), TaskSpec("b", upstream=("a",)),
                      TaskSpec("c", upstream=("b",)), TaskSpec("d", upstream=("c",))])
    results, done, made = graph.decide_many_cascade([{}, {"a": "success"}],
                                                    graph.flags({"a", "b", "c"}), 1000)
    assert [d.schedulable for d in results] == [("d",), ("d",)]
    assert done == [("a", "b", "c"), ("b", "c")]
    assert made == 4 + 3
    capped = graph.decide_many_cascade([{}], graph.flags({"a", "b", "c"}), 2)
    assert capped[1] == [("a", "b")] and capped[0][0].schedulable == () and capped[2] == 2


def test_bad_arguments_are_named() -> None:
    graph = RunGraph([TaskSpec("a"), TaskSpec("b", upstream=("a",))])
    with pytest.raises(ValueError, match="auto_success must hold 2 flags"):
        graph.decide_many_cascade([{}], b"\x01", 10)
    with pytest.raises(ValueError, match="max_rounds must be >= 1"):
        graph.decide_many_cascade([{}], graph.flags(["a"]), 0)
    with pytest.raises(TypeError, match="max_rounds must be an int"):
        graph.decide_many_cascade([{}], graph.flags(["a"]), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'zz'"):
        graph.flags(["zz"])
    with pytest.raises(TypeError, match="collection of task ids"):
        graph.flags("a")
