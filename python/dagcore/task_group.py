"""Task groups (Airflow's ``TaskGroup`` and ``@task_group``): named sets of tasks in a DAG.

A group only names and groups tasks: a task created inside ``with TaskGroup("g"):`` gets the id
``g.<task_id>`` (``outer.inner.task`` when nested; no prefix with ``prefix_group_id=False``) and
is an ordinary task of the DAG, so the scheduler and runner need nothing special. Every DAG has
a root group (``dag.task_group``, id ``None``) that holds the tasks and groups not in another.

``group >> x`` links the group's leaves (its tasks with no downstream task inside it) to ``x``,
and ``x >> group`` links ``x`` to its roots, as Airflow's ``get_leaves``/``get_roots``; the group
also records the relation (``upstream_task_ids``, ``upstream_group_ids``...) for the UI.
Behaviour and error texts follow Airflow 3's ``airflow/sdk/definitions/taskgroup.py`` (Airflow 2's
``airflow/utils/task_group.py`` where they agree; where they differ, e.g. an empty group in a
``>>`` chain, Airflow 3's).
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dagcore.exceptions import DagcoreException, DuplicateTaskIdFound
from dagcore.operators.base import BaseOperator, DependencyMixin, _as_list

if TYPE_CHECKING:
    from dagcore.dag import DAG

__all__ = ["TaskAlreadyInTaskGroup", "TaskGroup", "TaskGroupContext", "task_group"]

# Airflow's GROUP_KEY_REGEX: a group id becomes a task id prefix, so no dots.
_GROUP_KEY_RE = re.compile(r"[\w-]+")
_GROUP_KEY_MAX = 200


def validate_group_key(key: object) -> str:
    """Airflow's ``validate_group_key`` (its messages).

    Raises:
        TypeError: not a str.
        ValueError: longer than 200 characters, or other than letters, digits, ``-``, ``_``.
    """
    if not isinstance(key, str):
        raise TypeError(f"The key has to be a string and is {type(key)}:{key}")
    if len(key) > _GROUP_KEY_MAX:
        raise ValueError(f"The key has to be less than {_GROUP_KEY_MAX} characters, not "
                         f"{len(key)}")
    if not _GROUP_KEY_RE.fullmatch(key) or not key.isascii():
        raise ValueError(f"The key {key!r} has to be made of alphanumeric characters, dashes, "
                         f"and underscores exclusively")
    return key


class TaskAlreadyInTaskGroup(DagcoreException, ValueError):
    """A task already in one group is added to another (Airflow's exception and message)."""

    def __init__(self, task_id: str, existing_group_id: str | None, new_group_id: str | None):
        where = ("the DAG's root group" if existing_group_id is None
                 else f"group {existing_group_id!r}")
        super().__init__(f"cannot add {task_id!r} to {new_group_id!r} (already in {where})")


# Airflow's TASKGROUP_ARGS_EXPECTED_TYPES.
_EXPECTED_TYPES: dict[str, type] = {"prefix_group_id": bool, "tooltip": str, "ui_color": str,
                                    "ui_fgcolor": str, "add_suffix_on_collision": bool}


def _check_types(values: Mapping[str, Any]) -> None:
    """Airflow's ``validate_instance_args`` (its message)."""
    for name, expected in _EXPECTED_TYPES.items():
        value = values[name]
        if not isinstance(value, expected):
            raise TypeError(f"{name!r} must be {expected} (got {value!r} that is a "
                            f"{type(value)}).")


class TaskGroup(DependencyMixin):
    """A group of tasks (Airflow's ``TaskGroup``); use it as a context manager in a DAG.

    Args:
        group_id: the group's id (letters, digits, ``-``, ``_``); ``None`` only for a DAG's root.
        prefix_group_id: prefix the ids of the tasks (and groups) inside with ``group_id.``.
        parent_group: the enclosing group (default: the innermost open one, or the DAG's root).
        dag: the DAG (default: the enclosing ``with DAG(...)``).
        default_args: defaults for the operators inside, over the DAG's (and the parent
            group's) and under an operator's own ``default_args``.
        tooltip, ui_color, ui_fgcolor: shown by the UI.
        add_suffix_on_collision: an id already used becomes ``id__1``, ``id__2``... instead of
            an error (what ``@task_group`` does).

    Raises:
        DuplicateTaskIdFound: the group id is already used in the DAG.
        ValueError: a bad group id, or no DAG to belong to.
    """

    def __init__(self, group_id: str | None, prefix_group_id: bool = True,
                 parent_group: TaskGroup | None = None, dag: DAG | None = None,
                 default_args: Mapping[str, Any] | None = None, tooltip: str = "",
                 ui_color: str = "CornflowerBlue", ui_fgcolor: str = "#000",
                 add_suffix_on_collision: bool = False) -> None:
        from dagcore.dag import DagContext

        _check_types({"prefix_group_id": prefix_group_id, "tooltip": tooltip,
                      "ui_color": ui_color, "ui_fgcolor": ui_fgcolor,
                      "add_suffix_on_collision": add_suffix_on_collision})
        if default_args is not None and not isinstance(default_args, Mapping):
            raise TypeError(f"default_args of TaskGroup {group_id!r} must be a mapping, got "
                            f"{type(default_args).__name__}")
        self.prefix_group_id = prefix_group_id
        self.default_args: dict[str, Any] = copy.deepcopy(dict(default_args or {}))
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        self.upstream_group_ids: set[str | None] = set()
        self.downstream_group_ids: set[str | None] = set()
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self._group_id = group_id
        dag = dag or (parent_group.dag if parent_group is not None else None) \
            or DagContext.get_current_dag()
        self.dag: DAG | None = dag
        if group_id is None:
            if parent_group is not None:
                raise ValueError("Root TaskGroup cannot have parent_group")
            self._parent_group: TaskGroup | None = None
            self.used_group_ids: set[str | None] = {None}
            return
        if prefix_group_id:
            validate_group_key(group_id)
        elif not isinstance(group_id, str) or not group_id:
            raise ValueError(f"group_id must be a non-empty str, got {group_id!r}")
        if dag is None:
            raise ValueError(f"TaskGroup {group_id!r} can only be used inside a dag")
        parent_group = parent_group or TaskGroupContext.get_current_task_group(dag)
        if parent_group is None or parent_group.dag is not dag:
            raise ValueError(f"Cannot mix TaskGroups from different DAGs: TaskGroup {group_id!r}"
                             f" of {dag!r} in a group of "
                             f"{parent_group.dag if parent_group else None!r}")
        self._parent_group = parent_group
        self.used_group_ids = parent_group.used_group_ids
        self._check_for_group_id_collisions(add_suffix_on_collision)
        parent_group.add(self)
        if parent_group.default_args:
            self.default_args = {**parent_group.default_args, **self.default_args}
        self.used_group_ids.update((self.group_id, self.upstream_join_id,
                                    self.downstream_join_id))

    @classmethod
    def create_root(cls, dag: DAG) -> TaskGroup:
        """The root group of ``dag`` (id ``None``): what ``dag.task_group`` is."""
        return cls(None, dag=dag)

    def _check_for_group_id_collisions(self, add_suffix_on_collision: bool) -> None:
        """Airflow 3's check: the full id is already used (by a group or a task) -> error, or
        the next ``__N``."""
        if not self._id_taken(self.group_id):
            return
        if not add_suffix_on_collision:
            raise DuplicateTaskIdFound(f"group_id '{self._group_id}' has already been added to "
                                       f"the DAG")
        assert self._group_id is not None
        base = re.split(r"__\d+$", self._group_id)[0]
        full_base = re.split(r"__\d+$", self.group_id or "")[0]
        taken = [*self.used_group_ids, *(self.dag.task_dict if self.dag is not None else ())]
        suffixes = [int(m.group(1)) for used in taken if used is not None
                    if (m := re.fullmatch(rf"{re.escape(full_base)}__(\d+)", used))]
        self._group_id = f"{base}__{max(suffixes, default=0) + 1}"

    def _id_taken(self, node_id: str | None) -> bool:
        return node_id in self.used_group_ids or (
            self.dag is not None and node_id in self.dag.task_dict)

    # -- ids -------------------------------------------------------------------------------------

    @property
    def group_id(self) -> str | None:
        """The full id: prefixed with the parent's id when the parent prefixes its children."""
        parent = self._parent_group
        if parent is not None and parent.prefix_group_id and parent._group_id:
            return parent.child_id(self._group_id or "")
        return self._group_id

    @property
    def node_id(self) -> str | None:
        return self.group_id

    @property
    def label(self) -> str | None:
        """The id without the parent's prefix."""
        return self._group_id

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    @property
    def parent_group(self) -> TaskGroup | None:
        return self._parent_group

    @property
    def upstream_join_id(self) -> str:
        return f"{self.group_id}.upstream_join_id"

    @property
    def downstream_join_id(self) -> str:
        return f"{self.group_id}.downstream_join_id"

    def child_id(self, label: str) -> str:
        """The id a child labelled ``label`` gets: ``group_id.label`` when prefixing."""
        if self.prefix_group_id:
            group_id = self.group_id
            if group_id:
                return f"{group_id}.{label}"
        return label

    # -- children --------------------------------------------------------------------------------

    def add(self, node: BaseOperator | TaskGroup) -> BaseOperator | TaskGroup:
        """Add a task or an (empty) group as a child; adding the same task again is a no-op.

        Raises:
            DuplicateTaskIdFound: another child has the same id (Airflow's message).
            TaskAlreadyInTaskGroup: the task is in another group.
            ValueError: the group is not empty.
        """
        key = node.node_id if isinstance(node, TaskGroup) else node.task_id
        assert key is not None
        if self.children.get(key) is node:
            return node
        if key in self.children:
            kind = "Task" if isinstance(node, BaseOperator) else "Task Group"
            raise DuplicateTaskIdFound(f"{kind} id '{key}' has already been added to the DAG")
        if isinstance(node, BaseOperator):
            existing = node.task_group
            if existing is not None and existing is not self:
                raise TaskAlreadyInTaskGroup(node.task_id, existing.group_id, self.group_id)
            node.task_group = self
            group: TaskGroup | None = self
            while group is not None:  # a task anywhere inside a mapped group is mapped
                if getattr(group, "is_mapped_group", False):
                    group.adopt(node)  # type: ignore[attr-defined]
                    break
                group = group.parent_group
        elif node.children:
            raise ValueError(f"Cannot add a non-empty TaskGroup {key!r}")
        self.children[key] = node
        return node

    def __iter__(self) -> Iterator[BaseOperator]:
        """The tasks in the group and its subgroups, depth first."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child
            else:
                yield child

    def iter_tasks(self) -> Iterator[BaseOperator]:
        """The tasks in the group, then those of its subgroups, breadth first (Airflow 3's
        ``iter_tasks``; iterating the group itself goes depth first, as Airflow's)."""
        to_visit: list[TaskGroup] = [self]
        while to_visit:
            visiting = to_visit.pop(0)
            for child in visiting.children.values():
                if isinstance(child, TaskGroup):
                    to_visit.append(child)
                else:
                    yield child

    def iter_task_groups(self) -> Iterator[TaskGroup]:
        """The groups below this one, depth first (not this one)."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield child
                yield from child.iter_task_groups()

    def get_child_by_label(self, label: str) -> BaseOperator | TaskGroup:
        return self.children[self.child_id(label)]

    def get_task_group_dict(self) -> dict[str | None, TaskGroup]:
        """This group and all below it, by group id."""
        return {self.group_id: self, **{g.group_id: g for g in self.iter_task_groups()}}

    def get_roots(self) -> list[BaseOperator]:
        """Tasks with no upstream task inside the group (Airflow's ``get_roots``)."""
        tasks = list(self)
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if t.upstream_task_ids.isdisjoint(ids)]

    def get_leaves(self) -> list[BaseOperator]:
        """Tasks with no downstream task inside the group; a teardown is replaced by the
        tasks it tears down after (Airflow's ``get_leaves``)."""
        tasks = list(self)
        ids = {t.task_id for t in tasks}

        def has_non_teardown_downstream(task: BaseOperator, exclude: str) -> bool:
            return any(d.task_id != exclude and d.task_id in ids and not d.is_teardown
                       for d in task.downstream_list)

        def first_non_teardown(task: BaseOperator) -> Iterator[BaseOperator]:
            for up in task.upstream_list:
                if up.task_id not in ids:
                    continue
                if up.is_teardown:
                    yield from first_non_teardown(up)
                elif task.is_teardown and up.is_setup:
                    continue
                elif not has_non_teardown_downstream(up, exclude=task.task_id):
                    yield up

        leaves: dict[str, BaseOperator] = {}
        for task in tasks:
            if task.downstream_task_ids.isdisjoint(ids):
                for leaf in first_non_teardown(task) if task.is_teardown else [task]:
                    leaves.setdefault(leaf.task_id, leaf)
        return list(leaves.values())

    @property
    def roots(self) -> list[BaseOperator]:
        return self.get_roots()

    @property
    def leaves(self) -> list[BaseOperator]:
        return self.get_leaves()

    # -- dependencies ----------------------------------------------------------------------------

    def _dependency_tasks(self) -> list[BaseOperator]:
        return list(self)

    def _as_upstream(self) -> list[BaseOperator]:
        return self.get_leaves()

    def _as_downstream(self) -> list[BaseOperator]:
        return self.get_roots()

    def _update_relative(self, other: Any, upstream: bool) -> None:
        """Record that ``other`` is upstream (or downstream) of the whole group (Airflow's
        ``update_relative``: kept for the UI, edges are set on the tasks)."""
        if isinstance(other, TaskGroup):
            parent, child = (self, other) if upstream else (other, self)
            parent.upstream_group_ids.add(child.group_id)
            child.downstream_group_ids.add(parent.group_id)
            return
        for task in other._as_downstream():
            (self.upstream_task_ids if upstream else self.downstream_task_ids).add(task.task_id)

    def set_upstream(self, other: Any) -> None:
        """``other >> group``: ``other`` becomes upstream of the group's roots."""
        items = _as_list(other)
        for item in items:
            self._update_relative(_checked(item), upstream=True)
        for task in self.get_roots():
            task.set_upstream(items)

    def set_downstream(self, other: Any) -> None:
        """``group >> other``: the group's leaves become upstream of ``other``."""
        items = _as_list(other)
        leaves = self._find_leaves()
        for item in items:
            self._update_relative(_checked(item), upstream=False)
        for task in leaves:
            task.set_downstream(items)

    def _find_leaves(self) -> list[BaseOperator]:
        """The leaves ``group >> x`` links from: an empty group passes on what is upstream of
        it (else its parent's leaves), so ``t >> empty >> g`` still links ``t`` to ``g``
        (Airflow 3's ``_set_relatives``/``find_leaves``)."""
        group: TaskGroup | None = self
        while group is not None:
            leaves = group.get_leaves()
            if leaves:
                return leaves
            if group.upstream_task_ids and self.dag is not None:
                return [self.dag.task_dict[t] for t in sorted(group.upstream_task_ids)]
            group = group.parent_group
        return []

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> TaskGroup:
        TaskGroupContext.push(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        TaskGroupContext.pop()

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"


def _checked(item: Any) -> DependencyMixin:
    if isinstance(item, DependencyMixin):
        return item
    raise TypeError(f"dependencies can only be set between operators, task groups (or TaskFlow "
                    f"results), got {type(item).__name__}: {item!r}")


class TaskGroupContext:
    """The stack of groups opened with ``with TaskGroup(...)`` (per thread)."""

    _local = threading.local()

    @classmethod
    def _stack(cls) -> list[TaskGroup]:
        if not hasattr(cls._local, "stack"):
            cls._local.stack = []
        stack: list[TaskGroup] = cls._local.stack
        return stack

    @classmethod
    def push(cls, group: TaskGroup) -> None:
        cls._stack().append(group)

    @classmethod
    def pop(cls) -> TaskGroup | None:
        stack = cls._stack()
        return stack.pop() if stack else None

    @classmethod
    def get_current_task_group(cls, dag: DAG | None) -> TaskGroup | None:
        """The innermost open group of ``dag``, else ``dag``'s root group (``None`` without a
        DAG)."""
        for group in reversed(cls._stack()):
            if group.dag is dag:
                return group
        return dag.task_group if dag is not None else None


class _TaskGroupDecorator:
    """A ``@task_group`` function: each call builds a group (ids ``name``, ``name__1``...)."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.tg_kwargs = kwargs
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> _TaskGroupDecorator:
        """The same decorator with other TaskGroup arguments (``group_id=``, ``tooltip=``...)."""
        return _TaskGroupDecorator(self.function, {**self.tg_kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> _PartialTaskGroup:
        """Fix some of the function's arguments of a mapped task group (then ``expand``)."""
        return _PartialTaskGroup(self, kwargs)

    def expand(self, **kwargs: Any) -> Any:
        """A mapped task group: the group's tasks run once per item of the inputs."""
        return _PartialTaskGroup(self, {}).expand(**kwargs)

    def expand_kwargs(self, kwargs: Any) -> Any:
        """A mapped task group: the group's tasks run once per dict of arguments."""
        return _PartialTaskGroup(self, {}).expand_kwargs(kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Build the group by calling the function inside it; returns what the function
        returned (a task or reference, which ``>>`` then binds to), else the group."""
        try:
            inspect.signature(self.function).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.function.__name__}: {exc}") from None
        tg_kwargs: dict[str, Any] = {"group_id": self.function.__name__, **self.tg_kwargs}
        tg_kwargs.setdefault("add_suffix_on_collision", True)
        with TaskGroup(**tg_kwargs) as group:
            if self.function.__doc__ and not group.tooltip:
                group.tooltip = self.function.__doc__
            retval = self.function(*args, **kwargs)
        return group if retval is None else retval


class _PartialTaskGroup:
    """``group_fn.partial(**fixed)``: a ``@task_group`` with some arguments fixed."""

    def __init__(self, decorator: _TaskGroupDecorator, kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = kwargs

    def expand(self, **kwargs: Any) -> Any:
        from dagcore.mapping import DictOfListsExpandInput

        if not kwargs:
            raise TypeError("no arguments to expand against")
        both = sorted(set(kwargs) & set(self.kwargs))
        if both:
            raise TypeError(f"{self.decorator.function.__name__}() got an argument given to "
                            f"both partial() and expand(): {both[0]!r}")
        return self._build(DictOfListsExpandInput(kwargs), list(kwargs))

    def expand_kwargs(self, kwargs: Any) -> Any:
        from dagcore.mapping import ListOfDictsExpandInput

        names = [n for n in inspect.signature(self.decorator.function).parameters
                 if n not in self.kwargs]
        return self._build(ListOfDictsExpandInput(kwargs), names)

    def _build(self, expand_input: Any, mapped_names: list[str]) -> Any:
        from dagcore.mapping import MappedArgument, MappedTaskGroup

        function = self.decorator.function
        tg_kwargs: dict[str, Any] = {"group_id": function.__name__, **self.decorator.tg_kwargs}
        tg_kwargs.setdefault("add_suffix_on_collision", True)
        group = MappedTaskGroup(expand_input=expand_input, **tg_kwargs)
        arguments = {**self.kwargs, **{name: MappedArgument(group, name)
                                       for name in mapped_names}}
        try:
            inspect.signature(function).bind(**arguments)
        except TypeError as exc:
            raise TypeError(f"{function.__name__}: {exc}") from None
        with group:
            if function.__doc__ and not group.tooltip:
                group.tooltip = function.__doc__
            retval = function(**arguments)
        return group if retval is None else retval


def task_group(python_callable: Callable[..., Any] | None = None, **tg_kwargs: Any) -> Any:
    """Airflow's ``@task_group``: usable as ``@task_group`` or ``@task_group(group_id=...)``.

    The group id defaults to the function's name and the tooltip to its docstring.
    """
    unknown = set(tg_kwargs) - _TASK_GROUP_PARAMETERS
    if unknown:
        raise TypeError(f"@task_group got unexpected keyword argument(s): "
                        f"{', '.join(sorted(unknown))}")
    if python_callable is not None:
        if not callable(python_callable):
            raise TypeError(f"@task_group needs a callable, got "
                            f"{type(python_callable).__name__}")
        return _TaskGroupDecorator(python_callable, tg_kwargs)
    return lambda func: _TaskGroupDecorator(func, tg_kwargs)


_TASK_GROUP_PARAMETERS: frozenset[str] = frozenset(
    name for name in inspect.signature(TaskGroup.__init__).parameters if name != "self")
