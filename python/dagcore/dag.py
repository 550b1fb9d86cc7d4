"""The DAG: its settings, its tasks, the ``with DAG(...)`` context and the ``@dag`` decorator.

A DAG is checked as it is written: its schedule becomes a timetable in the constructor (so an
invalid schedule raises there), a duplicate task id raises when the task is added, and a
dependency that would close a cycle raises when it is set
(:class:`~dagcore.exceptions.DagCycleError` names the cycle). :meth:`DAG.run_graph` compiles
the structure for the run-state engine.

``import dagcore`` imports this module (the package's ``dag`` attribute must be the decorator,
not this submodule), so its imports of the native core (timetables, run state) and of Jinja are
deferred to the first DAG that needs them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from dagcore.exceptions import DuplicateTaskIdFound, ParamValidationError
from dagcore.operators.base import BaseOperator, execute_task, validate_key
from dagcore.params import Param, ParamsDict
from dagcore.task_group import TaskGroup
from dagcore.trigger_rule import TriggerRule
from dagcore.utils import timezone
from dagcore.utils.task_lookup import TaskLookup

_NOW: Any = object()  # DAG.test's default logical date: "now"

if TYPE_CHECKING:
    import jinja2

    from dagcore.run_state import RunGraph, TaskSpec
    # layer-exception: DAG.test returns the runtime's result, as Airflow's dag.test runs the DAG
    from dagcore.testing import DagTestResult
    from dagcore.timetables import Timetable
    from dagcore.xcom import XComBackend

__all__ = ["DAG", "DagContext", "dag"]


class _DagContextMeta(type):
    """Per-thread class attributes for :class:`DagContext`.

    Airflow keeps ``autoregistered_dags`` and ``current_autoregister_module_name`` as plain class
    attributes; here they are per thread, like the stack of open DAGs, so two threads parsing
    DAG files at once do not see each other's DAGs. Reading and assigning them on the class works
    as in Airflow (data descriptors on the metaclass take precedence over the class dict).
    """

    _local: threading.local

    def _state(cls) -> threading.local:
        local = cls._local
        if not hasattr(local, "stack"):
            local.stack = []
            local.autoregistered_dags = set()
            local.module_name = None
        return local

    @property
    def autoregistered_dags(cls) -> set[tuple[DAG, str]]:
        """``(dag, module name)`` for every DAG whose ``with`` block closed (or ``@dag``
        function was called) while :attr:`current_autoregister_module_name` was set."""
        return cls._state().autoregistered_dags

    @autoregistered_dags.setter
    def autoregistered_dags(cls, value: set[tuple[DAG, str]]) -> None:
        cls._state().autoregistered_dags = value

    @property
    def current_autoregister_module_name(cls) -> str | None:
        """The module being imported as a DAG file (set by the DagBag), or ``None``."""
        return cls._state().module_name

    @current_autoregister_module_name.setter
    def current_autoregister_module_name(cls, value: str | None) -> None:
        cls._state().module_name = value


class DagContext(metaclass=_DagContextMeta):
    """The stack of DAGs opened with ``with DAG(...)`` (per thread); operators created inside
    join the innermost one.

    Auto-registration (Airflow's): while the DagBag imports a DAG file it sets
    ``DagContext.current_autoregister_module_name`` to the file's module name; every DAG whose
    ``with DAG(...)`` block closes meanwhile (an ``@dag`` function builds its DAG in one, so
    calling it counts) is added to ``DagContext.autoregistered_dags`` as ``(dag, module_name)``.
    That is how DAGs bound to no module attribute are found. The DagBag takes the entries of its
    module and removes them. Both attributes are per thread (see :class:`_DagContextMeta`).
    """

    _local = threading.local()

    @classmethod
    def _stack(cls) -> list[DAG]:
        return cls._state().stack

    @classmethod
    def push_context_managed_dag(cls, dag: DAG) -> None:
        cls._stack().append(dag)

    @classmethod
    def pop_context_managed_dag(cls) -> DAG | None:
        """Close the innermost DAG; auto-register it when a DAG file is being imported."""
        stack = cls._stack()
        dag = stack.pop() if stack else None
        module_name = cls.current_autoregister_module_name
        if dag is not None and module_name is not None:
            cls.autoregistered_dags.add((dag, module_name))
        return dag

    @classmethod
    def get_current_dag(cls) -> DAG | None:
        """The innermost open DAG, or ``None``."""
        stack = cls._stack()
        return stack[-1] if stack else None


def _aware(value: object, name: str, dag_id: str) -> datetime | None:
    """``value`` checked and normalised: a pendulum DateTime (what Airflow DAG files pass)
    becomes the stdlib datetime of the same instant and zone, so the DAG serializes and hashes
    as if the file had used the stdlib."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} of DAG {dag_id!r} must be a datetime, got "
                        f"{type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} of DAG {dag_id!r} must be timezone-aware, got naive {value!r} "
                         f"(add tzinfo, e.g. datetime(2024, 1, 1, tzinfo=UTC))")
    return timezone.coerce_datetime(value)


def _read_doc_md(doc_md: str | None) -> str | None:
    """``doc_md``, or the file's text when it names an existing ``.md`` file (Airflow's
    ``DAG.get_doc_md``: a missing file leaves the value as given)."""
    if doc_md is None or not isinstance(doc_md, str) or not doc_md.endswith(".md"):
        return doc_md
    try:
        with open(doc_md, encoding="utf-8") as file:
            return file.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return doc_md


def _checked_owner_links(owner_links: Mapping[str, str] | None) -> dict[str, str]:
    """``owner_links`` once each link is a URL with a scheme and a host, or a ``mailto:``
    with an address (Airflow 3's ``DAG._validate_owner_links``).

    Raises:
        ValueError: Airflow's "Wrong link format was used for the owner..." naming the links.
    """
    from urllib.parse import urlsplit

    links = dict(owner_links or {})
    wrong: dict[str, str] = {}
    for owner, link in links.items():
        result = urlsplit(str(link))
        if result.scheme == "mailto":
            if not result.path:
                wrong[result.path] = link
        elif not result.scheme or not result.netloc:
            wrong[owner] = link
    if wrong:
        raise ValueError("Wrong link format was used for the owner. Use a valid link \n"
                         f"Bad formatted links are: {wrong}")
    return links


class DAG(TaskLookup[BaseOperator]):
    """A DAG: tasks, their dependencies and a schedule (Airflow's ``DAG``).

    Args:
        dag_id: the DAG's id (letters, digits, ``_``, ``-``, ``.``).
        schedule: ``None``, ``"@once"``, ``"@continuous"``, a cron expression or preset, a
            ``timedelta``/``relativedelta`` or a :class:`~dagcore.timetables.Timetable`; see
            :func:`~dagcore.timetables.create_timetable`.
        start_date, end_date: aware datetimes (stdlib or pendulum); the DAG's time zone is the
            start date's (UTC without one), as in Airflow.
        catchup: create runs for missed intervals (Airflow 3 default False).
        max_active_runs, max_active_tasks: concurrency limits.
        default_args: defaults for every operator's keyword arguments.
        params: DAG params (values or :class:`~dagcore.Param`).
        tags, description, dagrun_timeout, is_paused_upon_creation, doc_md, owner_links: as
            Airflow.
        template_searchpath: folders searched for template files.
        template_undefined: Jinja's undefined class (default ``StrictUndefined``).
        user_defined_macros, user_defined_filters: extra Jinja globals and filters.
        render_template_as_native_obj: render templates to Python objects.
        fail_fast: (recorded) stop the run at the first failure.

    Raises:
        ValueError: a bad dag id, an invalid schedule (the message names it), naive dates,
            ``max_active_*`` below 1.
        ParamValidationError: a param's default is invalid, or a scheduled DAG has a required
            param without default.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool = False,
        max_active_runs: int = 16,
        max_active_tasks: int = 16,
        max_consecutive_failed_dag_runs: int = 0,
        default_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Collection[str] = (),
        description: str | None = None,
        dagrun_timeout: timedelta | None = None,
        is_paused_upon_creation: bool | None = None,
        doc_md: str | None = None,
        owner_links: Mapping[str, str] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: type[jinja2.Undefined] | None = None,
        user_defined_macros: Mapping[str, Any] | None = None,
        user_defined_filters: Mapping[str, Callable[..., Any]] | None = None,
        render_template_as_native_obj: bool = False,
        fail_fast: bool = False,
        access_control: Mapping[str, Any] | None = None,
        dag_display_name: str | None = None,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
    ) -> None:
        self.dag_id = validate_key(dag_id, "dag_id")
        self.default_args: dict[str, Any] = copy.deepcopy(dict(default_args or {}))
        start_date = start_date if start_date is not None else self.default_args.get("start_date")
        end_date = end_date if end_date is not None else self.default_args.get("end_date")
        self.start_date = _aware(start_date, "start_date", dag_id)
        self.end_date = _aware(end_date, "end_date", dag_id)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date ({self.end_date}) of DAG {dag_id!r} is before its "
                             f"start_date ({self.start_date})")
        self.timezone: tzinfo = (self.start_date.tzinfo  # type: ignore[assignment]
                                 if self.start_date else UTC)
        self.schedule = schedule
        from dagcore.assets import schedule_timetable
        from dagcore.configuration import conf
        from dagcore.timetables import create_timetable

        try:
            # An asset, a list of assets or an asset expression: an AssetTriggeredTimetable
            # (docs/airflow-behaviour.md 11).
            self.timetable: Timetable = schedule_timetable(schedule) or create_timetable(
                # Airflow 3: cron strings make trigger timetables unless
                # [scheduler] create_cron_data_intervals asks for Airflow 2's data intervals.
                schedule, self.timezone, hash_key=dag_id,
                cron_data_intervals=conf.getboolean("scheduler", "create_cron_data_intervals"))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid schedule {schedule!r} for DAG {dag_id!r}: {exc}") from exc
        self.catchup = bool(catchup)
        for name, value in (("max_active_runs", max_active_runs),
                            ("max_active_tasks", max_active_tasks)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} of DAG {dag_id!r} must be a positive int, got {value!r}")
        self.max_active_runs = max_active_runs
        self.max_active_tasks = max_active_tasks
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        self.params = ParamsDict(self.default_args.pop("params", None) or {})
        self.params.update(ParamsDict(params or {}))
        if isinstance(tags, str):
            raise TypeError(f"tags of DAG {dag_id!r} must be a collection of str, got a str")
        self.tags = set(tags)
        self.description = description
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise TypeError(f"dagrun_timeout of DAG {dag_id!r} must be a timedelta or None, got "
                            f"{type(dagrun_timeout).__name__}")
        self.dagrun_timeout = dagrun_timeout
        self.is_paused_upon_creation = is_paused_upon_creation
        self.doc_md = _read_doc_md(doc_md)
        self.owner_links = _checked_owner_links(owner_links)
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] = list(template_searchpath or [])
        if template_undefined is None:
            import jinja2

            template_undefined = jinja2.StrictUndefined
        self.template_undefined = template_undefined
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.render_template_as_native_obj = render_template_as_native_obj
        self.fail_fast = fail_fast
        self.access_control = access_control
        self.dag_display_name = dag_display_name or dag_id
        # Called by the scheduler with the run's context when a run succeeds / fails (a callable
        # or a list of them), as Airflow's DAG-level callbacks.
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.fileloc: str | None = self._caller_file()
        self.task_dict: dict[str, BaseOperator] = {}
        # The root of the DAG's task groups (Airflow's dag.task_group): every task and group not
        # in another group is its child.
        self.task_group: TaskGroup = TaskGroup.create_root(self)
        self._jinja_env: jinja2.Environment | None = None
        self._validate_params()

    @staticmethod
    def _caller_file() -> str | None:
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__") in (__name__,):
            frame = frame.f_back  # type: ignore[assignment]
        return frame.f_code.co_filename if frame is not None else None

    def _validate_params(self) -> None:
        from dagcore.timetables import NullTimetable

        scheduled = not isinstance(self.timetable, NullTimetable)
        for key, param in self.params.items_params():
            if param.has_value:
                try:
                    param.resolve()
                except ParamValidationError as exc:
                    raise ParamValidationError(f"Invalid input for param {key} of DAG "
                                               f"{self.dag_id!r}: {exc}") from None
            elif scheduled:
                raise ParamValidationError(
                    f"DAG {self.dag_id!r} is not allowed to define a Schedule, as there are "
                    f"required params without default values: {key}")

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> DAG:
        DagContext.push_context_managed_dag(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        DagContext.pop_context_managed_dag()
        if exc_type is None:
            self.validate()

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    # -- tasks -----------------------------------------------------------------------------------

    def add_task(self, task: BaseOperator, task_group: TaskGroup | None = None) -> None:
        """Add a task (operators created in ``with dag:`` or with ``dag=`` are added for you).

        The task joins ``task_group`` (default: the group it is in, else the DAG's root group).

        Raises:
            DuplicateTaskIdFound: another task of this DAG has the same id.
            ValueError: the task belongs to another DAG, or the group to another DAG.
        """
        existing = self.task_dict.get(task.task_id)
        if existing is task:
            return
        # A task group's id (and its join ids) count as taken, as Airflow's used_group_ids.
        if existing is not None or task.task_id in self.task_group.used_group_ids:
            raise DuplicateTaskIdFound(f"Task id {task.task_id!r} has already been added to the "
                                       f"DAG {self.dag_id!r}")
        if task._dag is not None and task._dag is not self:
            raise ValueError(f"task {task.task_id!r} already belongs to DAG "
                             f"{task._dag.dag_id!r}, cannot add it to {self.dag_id!r}")
        group = task_group or task.task_group or self.task_group
        if group.dag is not self:
            raise ValueError(f"task {task.task_id!r} of DAG {self.dag_id!r} cannot join task "
                             f"group {group.group_id!r} of another DAG")
        group.add(task)
        self.task_dict[task.task_id] = task
        task._dag = self
        # Tasks linked before joining the DAG join with it.
        for rel in (*task._upstream.values(), *task._downstream.values()):
            if rel._dag is None:
                self.add_task(rel)
            elif rel._dag is not self:
                raise ValueError(f"Tried to set relationships between tasks in more than one "
                                 f"DAG: {self.dag_id!r} and {rel._dag.dag_id!r}")

    @property
    def task_group_dict(self) -> dict[str, TaskGroup]:
        """The DAG's task groups (not the root) by group id (Airflow's ``task_group_dict``)."""
        return {g.group_id: g for g in self.task_group.iter_task_groups()
                if g.group_id is not None}

    def add_tasks(self, tasks: Iterable[BaseOperator]) -> None:
        for task in tasks:
            self.add_task(task)

    @property
    def roots(self) -> list[BaseOperator]:
        """Tasks without upstream tasks."""
        return [t for t in self.task_dict.values() if not t._upstream]

    @property
    def leaves(self) -> list[BaseOperator]:
        """Tasks without downstream tasks."""
        return [t for t in self.task_dict.values() if not t._downstream]

    @property
    def asset_condition(self) -> Any:
        """The asset condition the DAG is scheduled on (a ``dagcore.assets.BaseAsset``), or
        None for a time-based (or no) schedule."""
        return getattr(self.timetable, "asset_condition", None)

    def topological_sort(self) -> list[BaseOperator]:
        """The tasks, each after its upstream tasks (stable: insertion order breaks ties)."""
        return [self.task_dict[t] for t in self.run_graph().task_ids]

    # -- checks and compilation ------------------------------------------------------------------

    def validate(self) -> None:
        """The checks Airflow runs when a DAG file is parsed.

        Raises:
            ValueError: a setup task followed by a normal task whose trigger rule is not
                ``all_success``; a teardown whose trigger rule is not ``all_done_setup_success``.
        """
        for task in self.task_dict.values():
            if task.is_setup:
                for down in task._downstream.values():
                    if not down.is_teardown and down.trigger_rule != TriggerRule.ALL_SUCCESS:
                        raise ValueError(
                            f"Setup tasks must be followed with trigger rule ALL_SUCCESS: "
                            f"{down.task_id!r} after setup {task.task_id!r} has "
                            f"{down.trigger_rule.value!r} (DAG {self.dag_id!r})")

    def task_specs(self) -> list[TaskSpec]:
        """The tasks as :class:`~dagcore.run_state.TaskSpec` records, in insertion order."""
        from dagcore.run_state import TaskSpec

        return [TaskSpec(t.task_id, upstream=tuple(t._upstream), trigger_rule=t.trigger_rule,
                         is_setup=t.is_setup, is_teardown=t.is_teardown,
                         on_failure_fail_dagrun=t.on_failure_fail_dagrun,
                         depends_on_past=t.depends_on_past,
                         limits_concurrency=(t.max_active_tis_per_dag is not None
                                             or t.max_active_tis_per_dagrun is not None))
                for t in self.task_dict.values()]

    def run_graph(self) -> RunGraph:
        """The DAG compiled for the run-state engine."""
        from dagcore.run_state import RunGraph

        return RunGraph(self.task_specs())

    # -- running one task in-process --------------------------------------------------------------

    def run_task(self, task_id: str, *, run_id: str, logical_date: datetime | None = None,
                 data_interval: tuple[datetime, datetime] | None = None,
                 conf: Mapping[str, Any] | None = None, xcom: XComBackend | None = None,
                 run_type: str = "manual", try_number: int = 1) -> Any:
        """Execute one task in this process (templates rendered, return value pushed to XCom).

        Nothing is recorded anywhere but ``xcom``; scheduling, retries and states belong to the
        scheduler. Returns what the task returned; raises what it raised
        (:class:`~dagcore.exceptions.TaskSkipped` for a skip).
        """
        from dagcore.templating import build_context

        task = self.get_task(task_id)
        context = build_context(task, run_id=run_id, logical_date=logical_date,
                                data_interval=data_interval, conf=conf, xcom=xcom,
                                run_type=run_type, try_number=try_number)
        return execute_task(task, context)

    def test(self, logical_date: datetime | None | Any = _NOW, *,
             conf: Mapping[str, Any] | None = None,
             run_id: str | None = None, db_url: str | None = None, keep_db: bool = False,
             timeout: float | None = None) -> DagTestResult:
        """Run the whole DAG once, in this process, with real state in a database.

        The DAG is stored, a run is triggered and the real scheduler loop runs it with every
        task executed in this process (the way to test a pipeline with pytest)::

            result = my_dag.test(conf={"day": "2025-01-01"})
            assert result.state == "success"
            assert result.task_states["load"] == "success"
            assert result.xcom_pull("extract") == [1, 2, 3]

        Args:
            logical_date: the run's logical date (aware); default now; ``None``: no logical
                date.
            conf: the run's conf (validated against the DAG's params).
            run_id: the run id (default ``manual__<logical date>``).
            db_url: the metadata database (default: a temporary SQLite file, deleted after).
            keep_db: keep the temporary database (its URL is ``result.db_url``).
            timeout: give up (``TimeoutError``) after this many seconds; default never.

        Returns:
            A :class:`~dagcore.testing.DagTestResult`: ``state``, ``task_states``,
            ``task_instances``, ``xcoms`` and ``xcom_pull(task_id, key)``.

        Raises:
            ParamValidationError: ``conf`` does not satisfy the params.
            ValueError: a naive logical date, or a DAG that does not validate.
        """
        # layer-exception: DAG.test runs the DAG in-process (runtime), as Airflow's dag.test does
        from dagcore.testing import run_dag_test

        kwargs: dict[str, Any] = {} if logical_date is _NOW else {"logical_date": logical_date}
        return run_dag_test(self, conf=conf, run_id=run_id,
                            db_url=db_url, keep_db=keep_db, timeout=timeout, **kwargs)


def dag(dag_id: str | Callable[..., Any] | None = None, **dag_kwargs: Any) -> Any:
    """Airflow's ``@dag``: calling the decorated function builds the DAG and returns it.

    The DAG id defaults to the function's name and ``doc_md`` to its docstring; keyword
    parameters with defaults become DAG params (kept as :class:`~dagcore.Param` when given one)
    unless ``params`` already names them. The function is called inside ``with DAG(...)`` with
    the params' default values.

    Usable as ``@dag``, ``@dag()`` or ``@dag("id", schedule=...)``.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., DAG]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            kwargs_for_dag = dict(dag_kwargs)
            kwargs_for_dag.setdefault("doc_md", func.__doc__)
            params = dict(kwargs_for_dag.pop("params", None) or {})
            call_args: dict[str, Any] = {}
            for name, value in bound.arguments.items():
                param = signature.parameters[name]
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                if name not in params:
                    params[name] = value
                given = params[name]
                call_args[name] = given.value if isinstance(given, Param) else given
            the_dag = DAG(dag_id if isinstance(dag_id, str) else func.__name__,
                          params=params, **kwargs_for_dag)
            the_dag.fileloc = inspect.getsourcefile(func) or the_dag.fileloc
            with the_dag:
                func(**call_args)
            return the_dag

        return factory

    if callable(dag_id):
        func, dag_id = dag_id, None
        return decorator(func)
    return decorator
