"""Task groups behave as Airflow 3's (where Airflow 2 differs, 3 wins): each test names the
Airflow test it follows (Airflow 3's task-sdk/tests/task_sdk/definitions/test_taskgroup.py and
Airflow 2's tests/utils/test_task_group.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagcore import DAG, dag, task
from dagcore.decorators import XComArg
from dagcore.exceptions import DuplicateTaskIdFound
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.task_group import TaskAlreadyInTaskGroup, TaskGroup, task_group

START = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("group_id", "exc_type", "message"), [
    (123, TypeError, "The key has to be a string and is <class 'int'>:123"),
    ("a" * 1000, ValueError, "The key has to be less than 200 characters, not 1000"),
    ("something*invalid", ValueError, "The key 'something*invalid' has to be made of "
                                      "alphanumeric characters, dashes, and underscores "
                                      "exclusively"),
    ("dotted.id", ValueError, "The key 'dotted.id' has to be made of alphanumeric characters, "
                              "dashes, and underscores exclusively"),
])
def test_group_id_validation(group_id: object, exc_type: type, message: str) -> None:
    # Airflow: TestTaskGroup.test_dag_id_validation (the key is checked before the DAG).
    with pytest.raises(exc_type) as info:
        TaskGroup(group_id)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_group_needs_a_dag() -> None:
    # Airflow: "TaskGroup can only be used inside a dag".
    with pytest.raises(ValueError, match="'g' can only be used inside a dag"):
        TaskGroup("g")


def test_build_task_group_context_manager() -> None:
    # Airflow: test_build_task_group_context_manager.
    with DAG("test_build_task_group_context_manager", start_date=START) as the_dag:
        task1 = EmptyOperator(task_id="task1")
        with TaskGroup("group234") as group234:
            EmptyOperator(task_id="task2")
            with TaskGroup("group34") as group34:
                EmptyOperator(task_id="task3")
                EmptyOperator(task_id="task4")
        task5 = EmptyOperator(task_id="task5")
        task1 >> group234
        group34 >> task5

    assert task1.get_direct_relative_ids(upstream=False) == {
        "group234.group34.task4", "group234.group34.task3", "group234.task2"}
    assert task5.get_direct_relative_ids(upstream=True) == {
        "group234.group34.task4", "group234.group34.task3"}
    assert the_dag.task_group.group_id is None
    assert the_dag.task_group.is_root
    assert set(the_dag.task_group.children) == {"task1", "group234", "task5"}
    assert group34.group_id == "group234.group34"
    assert set(the_dag.task_group_dict) == {"group234", "group234.group34"}
    # update_relative: the groups record what depends on them as a whole.
    assert group234.upstream_task_ids == {"task1"}
    assert group34.downstream_task_ids == {"task5"}


def test_build_task_group_without_context_manager() -> None:
    # Airflow: test_build_task_group (dag=, task_group=, parent_group=).
    the_dag = DAG("test_build_task_group", start_date=START)
    task1 = EmptyOperator(task_id="task1", dag=the_dag)
    group234 = TaskGroup("group234", dag=the_dag)
    EmptyOperator(task_id="task2", dag=the_dag, task_group=group234)
    group34 = TaskGroup("group34", dag=the_dag, parent_group=group234)
    EmptyOperator(task_id="task3", dag=the_dag, task_group=group34)
    EmptyOperator(task_id="task4", task_group=group34)
    task5 = EmptyOperator(task_id="task5", dag=the_dag)
    task1 >> group234
    group34 >> task5

    assert set(the_dag.task_group.children) == {"task1", "group234", "task5"}
    assert group34.group_id == "group234.group34"
    assert set(the_dag.task_dict) == {"task1", "group234.task2", "group234.group34.task3",
                                      "group234.group34.task4", "task5"}
    assert task5.upstream_task_ids == {"group234.group34.task3", "group234.group34.task4"}


def test_build_task_group_with_prefix() -> None:
    # Airflow: test_build_task_group_with_prefix.
    with DAG("test_build_task_group_with_prefix", start_date=START):
        task1 = EmptyOperator(task_id="task1")
        with TaskGroup("group234", prefix_group_id=False) as group234:
            task2 = EmptyOperator(task_id="task2")
            with TaskGroup("group34") as group34:
                task3 = EmptyOperator(task_id="task3")
                with TaskGroup("group4", prefix_group_id=False) as group4:
                    task4 = EmptyOperator(task_id="task4")
        task5 = EmptyOperator(task_id="task5")
        task1 >> group234
        group34 >> task5

    assert task2.task_id == "task2"
    assert group34.group_id == "group34"
    assert task3.task_id == "group34.task3"
    assert group4.group_id == "group34.group4"
    assert task4.task_id == "task4"
    assert task5.task_id == "task5"
    assert group234.get_child_by_label("task2") is task2
    assert group234.get_child_by_label("group34") is group34
    assert group4.get_child_by_label("task4") is task4


def test_build_task_group_with_task_decorator() -> None:
    # Airflow: test_build_task_group_with_task_decorator.
    @task
    def task_1() -> None:
        pass

    @task
    def task_2() -> str:
        return "task_2"

    @task
    def task_3() -> str:
        return "task_3"

    @task
    def task_4(a: str, b: str) -> None:
        pass

    @task
    def task_5() -> None:
        pass

    with DAG("test_build_task_group_with_task_decorator", start_date=START):
        tsk_1 = task_1()
        with TaskGroup("group234") as group234:
            tsk_2 = task_2()
            tsk_3 = task_3()
            tsk_4 = task_4(tsk_2, tsk_3)
        tsk_5 = task_5()
        tsk_1 >> group234 >> tsk_5

    assert tsk_1.operator in tsk_2.operator.upstream_list
    assert tsk_1.operator in tsk_3.operator.upstream_list
    assert tsk_5.operator in tsk_4.operator.downstream_list
    assert set(group234.children) == {"group234.task_2", "group234.task_3", "group234.task_4"}


@pytest.mark.parametrize("empty_groups", [1, 4])
def test_dependencies_between_tasks_if_task_group_is_empty(empty_groups: int) -> None:
    # Airflow 3: test_task_group_dependencies_between_tasks_if_task_group_is_empty_1/_2: an
    # empty group passes on what is upstream of it.
    with DAG("test_dag", start_date=START):
        task1 = EmptyOperator(task_id="task1")
        empties = []
        for i in range(empty_groups):
            with TaskGroup(f"empty{i}") as group:
                pass
            empties.append(group)
        with TaskGroup("last") as last:
            task2 = EmptyOperator(task_id="task2")
            task3 = EmptyOperator(task_id="task3")
            task2 >> task3
        node = task1 >> empties[0]
        for group in [*empties[1:], last]:
            node = node >> group
    assert task1.downstream_task_ids == {"last.task2"}
    assert task3.upstream_task_ids == {"last.task2"}


def test_dependencies_between_tasks_if_task_group_is_empty_3() -> None:
    # Airflow 3: test_task_group_dependencies_between_tasks_if_task_group_is_empty_3.
    with DAG("test_dag", start_date=START):
        task1 = EmptyOperator(task_id="task1")
        with TaskGroup("group1") as tg1:
            pass
        with TaskGroup("group2") as tg2:
            pass
        task2 = EmptyOperator(task_id="task2")
        with TaskGroup("group3") as tg3:
            pass
        with TaskGroup("group4") as tg4:
            pass
        with TaskGroup("group5") as tg5:
            task3 = EmptyOperator(task_id="task3")
            task4 = EmptyOperator(task_id="task4")
            task3 >> task4
        task1 >> tg1 >> tg2 >> task2 >> tg3 >> tg4 >> tg5
    assert task1.downstream_task_ids == {"task2"}
    assert task2.downstream_task_ids == {"group5.task3"}


def test_dag_edges_task_group_structure() -> None:
    # Airflow: test_dag_edges_task_group_structure (group << group, group >> [tasks], nesting).
    with DAG("test_dag_edges", start_date=START):
        task1 = EmptyOperator(task_id="task1")
        with TaskGroup("group_a") as group_a:
            with TaskGroup("group_b") as group_b:
                task2 = EmptyOperator(task_id="task2")
                task3 = EmptyOperator(task_id="task3")
                task4 = EmptyOperator(task_id="task4")
                task2 >> [task3, task4]
            task5 = EmptyOperator(task_id="task5")
            task5 << group_b
        task1 >> group_a
        with TaskGroup("group_c") as group_c:
            task6 = EmptyOperator(task_id="task6")
            task7 = EmptyOperator(task_id="task7")
            task8 = EmptyOperator(task_id="task8")
            [task6, task7] >> task8
            group_a >> group_c
        task5 >> task8
        task9 = EmptyOperator(task_id="task9")
        task10 = EmptyOperator(task_id="task10")
        group_c >> [task9, task10]
        with TaskGroup("group_d") as group_d:
            task11 = EmptyOperator(task_id="task11")
            task12 = EmptyOperator(task_id="task12")
            task11 >> task12
        group_d << group_c

    assert task2.downstream_task_ids == {"group_a.group_b.task3", "group_a.group_b.task4"}
    assert task5.upstream_task_ids == {"group_a.group_b.task3", "group_a.group_b.task4"}
    assert task1.downstream_task_ids == {"group_a.group_b.task2"}
    assert task6.upstream_task_ids == {"group_a.task5"}
    assert task7.upstream_task_ids == {"group_a.task5"}
    assert task8.upstream_task_ids == {"group_c.task6", "group_c.task7", "group_a.task5"}
    assert task9.upstream_task_ids == {"group_c.task8"}
    assert task10.upstream_task_ids == {"group_c.task8"}
    assert task11.upstream_task_ids == {"group_c.task8"}
    assert task12.upstream_task_ids == {"group_d.task11"}
    # update_relative between groups.
    assert group_c.upstream_group_ids == {"group_a"}
    assert group_a.downstream_group_ids == {"group_c"}
    assert group_d.upstream_group_ids == {"group_c"}


def test_list_of_groups_upstream_of_a_task() -> None:
    # [g1, g2] >> t: t gets both groups' leaves (Airflow's list __rrshift__ over get_leaves).
    with DAG("d", start_date=START):
        with TaskGroup("g1") as g1:
            a = EmptyOperator(task_id="a")
        with TaskGroup("g2") as g2:
            b = EmptyOperator(task_id="b")
        end = EmptyOperator(task_id="end")
        [g1, g2] >> end
    assert end.upstream_task_ids == {a.task_id, b.task_id} == {"g1.a", "g2.b"}
    assert g1.downstream_task_ids == g2.downstream_task_ids == {"end"}


def test_duplicate_group_id() -> None:
    # Airflow: test_duplicate_group_id (a group id or a join id is taken like a task id).
    with DAG("test_duplicate_group_id", start_date=START):
        EmptyOperator(task_id="task1")
        with pytest.raises(DuplicateTaskIdFound, match=r".* 'task1' .*"), TaskGroup("task1"):
            pass
    with DAG("test_duplicate_group_id", start_date=START):
        with TaskGroup("group1", prefix_group_id=False):
            with pytest.raises(DuplicateTaskIdFound, match=r".* 'group1' .*"), \
                    TaskGroup("group1"):
                pass
    with DAG("test_duplicate_group_id", start_date=START):
        with TaskGroup("group1", prefix_group_id=False):
            with pytest.raises(DuplicateTaskIdFound, match=r".* 'group1' .*"):
                EmptyOperator(task_id="group1")
    for join in ("downstream_join_id", "upstream_join_id"):
        with DAG("test_duplicate_group_id", start_date=START):
            with TaskGroup("group1"):
                with pytest.raises(DuplicateTaskIdFound, match=rf".* 'group1.{join}' .*"):
                    EmptyOperator(task_id=join)


def test_add_suffix_on_collision() -> None:
    # Airflow's _check_for_group_id_collisions with add_suffix_on_collision=True.
    with DAG("d", start_date=START):
        ids = [TaskGroup("g", add_suffix_on_collision=True).group_id for _ in range(3)]
    assert ids == ["g", "g__1", "g__2"]


def test_task_without_dag_joins_the_root_group() -> None:
    # Airflow: test_task_without_dag.
    the_dag = DAG("test_task_without_dag", start_date=START)
    op1 = EmptyOperator(task_id="op1", dag=the_dag)
    op2 = EmptyOperator(task_id="op2")
    op3 = EmptyOperator(task_id="op3")
    op1 >> op2
    op3 >> op2
    assert op1.dag is op2.dag is op3.dag is the_dag
    assert the_dag.task_group.children.keys() == {"op1", "op2", "op3"} == \
        the_dag.task_dict.keys()


def test_default_args() -> None:
    # Airflow: test_default_args / test_override_dag_default_args: DAG < group < task.
    with DAG("d", start_date=START, default_args={"owner": "dag", "retries": 2}):
        with TaskGroup("group1", default_args={"owner": "group"}):
            task_1 = EmptyOperator(task_id="task_1")
            task_2 = EmptyOperator(task_id="task_2", owner="task")
            task_3 = EmptyOperator(task_id="task_3", default_args={"owner": "task"})
        outside = EmptyOperator(task_id="outside")
    assert (task_1.owner, task_2.owner, task_3.owner, outside.owner) == (
        "group", "task", "task", "dag")
    assert task_1.retries == 2  # the DAG's default_args still apply under the group's


def test_override_dag_default_args_in_multi_level_nested_tg() -> None:
    # Airflow: test_override_dag_default_args_in_nested_tg / _multi_level_nested_tg.
    with DAG("d", start_date=START, default_args={"owner": "dag"}):
        with TaskGroup("group1", default_args={"owner": "group1"}):
            task_1 = EmptyOperator(task_id="task_1")
            with TaskGroup("group2"):
                task_2 = EmptyOperator(task_id="task_2")
                with TaskGroup("group3", default_args={"owner": "group3"}):
                    task_3 = EmptyOperator(task_id="task_3")
                    task_4 = EmptyOperator(task_id="task_4", owner="task")
    assert (task_1.owner, task_2.owner, task_3.owner, task_4.owner) == (
        "group1", "group1", "group3", "task")


def test_iter_tasks() -> None:
    # Airflow: test_iter_tasks (depth first, in creation order).
    with DAG("test_dag", start_date=START) as the_dag:
        with TaskGroup("section_1") as tg1:
            EmptyOperator(task_id="task1")
        with TaskGroup("section_2") as tg2:
            task2 = EmptyOperator(task_id="task2")
            task3 = EmptyOperator(task_id="task3")
            task2 >> task3
    tg1 >> tg2
    assert [t.task_id for t in the_dag.task_group.iter_tasks()] == [
        "section_1.task1", "section_2.task2", "section_2.task3"]
    # Breadth first: the root's own tasks before those of its groups.
    with DAG("bfs", start_date=START) as bfs:
        with TaskGroup("g"):
            EmptyOperator(task_id="inner")
        EmptyOperator(task_id="outer")
    assert [t.task_id for t in bfs.task_group.iter_tasks()] == ["outer", "g.inner"]
    assert [t.task_id for t in bfs.task_group] == ["g.inner", "outer"]
    assert [t.task_id for t in tg2.iter_tasks()] == ["section_2.task2", "section_2.task3"]


def test_task_group_arrow_with_setups_teardowns() -> None:
    # Airflow: test_task_group_arrow_with_setups_teardowns (a teardown leaf is looked through).
    with DAG("hi", start_date=START):
        with TaskGroup(group_id="tg1") as tg1:
            s1 = EmptyOperator(task_id="s1")
            w1 = EmptyOperator(task_id="w1")
            t1 = EmptyOperator(task_id="t1")
            s1 >> w1 >> t1.as_teardown(setups=s1)
        w2 = EmptyOperator(task_id="w2")
        tg1 >> w2
    assert t1.downstream_task_ids == set()
    assert w1.downstream_task_ids == {"tg1.t1", "w2"}
    assert s1.downstream_task_ids == {"tg1.t1", "tg1.w1"}
    assert t1.upstream_task_ids == {"tg1.s1", "tg1.w1"}


def test_add_to_sub_group() -> None:
    # Airflow: test_add_to_sub_group / test_add_to_another_group (TaskAlreadyInTaskGroup).
    with DAG("test_dag", start_date=START):
        tg = TaskGroup("section")
        op = EmptyOperator(task_id="task")
        with pytest.raises(TaskAlreadyInTaskGroup) as info:
            tg.add(op)
    assert str(info.value) == "cannot add 'task' to 'section' (already in the DAG's root group)"
    with DAG("test_dag", start_date=START):
        tg = TaskGroup("section_1")
        with TaskGroup("section_2"):
            op = EmptyOperator(task_id="task")
        with pytest.raises(TaskAlreadyInTaskGroup) as info:
            tg.add(op)
    assert str(info.value) == ("cannot add 'section_2.task' to 'section_1' (already in group "
                               "'section_2')")


def test_task_group_with_invalid_arg_type_raises_error() -> None:
    # Airflow: test_task_group_with_invalid_arg_type_raises_error.
    with DAG("dag_with_tg_invalid_arg_type", start_date=START):
        with pytest.raises(TypeError, match=r"'ui_color' must be <class 'str'> \(got 123 that "
                                            r"is a <class 'int'>\)\."):
            TaskGroup("group_1", ui_color=123)  # type: ignore[arg-type]


def test_cycle_through_a_group_is_refused() -> None:
    # Airflow refuses cycles (dagcore at the edge that closes one, naming it).
    from dagcore.exceptions import DagCycleError

    with DAG("d", start_date=START):
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as g:
            inner = EmptyOperator(task_id="inner")
        start >> g
        with pytest.raises(DagCycleError, match="g.inner"):
            g >> start
    assert inner.downstream_task_ids == set()


# -- @task_group -----------------------------------------------------------------------------


def test_pass_taskgroup_output_to_task() -> None:
    # Airflow: test_pass_taskgroup_output_to_task (a returned XComArg is what the call gives).
    @task
    def one() -> int:
        return 1

    @task_group
    def addition_task_group(num: int) -> XComArg:
        @task
        def add_one(i: int) -> int:
            return i + 1

        return add_one(num)

    @task
    def increment(num: int) -> int:
        return num + 1

    @dag(start_date=START)
    def wrap() -> None:
        total_1 = one()
        total_2 = addition_task_group(total_1)
        assert isinstance(total_2, XComArg)
        increment(total_2)

    the_dag = wrap()
    assert the_dag.task_dict["addition_task_group.add_one"].upstream_task_ids == {"one"}
    assert the_dag.task_dict["increment"].upstream_task_ids == {"addition_task_group.add_one"}


def test_decorator_unknown_args() -> None:
    # Airflow: test_decorator_unknown_args (refused at decoration time).
    with pytest.raises(TypeError, match="b"):
        @task_group(b=2)
        def tg() -> None:
            pass


def test_decorator_multiple_use_task() -> None:
    # Airflow: test_decorator_multiple_use_task (ids suffixed per group).
    @dag("test-dag", start_date=START)
    def _test_dag() -> None:
        @task
        def t() -> None:
            pass

        @task_group
        def tg() -> None:
            for _ in range(3):
                t()

        t() >> tg() >> t()

    the_dag = _test_dag()
    assert list(the_dag.task_dict) == ["t", "tg.t", "tg.t__1", "tg.t__2", "t__1"]
    assert the_dag.task_dict["t__1"].upstream_task_ids == {"tg.t", "tg.t__1", "tg.t__2"}


def test_decorated_group_called_twice_gets_suffixes() -> None:
    # Airflow's @task_group passes add_suffix_on_collision=True: tg, tg__1, tg__2.
    @task
    def work() -> None:
        pass

    @task_group
    def section() -> None:
        """A section."""
        work()

    with DAG("d", start_date=START) as the_dag:
        groups = [section() for _ in range(3)]
    assert [g.group_id for g in groups] == ["section", "section__1", "section__2"]
    assert set(the_dag.task_dict) == {"section.work", "section__1.work", "section__2.work"}
    assert groups[0].tooltip == "A section."


def test_build_task_group_with_operators() -> None:
    # Airflow: test_build_task_group_with_operators (group_id=, docstring tooltip, .output).
    @task
    def task_1(value: object) -> str:
        return f"[ Task1 {value} ]"

    @task
    def task_2(value: object) -> str:
        return f"[ Task2 {value} ]"

    @task
    def task_3(value: object) -> None:
        pass

    @task_group(group_id="section_1")
    def section_a(value: object) -> XComArg:
        """TaskGroup for grouping related Tasks"""
        return task_3(task_2(task_1(value)))

    with DAG("example_task_group_decorator_mix", start_date=START) as the_dag:
        t_start = PythonOperator(task_id="task_start", python_callable=lambda: "x")
        sec_1 = section_a(t_start.output)
        t_end = PythonOperator(task_id="task_end", python_callable=lambda: None)
        sec_1.set_downstream(t_end)

    assert set(the_dag.task_group.children) == {"section_1", "task_start", "task_end"}
    section = the_dag.task_group.children["section_1"]
    assert isinstance(section, TaskGroup)
    assert set(section.children) == {"section_1.task_1", "section_1.task_2", "section_1.task_3"}
    assert section.tooltip == "TaskGroup for grouping related Tasks"
    assert the_dag.task_dict["task_start"].downstream_task_ids == {"section_1.task_1"}
    assert the_dag.task_dict["section_1.task_3"].downstream_task_ids == {"task_end"}


def test_build_task_group_depended_by_task() -> None:
    # Airflow: test_build_task_group_depended_by_task (a group returned by @task_group).
    @dag(start_date=START)
    def build() -> None:
        @task
        def task_start() -> str:
            return "start"

        @task
        def task_end() -> str:
            return "end"

        @task
        def task_thing(value: int) -> str:
            return f"thing {value}"

        @task_group
        def section_1() -> None:
            task_thing(1)
            task_thing(2)

        task_start() >> section_1() >> task_end()

    the_dag = build()
    thing_1 = the_dag.task_dict["section_1.task_thing"]
    thing_2 = the_dag.task_dict["section_1.task_thing__1"]
    assert thing_1.upstream_task_ids == thing_2.upstream_task_ids == {"task_start"}
    assert thing_1.downstream_task_ids == thing_2.downstream_task_ids == {"task_end"}


# -- serialization ---------------------------------------------------------------------------


def _grouped_dag() -> DAG:
    with DAG("grouped", start_date=START) as the_dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g", tooltip="tip", ui_color="#abc", ui_fgcolor="#def") as g:
            EmptyOperator(task_id="a")
            with TaskGroup("inner", prefix_group_id=False) as inner:
                EmptyOperator(task_id="b")
        with TaskGroup("h") as h:
            EmptyOperator(task_id="c")
        start >> g >> h
        inner >> EmptyOperator(task_id="end")
    return the_dag


def test_serialized_task_group_has_airflows_shape() -> None:
    # Airflow's TaskGroupSerialization.serialize_task_group (the "task_group" key).
    from dagcore.serialization import serialize_dag

    data = serialize_dag(_grouped_dag())["dag"]["task_group"]
    assert data["_group_id"] is None
    assert list(data["children"]) == ["start", "g", "h", "end"]
    assert data["children"]["start"] == ["operator", "start"]
    kind, g = data["children"]["g"]
    assert kind == "taskgroup"
    assert {k: g[k] for k in ("_group_id", "prefix_group_id", "tooltip", "ui_color",
                              "ui_fgcolor", "upstream_group_ids", "downstream_group_ids",
                              "upstream_task_ids", "downstream_task_ids")} == {
        "_group_id": "g", "prefix_group_id": True, "tooltip": "tip", "ui_color": "#abc",
        "ui_fgcolor": "#def", "upstream_group_ids": [], "downstream_group_ids": ["h"],
        "upstream_task_ids": ["start"], "downstream_task_ids": []}
    assert g["children"]["g.a"] == ["operator", "g.a"]
    assert g["children"]["g.inner"][1]["children"] == {"b": ["operator", "b"]}


def test_task_group_round_trip() -> None:
    import json

    from dagcore.serialization import SerializedTaskGroup, deserialize_dag, serialize_dag

    the_dag = _grouped_dag()
    restored = deserialize_dag(json.loads(json.dumps(serialize_dag(the_dag))))
    assert set(restored.task_group_dict) == set(the_dag.task_group_dict) == {"g", "g.inner",
                                                                             "h"}
    for group_id, group in the_dag.task_group_dict.items():
        stored = restored.task_group_dict[group_id]
        assert isinstance(stored, SerializedTaskGroup)
        assert (stored.label, stored.prefix_group_id, stored.tooltip, stored.ui_color,
                stored.ui_fgcolor) == (group.label, group.prefix_group_id, group.tooltip,
                                       group.ui_color, group.ui_fgcolor)
        assert list(stored.children) == list(group.children)
        assert [t.task_id for t in stored] == [t.task_id for t in group]
        assert stored.upstream_task_ids == group.upstream_task_ids
        assert stored.downstream_group_ids == group.downstream_group_ids
    assert restored.task_group.is_root
    assert restored.task_specs() == the_dag.task_specs()


def test_a_dag_without_groups_serializes_as_before() -> None:
    # No "task_group" key, so the data and hash of a DAG without groups are unchanged; reading
    # it back gives a root group of all its tasks.
    from dagcore.serialization import deserialize_dag, serialize_dag

    with DAG("plain", start_date=START) as the_dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    data = serialize_dag(the_dag)
    assert "task_group" not in data["dag"]
    restored = deserialize_dag(data)
    assert restored.task_group.is_root and restored.task_group_dict == {}
    assert list(restored.task_group.children) == ["a", "b"]


def test_grouping_changes_the_hash() -> None:
    from dagcore.serialization import dag_hash, serialize_dag

    def build(tooltip: str) -> DAG:
        with DAG("d", start_date=START) as the_dag:
            with TaskGroup("g", tooltip=tooltip):
                EmptyOperator(task_id="a")
        return the_dag

    assert dag_hash(serialize_dag(build("x"))) == dag_hash(serialize_dag(build("x")))
    assert dag_hash(serialize_dag(build("x"))) != dag_hash(serialize_dag(build("y")))


def test_stored_group_naming_an_unknown_task_is_a_clear_error() -> None:
    from dagcore.serialization import DagSerializationError, deserialize_dag, serialize_dag

    data = serialize_dag(_grouped_dag())
    data["dag"]["task_group"]["children"]["ghost"] = ["operator", "ghost"]
    with pytest.raises(DagSerializationError, match="'ghost'"):
        deserialize_dag(data)


# -- Airflow import paths ----------------------------------------------------------------------

AIRFLOW_2_FILE = '''
from datetime import datetime
from airflow import DAG
from airflow.decorators import task, task_group
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("af2_groups", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("section_1", tooltip="Tasks for section_1") as section_1:
        EmptyOperator(task_id="task_1")

    @task_group()
    def section_2():
        @task
        def inner():
            return 1
        inner()

    start >> section_1 >> section_2()
'''

AIRFLOW_3_FILE = '''
import pendulum
from airflow.sdk import DAG, TaskGroup, task, task_group

with DAG("af3_groups", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    @task
    def hello():
        return "hi"

    with TaskGroup("outer", default_args={"retries": 3}) as outer:
        with TaskGroup("inner"):
            hello()

    @task_group(group_id="deco")
    def grouped():
        hello()

    outer >> grouped()
'''


@pytest.mark.parametrize(("text", "dag_id", "edges"), [
    (AIRFLOW_2_FILE, "af2_groups", {"start": set(), "section_1.task_1": {"start"},
                                    "section_2.inner": {"section_1.task_1"}}),
    (AIRFLOW_3_FILE, "af3_groups", {"outer.inner.hello": set(),
                                    "deco.hello": {"outer.inner.hello"}}),
])
def test_airflow_dag_files_with_task_groups_load(tmp_path: Path, text: str, dag_id: str,
                                                 edges: dict[str, set[str]]) -> None:
    # airflow.utils.task_group.TaskGroup / airflow.decorators.task_group (Airflow 2) and
    # airflow.sdk.TaskGroup / airflow.sdk.task_group (Airflow 3), through the compat finder.
    from dagcore.dagbag import DagBag

    (tmp_path / f"{dag_id}.py").write_text(text)
    bag = DagBag(tmp_path)
    assert bag.import_errors == {}
    the_dag = bag.get_dag(dag_id)
    assert the_dag is not None
    assert {t.task_id: t.upstream_task_ids for t in the_dag.task_dict.values()} == edges
    if dag_id == "af3_groups":
        assert the_dag.task_dict["outer.inner.hello"].retries == 3


def test_compat_aliases_are_dagcores_objects() -> None:
    from dagcore.compat import airflow as compat

    with compat.enabled():
        import airflow.decorators
        import airflow.exceptions
        import airflow.sdk
        import airflow.utils.task_group

        assert airflow.utils.task_group.TaskGroup is TaskGroup
        assert airflow.decorators.task_group is task_group
        assert airflow.sdk.TaskGroup is TaskGroup and airflow.sdk.task_group is task_group
        assert airflow.exceptions.TaskAlreadyInTaskGroup is TaskAlreadyInTaskGroup
        assert airflow.exceptions.DuplicateTaskIdFound is DuplicateTaskIdFound
