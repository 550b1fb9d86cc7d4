"""dagcore.run_state through Python: trigger rules, graphs, decisions on Airflow's cases, the
compact form, decide_many and the clear closure, and the errors bad input gets.

Airflow's cases are from its test suite (tests/models/test_dagrun.py) and
docs/airflow-behaviour.md 3.3-3.6.
"""

from __future__ import annotations

import doctest
import threading
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType

import pytest

import dagcore.run_state
from dagcore.run_state import (
    DAGRUN_STATE_BY_CODE,
    RUN_REASON_BY_CODE,
    RunDecision,
    RunDecisionBatch,
    RunGraph,
    TaskSpec,
    TriggerRuleEvaluation,
    evaluate_trigger_rule,
)
from dagcore.state import TI_STATE_CODES, DagRunState, TaskInstanceState
from dagcore.trigger_rule import TriggerRule

TI = TaskInstanceState
RUNNING, SUCCESS, FAILED = DagRunState.RUNNING, DagRunState.SUCCESS, DagRunState.FAILED


def setup_task(task_id: str, *upstream: str) -> TaskSpec:
    return TaskSpec(task_id, upstream=upstream, is_setup=True)


def teardown_task(task_id: str, *upstream: str, fail_dagrun: bool = False) -> TaskSpec:
    return TaskSpec(task_id, upstream=upstream, is_teardown=True,
                    on_failure_fail_dagrun=fail_dagrun)


def chain(*task_ids: str) -> list[TaskSpec]:
    return [TaskSpec(t, upstream=(task_ids[i - 1],) if i else ())
            for i, t in enumerate(task_ids)]


def values(changed: Mapping[str, TaskInstanceState]) -> dict[str, str]:
    return {task: state.value for task, state in changed.items()}


def test_module_examples() -> None:
    failures, tests = doctest.testmod(dagcore.run_state)
    assert tests > 5
    assert failures == 0


# -------------------------------------------------------------------------------------------------
# evaluate_trigger_rule

P = "Task's trigger rule '{}' "

RULE_CASES = [
    # id, rule, counts, passed, new state, reason
    ("no_upstream", "all_success", dict(upstream=0), True, None,
     "The task instance did not have any upstream tasks."),
    ("always", "always", dict(upstream=2, failed=2), True, None,
     "The task had a always trigger rule set."),
    ("all_success_met", "all_success", dict(upstream=2, success=2), True, None, None),
    ("all_success_waiting", "all_success", dict(upstream=2, success=1), False, None,
     P.format("all_success") + "requires all upstream tasks to have succeeded, but found 1 "
     "non-success(es)."),
    ("all_success_failed", "all_success", dict(upstream=2, success=1, failed=1), False,
     TI.UPSTREAM_FAILED, P.format("all_success") + "requires all upstream tasks to have "
     "succeeded, but found 1 non-success(es)."),
    ("all_success_skipped", "all_success", dict(upstream=2, skipped=1), False, TI.SKIPPED,
     P.format("all_success") + "requires all upstream tasks to have succeeded, but found 2 "
     "non-success(es)."),
    ("all_failed_success", "all_failed", dict(upstream=2, success=1, failed=1), False,
     TI.SKIPPED, P.format("all_failed") + "requires all upstream tasks to have failed, but found "
     "1 non-failure(s)."),
    ("all_failed_met", "all_failed", dict(upstream=2, failed=1, upstream_failed=1), True, None,
     None),
    ("all_done_waiting", "all_done", dict(upstream=3, failed=2), False, None,
     P.format("all_done") + "requires all upstream tasks to have completed, but found 1 task(s) "
     "that were not done."),
    ("one_success_early", "one_success", dict(upstream=3, success=1), True, None, None),
    ("one_success_none", "one_success", dict(upstream=2, failed=1, skipped=1), False,
     TI.UPSTREAM_FAILED, P.format("one_success") + "requires one upstream task success, but none "
     "were found."),
    ("one_success_all_skipped", "one_success", dict(upstream=2, skipped=2), False, TI.SKIPPED,
     P.format("one_success") + "requires one upstream task success, but none were found."),
    ("one_failed_after_success", "one_failed", dict(upstream=1, success=1), False, TI.SKIPPED,
     P.format("one_failed") + "requires one upstream task failure, but none were found."),
    ("one_failed_met", "one_failed", dict(upstream=3, upstream_failed=1), True, None, None),
    ("one_done_none", "one_done", dict(upstream=2, skipped=1, upstream_failed=1), False,
     TI.SKIPPED, P.format("one_done") + "requires at least one upstream task failure or success "
     "but none were failed or success."),
    ("none_failed_skips_run", "none_failed", dict(upstream=2, skipped=2), True, None, None),
    ("none_failed_failed", "none_failed", dict(upstream=2, failed=1), False, TI.UPSTREAM_FAILED,
     P.format("none_failed") + "requires all upstream tasks to have succeeded or been skipped, "
     "but found 2 non-success(es)."),
    ("nfmos_all_skipped", "none_failed_min_one_success", dict(upstream=2, skipped=2), True,
     TI.SKIPPED, None),
    ("none_skipped_skipped", "none_skipped", dict(upstream=2, success=1, skipped=1), False,
     TI.SKIPPED, P.format("none_skipped") + "requires all upstream tasks to not have been "
     "skipped, but found 1 task(s) skipped."),
    ("all_skipped_success", "all_skipped", dict(upstream=2, skipped=1, success=1), False,
     TI.SKIPPED, P.format("all_skipped") + "requires all upstream tasks to have been skipped, "
     "but found 1 task(s) in non skipped state."),
    ("setup_success_failed_setup", "all_done_setup_success",
     dict(upstream=2, success=1, failed=1, upstream_setup=1), False, TI.UPSTREAM_FAILED,
     P.format("all_done_setup_success") + "requires at least one upstream setup task be "
     "successful, but found 1 task(s) that were not."),
    ("setup_success_met", "all_done_setup_success",
     dict(upstream=2, success=1, failed=1, upstream_setup=1, success_setup=1), True, None, None),
    ("setup_success_skipped_setups", "all_done_setup_success",
     dict(upstream=2, skipped=2, upstream_setup=1, skipped_setup=1), False, TI.SKIPPED,
     P.format("all_done_setup_success") + "requires at least one upstream setup task be "
     "successful, but found 1 task(s) that were not."),
    ("min_one_success_met", "all_done_min_one_success",
     dict(upstream=3, success=1, failed=1, upstream_failed=1), True, None, None),
    ("min_one_success_none", "all_done_min_one_success", dict(upstream=2, failed=2), False,
     TI.UPSTREAM_FAILED, P.format("all_done_min_one_success") + "requires all upstream tasks to "
     "have completed and at least one upstream task has succeeded, but found 0 successful "
     "task(s)."),
]


@pytest.mark.parametrize(("rule", "counts", "passed", "new_state", "reason"),
                         [case[1:] for case in RULE_CASES], ids=[case[0] for case in RULE_CASES])
def test_evaluate_trigger_rule(rule: str, counts: dict[str, int], passed: bool,
                               new_state: TaskInstanceState | None, reason: str | None) -> None:
    result = evaluate_trigger_rule(rule, **counts)
    assert result == TriggerRuleEvaluation(passed=passed, new_state=new_state, reason=reason)
    assert result.new_state is new_state
    # The enum member is accepted as well as its value.
    assert evaluate_trigger_rule(TriggerRule(rule), **counts) == result
    # Without flag_upstream_failed only the state change goes.
    unflagged = evaluate_trigger_rule(rule, **counts, flag_upstream_failed=False)
    assert (unflagged.passed, unflagged.new_state, unflagged.reason) == (passed, None, reason)


def test_every_rule_is_covered_by_the_cases() -> None:
    assert {case[1] for case in RULE_CASES} == {r.value for r in TriggerRule}


def test_done_defaults_to_the_sum_of_finished_counts() -> None:
    assert evaluate_trigger_rule("all_done", upstream=3, success=1, skipped=1, removed=1).passed
    assert not evaluate_trigger_rule("all_done", upstream=3, success=1, skipped=1).passed
    # An explicit done wins: Airflow derives upstream_done from it.
    assert evaluate_trigger_rule("all_done", upstream=3, done=3).passed


def test_unknown_rule_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown trigger rule 'all_good'"):
        evaluate_trigger_rule("all_good", upstream=1)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(upstream=-1), ValueError, "upstream must be between 0 and"),
    (dict(upstream=1, success=2**32), ValueError, "success must be between 0 and"),
    (dict(upstream=1, failed=1.0), TypeError, "failed must be an int, got float"),
    (dict(upstream=True), TypeError, "upstream must be an int, got bool"),
    (dict(upstream=1, done=-2), ValueError, "done must be between"),
    (dict(upstream=1, flag_upstream_failed=1), TypeError, "flag_upstream_failed must be a bool"),
], ids=["negative", "too_large", "float", "bool", "negative_done", "flag_not_bool"])
def test_evaluate_trigger_rule_checks_its_counts(kwargs: dict[str, object], error: type,
                                                 match: str) -> None:
    with pytest.raises(error, match=match):
        evaluate_trigger_rule("all_success", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a trigger rule must be a TriggerRule or a str"):
        evaluate_trigger_rule(3, upstream=1)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------
# TaskSpec and RunGraph construction


def test_task_spec_defaults() -> None:
    spec = TaskSpec("a")
    assert spec.upstream == ()
    assert spec.trigger_rule is TriggerRule.ALL_SUCCESS
    assert spec.trigger_rule == "all_success"
    assert not (spec.is_setup or spec.is_teardown or spec.on_failure_fail_dagrun
                or spec.depends_on_past or spec.limits_concurrency)
    # A teardown defaults to all_done_setup_success, as Airflow's as_teardown() sets it.
    assert teardown_task("td").trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert TaskSpec("td", is_teardown=True, trigger_rule="all_done").trigger_rule is \
        TriggerRule.ALL_DONE
    # upstream may be any collection of ids; it is stored as a tuple.
    assert TaskSpec("b", upstream=["a", "c"]).upstream == ("a", "c")
    assert TaskSpec("b", ("a",)).upstream == ("a",)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(task_id=""), ValueError, "task_id must not be empty"),
    (dict(task_id=5), TypeError, "task_id must be a str, got int"),
    (dict(task_id="b", upstream="a"), TypeError, "upstream of task 'b' must be a collection"),
    (dict(task_id="b", upstream=("a", 1)), TypeError, "must hold str task ids, got int"),
    (dict(task_id="b", trigger_rule="sometimes"), ValueError, "unknown trigger rule 'sometimes'"),
    (dict(task_id="b", is_setup=1), TypeError, "is_setup of task 'b' must be a bool"),
    (dict(task_id="b", is_setup=True, is_teardown=True), ValueError,
     "task 'b' cannot be both a setup and a teardown"),
    (dict(task_id="b", on_failure_fail_dagrun=True), ValueError,
     "Cannot set task on_failure_fail_dagrun for 'b' because it is not a teardown task."),
], ids=["empty", "not_str", "upstream_str", "upstream_item", "rule", "flag_type", "setup_teardown",
        "fail_dagrun"])
def test_task_spec_errors(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        TaskSpec(**kwargs)  # type: ignore[arg-type]


def test_task_spec_is_a_frozen_value() -> None:
    spec = TaskSpec("a", upstream=("x",))
    assert spec == TaskSpec("a", upstream=["x"])
    assert hash(spec) == hash(TaskSpec("a", upstream=("x",)))
    with pytest.raises(AttributeError):
        spec.task_id = "b"  # type: ignore[misc]


def test_graph_order_is_stable_and_topological() -> None:
    graph = RunGraph([TaskSpec("d", upstream=("b", "c")), TaskSpec("c"),
                      TaskSpec("b", upstream=("a",)), TaskSpec("a")])
    assert graph.task_ids == ("c", "a", "b", "d")
    assert [t.task_id for t in graph.tasks] == ["c", "a", "b", "d"]
    assert graph.index("b") == 2
    assert len(graph) == 4
    assert "a" in graph and "z" not in graph and 3 not in graph
    assert repr(graph) == "RunGraph(4 tasks)"
    in_order = RunGraph(chain("x", "y", "z"))
    assert in_order.task_ids == ("x", "y", "z")


@pytest.mark.parametrize(("tasks", "match"), [
    ([TaskSpec("a"), TaskSpec("a")], "duplicate task_id 'a'"),
    ([TaskSpec("a"), TaskSpec("b", upstream=("y",))], "task 'b' has unknown upstream 'y'"),
    ([TaskSpec("a", upstream=("b",)), TaskSpec("b", upstream=("a",))],
     "cycle detected in DAG: a -> b -> a"),
    ([TaskSpec("a", upstream=("a",))], "cycle detected in DAG: a -> a"),
], ids=["duplicate", "unknown_upstream", "cycle", "self_loop"])
def test_graph_errors_name_the_ids(tasks: list[TaskSpec], match: str) -> None:
    with pytest.raises(ValueError, match=f"^{match}$"):
        RunGraph(tasks)


def test_graph_needs_task_specs() -> None:
    with pytest.raises(TypeError, match="tasks must be TaskSpec objects, got str"):
        RunGraph(["a"])  # type: ignore[list-item]


def test_index_of_an_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown task id 'zz'"):
        RunGraph(chain("a")).index("zz")


# -------------------------------------------------------------------------------------------------
# decisions: Airflow's cases


def test_fresh_run_schedules_the_roots_in_graph_order() -> None:
    graph = RunGraph([TaskSpec("b", upstream=("a",)), TaskSpec("c"), TaskSpec("a")])
    decision = graph.decide({})
    assert decision == RunDecision(state=RUNNING, schedulable=("c", "a"), changed={}, reason=None)
    assert not decision.finished


def test_all_success_is_success() -> None:
    decision = RunGraph(chain("a", "b")).decide({"a": TI.SUCCESS, "b": "success"})
    assert decision == RunDecision(state=SUCCESS, schedulable=(), changed={}, reason="success")
    assert decision.finished


def test_short_circuit_skips_give_success() -> None:
    # A branch (short-circuit) skipped one side; the skip flows down under all_success.
    graph = RunGraph([TaskSpec("branch"), TaskSpec("left", upstream=("branch",)),
                      TaskSpec("right", upstream=("branch",)),
                      TaskSpec("right_next", upstream=("right",)),
                      TaskSpec("join", upstream=("left", "right_next"))])
    decision = graph.decide({"branch": "success", "left": "success", "right": "skipped"})
    assert values(decision.changed) == {"right_next": "skipped", "join": "skipped"}
    assert decision.state is SUCCESS


def test_all_tasks_removed_is_success() -> None:
    decision = RunGraph(chain("a", "b", "c")).decide(
        {"a": "removed", "b": "removed", "c": "removed"})
    assert decision.state is SUCCESS
    assert decision.reason == "success"


def test_failed_non_leaf_with_succeeding_leaves_is_success() -> None:
    # Airflow's test_dagrun_success_conditions: B -> A, D -> C -> A.
    graph = RunGraph([TaskSpec("A", upstream=("B", "C")), TaskSpec("B"),
                      TaskSpec("C", upstream=("D",)),
                      TaskSpec("D")])
    assert graph.decide({"A": "success"}).state is RUNNING
    decision = graph.decide({"A": "success", "B": "failed", "C": "success", "D": "success"})
    assert decision.state is SUCCESS


def test_failed_leaf_is_failure() -> None:
    # Airflow's test_dagrun_failure_conditions: A -> B, A -> C -> D.
    graph = RunGraph([TaskSpec("A"), TaskSpec("B", upstream=("A",)), TaskSpec("C", upstream=("A",)),
                      TaskSpec("D", upstream=("C",))])
    decision = graph.decide({"A": "success", "B": "failed", "C": "success", "D": "success"})
    assert (decision.state, decision.reason) == (FAILED, "task_failure")


def test_failure_propagates_through_every_level_in_one_call() -> None:
    decision = RunGraph(chain("a", "b", "c", "d")).decide({"a": "failed"})
    assert values(decision.changed) == {"b": "upstream_failed", "c": "upstream_failed",
                                        "d": "upstream_failed"}
    assert list(decision.changed) == ["b", "c", "d"]  # graph order
    assert (decision.state, decision.reason) == (FAILED, "task_failure")


def test_one_failed_downstream_of_success_gets_skipped() -> None:
    graph = RunGraph([TaskSpec("work"), TaskSpec("alert", upstream=("work",),
                                                 trigger_rule=TriggerRule.ONE_FAILED)])
    decision = graph.decide({"work": "success"})
    assert values(decision.changed) == {"alert": "skipped"}
    assert decision.state is SUCCESS
    # After a failure it runs; work is not a leaf, so its failure does not fail the run.
    assert graph.decide({"work": "failed"}).schedulable == ("alert",)
    assert graph.decide({"work": "failed", "alert": "success"}).state is SUCCESS


@pytest.mark.parametrize("fail_dagrun", [False, True], ids=["ignored", "on_failure_fail_dagrun"])
def test_teardown_failure_only_fails_the_run_with_on_failure_fail_dagrun(fail_dagrun: bool) -> None:
    graph = RunGraph([setup_task("s"), TaskSpec("w", upstream=("s",)),
                      teardown_task("td", "s", "w", fail_dagrun=fail_dagrun)])
    assert graph.leaves_for_run_state() == ({"td"} if fail_dagrun else {"w"})
    decision = graph.decide({"s": "success", "w": "success", "td": "failed"})
    assert decision.state is (FAILED if fail_dagrun else SUCCESS)


def test_teardown_runs_after_a_failure_and_the_run_fails() -> None:
    graph = RunGraph([setup_task("s"), TaskSpec("w", upstream=("s",)),
                      teardown_task("td", "s", "w")])
    decision = graph.decide({"s": "success", "w": "failed"})
    assert decision.schedulable == ("td",)
    assert decision.state is RUNNING
    assert graph.decide({"s": "success", "w": "failed", "td": "success"}).state is FAILED


def test_failed_setup_fails_its_scope_including_indirect_work() -> None:
    graph = RunGraph([setup_task("s"), TaskSpec("w1", upstream=("s",), trigger_rule="all_done"),
                      TaskSpec("w2", upstream=("w1",), trigger_rule="all_done"),
                      teardown_task("td", "s", "w2")])
    # w1's rule (all_done) lets it run after the failed setup; w2's indirect setup fails it.
    decision = graph.decide({"s": "failed", "w1": "success"})
    assert values(decision.changed) == {"w2": "upstream_failed", "td": "upstream_failed"}
    decision = graph.decide({"s": "skipped", "w1": "success"})
    assert values(decision.changed) == {"w2": "skipped", "td": "skipped"}
    # While the setup has not succeeded, w2 waits although its own rule passes.
    waiting = graph.decide({"s": "running", "w1": "success"})
    assert waiting == RunDecision(state=RUNNING, schedulable=(), changed={}, reason=None)


def test_running_tasks_are_not_a_deadlock() -> None:
    graph = RunGraph(chain("a", "b"))
    for state in ("scheduled", "queued", "running", "restarting"):
        assert graph.decide({"a": state}) == RunDecision(state=RUNNING, schedulable=(),
                                                         changed={}, reason=None)


def test_deadlock_is_detected() -> None:
    # b waits for a REMOVED upstream (never a success) and nothing else can run.
    decision = RunGraph(chain("a", "b")).decide({"a": "removed"})
    assert decision == RunDecision(state=FAILED, schedulable=(), changed={},
                                   reason="all_tasks_deadlocked")


@pytest.mark.parametrize("exception", ["depends_on_past", "limits_concurrency", "deferred"])
def test_deadlock_exceptions(exception: str) -> None:
    b = TaskSpec("b", upstream=("a",), depends_on_past=exception == "depends_on_past",
                 limits_concurrency=exception == "limits_concurrency")
    graph = RunGraph([TaskSpec("a"), b, TaskSpec("other")])
    other = "deferred" if exception == "deferred" else "success"
    decision = graph.decide({"a": "removed", "other": other})
    assert decision.state is RUNNING
    assert decision.reason is None


def test_retry_and_reschedule_are_candidates() -> None:
    graph = RunGraph([TaskSpec("a"), TaskSpec("b", upstream=("a",)),
                      TaskSpec("c", upstream=("a",))])
    decision = graph.decide({"a": "success", "b": "up_for_retry", "c": "up_for_reschedule"})
    assert decision.schedulable == ("b", "c")


def test_a_skip_seen_one_loop_before_a_failure_wins_as_in_airflow() -> None:
    # Airflow's scheduler loop sees c's skip while b is still being decided (b's failure is
    # visible only in the next loop), so x is skipped; one call ends where the loops end.
    graph = RunGraph([TaskSpec("a"), TaskSpec("b", upstream=("a",)), TaskSpec("c"),
                      TaskSpec("x", upstream=("b", "c"))])
    decision = graph.decide({"a": "failed", "c": "skipped"})
    assert values(decision.changed) == {"b": "upstream_failed", "x": "skipped"}
    # With b's failure already known, the failure wins over the skip.
    decided = graph.decide({"a": "failed", "b": "upstream_failed", "c": "skipped"})
    assert values(decided.changed) == {"x": "upstream_failed"}


def test_empty_graph_succeeds() -> None:
    graph = RunGraph([])
    assert graph.task_ids == ()
    assert graph.decide({}).state is SUCCESS
    assert graph.decide(b"").state is SUCCESS
    assert [d.state for d in graph.decide_many([b"", {}])] == [SUCCESS, SUCCESS]
    assert len(graph.decide_many_compact(b"", 4)) == 4


# -------------------------------------------------------------------------------------------------
# the compact form and decide_many


def test_encode_and_decode() -> None:
    graph = RunGraph(chain("a", "b", "c"))
    data = graph.encode({"c": TI.FAILED, "a": "success", "b": None})
    assert data == bytes([TI_STATE_CODES[TI.SUCCESS], 0, TI_STATE_CODES[TI.FAILED]])
    assert graph.decode(data) == {"a": TI.SUCCESS, "b": None, "c": TI.FAILED}
    assert graph.decide(data) == graph.decide({"a": "success", "c": "failed"})
    assert graph.decide(bytearray(data)) == graph.decide(memoryview(data))


@pytest.mark.parametrize(("states", "error", "match"), [
    ({"zz": "success"}, ValueError, "unknown task id 'zz'"),
    ({"a": "great"}, ValueError, "'great' is not a task instance state \\(task 'a'\\)"),
    ({"a": 4}, TypeError,
     "the state of task 'a' must be a TaskInstanceState, a state name or None"),
    ({"a": ["success"]}, TypeError, "the state of task 'a' must be"),
    ({1: "success"}, TypeError, "task ids must be str, got int"),
    ({("a", "success")}, TypeError, "states must be a mapping of task id to state, .*got set"),
], ids=["unknown_task", "unknown_state", "int_state", "unhashable_state", "int_key", "not_mapping"])
def test_bad_states(states: object, error: type, match: str) -> None:
    graph = RunGraph(chain("a", "b"))
    with pytest.raises(error, match=match):
        graph.encode(states)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        graph.decide(states)  # type: ignore[arg-type]


def test_bad_compact_rows() -> None:
    graph = RunGraph(chain("a", "b"))
    with pytest.raises(ValueError, match=r"expected 2 state codes \(1 run\(s\) of 2 task\(s\)\), "
                                         r"got 3"):
        graph.decide(b"\x00\x00\x00")
    with pytest.raises(ValueError, match="task 'b' has unknown state code 13"):
        graph.decide(b"\x00\x0d")
    with pytest.raises(ValueError, match="task 'a' has unknown state code 99"):
        graph.decode(b"\x63\x00")
    with pytest.raises(ValueError, match="expected 2 state codes"):
        graph.decode(b"\x00")


def test_decide_many_mixes_forms_and_equals_decide() -> None:
    graph = RunGraph([TaskSpec("a"), TaskSpec("b", upstream=("a",)),
                      TaskSpec("c", upstream=("a",), trigger_rule="one_failed")])
    runs: list[object] = [
        {"a": "failed"},
        graph.encode({"a": "success"}),
        bytearray(graph.encode({"a": "success", "b": "success"})),
        memoryview(graph.encode({})),
        {"a": "success", "b": "success", "c": "skipped"},
        [TI.SUCCESS, None, TI.FAILED],  # graph order: a, b, c
        ("failed", None, None),
    ]
    decisions = graph.decide_many(runs)  # type: ignore[arg-type]
    assert decisions == [graph.decide(run) for run in runs]  # type: ignore[arg-type]
    assert [d.state for d in decisions] == [RUNNING, RUNNING, SUCCESS, RUNNING, SUCCESS, RUNNING,
                                            RUNNING]
    assert decisions[5] == graph.decide({"a": "success", "c": "failed"})
    assert decisions[6] == decisions[0]
    assert graph.decide_many(iter(runs)) == decisions  # type: ignore[arg-type]
    assert graph.decide_many([]) == []


def test_every_mapping_form_gives_the_same_decision() -> None:
    # Plain dicts with str keys are encoded in C++; other mappings and keys go through Python.
    class Name(str):
        pass

    graph = RunGraph(chain("a", "b", "c"))
    expected = graph.decide(graph.encode({"a": TI.SUCCESS, "b": TI.FAILED}))
    for states in ({"a": TI.SUCCESS, "b": TI.FAILED},
                   {"a": "success", "b": "failed", "c": None},
                   {Name("a"): "success", "b": Name("failed")},
                   OrderedDict(a="success", b="failed"),
                   MappingProxyType({"a": "success", "b": "failed"})):
        assert graph.decide(states) == expected, states
        assert graph.decide_many([states]) == [expected], states


def test_encode_many_builds_the_compact_block() -> None:
    graph = RunGraph(chain("a", "b"))
    runs: list[object] = [{"b": "failed"}, [TI.SUCCESS, "skipped"], (None, None), b"\x06\x00"]
    assert graph.encode_many(runs) == b"\x00\x06\x04\x0a\x00\x00\x06\x00"  # type: ignore[arg-type]
    assert graph.encode_many(iter([])) == b""
    block = graph.encode_many(runs)  # type: ignore[arg-type]
    decisions = graph.decide_many(runs)  # type: ignore[arg-type]
    assert list(graph.decide_many_compact(block)) == decisions


def test_decide_many_errors_name_the_run() -> None:
    graph = RunGraph(chain("a", "b"))
    with pytest.raises(ValueError, match=r"run 1: expected 2 state codes \(one per task, in graph "
                                         r"order\), got 1 bytes"):
        graph.decide_many([b"\x00\x00", b"\x00"])
    with pytest.raises(ValueError, match="run 2: task 'b' has unknown state code 14"):
        graph.decide_many([b"\x00\x00", b"\x04\x04", b"\x04\x0e"])
    with pytest.raises(ValueError, match="unknown task id 'q'"):
        graph.decide_many([b"\x00\x00", {"q": "success"}])
    with pytest.raises(TypeError, match="a run must be bytes .* or a mapping .*, got int"):
        graph.decide_many([b"\x00\x00", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="a run must be bytes .*, got str"):
        graph.decide_many(["ab"])  # type: ignore[list-item]
    # Lists and tuples are in graph order, one state per task.
    with pytest.raises(ValueError, match=r"run 1: expected 2 states \(one per task, in graph "
                                         r"order\), got 1"):
        graph.decide_many([[None, None], [TI.SUCCESS]])
    with pytest.raises(ValueError, match="run 0: 'bogus' is not a task instance state "
                                         r"\(task 'b'\)"):
        graph.decide_many([("success", "bogus")])
    with pytest.raises(TypeError, match="run 0: the state of task 'a' must be a "
                                        "TaskInstanceState, a state name or None, got int"):
        graph.encode_many([[4, None]])
    with pytest.raises(TypeError, match="the state of task 'a' must be .*, got list"):
        graph.decide([[4], None])


def test_decide_many_compact() -> None:
    graph = RunGraph(chain("a", "b", "c"))
    rows = [{"a": "failed"}, {"a": "success"}, {"a": "success", "b": "success", "c": "success"}]
    block = b"".join(graph.encode(r) for r in rows)
    batch = graph.decide_many_compact(block, 3)
    assert isinstance(batch, RunDecisionBatch)
    assert len(batch) == 3
    assert batch.n_tasks == 3
    assert list(batch) == graph.decide_many(rows)  # type: ignore[arg-type]
    assert batch[-1] == batch[2]
    assert [DAGRUN_STATE_BY_CODE[c] for c in batch.states] == [FAILED, RUNNING, SUCCESS]
    assert [RUN_REASON_BY_CODE[c] for c in batch.reasons] == ["task_failure", None, "success"]
    up_failed = TI_STATE_CODES[TI.UPSTREAM_FAILED]
    assert batch.changed == bytes([0, up_failed, up_failed, 0, 0, 0, 0, 0, 0])
    assert batch.schedulable == bytes([0, 0, 0, 0, 1, 0, 0, 0, 0])
    with pytest.raises(IndexError):
        batch[3]
    # n_runs defaults to what the buffer holds; any contiguous byte buffer will do.
    assert list(graph.decide_many_compact(bytearray(block))) == list(batch)
    assert list(graph.decide_many_compact(memoryview(block)[3:], 2)) == list(batch)[1:]


def test_decide_many_compact_errors() -> None:
    graph = RunGraph(chain("a", "b"))
    with pytest.raises(ValueError, match=r"expected 6 state codes \(3 run\(s\) of 2 task\(s\)\), "
                                         r"got 4"):
        graph.decide_many_compact(b"\x00" * 4, 3)
    with pytest.raises(ValueError, match="not a whole number of runs"):
        graph.decide_many_compact(b"\x00" * 3)
    with pytest.raises(ValueError, match="run 1: task 'a' has unknown state code 200"):
        graph.decide_many_compact(b"\x00\x00\xc8\x00", 2)
    with pytest.raises(TypeError, match="buffer must be a contiguous bytes-like object"):
        graph.decide_many_compact("0000", 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="buffer must be a contiguous bytes-like object"):
        graph.decide_many_compact(memoryview(b"\x00" * 8)[::2], 2)
    with pytest.raises(TypeError, match="n_runs must be an int"):
        graph.decide_many_compact(b"\x00\x00", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_runs must be >= 0"):
        graph.decide_many_compact(b"", -1)


def test_decide_many_runs_in_threads() -> None:
    # The GIL is released during the computation: threads deciding at once get right answers.
    graph = RunGraph(chain(*(f"t{i}" for i in range(30))))
    block = graph.encode({"t0": "failed"}) * 2000
    expected = graph.decide(block[:30])
    results: list[bool] = []

    def work() -> None:
        batch = graph.decide_many_compact(block)
        results.append(all(batch[i] == expected for i in range(0, len(batch), 97)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True] * 4


# -------------------------------------------------------------------------------------------------
# leaves and the clear closure


def scoped_dag() -> RunGraph:
    # s >> w1 >> w2 >> td << s; td >> after; s2 (no teardown) >> w2; a loose task.
    return RunGraph([setup_task("s"), setup_task("s2"), TaskSpec("w1", upstream=("s",)),
                     TaskSpec("w2", upstream=("w1", "s2")), teardown_task("td", "s", "w2"),
                     TaskSpec("after", upstream=("td",)), TaskSpec("loose")])


def test_leaves_for_run_state() -> None:
    assert scoped_dag().leaves_for_run_state() == {"w2", "after", "loose"}
    assert RunGraph(chain("a", "b")).leaves_for_run_state() == {"b"}
    only_teardowns = RunGraph([teardown_task("t1"), teardown_task("t2", "t1")])
    assert only_teardowns.leaves_for_run_state() == {"t2"}


def test_removed_leaves_do_not_count() -> None:
    graph = RunGraph([TaskSpec("a"), TaskSpec("b")])
    assert graph.decide({"a": "success", "b": "removed"}).state is SUCCESS
    assert graph.decide({"a": "failed", "b": "removed"}).state is FAILED


@pytest.mark.parametrize(("roots", "upstream", "downstream", "expected"), [
    (["b"], False, False, {"b"}),
    (["b"], True, False, {"a", "b"}),
    (["b"], False, True, {"b", "c", "d"}),
    (["b"], True, True, {"a", "b", "c", "d"}),
    ("c", False, False, {"c"}),
    ([], True, True, set()),
], ids=["alone", "upstream", "downstream", "both", "single_id", "nothing"])
def test_clear_closure_on_a_chain(roots: list[str] | str, upstream: bool, downstream: bool,
                                  expected: set[str]) -> None:
    graph = RunGraph(chain("a", "b", "c", "d"))
    assert graph.clear_closure(roots, upstream=upstream, downstream=downstream) == expected


def test_clear_closure_brings_setups_and_teardowns() -> None:
    graph = scoped_dag()
    assert graph.clear_closure(["w2"]) == {"w2", "s", "s2", "td"}
    assert graph.clear_closure(["s"]) == {"s", "td"}
    assert graph.clear_closure(["td"]) == {"td"}
    assert graph.clear_closure(["w1"], downstream=True) == {"w1", "s", "td", "w2", "s2", "after"}
    assert graph.clear_closure(["after"], upstream=True) == {"after", "td", "s", "w2", "w1", "s2"}


def test_clear_closure_errors() -> None:
    graph = RunGraph(chain("a", "b"))
    with pytest.raises(ValueError, match="unknown task id 'x'"):
        graph.clear_closure(["a", "x"])
    with pytest.raises(TypeError, match="task ids must be str, got int"):
        graph.clear_closure([1])  # type: ignore[list-item]
