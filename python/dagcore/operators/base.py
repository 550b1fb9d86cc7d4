"""BaseOperator: a task's settings, its dependencies, and how ``default_args`` apply.

Design note: as Airflow's ``BaseOperatorMeta``, every operator class's ``__init__`` is wrapped once
(``__init_subclass__``) so that, for the outermost constructor call only, the DAG's
``default_args`` (overlaid by a ``default_args=`` kwarg) fill the keyword parameters that any
``__init__`` in the class's MRO declares and the caller did not pass: explicit argument >
``default_args`` > the operator's own default. ``params`` merge instead of replacing.

Dependencies are kept as ordered dicts of task objects (not ids) so that a cycle is refused the
moment the edge that closes it is set, even before the tasks belong to a DAG.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from dagcore.configuration import conf
from dagcore.exceptions import DagCycleError
from dagcore.params import ParamsDict
from dagcore.trigger_rule import TriggerRule

if TYPE_CHECKING:
    from dagcore.dag import DAG
    from dagcore.task_group import TaskGroup

__all__ = ["BaseOperator", "DependencyMixin", "execute_task", "validate_key"]

log = logging.getLogger(__name__)

# fullmatch, not match with "$": "$" also matches before a final newline ("my_dag\n").
_KEY_RE = re.compile(r"[\w.-]+")
_KEY_MAX = 250


def validate_key(key: object, what: str = "task_id") -> str:
    """Check an Airflow key (dag id, task id): letters, digits, ``_``, ``-``, ``.``; at most 250.

    Raises:
        TypeError: not a str.
        ValueError: empty, too long or with other characters; the message names the value.
    """
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a str, got {type(key).__name__}")
    if not key or len(key) > _KEY_MAX:
        raise ValueError(f"{what} {key!r} must be 1 to {_KEY_MAX} characters long")
    if not _KEY_RE.fullmatch(key) or not key.isascii():
        raise ValueError(f"{what} {key!r} must contain only ASCII letters, digits, dashes, dots "
                         f"and underscores")
    return key


def _as_list(other: Any) -> list[Any]:
    if isinstance(other, (list, tuple, set, frozenset)):
        return list(other)
    return [other]


class DependencyMixin:
    """``>>``, ``<<`` and their list forms for operators and TaskFlow references."""

    def _dependency_tasks(self) -> list[BaseOperator]:
        raise NotImplementedError

    def _as_upstream(self) -> list[BaseOperator]:
        """The tasks that get the edges when this is upstream (a task group's leaves)."""
        return self._dependency_tasks()

    def _as_downstream(self) -> list[BaseOperator]:
        """The tasks that get the edges when this is downstream (a task group's roots)."""
        return self._dependency_tasks()

    def _update_relative(self, other: Any, upstream: bool) -> None:
        """Hook: ``other`` became upstream (or downstream) of this (a task group records it)."""

    def set_upstream(self, other: Any) -> None:
        """Make ``other`` (a task, a group, a reference or a list of them) upstream of this."""
        items = [_checked(item) for item in _as_list(other)]
        for item in items:
            item._update_relative(self, upstream=False)
        for mine in self._as_downstream():
            for item in items:
                for theirs in item._as_upstream():
                    theirs._add_downstream(mine)

    def set_downstream(self, other: Any) -> None:
        """Make ``other`` (a task, a group, a reference or a list of them) downstream of this."""
        items = [_checked(item) for item in _as_list(other)]
        for item in items:
            item._update_relative(self, upstream=True)
        for mine in self._as_upstream():
            for item in items:
                for theirs in item._as_downstream():
                    mine._add_downstream(theirs)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        """``[a, b] >> self``."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        """``[a, b] << self``."""
        self.set_downstream(other)
        return self


def _checked(item: Any) -> DependencyMixin:
    if isinstance(item, DependencyMixin):
        return item
    raise TypeError(f"dependencies can only be set between operators (or TaskFlow results), got "
                    f"{type(item).__name__}: {item!r}")


def _dependency_tasks_of(item: Any) -> list[BaseOperator]:
    return _checked(item)._dependency_tasks()


@functools.lru_cache(maxsize=None)
def _init_parameter_names(cls: type) -> frozenset[str]:
    """The keyword names every ``__init__`` in ``cls``'s MRO takes (per class: signatures are
    slow to read, and a DAG file builds many operators of few classes)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        init = getattr(init, "__wrapped__", init)
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return frozenset(names)


def _apply_defaults(init: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_defaults_applied", False):
            init(self, *args, **kwargs)
            return
        object.__setattr__(self, "_defaults_applied", True)
        from dagcore.dag import DagContext
        from dagcore.task_group import TaskGroupContext

        group = kwargs.get("task_group")
        dag = kwargs.get("dag") or (group.dag if group is not None else None) \
            or DagContext.get_current_dag()
        default_args = dict(dag.default_args) if dag is not None else {}
        # Airflow's get_merged_defaults: the DAG's, then the task group's, then the task's own.
        group = group or TaskGroupContext.get_current_task_group(dag)
        if group is not None:
            default_args.update(group.default_args)
        own = kwargs.pop("default_args", None) or {}
        default_args.update(own)
        given = set(signature.bind_partial(self, *args).arguments) | set(kwargs)
        cls: type = type(self)  # as `type`: mypy takes a class with __hash__ for unhashable
        names = _init_parameter_names(cls)
        for name, value in default_args.items():
            if name in names and name not in given and name != "params":
                kwargs[name] = value
        if "params" in default_args and "params" in names:
            merged = ParamsDict(default_args["params"])
            merged.update(ParamsDict(kwargs.get("params") or {}))
            kwargs["params"] = merged
        init(self, *args, **kwargs)
        _set_xcomargs_dependencies(self)

    wrapper.__wrapped__ = init  # type: ignore[attr-defined]
    return wrapper


def _xcom_references(value: Any) -> list[Any]:
    """The XCom references (``XComArg``, ``.map()``/``.zip()`` results) inside ``value``."""
    if getattr(value, "_is_xcom_reference", False):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [r for v in value for r in _xcom_references(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _xcom_references(v)]
    return []


def _set_xcomargs_dependencies(task: BaseOperator) -> None:
    """A classic operator given an XCom reference in a template field (``values=other.output``)
    runs after the task that pushes it, as Airflow's ``set_xcomargs_dependencies``; the value is
    resolved when the fields are rendered."""
    for name in task.template_fields:
        for ref in _xcom_references(getattr(task, name, None)):
            for upstream in ref._dependency_tasks():
                if upstream is not task:
                    task.set_upstream(upstream)


class BaseOperator(DependencyMixin):
    """A task of a DAG (Airflow's ``BaseOperator``); subclasses implement :meth:`execute`.

    Args:
        task_id: the task's id, unique in its DAG.
        dag: the DAG (default: the one of the enclosing ``with DAG(...)`` block, if any).
        retries: how many times a failed try is retried (default 0).
        retry_delay: the wait before a retry (``timedelta`` or seconds; default 300 s).
        retry_exponential_backoff: grow the delay exponentially between retries.
        max_retry_delay: the cap of the delay.
        trigger_rule: when the task may run given its upstream tasks (default ``all_success``).
        depends_on_past: run only if this task succeeded (or was skipped) in the previous run.
        wait_for_downstream: also wait for the previous run's direct downstream tasks.
        execution_timeout: the longest a try may run (``timedelta`` or ``None``).
        max_active_tis_per_dag: the most instances of this task running across runs.
        max_active_tis_per_dagrun: the most instances running in one run.
        on_failure_callback, on_success_callback, on_retry_callback, on_execute_callback,
        on_skipped_callback: called with the context (a callable or a list of them).
        doc_md, doc: documentation shown in the UI.
        params: task-level params, merged over the DAG's.
        pool, pool_slots, priority_weight, weight_rule, queue, executor_config, owner, email,
        email_on_failure, email_on_retry, start_date, end_date, task_display_name: as Airflow.
        task_group: the :class:`~dagcore.task_group.TaskGroup` (default: the innermost open
            one, else the DAG's root); the id becomes ``group_id.task_id`` in a prefixing group.
        do_xcom_push: push :meth:`execute`'s return value to XCom (default True).
        map_index_template: a template labelling each instance of a mapped task.
        sla: Airflow 2's SLA: accepted and ignored with a warning (Airflow 3 has none).
        multiple_outputs: push each key of a returned dict as its own XCom.
        pre_execute, post_execute: callables run before / after :meth:`execute` (Airflow's
            hooks: ``pre_execute(context)``, ``post_execute(context, result)``).
        inlets, outlets: assets (``dagcore.assets``) the task reads / produces, stored as lists
            (other values are kept as lineage and ignored by scheduling).

    Raises:
        TypeError: an unknown argument (named), or a wrong type.
        ValueError: a bad task id, trigger rule, retries or timeout; named in the message.
    """

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    is_mapped: ClassVar[bool] = False  # a MappedOperator (dagcore.mapping) says True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            # setattr: a type checker refuses assigning to a method.
            setattr(cls, "__init__", _apply_defaults(cls.__dict__["__init__"]))

    def __init__(
        self,
        task_id: str,
        *,
        dag: DAG | None = None,
        owner: str = "airflow",
        email: str | Iterable[str] | None = None,
        email_on_failure: bool = True,
        email_on_retry: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = timedelta(seconds=300),
        retry_exponential_backoff: bool | float = False,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        params: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        queue: str | None = None,
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: timedelta | None = None,
        on_execute_callback: Any = None,
        on_failure_callback: Any = None,
        on_success_callback: Any = None,
        on_retry_callback: Any = None,
        on_skipped_callback: Any = None,
        trigger_rule: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor_config: dict[str, Any] | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        task_group: TaskGroup | None = None,
        map_index_template: str | None = None,
        sla: Any = None,
        inlets: Any = None,
        outlets: Any = None,
        pre_execute: Callable[..., Any] | None = None,
        post_execute: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Invalid arguments were passed to {type(self).__name__} (task_id: "
                            f"{task_id!r}). Invalid arguments were: **kwargs: {kwargs}")
        from dagcore.dag import DagContext
        from dagcore.task_group import TaskGroupContext

        validate_key(task_id, "task_id")
        dag = dag or (task_group.dag if task_group is not None else None) \
            or DagContext.get_current_dag()
        # In a group the id is prefixed (``group.task``), as Airflow's task_group.child_id.
        task_group = task_group or TaskGroupContext.get_current_task_group(dag)
        self.task_id = validate_key(task_group.child_id(task_id) if task_group else task_id,
                                    "task_id")
        self.task_group: TaskGroup | None = None
        self.owner = owner
        self.email = email
        self.email_on_failure = email_on_failure
        self.email_on_retry = email_on_retry
        self.retries = self._check_retries(retries)
        self.retry_delay = self._as_delta(retry_delay, "retry_delay")
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = (None if max_retry_delay is None
                                else self._as_delta(max_retry_delay, "max_retry_delay"))
        for name, value in (("start_date", start_date), ("end_date", end_date)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} of task {task_id!r} must be a timezone-aware datetime, "
                                 f"got {value!r}")
        self.start_date = start_date
        self.end_date = end_date
        self.depends_on_past = bool(depends_on_past or wait_for_downstream)
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.wait_for_downstream = wait_for_downstream
        self.params = ParamsDict(params)
        self.priority_weight = priority_weight
        self.weight_rule = weight_rule
        # Airflow's default: [operators] default_queue (the CeleryExecutor routes by it).
        self.queue = queue if queue is not None else conf.get("operators", "default_queue")
        self.pool = pool or "default_pool"
        self.pool_slots = pool_slots
        if execution_timeout is not None and not isinstance(execution_timeout, timedelta):
            raise ValueError(f"execution_timeout of task {task_id!r} must be a timedelta or "
                             f"None, got {type(execution_timeout).__name__}")
        self.execution_timeout = execution_timeout
        self.on_execute_callback = on_execute_callback
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.on_retry_callback = on_retry_callback
        self.on_skipped_callback = on_skipped_callback
        self._trigger_rule = self._check_trigger_rule(trigger_rule)
        for name, limit in (("max_active_tis_per_dag", max_active_tis_per_dag),
                            ("max_active_tis_per_dagrun", max_active_tis_per_dagrun)):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                      or limit < 1):
                raise ValueError(f"{name} of task {task_id!r} must be a positive int or None, "
                                 f"got {limit!r}")
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor_config = executor_config or {}
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.doc, self.doc_md, self.doc_json, self.doc_yaml, self.doc_rst = (
            doc, doc_md, doc_json, doc_yaml, doc_rst)
        self.task_display_name = task_display_name or self.task_id
        # The label of a mapped task's instances (used only when the task is mapped).
        self.map_index_template = map_index_template
        if sla is not None:  # Airflow 2's SLAs (removed in Airflow 3): accepted, not enforced
            log.warning("task %r: sla is ignored (SLAs were removed in Airflow 3)", task_id)
        # Stored as Airflow does (a list): Asset/AssetAlias entries are what the scheduler
        # uses (docs/airflow-behaviour.md 11); other entries (lineage strings) are kept as is.
        self.inlets: list[Any] = [] if not inlets else (
            list(inlets) if isinstance(inlets, list) else [inlets])
        self.outlets: list[Any] = [] if not outlets else (
            list(outlets) if isinstance(outlets, list) else [outlets])
        # Airflow's pre_execute(context) / post_execute(context, result) hooks, called by the
        # methods of the same name (e.g. to set an outlet's event extra after a classic operator).
        self._pre_execute_hook = pre_execute
        self._post_execute_hook = post_execute
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        self._upstream: dict[str, BaseOperator] = {}
        self._downstream: dict[str, BaseOperator] = {}
        self._dag: DAG | None = None
        if dag is not None:
            dag.add_task(self, task_group)

    # -- validation helpers ----------------------------------------------------------------------

    def _check_retries(self, retries: object) -> int:
        if retries is None:
            return 0
        if isinstance(retries, str) and retries.strip().isdigit():
            retries = int(retries)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"'retries' of task {self.task_id!r} must be a non-negative "
                             f"integer, got {retries!r}")
        return retries

    def _as_delta(self, value: object, name: str) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return timedelta(seconds=value)
        raise TypeError(f"{name} of task {self.task_id!r} must be a timedelta or seconds, got "
                        f"{type(value).__name__}")

    def _check_trigger_rule(self, rule: object) -> TriggerRule:
        if isinstance(rule, TriggerRule):
            return rule
        try:
            return TriggerRule(rule)
        except ValueError:
            known = ", ".join(r.value for r in TriggerRule)
            raise ValueError(f"The trigger_rule must be one of {known}, "
                             f"'{self.task_id}' has {rule!r}.") from None

    # -- attributes ------------------------------------------------------------------------------

    @property
    def trigger_rule(self) -> TriggerRule:
        """When the task may run (a :class:`~dagcore.trigger_rule.TriggerRule`)."""
        return self._trigger_rule

    @trigger_rule.setter
    def trigger_rule(self, rule: TriggerRule | str) -> None:
        self._trigger_rule = self._check_trigger_rule(rule)

    @property
    def dag(self) -> DAG | None:
        """The DAG the task belongs to, or ``None``."""
        return self._dag

    @dag.setter
    def dag(self, dag: DAG) -> None:
        if self._dag is dag:
            return
        if self._dag is not None:
            raise ValueError(f"task {self.task_id!r} already belongs to DAG "
                             f"{self._dag.dag_id!r}, cannot move it to {dag.dag_id!r}")
        dag.add_task(self)

    @property
    def dag_id(self) -> str | None:
        """The id of the task's DAG, or ``None``."""
        return self._dag.dag_id if self._dag is not None else None

    @property
    def has_dag(self) -> bool:
        return self._dag is not None

    @property
    def output(self) -> Any:
        """A reference to the task's return value (Airflow's ``BaseOperator.output``)."""
        from dagcore.decorators import XComArg

        return XComArg(self)

    @property
    def node_id(self) -> str:
        """The task's id (Airflow's ``DAGNode.node_id``, shared with task groups)."""
        return self.task_id

    @property
    def upstream_task_ids(self) -> set[str]:
        """The ids of the direct upstream tasks."""
        return set(self._upstream)

    @property
    def downstream_task_ids(self) -> set[str]:
        """The ids of the direct downstream tasks."""
        return set(self._downstream)

    @property
    def upstream_list(self) -> list[BaseOperator]:
        """The direct upstream tasks, in the order the dependencies were set."""
        return list(self._upstream.values())

    @property
    def downstream_list(self) -> list[BaseOperator]:
        """The direct downstream tasks, in the order the dependencies were set."""
        return list(self._downstream.values())

    def get_direct_relative_ids(self, upstream: bool = False) -> set[str]:
        return self.upstream_task_ids if upstream else self.downstream_task_ids

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """The ids of all tasks upstream (or downstream) of this one, transitively."""
        seen: dict[str, BaseOperator] = {}
        stack = [self]
        while stack:
            task = stack.pop()
            for rel in (task._upstream if upstream else task._downstream).values():
                if rel.task_id not in seen:
                    seen[rel.task_id] = rel
                    stack.append(rel)
        return set(seen)

    # -- dependencies ----------------------------------------------------------------------------

    def _dependency_tasks(self) -> list[BaseOperator]:
        return [self]

    def _add_downstream(self, other: BaseOperator) -> None:
        """Record ``self >> other``, joining DAGs and refusing cycles."""
        if self._dag is not None and other._dag is not None and self._dag is not other._dag:
            raise ValueError(f"Tried to set relationships between tasks in more than one DAG: "
                             f"{self._dag.dag_id!r} and {other._dag.dag_id!r}")
        if other.task_id in self._downstream and self._downstream[other.task_id] is other:
            return
        dag = self._dag or other._dag
        path = _path(other, self)
        if path is not None:
            dag_id = dag.dag_id if dag is not None else None
            cycle = " -> ".join([self.task_id, *[t.task_id for t in path]])
            where = f"DAG {dag_id!r}" if dag_id else "the tasks"
            raise DagCycleError(f"Cycle detected in {where}: {cycle} (setting {self.task_id} >> "
                                f"{other.task_id})")
        if dag is not None:
            for task in (self, other):
                if task._dag is None:
                    dag.add_task(task)
        self._downstream[other.task_id] = other
        other._upstream[self.task_id] = self

    # -- mapping ---------------------------------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """The first half of a mapped task: ``Op.partial(task_id=..., **fixed).expand(...)``
        (see :mod:`dagcore.mapping`).

        Raises:
            TypeError: no ``task_id``, or an argument the operator does not take.
        """
        from dagcore.mapping import OperatorPartial

        return OperatorPartial(cls, kwargs)

    # -- setup / teardown ------------------------------------------------------------------------

    def as_setup(self) -> BaseOperator:
        """Mark the task as a setup task; returns it."""
        if self.is_teardown:
            raise ValueError(f"task {self.task_id!r} cannot be both a setup and a teardown")
        self.is_setup = True
        return self

    def as_teardown(self, *, setups: Any = None,
                    on_failure_fail_dagrun: bool | None = None) -> BaseOperator:
        """Mark the task as a teardown (trigger rule ``all_done_setup_success``); returns it.

        Args:
            setups: setup task(s) (or TaskFlow references) this teardown tears down: they are
                marked as setups and made upstream of it.
            on_failure_fail_dagrun: the teardown's failure fails the run (default False).
        """
        if self.is_setup:
            raise ValueError(f"task {self.task_id!r} cannot be both a setup and a teardown")
        self.is_teardown = True
        self.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if on_failure_fail_dagrun is not None:
            self.on_failure_fail_dagrun = on_failure_fail_dagrun
        if setups is not None:
            for item in _as_list(setups):
                for setup in _dependency_tasks_of(item):
                    setup.as_setup()
                    setup._add_downstream(self)
        return self

    def __enter__(self) -> Any:
        """``with setup_task >> teardown_task:`` (see :mod:`dagcore.setup_teardown`)."""
        from dagcore.setup_teardown import enter_context

        return enter_context(self)

    def __exit__(self, *exc: object) -> None:
        from dagcore.setup_teardown import exit_context

        exit_context(self)

    # -- execution -------------------------------------------------------------------------------

    def execute(self, context: dict[str, Any]) -> Any:
        """Do the task's work; the return value is pushed to XCom (if ``do_xcom_push``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def on_kill(self) -> None:
        """Stop work started by :meth:`execute` (called when the task is killed)."""

    def pre_execute(self, context: dict[str, Any]) -> None:
        """Called right before :meth:`execute` (calls the ``pre_execute`` hook, if given)."""
        hook = getattr(self, "_pre_execute_hook", None)
        if hook is not None:
            hook(context)

    def post_execute(self, context: dict[str, Any], result: Any = None) -> None:
        """Called right after :meth:`execute` with its result (calls the ``post_execute`` hook,
        if given)."""
        hook = getattr(self, "_post_execute_hook", None)
        if hook is not None:
            hook(context, result)

    def render_template(self, content: Any, context: dict[str, Any],
                        jinja_env: Any = None, seen_oids: Any = None) -> Any:
        """``content`` rendered with Jinja against ``context`` (Airflow's
        ``BaseOperator.render_template``: strings, and the items of lists, tuples, sets and
        dicts; XCom references resolved)."""
        from dagcore.templating import get_template_env, render_template

        del seen_oids
        if _xcom_references(content):
            from dagcore.decorators import resolve_xcom_args

            content = resolve_xcom_args(content, context)
        return render_template(content, context, jinja_env or get_template_env(self._dag),
                               template_ext=self.template_ext)

    def render_template_fields(self, context: dict[str, Any]) -> None:
        """Render every attribute named in ``template_fields`` in place with Jinja."""
        from dagcore.templating import get_template_env, render_template

        env = get_template_env(self._dag)
        for name in self.template_fields:
            value = getattr(self, name)
            if _xcom_references(value):  # XCom references first: their values at run time
                from dagcore.decorators import resolve_xcom_args

                value = resolve_xcom_args(value, context)
                setattr(self, name, value)
            if value:
                setattr(self, name, render_template(value, context, env,
                                                    template_ext=self.template_ext))

    def prepare_for_execution(self) -> BaseOperator:
        """A shallow copy to render and execute, so the DAG's task keeps its templates."""
        clone = copy.copy(self)
        return clone

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseOperator:
        cls = type(self)
        result = cls.__new__(cls)
        memo[id(self)] = result
        for key, value in self.__dict__.items():
            if key in ("_dag", "task_group"):
                object.__setattr__(result, key, value)
            elif key in ("_upstream", "_downstream"):
                object.__setattr__(result, key, dict(value))
            else:
                object.__setattr__(result, key, copy.deepcopy(value, memo))
        return result


def _path(start: BaseOperator, goal: BaseOperator) -> list[BaseOperator] | None:
    """A downstream path ``start -> ... -> goal`` (the tasks, start included), or ``None``."""
    if start is goal:
        return [start]
    parents: dict[int, BaseOperator | None] = {id(start): None}
    stack = [start]
    while stack:
        task = stack.pop()
        for nxt in task._downstream.values():
            if id(nxt) in parents:
                continue
            parents[id(nxt)] = task
            if nxt is goal:
                path = [nxt]
                cur: BaseOperator | None = task
                while cur is not None:
                    path.append(cur)
                    cur = parents[id(cur)]
                return path[::-1]
            stack.append(nxt)
    return None


setattr(BaseOperator, "__init__", _apply_defaults(BaseOperator.__init__))


def execute_task(task: BaseOperator, context: dict[str, Any]) -> Any:
    """Run one task in this process: render its template fields on a copy, execute it and push
    its return value to XCom (``return_value``, and one XCom per key with
    ``multiple_outputs``), as Airflow's task runner does.

    Args:
        task: the task.
        context: its context (:func:`dagcore.templating.build_context`); ``context["ti"]`` gives
            the XCom backend, and ``context["task"]`` becomes the rendered copy.

    Returns:
        The value :meth:`BaseOperator.execute` returned.

    Raises:
        TaskSkipped: the task asked to be skipped.
        Exception: whatever the task raised (the try failed).
    """
    from dagcore.xcom import XCOM_RETURN_KEY

    runnable = task.prepare_for_execution()
    context = dict(context)
    context["task"] = runnable
    runnable.render_template_fields(context)
    with _airflow_imports():  # one install for this try's hooks and execute
        runnable.pre_execute(context)
        result = runnable.execute(context)
        ti = context.get("ti")
        if ti is not None and runnable.do_xcom_push and result is not None:
            if runnable.multiple_outputs:
                if not isinstance(result, dict):
                    raise TypeError(f"Returned output was type {type(result).__name__} expected "
                                    f"dictionary for multiple_outputs (task {task.task_id!r})")
                for key, value in result.items():
                    if not isinstance(key, str):
                        raise TypeError(f"Returned dictionary keys must be strings when using "
                                        f"multiple_outputs, found {key!r} ({type(key).__name__}) "
                                        f"instead (task {task.task_id!r})")
                    ti.xcom_push(key, value)
            ti.xcom_push(XCOM_RETURN_KEY, result)
        if ti is not None and task.dag is not None:
            from dagcore.mapping import check_mapped_input

            check_mapped_input(task, result if runnable.do_xcom_push else None)
        runnable.post_execute(context, result)
    return result


def _airflow_imports() -> contextlib.AbstractContextManager[Any]:
    """While a task runs, ``import airflow...`` in its code (``from airflow.operators.python
    import get_current_context`` inside a callable) resolves as it did when the DAG file was
    parsed: the compat layer is on with ``[core] dagbag_compat_airflow``
    (docs/airflow-behaviour.md 8.13)."""
    if not conf.getboolean("core", "dagbag_compat_airflow", fallback=True):
        return contextlib.nullcontext()
    from dagcore.compat import airflow as compat

    return compat.enabled()
