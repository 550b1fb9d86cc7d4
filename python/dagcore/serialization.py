"""DAG serialization: a DAG as JSON-able data, its hash, and :class:`SerializedDAG`.

Design note. The DAG processor stores :func:`serialize_dag`'s output in ``serialized_dag.data``;
the scheduler and the API server rebuild a :class:`SerializedDAG` from it without importing the
user's file. So the data holds everything scheduling needs (structure, trigger rules, timetable,
params, retries, timeouts) and nothing that only running a task needs (callables, callbacks).

Values that are not JSON-able (a callable in ``op_args``, an object in ``default_args``) are
*left out* rather than written as their ``repr``: a ``repr`` that contains a memory address would
change the hash on every parse and create a new DAG version each time (Airflow's "version
inflation").

:func:`dag_hash` follows Airflow's ``SerializedDagModel.hash`` (docs/airflow-behaviour.md 1.3): md5
of the JSON dump (``sort_keys``) after a recursive sort (dict keys; lists of task dicts by
``task_id``; lists of strings), with the DAG's ``fileloc`` removed so that moving a file does not
make a new version. ``relative_fileloc`` is kept out of the data altogether (it lives on the
``dag`` row).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from dagcore.params import NOTSET, Param, ParamsDict
from dagcore.serialization_registry import UnknownClassError, class_for, stable_name
from dagcore.trigger_rule import TriggerRule
from dagcore.utils.task_lookup import TaskLookup

if TYPE_CHECKING:
    from dagcore.dag import DAG
    from dagcore.operators.base import BaseOperator
    from dagcore.run_state import RunGraph, TaskSpec
    from dagcore.task_group import TaskGroup
    from dagcore.timetables import Timetable

__all__ = [
    "FORMAT_VERSION",
    "DagSerializationError",
    "SerializedDAG",
    "SerializedTask",
    "SerializedTaskGroup",
    "dag_hash",
    "deserialize_dag",
    "serialize_dag",
    "sort_for_hash",
]

FORMAT_VERSION: Final = 1


class DagSerializationError(ValueError):
    """A DAG cannot be serialized (a param value that is not JSON-able), or stored data cannot be
    deserialized (unknown format version, unknown timetable class); the message names the value."""


class _NotJsonable(Exception):
    pass


def _jsonable(value: Any) -> Any:
    """``value`` as JSON data: datetimes as ISO strings, timedeltas as seconds; else raises."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotJsonable(value)
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _NotJsonable(k)
            out[k] = _jsonable(v)
        return out
    raise _NotJsonable(value)


def _jsonable_items(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        try:
            out[key] = _jsonable(value)
        except _NotJsonable:
            continue
    return out


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _tz_encode(tz: tzinfo) -> str | int:
    """A zone name, or a fixed offset in seconds (for ``timezone(timedelta(...))``)."""
    if tz == UTC:
        return "UTC"
    for attr in ("key", "name"):
        name = getattr(tz, attr, None)
        if isinstance(name, str) and name:
            return name
    offset = tz.utcoffset(None)
    if offset is None:
        raise DagSerializationError(f"time zone {tz!r} has neither a name nor a fixed offset")
    return int(offset.total_seconds())


def _tz_decode(value: str | int) -> tzinfo:
    if isinstance(value, int):
        return timezone(timedelta(seconds=value))
    return UTC if value == "UTC" else ZoneInfo(value)


def _date_decode(value: str | None, tz: tzinfo) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(tz)


def _class_path(obj: object) -> str:
    """The stable name of ``obj``'s class (:mod:`dagcore.serialization_registry`)."""
    return stable_name(type(obj))


# -- serialize ----------------------------------------------------------------------------------


def _param_jsonable(value: Any) -> Any:
    """A param's default or schema as JSON data, the way Airflow's ``BaseSerialization.serialize``
    writes them: mapping keys as ``str(key)`` (``values_display={1: "One", None: "None"}`` is
    stored as ``{"1": "One", "None": "None"}``), tuples and sets as lists (a set sorted when its
    items compare); other values as :func:`_jsonable`, which raises for the rest
    (docs/airflow-behaviour.md 8.2)."""
    if isinstance(value, Mapping):
        return {str(k): _param_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_param_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_param_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    return _jsonable(value)


def _serialize_params(params: ParamsDict, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, param in params.items_params():
        try:
            entry: dict[str, Any] = {"description": param.description,
                                     "schema": _param_jsonable(param.schema)}
            if param.has_value:
                entry["default"] = _param_jsonable(param.value)
        except _NotJsonable as exc:
            raise DagSerializationError(f"param {name!r} of {where} is not JSON-serializable: "
                                        f"{exc.args[0]!r}") from None
        out[name] = entry
    return out


def _serialize_task(task: BaseOperator) -> dict[str, Any]:
    template_values = {}
    for name in task.template_fields:
        try:
            template_values[name] = _jsonable(getattr(task, name, None))
        except _NotJsonable:
            continue
    cls = getattr(task, "operator_class", type(task)) if task.is_mapped else type(task)
    return {
        "task_id": task.task_id,
        "operator": stable_name(cls),
        "task_type": cls.__name__,
        "upstream_task_ids": list(task._upstream),
        "trigger_rule": task.trigger_rule.value,
        "is_setup": task.is_setup,
        "is_teardown": task.is_teardown,
        "on_failure_fail_dagrun": task.on_failure_fail_dagrun,
        "depends_on_past": task.depends_on_past,
        "ignore_first_depends_on_past": task.ignore_first_depends_on_past,
        "wait_for_downstream": task.wait_for_downstream,
        "retries": task.retries,
        "retry_delay": _seconds(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "max_retry_delay": _seconds(task.max_retry_delay),
        "execution_timeout": _seconds(task.execution_timeout),
        "max_active_tis_per_dag": task.max_active_tis_per_dag,
        "max_active_tis_per_dagrun": task.max_active_tis_per_dagrun,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "priority_weight": task.priority_weight,
        "weight_rule": str(task.weight_rule),
        "queue": task.queue,
        "owner": task.owner,
        "start_date": None if task.start_date is None else task.start_date.isoformat(),
        "end_date": None if task.end_date is None else task.end_date.isoformat(),
        "doc_md": task.doc_md,
        "task_display_name": task.task_display_name,
        "template_fields": list(task.template_fields),
        "template_values": template_values,
        "params": _serialize_params(task.params, f"task {task.task_id!r}"),
        "executor_config": _jsonable_items(task.executor_config),
        "do_xcom_push": task.do_xcom_push,
        "multiple_outputs": task.multiple_outputs,
        **{f"has_{name}": True for name in _TASK_CALLBACKS if getattr(task, name, None)},
        # A subclass of EmptyOperator is empty too (Airflow's inherits_from_empty_operator and its
        # "_is_empty" flag, docs/airflow-behaviour.md 8.4); the flag is written only where the class
        # name does not already say so, which keeps the stored form (and hash) of every DAG that
        # uses EmptyOperator itself unchanged.
        **({"_is_empty": True} if getattr(task, "inherits_from_empty_operator", False)
           and stable_name(cls) != EMPTY_OPERATOR else {}),
        # A mapped task: how long its input is, as data the scheduler evaluates
        # (dagcore.mapping.mapped_length); written only for mapped tasks.
        **(_mapped_fields(task) if task.is_mapped else {}),
        # Assets the task reads / produces, in Airflow's shape (docs/airflow-behaviour.md 11);
        # written only when there are some, which keeps every other DAG's hash unchanged.
        **{name: values for name in ("inlets", "outlets")
           if (values := _serialize_lineage(getattr(task, name, None) or ()))},
    }


def _serialize_lineage(values: Iterable[Any]) -> list[Any]:
    """A task's ``inlets``/``outlets`` as Airflow's ``BaseSerialization`` writes them: an asset
    expression as ``{"__type": "asset" | "asset_alias" | ..., "__var": {...}}``, a string as
    itself; other objects are left out (not JSON, and no scheduling meaning)."""
    from dagcore.assets import BaseAsset, encode_asset_condition

    out: list[Any] = []
    for value in values:
        if isinstance(value, BaseAsset):
            encoded = encode_asset_condition(value)
            out.append({"__type": encoded.pop("__type"), "__var": encoded})
        elif isinstance(value, str):
            out.append(value)
    return out


def _deserialize_lineage(values: Iterable[Any]) -> tuple[Any, ...]:
    """What :func:`_serialize_lineage` wrote, as asset objects (and strings)."""
    from dagcore.assets import decode_asset_condition

    return tuple(decode_asset_condition({"__type": v["__type"], **v["__var"]})
                 if isinstance(v, Mapping) else v for v in values)


def _mapped_fields(task: Any) -> dict[str, Any]:
    fields = {"_is_mapped": True, "_expand_length": task.expand_input.length_spec(),
              "map_index_template": task.map_index_template}
    group = getattr(task, "mapped_group_id", None)
    if group is not None:  # in a mapped task group: instance i belongs to the group's i-th
        fields["_mapped_group"] = group
    return fields


_TASK_CALLBACKS = ("on_execute_callback", "on_failure_callback", "on_success_callback",
                   "on_retry_callback", "on_skipped_callback")
# The stable name of EmptyOperator (serialization_registry), whose tasks are "empty".
EMPTY_OPERATOR: Final = "dagcore.operators.empty.EmptyOperator"


def _is_empty_task(data: Mapping[str, Any]) -> bool:
    """Whether the scheduler may mark the task ``success`` without running it: Airflow's
    ``DagRun.schedule_tis`` takes an operator that inherits from EmptyOperator and has no
    ``on_execute_callback``, no ``on_success_callback`` and no outlets (an empty task with
    outlets runs, so that its asset events are recorded). Other callbacks cannot fire for a
    task that succeeds at once (docs/airflow-behaviour.md 8.4, 11)."""
    return ((data.get("_is_empty") is True or data["operator"] == EMPTY_OPERATOR)
            and not data.get("has_on_execute_callback")
            and not data.get("has_on_success_callback")
            and not data.get("outlets"))


def _serialize_task_group(group: TaskGroup) -> dict[str, Any]:
    """A task group in Airflow's ``TaskGroupSerialization.serialize_task_group`` shape: children
    by full id as ``["operator", task_id]`` or ``["taskgroup", {...}]``, relation ids sorted."""
    from dagcore.task_group import TaskGroup

    return {
        "_group_id": group.label,
        "prefix_group_id": group.prefix_group_id,
        "tooltip": group.tooltip,
        "ui_color": group.ui_color,
        "ui_fgcolor": group.ui_fgcolor,
        "children": {key: (["taskgroup", _serialize_task_group(child)]
                           if isinstance(child, TaskGroup) else ["operator", child.task_id])
                     for key, child in group.children.items()},
        "upstream_group_ids": sorted(g for g in group.upstream_group_ids if g is not None),
        "downstream_group_ids": sorted(g for g in group.downstream_group_ids if g is not None),
        "upstream_task_ids": sorted(group.upstream_task_ids),
        "downstream_task_ids": sorted(group.downstream_task_ids),
    }


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """A DAG as JSON-able data (what ``serialized_dag.data`` holds).

    Tasks are listed in the order they were added to the DAG; :func:`dag_hash` sorts them.

    Raises:
        DagSerializationError: a param whose value or schema is not JSON-serializable.
    """
    timetable = dag.timetable
    data = {
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "timetable": {"__type": _class_path(timetable), "__var": timetable.serialize()},
        "timezone": _tz_encode(dag.timezone),
        "start_date": None if dag.start_date is None else dag.start_date.isoformat(),
        "end_date": None if dag.end_date is None else dag.end_date.isoformat(),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "max_consecutive_failed_dag_runs": dag.max_consecutive_failed_dag_runs,
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "description": dag.description,
        "doc_md": dag.doc_md,
        "tags": sorted(dag.tags),
        "owner_links": _jsonable_items(dag.owner_links),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "dag_display_name": dag.dag_display_name,
        "fail_fast": dag.fail_fast,
        "render_template_as_native_obj": dag.render_template_as_native_obj,
        "template_searchpath": list(dag.template_searchpath),
        "default_args": _jsonable_items(dag.default_args),
        "params": _serialize_params(dag.params, f"DAG {dag.dag_id!r}"),
        "tasks": [_serialize_task(t) for t in dag.task_dict.values()],
        **{f"has_{name}": True for name in ("on_success_callback", "on_failure_callback")
           if getattr(dag, name, None)},
        # Only a DAG with task groups stores its group tree: a DAG without keeps the data (and
        # the hash) it had before groups existed; reading it back gives a root group of its
        # tasks.
        **({"task_group": _serialize_task_group(dag.task_group)}
           if dag.task_group_dict else {}),
    }
    return {"__version": FORMAT_VERSION, "dag": data}


# -- hash ---------------------------------------------------------------------------------------


def sort_for_hash(value: Any) -> Any:
    """Airflow's recursive sort before hashing: dict keys, lists of task dicts by ``task_id``,
    lists of strings; other lists keep their order (their elements are sorted inside)."""
    if isinstance(value, Mapping):
        return {k: sort_for_hash(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        items = [sort_for_hash(v) for v in value]
        if items and all(isinstance(v, Mapping) and "task_id" in v for v in items):
            return sorted(items, key=lambda v: str(v["task_id"]))
        if items and all(isinstance(v, str) for v in items):
            return sorted(items)
        return items
    return value


def dag_hash(data: Mapping[str, Any]) -> str:
    """The 32-character md5 that tells whether a serialized DAG changed (fileloc excluded)."""
    copy = dict(data)
    if isinstance(copy.get("dag"), Mapping):
        dag_part = dict(copy["dag"])
        dag_part.pop("fileloc", None)
        copy["dag"] = dag_part
    text = json.dumps(sort_for_hash(copy), sort_keys=True)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


# -- deserialize --------------------------------------------------------------------------------


def _deserialize_params(data: Mapping[str, Any]) -> ParamsDict:
    # Param.restore: the data was checked when the DAG was parsed; a schema check grown
    # stricter since must not stop a stored DAG from loading.
    return ParamsDict({
        name: Param.restore(entry.get("default", NOTSET), entry.get("description"),
                            dict(entry.get("schema") or {}))
        for name, entry in data.items()})


def _deserialize_timetable(data: Mapping[str, Any]) -> Timetable:
    from dagcore.timetables import Timetable

    path = data["__type"]
    try:
        cls = class_for(path, Timetable)
    except UnknownClassError as exc:
        raise DagSerializationError(f"unknown timetable class {path!r} ({exc})") from None
    return cls.deserialize(dict(data.get("__var") or {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class SerializedTask:
    """A task as the scheduler sees it: settings only, no code to run.

    Attributes mirror :class:`~dagcore.operators.base.BaseOperator`'s; ``operator`` is the
    operator's class path (``"dagcore.operators.bash.BashOperator"``), ``template_values`` the
    raw (unrendered) values of its template fields that are JSON-able.
    """

    task_id: str
    dag_id: str
    operator: str
    task_type: str
    upstream_task_ids: tuple[str, ...]
    downstream_task_ids: frozenset[str] = frozenset()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    depends_on_past: bool = False
    ignore_first_depends_on_past: bool = True
    wait_for_downstream: bool = False
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=300)
    retry_exponential_backoff: bool | float = False
    max_retry_delay: timedelta | None = None
    execution_timeout: timedelta | None = None
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    weight_rule: str = "downstream"
    queue: str = "default"
    owner: str = "airflow"
    start_date: datetime | None = None
    end_date: datetime | None = None
    doc_md: str | None = None
    task_display_name: str = ""
    template_fields: tuple[str, ...] = ()
    template_values: Mapping[str, Any] = field(default_factory=dict)
    params: ParamsDict = field(default_factory=ParamsDict)
    executor_config: Mapping[str, Any] = field(default_factory=dict)
    do_xcom_push: bool = True
    multiple_outputs: bool = False
    is_empty: bool = False  # see _is_empty_task
    is_mapped: bool = False
    expand_length: Mapping[str, Any] | None = None  # dagcore.mapping.mapped_length's spec
    map_index_template: str | None = None
    mapped_group: str | None = None  # the mapped task group the task is mapped by
    inlets: tuple[Any, ...] = ()  # assets (dagcore.assets objects) and lineage strings
    outlets: tuple[Any, ...] = ()

    @property
    def asset_outlets(self) -> list[Any]:
        """The assets and aliases the task produces (what the scheduler records events
        for)."""
        from dagcore.assets import asset_outlets

        return asset_outlets(self.outlets)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], dag_id: str,
                  downstream: Iterable[str] = ()) -> SerializedTask:
        def date(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            task_id=data["task_id"], dag_id=dag_id, operator=data["operator"],
            task_type=data.get("task_type") or data["operator"].rpartition(".")[2],
            upstream_task_ids=tuple(data.get("upstream_task_ids", ())),
            downstream_task_ids=frozenset(downstream),
            trigger_rule=TriggerRule(data.get("trigger_rule", "all_success")),
            is_setup=bool(data.get("is_setup", False)),
            is_teardown=bool(data.get("is_teardown", False)),
            on_failure_fail_dagrun=bool(data.get("on_failure_fail_dagrun", False)),
            depends_on_past=bool(data.get("depends_on_past", False)),
            ignore_first_depends_on_past=bool(data.get("ignore_first_depends_on_past", True)),
            wait_for_downstream=bool(data.get("wait_for_downstream", False)),
            retries=int(data.get("retries", 0)),
            retry_delay=_delta(data.get("retry_delay", 300.0)) or timedelta(0),
            retry_exponential_backoff=data.get("retry_exponential_backoff", False),
            max_retry_delay=_delta(data.get("max_retry_delay")),
            execution_timeout=_delta(data.get("execution_timeout")),
            max_active_tis_per_dag=data.get("max_active_tis_per_dag"),
            max_active_tis_per_dagrun=data.get("max_active_tis_per_dagrun"),
            pool=data.get("pool", "default_pool"), pool_slots=data.get("pool_slots", 1),
            priority_weight=data.get("priority_weight", 1),
            weight_rule=data.get("weight_rule", "downstream"), queue=data.get("queue", "default"),
            owner=data.get("owner", "airflow"), start_date=date("start_date"),
            end_date=date("end_date"), doc_md=data.get("doc_md"),
            task_display_name=data.get("task_display_name") or data["task_id"],
            template_fields=tuple(data.get("template_fields", ())),
            template_values=dict(data.get("template_values") or {}),
            params=_deserialize_params(data.get("params") or {}),
            executor_config=dict(data.get("executor_config") or {}),
            do_xcom_push=bool(data.get("do_xcom_push", True)),
            multiple_outputs=bool(data.get("multiple_outputs", False)),
            is_empty=_is_empty_task(data),
            is_mapped=bool(data.get("_is_mapped", False)),
            expand_length=data.get("_expand_length"),
            map_index_template=data.get("map_index_template"),
            mapped_group=data.get("_mapped_group"),
            inlets=_deserialize_lineage(data.get("inlets") or ()),
            outlets=_deserialize_lineage(data.get("outlets") or ()),
        )

    def task_spec(self) -> TaskSpec:
        """The task as a :class:`~dagcore.run_state.TaskSpec` (what ``DAG.task_specs`` gives)."""
        from dagcore.run_state import TaskSpec

        return TaskSpec(self.task_id, upstream=self.upstream_task_ids,
                        trigger_rule=self.trigger_rule, is_setup=self.is_setup,
                        is_teardown=self.is_teardown,
                        on_failure_fail_dagrun=self.on_failure_fail_dagrun,
                        depends_on_past=self.depends_on_past,
                        limits_concurrency=(self.max_active_tis_per_dag is not None
                                            or self.max_active_tis_per_dagrun is not None))


@dataclass(frozen=True, slots=True, kw_only=True)
class SerializedTaskGroup:
    """A task group as stored: ids, UI settings, children (tasks and groups by full id) and the
    relations the UI draws (see :mod:`dagcore.task_group`). The root group's ids are ``None``."""

    group_id: str | None
    label: str | None
    prefix_group_id: bool = True
    tooltip: str = ""
    ui_color: str = "CornflowerBlue"
    ui_fgcolor: str = "#000"
    children: Mapping[str, SerializedTask | SerializedTaskGroup] = field(default_factory=dict)
    upstream_group_ids: frozenset[str] = frozenset()
    downstream_group_ids: frozenset[str] = frozenset()
    upstream_task_ids: frozenset[str] = frozenset()
    downstream_task_ids: frozenset[str] = frozenset()

    @property
    def is_root(self) -> bool:
        return self.group_id is None

    def child_id(self, label: str) -> str:
        """As ``TaskGroup.child_id``: ``group_id.label`` when the group prefixes."""
        return f"{self.group_id}.{label}" if self.prefix_group_id and self.group_id else label

    def __iter__(self) -> Iterator[SerializedTask]:
        """The tasks in the group and its subgroups, depth first."""
        for child in self.children.values():
            if isinstance(child, SerializedTaskGroup):
                yield from child
            else:
                yield child

    def get_task_group_dict(self) -> dict[str | None, SerializedTaskGroup]:
        """This group and all below it, by group id."""
        out: dict[str | None, SerializedTaskGroup] = {self.group_id: self}
        for child in self.children.values():
            if isinstance(child, SerializedTaskGroup):
                out.update(child.get_task_group_dict())
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any], tasks: Mapping[str, SerializedTask],
                  parent: SerializedTaskGroup | None = None) -> SerializedTaskGroup:
        """The group ``data`` describes (its full id from ``parent``, as Airflow's).

        Raises:
            DagSerializationError: a child names a task the DAG does not have, or an unknown
                kind of child.
        """
        label = data.get("_group_id")
        group_id = (parent.child_id(label) if parent is not None and parent.group_id
                    and label is not None else label)
        shell = cls(group_id=group_id, label=label,
                    prefix_group_id=bool(data.get("prefix_group_id", True)))
        children: dict[str, SerializedTask | SerializedTaskGroup] = {}
        for key, (kind, value) in (data.get("children") or {}).items():
            if kind == "operator":
                if value not in tasks:
                    raise DagSerializationError(f"task group {group_id!r} names task {value!r}, "
                                                f"which the DAG does not have")
                children[key] = tasks[value]
            elif kind == "taskgroup":
                children[key] = cls.from_data(value, tasks, shell)
            else:
                raise DagSerializationError(f"unknown task group child kind {kind!r} of "
                                            f"{key!r} in group {group_id!r}")
        return cls(
            group_id=group_id, label=label, prefix_group_id=shell.prefix_group_id,
            tooltip=data.get("tooltip", ""), ui_color=data.get("ui_color", "CornflowerBlue"),
            ui_fgcolor=data.get("ui_fgcolor", "#000"), children=children,
            upstream_group_ids=frozenset(data.get("upstream_group_ids", ())),
            downstream_group_ids=frozenset(data.get("downstream_group_ids", ())),
            upstream_task_ids=frozenset(data.get("upstream_task_ids", ())),
            downstream_task_ids=frozenset(data.get("downstream_task_ids", ())))


class SerializedDAG(TaskLookup["SerializedTask"]):
    """A DAG rebuilt from its serialized data, usable without importing the user's file.

    It has the DAG's scheduling settings (``timetable``, ``start_date``, ``catchup``,
    ``max_active_runs``, ``params``...), its tasks as :class:`SerializedTask` records in the
    original order, and :meth:`task_specs` / :meth:`run_graph` for :mod:`dagcore.run_state`.

    Raises:
        DagSerializationError: an unknown format version or timetable class.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        version = data.get("__version")
        if version != FORMAT_VERSION:
            raise DagSerializationError(f"unsupported serialized DAG format version {version!r} "
                                        f"(this dagcore reads version {FORMAT_VERSION})")
        d = data["dag"]
        self.dag_id: str = d["dag_id"]
        self.fileloc: str | None = d.get("fileloc")
        self.timezone: tzinfo = _tz_decode(d.get("timezone", "UTC"))
        self.timetable: Timetable = _deserialize_timetable(d["timetable"])
        # The asset condition of a DAG scheduled on assets (docs/airflow-behaviour.md 11).
        self.asset_condition: Any = getattr(self.timetable, "asset_condition", None)
        self.start_date = _date_decode(d.get("start_date"), self.timezone)
        self.end_date = _date_decode(d.get("end_date"), self.timezone)
        self.catchup: bool = bool(d.get("catchup", False))
        self.max_active_runs: int = d.get("max_active_runs", 16)
        self.max_active_tasks: int = d.get("max_active_tasks", 16)
        self.max_consecutive_failed_dag_runs: int = d.get("max_consecutive_failed_dag_runs", 0)
        self.dagrun_timeout = _delta(d.get("dagrun_timeout"))
        self.description: str | None = d.get("description")
        self.doc_md: str | None = d.get("doc_md")
        self.tags: set[str] = set(d.get("tags", ()))
        self.owner_links: dict[str, Any] = dict(d.get("owner_links") or {})
        self.is_paused_upon_creation: bool | None = d.get("is_paused_upon_creation")
        self.dag_display_name: str = d.get("dag_display_name") or self.dag_id
        self.fail_fast: bool = bool(d.get("fail_fast", False))
        self.has_on_success_callback = bool(d.get("has_on_success_callback", False))
        self.has_on_failure_callback = bool(d.get("has_on_failure_callback", False))
        self.render_template_as_native_obj = bool(d.get("render_template_as_native_obj", False))
        self.template_searchpath: list[str] = list(d.get("template_searchpath", ()))
        self.default_args: dict[str, Any] = dict(d.get("default_args") or {})
        self.params: ParamsDict = _deserialize_params(d.get("params") or {})
        downstream: dict[str, list[str]] = {t["task_id"]: [] for t in d.get("tasks", ())}
        for t in d.get("tasks", ()):
            for up in t.get("upstream_task_ids", ()):
                downstream.setdefault(up, []).append(t["task_id"])
        self.task_dict: dict[str, SerializedTask] = {
            t["task_id"]: SerializedTask.from_data(t, self.dag_id, downstream[t["task_id"]])
            for t in d.get("tasks", ())}
        # The group tree; a DAG stored without one (no groups) has a root of all its tasks.
        self.task_group: SerializedTaskGroup = (
            SerializedTaskGroup.from_data(d["task_group"], self.task_dict) if "task_group" in d
            else SerializedTaskGroup(group_id=None, label=None, children=dict(self.task_dict)))

    @property
    def task_group_dict(self) -> dict[str, SerializedTaskGroup]:
        """The DAG's task groups (not the root) by group id."""
        return {k: g for k, g in self.task_group.get_task_group_dict().items() if k is not None}

    def __repr__(self) -> str:
        return f"<SerializedDAG: {self.dag_id}>"

    @property
    def roots(self) -> list[SerializedTask]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[SerializedTask]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    @cached_property
    def has_mapped_tasks(self) -> bool:
        """Whether any task is mapped (its runs are decided from instance counts)."""
        return any(t.is_mapped for t in self.task_dict.values())

    @cached_property
    def mapped_groups(self) -> dict[str, tuple[str, ...]]:
        """Mapped task groups: group id -> the ids of the tasks mapped by it."""
        out: dict[str, list[str]] = {}
        for task in self.task_dict.values():
            if task.mapped_group is not None:
                out.setdefault(task.mapped_group, []).append(task.task_id)
        return {group: tuple(ids) for group, ids in out.items()}

    def expanded_graph(self, lengths: Mapping[str, int]) -> tuple[RunGraph, dict[str, Any]]:
        """The run graph with each task of a mapped task group of known length ``n`` (by
        group id in ``lengths``) unrolled into ``n`` nodes, instance ``i`` downstream of instance
        ``i`` of the tasks of its group it depends on and of every instance of the others (the
        relevant map indexes of Airflow's trigger rules, docs/airflow-behaviour.md 3.10), and
        the node ids: task id -> list of node ids (an unrolled task) or its own id. Cached per
        lengths."""
        key = tuple(sorted(lengths.items()))
        cache = self.__dict__.setdefault("_expanded_graphs", {})
        if key in cache:
            return cache[key]
        from dagcore.run_state import RunGraph, TaskSpec

        group_of: dict[str, str] = {t.task_id: t.mapped_group for t in self.task_dict.values()
                                    if t.mapped_group is not None and t.mapped_group in lengths}
        nodes: dict[str, Any] = {
            task_id: ([f"{task_id}\x00{i}" for i in range(lengths[group_of[task_id]])]
                      if task_id in group_of else task_id)
            for task_id in self.task_dict}
        specs = []
        for task in self.task_dict.values():
            base = task.task_spec()
            own = nodes[task.task_id]
            for i, node in enumerate(own if isinstance(own, list) else [own]):
                upstream: list[str] = []
                for up in task.upstream_task_ids:
                    up_nodes = nodes[up]
                    if not isinstance(up_nodes, list):
                        upstream.append(up_nodes)
                    elif isinstance(own, list) and group_of.get(up) == group_of[task.task_id]:
                        upstream.append(up_nodes[i])
                    else:
                        upstream.extend(up_nodes)
                specs.append(TaskSpec(node, upstream=tuple(upstream),
                                      trigger_rule=base.trigger_rule, is_setup=base.is_setup,
                                      is_teardown=base.is_teardown,
                                      on_failure_fail_dagrun=base.on_failure_fail_dagrun,
                                      depends_on_past=base.depends_on_past,
                                      limits_concurrency=base.limits_concurrency))
        cache[key] = (RunGraph(specs), nodes)
        return cache[key]

    def task_specs(self) -> list[TaskSpec]:
        """The tasks as :class:`~dagcore.run_state.TaskSpec` records, in the original order."""
        return [t.task_spec() for t in self.task_dict.values()]

    @cached_property
    def _run_graph(self) -> RunGraph:
        from dagcore.run_state import RunGraph

        return RunGraph(self.task_specs())

    def run_graph(self) -> RunGraph:
        """The DAG compiled for the run-state engine (compiled once, then reused)."""
        return self._run_graph


def deserialize_dag(data: Mapping[str, Any]) -> SerializedDAG:
    """The :class:`SerializedDAG` that :func:`serialize_dag`'s data describes."""
    return SerializedDAG(data)
