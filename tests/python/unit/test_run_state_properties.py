"""Properties of dagcore.run_state on random DAGs and random run states (Hypothesis).

- The engine agrees with a straightforward Python implementation of docs/airflow-behaviour.md
3.3-3.6 (relevant
  setups, the setup constraint, propagation in topological order, effective leaves, deadlock
  detection) that shares nothing with it but the per-task trigger-rule tables.
- Deciding an already-decided state changes nothing and decides the same.
- decide, decide_many and decide_many_compact agree on every run form; encode and decode are
  inverse.
- The clear closure contains its input and is monotone in the input and in the flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.run_state import RunDecision, RunGraph, TaskSpec, evaluate_trigger_rule
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.trigger_rule import TriggerRule

TI = TaskInstanceState
STATES: list[TaskInstanceState | None] = [None, *TaskInstanceState]


# -------------------------------------------------------------------------------------------------
# strategies


@st.composite
def dags(draw: st.DrawFn, max_tasks: int = 14) -> list[TaskSpec]:
    """A random DAG in a shuffled order: edges from lower to higher hidden rank, some setups and
    teardowns (teardowns mostly downstream of setups), random rules and deadlock flags."""
    n = draw(st.integers(1, max_tasks))
    kinds = draw(st.lists(st.sampled_from(["work"] * 6 + ["setup", "teardown"]), min_size=n,
                          max_size=n))
    specs: list[TaskSpec] = []
    for k, kind in enumerate(kinds):
        candidates = list(range(k))
        upstream = draw(st.lists(st.sampled_from(candidates), max_size=min(k, 4), unique=True)
                        if candidates else st.just([]))
        if kind == "teardown":
            upstream += [u for u in candidates if kinds[u] == "setup" and draw(st.booleans())]
        rule = draw(st.sampled_from(list(TriggerRule))) if kind == "work" else None
        specs.append(TaskSpec(
            f"t{k}", upstream=tuple(dict.fromkeys(f"t{u}" for u in upstream)), trigger_rule=rule,
            is_setup=kind == "setup", is_teardown=kind == "teardown",
            on_failure_fail_dagrun=kind == "teardown" and draw(st.booleans()),
            depends_on_past=draw(st.integers(0, 19)) == 0,
            limits_concurrency=draw(st.integers(0, 19)) == 0))
    return draw(st.permutations(specs))


@st.composite
def dag_and_states(draw: st.DrawFn) -> tuple[list[TaskSpec], dict[str, TaskInstanceState | None]]:
    specs = draw(dags())
    states = {}
    for spec in specs:
        if draw(st.integers(0, 3)) == 0:
            continue  # missing from the mapping: no state
        states[spec.task_id] = draw(st.sampled_from(STATES))
    return specs, states


# -------------------------------------------------------------------------------------------------
# the reference implementation


@dataclass
class Dag:
    """Plain-Python structure of a DAG for the reference implementation."""

    specs: dict[str, TaskSpec]
    upstream: dict[str, set[str]]
    downstream: dict[str, set[str]]
    order: list[str]  # a topological order (depth-first, unlike the engine's)

    @classmethod
    def of(cls, specs: list[TaskSpec]) -> Dag:
        by_id = {s.task_id: s for s in specs}
        upstream = {s.task_id: set(s.upstream) for s in specs}
        downstream: dict[str, set[str]] = {t: set() for t in by_id}
        for t, ups in upstream.items():
            for u in ups:
                downstream[u].add(t)
        order: list[str] = []
        seen: set[str] = set()

        def visit(t: str) -> None:
            if t in seen:
                return
            seen.add(t)
            for u in sorted(upstream[t], reverse=True):
                visit(u)
            order.append(t)

        for t in sorted(by_id, reverse=True):
            visit(t)
        return cls(by_id, upstream, downstream, order)

    def reach(self, t: str, edges: dict[str, set[str]]) -> set[str]:
        out: set[str] = set()
        stack = list(edges[t])
        while stack:
            v = stack.pop()
            if v not in out:
                out.add(v)
                stack.extend(edges[v])
        return out

    def teardowns(self, s: str) -> set[str]:
        return {d for d in self.downstream[s] if self.specs[d].is_teardown}

    def relevant_setups(self, t: str) -> set[str]:
        below = self.reach(t, self.downstream)
        return {s for s in self.reach(t, self.upstream) if self.specs[s].is_setup
                and (not self.teardowns(s) or self.teardowns(s) & below)}

    def indirect_setups(self, t: str) -> set[str]:
        if self.specs[t].is_teardown:
            return set()
        return self.relevant_setups(t) - self.upstream[t]

    def leaves(self) -> set[str]:
        def ignorable(t: str) -> bool:
            return self.specs[t].is_teardown and not self.specs[t].on_failure_fail_dagrun

        leaves = {t for t in self.specs
                  if not ignorable(t) and all(ignorable(d) for d in self.downstream[t])}
        return leaves or {t for t in self.specs if not self.downstream[t]}


def reference_decide(specs: list[TaskSpec], states: Mapping[str, TaskInstanceState | None]
                     ) -> tuple[DagRunState, set[str], dict[str, TaskInstanceState], str | None]:
    dag = Dag.of(specs)
    st_: dict[str, TaskInstanceState | None] = {t: states.get(t) for t in dag.specs}

    def evaluate(t: str, flag: bool) -> tuple[bool, TaskInstanceState | None]:
        spec = dag.specs[t]
        ups = dag.upstream[t]
        if not ups or spec.trigger_rule == TriggerRule.ALWAYS:
            return True, None
        setups_ok = True
        indirect = [st_[s] for s in dag.indirect_setups(t)]
        if indirect:
            if flag and (TI.FAILED in indirect or TI.UPSTREAM_FAILED in indirect):
                return False, TI.UPSTREAM_FAILED
            if flag and TI.SKIPPED in indirect:
                return False, TI.SKIPPED
            setups_ok = all(s == TI.SUCCESS for s in indirect)
        finished = [st_[u] for u in ups if st_[u] in TI.finished]
        setups = [st_[u] for u in ups if dag.specs[u].is_setup]
        result = evaluate_trigger_rule(
            spec.trigger_rule, upstream=len(ups), success=finished.count(TI.SUCCESS),
            skipped=finished.count(TI.SKIPPED), failed=finished.count(TI.FAILED),
            upstream_failed=finished.count(TI.UPSTREAM_FAILED), removed=finished.count(TI.REMOVED),
            upstream_setup=len(setups), success_setup=setups.count(TI.SUCCESS),
            skipped_setup=setups.count(TI.SKIPPED), flag_upstream_failed=flag)
        return result.passed and setups_ok, result.new_state

    changed: dict[str, TaskInstanceState] = {}
    ready: set[str] = set()
    for t in dag.order:
        if st_[t] not in TI.schedulable:
            continue
        passed, new_state = evaluate(t, True)
        if new_state is not None:
            st_[t] = changed[t] = new_state
        elif passed:
            ready.add(t)

    unfinished = [t for t in dag.specs if st_[t] in TI.unfinished]
    if not unfinished:
        leaves = [st_[t] for t in dag.leaves() if st_[t] != TI.REMOVED]
        if any(s in TI.failed_states for s in leaves):
            return DagRunState.FAILED, ready, changed, "task_failure"
        return DagRunState.SUCCESS, ready, changed, "success"
    should_schedule = all(not dag.specs[t].depends_on_past and not dag.specs[t].limits_concurrency
                          and st_[t] != TI.DEFERRED for t in unfinished)
    runnable = bool(ready) or any(evaluate(t, False)[0] for t in unfinished
                                  if st_[t] not in TI.schedulable)
    if should_schedule and not runnable:
        return DagRunState.FAILED, ready, changed, "all_tasks_deadlocked"
    return DagRunState.RUNNING, ready, changed, None


def applied(states: Mapping[str, TaskInstanceState | None], decision: RunDecision
            ) -> dict[str, TaskInstanceState | None]:
    return {**states, **decision.changed}


# -------------------------------------------------------------------------------------------------
# properties


@settings(max_examples=400)
@given(dag_and_states())
def test_engine_agrees_with_the_reference(case: tuple[list[TaskSpec], dict]) -> None:
    specs, states = case
    graph = RunGraph(specs)
    decision = graph.decide(states)
    state, ready, changed, reason = reference_decide(specs, states)
    assert decision.state is state
    assert decision.reason == reason
    assert set(decision.schedulable) == ready
    assert decision.changed == changed
    # Results come in graph order.
    position = {t: i for i, t in enumerate(graph.task_ids)}
    assert list(decision.schedulable) == sorted(ready, key=position.__getitem__)
    assert list(decision.changed) == sorted(changed, key=position.__getitem__)
    # Only candidates change, and only to skipped or upstream_failed.
    for task_id, new_state in decision.changed.items():
        assert states.get(task_id) in TI.schedulable
        assert new_state in (TI.SKIPPED, TI.UPSTREAM_FAILED)


@given(dag_and_states())
def test_deciding_a_decided_state_changes_nothing(case: tuple[list[TaskSpec], dict]) -> None:
    specs, states = case
    graph = RunGraph(specs)
    first = graph.decide(states)
    again = graph.decide(applied(states, first))
    assert again.changed == {}
    assert again.schedulable == first.schedulable
    assert again.state is first.state
    assert again.reason == first.reason


@given(dags())
def test_structure_agrees_with_the_reference(specs: list[TaskSpec]) -> None:
    graph = RunGraph(specs)
    dag = Dag.of(specs)
    assert graph.leaves_for_run_state() == dag.leaves()
    assert sorted(graph.task_ids) == sorted(dag.specs)
    position = {t: i for i, t in enumerate(graph.task_ids)}
    for t in graph.task_ids:  # topological
        assert all(position[u] < position[t] for u in dag.upstream[t])
    assert {s.task_id for s in graph.tasks} == set(dag.specs)


@given(dags(), st.lists(st.lists(st.sampled_from(STATES), min_size=14, max_size=14),
                        max_size=8))
def test_decide_many_and_compact_agree_with_decide(specs: list[TaskSpec],
                                                   rows: list[list[TaskInstanceState | None]]
                                                   ) -> None:
    graph = RunGraph(specs)
    runs = [dict(zip(graph.task_ids, row)) for row in rows]
    encoded = [graph.encode(run) for run in runs]
    expected = [graph.decide(run) for run in runs]
    assert graph.decide_many(runs) == expected
    assert graph.decide_many(encoded) == expected
    in_order = [[run[t] for t in graph.task_ids] for run in runs]
    assert graph.decide_many(in_order) == expected
    assert graph.encode_many(in_order) == b"".join(encoded)
    assert list(graph.decide_many_compact(b"".join(encoded), len(runs))) == expected
    for run, data in zip(runs, encoded):
        assert graph.decode(data) == run


@given(dags(), st.data())
def test_clear_closure_is_monotone(specs: list[TaskSpec], data: st.DataObject) -> None:
    graph = RunGraph(specs)
    ids = list(graph.task_ids)
    small = data.draw(st.sets(st.sampled_from(ids)))
    large = small | data.draw(st.sets(st.sampled_from(ids)))
    for upstream in (False, True):
        for downstream in (False, True):
            of_small = graph.clear_closure(small, upstream=upstream, downstream=downstream)
            assert small <= of_small
            assert of_small <= graph.clear_closure(large, upstream=upstream,
                                                   downstream=downstream)
            assert of_small <= graph.clear_closure(small, upstream=True, downstream=downstream)
            assert of_small <= graph.clear_closure(small, upstream=upstream, downstream=True)
    # Each task's closure is within the union's: clearing several at once clears their union.
    union = set().union(*(graph.clear_closure({t}, upstream=True) for t in small))
    assert union == graph.clear_closure(small, upstream=True)
