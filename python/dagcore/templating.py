"""Jinja templating of template fields, and the context a task run sees (Airflow's names).

:func:`build_context` turns a run description (DAG, task, run id, logical date, data interval,
conf, XCom backend) into the mapping Airflow gives ``execute`` and templates: ``ds``,
``ds_nodash``, ``ts``, ``ts_nodash``, ``ts_nodash_with_tz``, ``logical_date``,
``data_interval_start``, ``data_interval_end``, ``run_id``, ``dag_run`` (with ``.conf``),
``params`` (DAG and task params merged with ``dag_run.conf``, resolved to a plain ``dict`` of
values as Airflow's ``process_params`` gives), ``ti``/``task_instance``,
``task``, ``dag``, ``macros``. As in Airflow 3, the ``ds``/``ts`` family is absent when the run
has no logical date.

The Jinja environment follows Airflow's: ``StrictUndefined`` unless the DAG says otherwise, the
DAG's ``user_defined_macros`` and ``user_defined_filters``, the ``ds``/``ts`` filters, files
ending in an operator's ``template_ext`` loaded from the DAG's ``template_searchpath``, and
native rendering when the DAG sets ``render_template_as_native_obj``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.nativetypes

from dagcore.assets import InletEventsAccessors, OutletEventAccessors
from dagcore.params import merge_params
from dagcore.xcom import XCOM_RETURN_KEY, InMemoryXComBackend, XComBackend

if TYPE_CHECKING:
    from dagcore.dag import DAG
    from dagcore.operators.base import BaseOperator

__all__ = [
    "DagRunContext",
    "RuntimeTaskInstance",
    "build_context",
    "get_template_env",
    "macros",
    "render_template",
]


# -------------------------------------------------------------------------------------------------
# macros


def ds_add(ds: str, days: int) -> str:
    """``ds`` (``YYYY-MM-DD``) moved by ``days`` (negative goes back)."""
    if not days:
        return str(ds)
    return (datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds`` parsed with ``input_format`` and written with ``output_format``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def _dateutil() -> Any:
    try:
        import dateutil  # noqa: PLC0415
        import dateutil.relativedelta  # noqa: PLC0415,F401
    except ImportError:  # pragma: no cover - optional dependency
        return None
    return dateutil


macros = SimpleNamespace(
    ds_add=ds_add, ds_format=ds_format, datetime=datetime, timedelta=timedelta, time=time,
    uuid=uuid, random=random, json=json, dateutil=_dateutil())
"""Airflow's ``macros`` namespace: ``ds_add``, ``ds_format``, and the modules it re-exports."""


# -------------------------------------------------------------------------------------------------
# Jinja


def _ds(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d") if value is not None else None


def _ds_nodash(value: datetime | None) -> str | None:
    return value.strftime("%Y%m%d") if value is not None else None


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ts_nodash(value: datetime | None) -> str | None:
    return value.strftime("%Y%m%dT%H%M%S") if value is not None else None


def _ts_nodash_with_tz(value: datetime | None) -> str | None:
    return value.isoformat().replace("-", "").replace(":", "") if value is not None else None


_FILTERS = {"ds": _ds, "ds_nodash": _ds_nodash, "ts": _ts, "ts_nodash": _ts_nodash,
            "ts_nodash_with_tz": _ts_nodash_with_tz}


def get_template_env(dag: DAG | None = None) -> jinja2.Environment:
    """The Jinja environment for a DAG's templates (a default one when ``dag`` is None)."""
    if dag is not None:
        cached = getattr(dag, "_jinja_env", None)
        if cached is not None:
            return cached
    searchpath: list[str] = []
    native = False
    undefined: type[jinja2.Undefined] = jinja2.StrictUndefined
    if dag is not None:
        searchpath = [str(p) for p in dag.template_searchpath]
        if dag.fileloc:
            searchpath.append(str(Path(dag.fileloc).parent))
        native = dag.render_template_as_native_obj
        undefined = dag.template_undefined
    env_cls = jinja2.nativetypes.NativeEnvironment if native else jinja2.Environment
    env = env_cls(loader=jinja2.FileSystemLoader(searchpath or ["."]), undefined=undefined,
                  extensions=["jinja2.ext.do"], cache_size=0, keep_trailing_newline=True)
    env.filters.update(_FILTERS)
    if dag is not None:
        env.globals.update(dag.user_defined_macros or {})
        env.filters.update(dag.user_defined_filters or {})
        dag._jinja_env = env
    return env


def render_template(content: Any, context: Mapping[str, Any],
                    env: jinja2.Environment | None = None, *,
                    template_ext: Sequence[str] = ()) -> Any:
    """``content`` with every string rendered as a Jinja template against ``context``.

    Lists, tuples, sets and dict values are rendered item by item; a string ending in one of
    ``template_ext`` names a template file found on the environment's search path; other values
    are returned as they are.

    Raises:
        jinja2.TemplateError: a syntax error, an undefined name (with ``StrictUndefined``) or a
            template file that is not found.
    """
    env = env or get_template_env()
    if isinstance(content, str):
        if template_ext and content.endswith(tuple(template_ext)):
            template = env.get_template(content)
        else:
            template = env.from_string(content)
        return template.render(**context)
    if isinstance(content, tuple):
        if hasattr(content, "_fields"):  # a namedtuple
            return type(content)(*(render_template(v, context, env) for v in content))
        return tuple(render_template(v, context, env) for v in content)
    if isinstance(content, list):
        return [render_template(v, context, env) for v in content]
    if isinstance(content, (set, frozenset)):
        return type(content)(render_template(v, context, env) for v in content)
    if isinstance(content, dict):
        return {k: render_template(v, context, env) for k, v in content.items()}
    return content


# -------------------------------------------------------------------------------------------------
# the context


@dataclass(slots=True, kw_only=True)
class DagRunContext:
    """The ``dag_run`` a template sees: the run's ids, dates and ``conf``."""

    dag_id: str
    run_id: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    run_type: str = "manual"
    conf: dict[str, Any] = field(default_factory=dict)
    triggered_by: str | None = None


class RuntimeTaskInstance:
    """The ``ti`` a running task sees: its ids and XCom push/pull (Airflow's names)."""

    def __init__(self, *, task: BaseOperator, dag_run: DagRunContext, xcom: XComBackend,
                 try_number: int = 1, map_index: int = -1) -> None:
        self.task = task
        self.dag_id = dag_run.dag_id
        self.task_id = task.task_id
        self.run_id = dag_run.run_id
        self.logical_date = dag_run.logical_date
        self.try_number = try_number
        self.max_tries = task.retries
        self.map_index = map_index
        self.xcom = xcom
        # The metadata-database reads of a try (dagcore.models.taskreschedule's
        # TaskInstanceQueries), set by the task runner; None outside it (a bare execute()).
        self.queries: Any = None

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for this task instance."""
        self.xcom.push(dag_id=self.dag_id, run_id=self.run_id, task_id=self.task_id, key=key,
                       value=value, map_index=self.map_index)

    def xcom_pull(self, task_ids: str | Sequence[str] | None = None, *,
                  key: str = XCOM_RETURN_KEY, dag_id: str | None = None,
                  map_indexes: int | None = None, default: Any = None,
                  include_prior_dates: bool = False) -> Any:
        """A value pushed in this run: by one task (a value) or several (a list, in order).

        ``task_ids=None`` pulls from this task itself (as Airflow 3 does for a bare key).
        """
        del include_prior_dates  # needs the database; the in-memory backend has one run
        ids = [self.task_id] if task_ids is None else task_ids
        values = [self._pull_one(dag_id or self.dag_id, t, key, map_indexes, default)
                  for t in ([ids] if isinstance(ids, str) else ids)]
        return values[0] if isinstance(ids, str) else values

    def _pull_one(self, dag_id: str, task_id: str, key: str, map_index: int | None,
                  default: Any) -> Any:
        """One task's value; of a mapped task (no ``map_indexes`` given) the list of its
        instances' values in map-index order, as Airflow pulls a mapped task's XCom."""
        if map_index is None:
            dag = self.task.dag
            upstream = dag.task_dict.get(task_id) if dag is not None and dag_id == self.dag_id \
                else None
            group = getattr(upstream, "mapped_group_id", None)
            if group is not None and group == getattr(self.task, "mapped_group_id", None) \
                    and self.map_index >= 0:
                map_index = self.map_index  # the same expansion of the same mapped group
            elif upstream is not None and upstream.is_mapped:
                return self.xcom.pull_all(dag_id=dag_id, run_id=self.run_id, task_id=task_id,
                                          key=key)
            else:
                map_index = -1
        return self.xcom.pull(dag_id=dag_id, run_id=self.run_id, task_id=task_id, key=key,
                              map_index=map_index, default=default)

    # -- reads of the metadata database (Airflow 3's RuntimeTaskInstance; sensors use them) ----

    def _db(self, what: str) -> Any:
        if self.queries is None:
            raise RuntimeError(f"ti.{what} reads the metadata database: it works only in a try "
                               f"run by the task runner (dag.test(), the scheduler, tasks test)")
        return self.queries

    def get_first_reschedule_date(self, context: Any = None) -> datetime | None:
        """The start of this try's first reschedule (a sensor in reschedule mode), or None."""
        if self.queries is None:
            return None  # no database: never rescheduled
        return self.queries.first_reschedule_date()

    def get_ti_count(self, dag_id: str, map_index: int | None = None,
                     task_ids: Sequence[str] | None = None, task_group_id: str | None = None,
                     logical_dates: Sequence[datetime] | None = None,
                     run_ids: Sequence[str] | None = None,
                     states: Sequence[str | None] | None = None) -> int:
        """How many task instances of ``dag_id`` match the filters."""
        return int(self._db("get_ti_count").ti_count(
            dag_id, map_index=map_index, task_ids=task_ids, task_group_id=task_group_id,
            logical_dates=logical_dates, run_ids=run_ids, states=states))

    def get_dr_count(self, dag_id: str, logical_dates: Sequence[datetime] | None = None,
                     run_ids: Sequence[str] | None = None,
                     states: Sequence[str] | None = None) -> int:
        """How many runs of ``dag_id`` match the filters."""
        return int(self._db("get_dr_count").dr_count(
            dag_id, logical_dates=logical_dates, run_ids=run_ids, states=states))

    def get_task_states(self, dag_id: str, map_index: int | None = None,
                        task_ids: Sequence[str] | None = None,
                        task_group_id: str | None = None,
                        logical_dates: Sequence[datetime] | None = None,
                        run_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """``{run_id: {task_id: state}}`` of the matching task instances of ``dag_id``."""
        return dict(self._db("get_task_states").task_states(
            dag_id, map_index=map_index, task_ids=task_ids, task_group_id=task_group_id,
            logical_dates=logical_dates, run_ids=run_ids))

    def __repr__(self) -> str:
        return (f"<RuntimeTaskInstance: {self.dag_id}.{self.task_id} {self.run_id} "
                f"try {self.try_number}>")


def build_context(task: BaseOperator, *, run_id: str, logical_date: datetime | None = None,
                  data_interval: tuple[datetime, datetime] | None = None,
                  run_after: datetime | None = None, conf: Mapping[str, Any] | None = None,
                  run_type: str = "manual", xcom: XComBackend | None = None,
                  try_number: int = 1) -> dict[str, Any]:
    """The context of one run of ``task`` (Airflow's names), params merged with ``conf``.

    Args:
        task: the task (its DAG gives params, macros and ``dag``).
        run_id: the run's id.
        logical_date: the run's logical date (aware), or ``None`` for a run without one.
        data_interval: ``(start, end)``; default ``(logical_date, logical_date)``.
        run_after: when the run was due; default the data interval's end or the logical date.
        conf: ``dag_run.conf``; it overrides params of the same name.
        run_type: ``manual``, ``scheduled``, ``backfill``...
        xcom: where ``ti.xcom_push``/``xcom_pull`` go (default a fresh in-memory backend).
        try_number: the try being run.

    Raises:
        ValueError: a naive datetime.
        ParamValidationError: a param that ``conf`` makes invalid, or a required param missing.
    """
    for name, value in (("logical_date", logical_date), ("run_after", run_after),
                        *(("data_interval", v) for v in (data_interval or ()))):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    start, end = data_interval if data_interval else (logical_date, logical_date)
    dag = task.dag
    dag_run = DagRunContext(dag_id=task.dag_id or "", run_id=run_id, logical_date=logical_date,
                            data_interval_start=start, data_interval_end=end,
                            run_after=run_after or end or logical_date, run_type=run_type,
                            conf=dict(conf or {}))
    # A plain dict of values, as Airflow's process_params hands tasks (params.validate(),
    # docs/airflow-behaviour.md 8.3): a task can json.dumps it, and templates still read
    # ``params.x`` (Jinja's getattr falls back to the item).
    params = merge_params(dag.params if dag is not None else None, task.params,
                          conf=dag_run.conf).validate()
    backend = InMemoryXComBackend() if xcom is None else xcom
    ti = RuntimeTaskInstance(task=task, dag_run=dag_run, xcom=backend, try_number=try_number)
    context: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": run_id,
        "logical_date": logical_date,
        "data_interval_start": start,
        "data_interval_end": end,
        "params": params,
        "macros": macros,
        "task_instance_key_str": f"{dag_run.dag_id}__{task.task_id}__"
                                 f"{_ds_nodash(logical_date) or run_id}",
        "test_mode": False,
        "inlets": list(getattr(task, "inlets", None) or ()),
        "outlets": list(getattr(task, "outlets", None) or ()),
        # Asset events (docs/airflow-behaviour.md 11): what the task reports is collected on
        # ``outlet_events`` (its ``events()``) for the task runner; the read side is empty until
        # asset events are stored.
        "outlet_events": OutletEventAccessors(getattr(task, "outlets", None) or ()),
        "inlet_events": InletEventsAccessors(getattr(task, "inlets", None) or ()),
        "triggering_asset_events": MappingProxyType({}),
        "triggering_dataset_events": MappingProxyType({}),  # Airflow 2's, by URI
        "var": {},
        "conn": {},
    }
    if logical_date is not None:
        context.update(
            ds=_ds(logical_date), ds_nodash=_ds_nodash(logical_date), ts=_ts(logical_date),
            ts_nodash=_ts_nodash(logical_date),
            ts_nodash_with_tz=_ts_nodash_with_tz(logical_date),
            # Airflow 2's names (removed in Airflow 3), which Airflow 2 DAG files still read.
            execution_date=logical_date,
            yesterday_ds=_ds(logical_date - timedelta(days=1)),
            tomorrow_ds=_ds(logical_date + timedelta(days=1)))
    return context
