"""Dynamic task mapping: ``.partial(...).expand(...)``, ``expand_kwargs``, ``XComArg.map``/``zip``.

Design note. A mapped task is one node of the DAG (one task id) that the scheduler turns into
``n`` task instances (``map_index`` 0..n-1) once the length of its input is known, as Airflow
does (docs/airflow-behaviour.md 3.10). :class:`MappedOperator` is that node: a
:class:`~dagcore.operators.base.BaseOperator` holding the scheduling settings (retries, pool,
trigger rule... taken from the ``partial`` arguments), the operator class and the arguments that
build each instance's real operator at run time (:meth:`MappedOperator.unmap`), and the expand
input. The input's *length* is described as data (:meth:`ExpandInput.length_spec`) so the
scheduler computes it from the database without the DAG's code: literals have their length at
parse time, an upstream task's XCom its list or dict length (or, for a mapped upstream, the number
of values its instances pushed), ``zip`` the shortest (or longest, with a fill value), several
``expand`` keywords the product of their lengths.

Each instance's value, as Airflow's ``DictOfListsExpandInput``: with several keywords the last
varies fastest; a dict maps to ``(key, value)`` pairs in its order.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from dagcore.operators.base import BaseOperator, _init_parameter_names

__all__ = [
    "NOTSET",
    "DictOfListsExpandInput",
    "ExpandInput",
    "ListOfDictsExpandInput",
    "MapXComArg",
    "MappedArgument",
    "MappedOperator",
    "MappedTaskGroup",
    "OperatorPartial",
    "UnmappableXComLengthPushed",
    "UnmappableXComTypePushed",
    "XComForMappingNotPushed",
    "ZipXComArg",
    "check_mapped_input",
    "mapped_length",
    "unmap_task",
]


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()
"""No fill value (``zip`` stops at the shortest input)."""

# BaseOperator arguments that cannot be mapped: they decide how the task is scheduled, which
# must be known before it expands (Airflow's mappable-argument validation).
_UNMAPPABLE = frozenset({"task_id", "dag", "task_group", "trigger_rule", "depends_on_past",
                         "wait_for_downstream", "pool", "pool_slots", "queue", "priority_weight",
                         "weight_rule", "max_active_tis_per_dag", "max_active_tis_per_dagrun",
                         "start_date", "end_date", "default_args", "map_index_template"})


def _is_xcom_arg(value: object) -> bool:
    from dagcore.decorators import XComArg

    return isinstance(value, XComArg)


# -------------------------------------------------------------------------------------------------
# XComArg.map and zip


class MapXComArg:
    """``arg.map(fn)``: the upstream value with ``fn`` applied to each item when it is used."""

    _is_xcom_reference = True

    def __init__(self, arg: Any, callables: Sequence[Callable[[Any], Any]]) -> None:
        for fn in callables:
            if not callable(fn):
                raise TypeError(f"map() needs a callable, got {type(fn).__name__}")
        self.arg = arg
        self.callables = tuple(callables)

    @property
    def operator(self) -> BaseOperator:
        return self.arg.operator

    def _dependency_tasks(self) -> list[BaseOperator]:
        return self.arg._dependency_tasks()

    def references(self) -> list[Any]:
        return _references_of(self.arg)

    def map(self, fn: Callable[[Any], Any]) -> MapXComArg:
        return MapXComArg(self.arg, (*self.callables, fn))

    def zip(self, *others: Any, fillvalue: Any = NOTSET) -> ZipXComArg:
        return ZipXComArg((self, *others), fillvalue=fillvalue)

    def _apply(self, value: Any) -> Any:
        for fn in self.callables:
            value = fn(value)
        return value

    def resolve(self, context: Mapping[str, Any]) -> list[Any]:
        return [self._apply(v) for v in _items(_resolve(self.arg, context))]

    def length_spec(self) -> dict[str, Any]:
        return _length_spec(self.arg)

    def __repr__(self) -> str:
        return f"{self.arg!r}.map({', '.join(getattr(f, '__name__', '?') for f in self.callables)})"


class ZipXComArg:
    """``arg.zip(*others, fillvalue=...)``: tuples of the inputs' items, as Python's ``zip`` (or
    ``itertools.zip_longest`` with a fill value)."""

    _is_xcom_reference = True

    def __init__(self, args: Sequence[Any], *, fillvalue: Any = NOTSET) -> None:
        if not args:
            raise ValueError("zip() needs at least one input")
        self.args = tuple(args)
        self.fillvalue = fillvalue

    def _dependency_tasks(self) -> list[BaseOperator]:
        return [t for arg in self.args if _is_reference(arg) for t in arg._dependency_tasks()]

    def references(self) -> list[Any]:
        return [ref for arg in self.args for ref in _references_of(arg)]

    def map(self, fn: Callable[[Any], Any]) -> MapXComArg:
        return MapXComArg(self, (fn,))

    def resolve(self, context: Mapping[str, Any]) -> list[Any]:
        import itertools

        values = [list(_items(_resolve(arg, context))) for arg in self.args]
        if self.fillvalue is NOTSET:
            return list(zip(*values))
        return list(itertools.zip_longest(*values, fillvalue=self.fillvalue))

    def length_spec(self) -> dict[str, Any]:
        return {"zip": [_length_spec(arg) for arg in self.args],
                "longest": self.fillvalue is not NOTSET}


def _is_reference(value: object) -> bool:
    return _is_xcom_arg(value) or isinstance(value, (MapXComArg, ZipXComArg))


def _references_of(value: Any) -> list[Any]:
    if _is_xcom_arg(value):
        return [value]
    if isinstance(value, (MapXComArg, ZipXComArg)):
        return value.references()
    return []


def _resolve(value: Any, context: Mapping[str, Any]) -> Any:
    if _is_reference(value):
        return value.resolve(context)
    return value


def _items(value: Any) -> list[Any]:
    """The items a value maps over: a list's items, a dict's ``(key, value)`` pairs."""
    if isinstance(value, Mapping):
        return list(value.items())
    return list(value)


def _check_mappable(value: Any, what: str) -> None:
    if _is_reference(value):
        return
    mappable = (Sequence, Mapping, set, frozenset)
    if isinstance(value, (str, bytes)) or not isinstance(value, mappable):
        raise ValueError(f"Cannot map over {what}: expected a list, a dict or an XCom reference, "
                         f"got {type(value).__name__} {value!r}")


def _length_spec(value: Any) -> dict[str, Any]:
    """How long ``value`` maps, as data the scheduler reads (see :func:`mapped_length`)."""
    if isinstance(value, (MapXComArg, ZipXComArg)):
        return value.length_spec()
    if _is_xcom_arg(value):
        operator = value.operator
        return {"xcom": operator.task_id, "key": value.key,
                "mapped": isinstance(operator, MappedOperator)}
    return {"literal": len(value)}


def mapped_length(spec: Mapping[str, Any],
                  xcom_length: Callable[[str, str, bool], int | None]) -> int | None:
    """The number of instances a length spec stands for, or None while an input is unknown.

    Args:
        spec: :meth:`ExpandInput.length_spec`'s data.
        xcom_length: ``(task_id, key, mapped) -> length`` of an upstream XCom (None: not pushed).
    """
    if "literal" in spec:
        return int(spec["literal"])
    if "xcom" in spec:
        return xcom_length(spec["xcom"], spec.get("key", "return_value"),
                           bool(spec.get("mapped")))
    if "zip" in spec:
        lengths = [mapped_length(s, xcom_length) for s in spec["zip"]]
        if any(n is None for n in lengths):
            return None
        return max(lengths) if spec.get("longest") else min(lengths)  # type: ignore[type-var]
    if "product" in spec:
        lengths = [mapped_length(s, xcom_length) for s in spec["product"]]
        if any(n is None for n in lengths):
            return None
        return math.prod(lengths)  # type: ignore[arg-type]
    raise ValueError(f"unknown mapped length spec {dict(spec)!r}")


# -------------------------------------------------------------------------------------------------
# what an upstream task must push for the tasks mapped over it


class XComForMappingNotPushed(TypeError):
    """A task mapped over returned nothing (Airflow's ``XComForMappingNotPushed``)."""

    def __str__(self) -> str:
        return "did not push XCom for task mapping"


class UnmappableXComTypePushed(TypeError):
    """A task mapped over returned something that is not a list or dict."""

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"unmappable return type {type(self.value).__qualname__!r}"


class UnmappableXComLengthPushed(ValueError):
    """A task mapped over returned more items than ``[core] max_map_length``."""

    def __init__(self, length: int, max_length: int) -> None:
        super().__init__(length, max_length)
        self.length, self.max_length = length, max_length

    def __str__(self) -> str:
        return f"unmappable return value length: {self.length} > {self.max_length}"


def _maps_over(mapped: BaseOperator, task: BaseOperator) -> bool:
    refs = mapped.expand_input.references()  # type: ignore[attr-defined]
    return any(ref.operator.task_id == task.task_id and ref.key == "return_value" for ref in refs)


def check_mapped_input(task: BaseOperator, value: Any) -> None:
    """Fail ``task`` as Airflow does when a task mapped over its return value cannot use it:
    nothing pushed, not a list or dict, or longer than ``[core] max_map_length`` (1024).

    Raises:
        XComForMappingNotPushed, UnmappableXComTypePushed, UnmappableXComLengthPushed.
    """
    node = task.dag.task_dict.get(task.task_id, task) if task.dag is not None else task
    if node.is_mapped or not any(d.is_mapped and _maps_over(d, task)
                                 for d in task.downstream_list):
        return  # an instance of a mapped task pushes one value each: no length to check
    if value is None:
        raise XComForMappingNotPushed()
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, Mapping)):
        raise UnmappableXComTypePushed(value)
    from dagcore.configuration import conf

    limit = int(conf.get("core", "max_map_length", fallback=1024))
    if len(value) > limit:
        raise UnmappableXComLengthPushed(len(value), limit)


# -------------------------------------------------------------------------------------------------
# expand inputs


class ExpandInput:
    """What a mapped task expands over."""

    def references(self) -> list[Any]:
        raise NotImplementedError

    def length_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def resolve(self, context: Mapping[str, Any], map_index: int) -> dict[str, Any]:
        """The keyword arguments of instance ``map_index``."""
        raise NotImplementedError


class DictOfListsExpandInput(ExpandInput):
    """``expand(a=[...], b=xcom)``: the product of the inputs, the last keyword fastest."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        for key, item in value.items():
            _check_mappable(item, f"argument {key!r}")
        self.value = dict(value)

    def references(self) -> list[Any]:
        return [ref for item in self.value.values() for ref in _references_of(item)]

    def length_spec(self) -> dict[str, Any]:
        return {"product": [_length_spec(v) for v in self.value.values()]}

    def resolve(self, context: Mapping[str, Any], map_index: int) -> dict[str, Any]:
        values = {key: _items(_resolve(item, context)) for key, item in self.value.items()}
        out: dict[str, Any] = {}
        index = map_index
        for key in reversed(list(self.value)):
            items = values[key]
            if not items:
                raise ValueError(f"cannot expand {key!r}: it maps over nothing")
            out[key] = items[index % len(items)]
            index //= len(items)
        return {key: out[key] for key in self.value}


class ListOfDictsExpandInput(ExpandInput):
    """``expand_kwargs([...])``: one dict of keyword arguments per instance."""

    def __init__(self, value: Any) -> None:
        if not _is_reference(value):
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
                raise TypeError(f"expand_kwargs() expects a list of dicts or an XCom "
                                f"reference, got {type(value).__name__}")
            for item in value:
                if not isinstance(item, Mapping) and not _is_reference(item):
                    raise TypeError(f"expand_kwargs() expects a list of dicts, got an item of "
                                    f"type {type(item).__name__}")
        self.value = value

    def references(self) -> list[Any]:
        if _is_reference(self.value):
            return _references_of(self.value)
        return [ref for item in self.value for ref in _references_of(item)]

    def length_spec(self) -> dict[str, Any]:
        return _length_spec(self.value)

    def resolve(self, context: Mapping[str, Any], map_index: int) -> dict[str, Any]:
        items = _items(_resolve(self.value, context))
        kwargs = _resolve(items[map_index], context)
        if not isinstance(kwargs, Mapping):
            raise ValueError(f"expand_kwargs() input item {map_index} is a "
                             f"{type(kwargs).__name__}, not a dict")
        for key in kwargs:
            if not isinstance(key, str):
                raise ValueError(f"expand_kwargs() input item {map_index} has a non-str key "
                                 f"{key!r}")
        return dict(kwargs)


# -------------------------------------------------------------------------------------------------
# operators


def _operator_parameters(operator_class: type) -> frozenset[str]:
    """The keyword names the constructors of the class's MRO declare (``**kwargs`` passed on to
    a base class adds none), as Airflow validates ``partial``/``expand`` arguments."""
    return _init_parameter_names(operator_class)


class OperatorPartial:
    """``SomeOperator.partial(task_id=..., **fixed)``: call :meth:`expand` or
    :meth:`expand_kwargs` to make the mapped task."""

    def __init__(self, operator_class: type[BaseOperator], kwargs: dict[str, Any]) -> None:
        if "task_id" not in kwargs:
            raise TypeError(f"{operator_class.__name__}.partial() missing required argument: "
                            f"'task_id'")
        unknown = sorted(set(kwargs) - _operator_parameters(operator_class) - {"default_args"})
        if unknown:
            raise TypeError(f"{operator_class.__name__}.partial() got unexpected keyword "
                            f"arguments: {', '.join(map(repr, unknown))}")
        self.operator_class = operator_class
        self.kwargs = kwargs
        self._expanded = False

    def expand(self, **mapped_kwargs: Any) -> MappedOperator:
        """Map over the given arguments (lists, dicts or XCom references)."""
        if not mapped_kwargs:
            raise TypeError("no arguments to expand against")
        name = self.operator_class.__name__
        unmappable = sorted(set(mapped_kwargs) & _UNMAPPABLE)
        if unmappable:
            raise ValueError(f"cannot map over {', '.join(map(repr, unmappable))} of {name}: "
                             f"it decides how the task is scheduled")
        unknown = sorted(set(mapped_kwargs) - _operator_parameters(self.operator_class))
        if unknown:
            raise TypeError(f"{name}.expand() got an unexpected keyword argument "
                            f"{unknown[0]!r}")
        both = sorted(set(mapped_kwargs) & set(self.kwargs))
        if both:
            raise TypeError(f"{name}.expand() got an argument also given to partial(): "
                            f"{both[0]!r}")
        return self._make(DictOfListsExpandInput(mapped_kwargs))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> MappedOperator:
        """Map over a list of keyword-argument dicts (or an XCom reference to one)."""
        del strict
        return self._make(ListOfDictsExpandInput(kwargs))

    def _make(self, expand_input: ExpandInput) -> MappedOperator:
        if self._expanded:
            raise RuntimeError("this partial() has already been expanded")
        self._expanded = True
        return MappedOperator(self.operator_class, self.kwargs, expand_input)


def _scheduling_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``partial`` arguments BaseOperator itself takes (retries, pool, trigger rule...)."""
    names = _operator_parameters(BaseOperator)
    return {k: v for k, v in kwargs.items() if k in names or k == "default_args"}


class MappedOperator(BaseOperator):
    """A task expanded into many instances at run time (see the module docstring).

    Args:
        operator_class: the class of each instance's operator.
        partial_kwargs: the fixed arguments (``partial(...)``).
        expand_input: what it maps over.
    """

    is_mapped = True

    def __init__(self, operator_class: type[BaseOperator], partial_kwargs: dict[str, Any],
                 expand_input: ExpandInput, **defaults: Any) -> None:
        # ``defaults``: the DAG's (and group's) default_args that the constructor wrapper fills
        # in for BaseOperator's arguments; ``partial`` arguments win over them.
        kwargs = _scheduling_kwargs(partial_kwargs)
        for name, value in defaults.items():
            kwargs.setdefault(name, value)
        task_id = kwargs.pop("task_id")
        super().__init__(task_id, **kwargs)
        self.operator_class = operator_class
        self.partial_kwargs = dict(partial_kwargs)
        self.expand_input = expand_input
        # The real operator's, for the UI and the serialized form (instance attributes).
        setattr(self, "template_fields", tuple(getattr(operator_class, "template_fields", ())))
        setattr(self, "ui_color", getattr(operator_class, "ui_color", "#fff"))
        if getattr(operator_class, "inherits_from_empty_operator", False):
            self.inherits_from_empty_operator = True
        for ref in expand_input.references():
            for upstream in ref._dependency_tasks():
                self.set_upstream(upstream)

    @property
    def operator_name(self) -> str:
        return self.operator_class.__name__

    def unmap(self, context: Mapping[str, Any], map_index: int) -> BaseOperator:
        """The real operator of instance ``map_index``: the ``partial`` arguments with the
        instance's expanded values, outside any DAG context (it is not added to the DAG, whose
        node this mapped task stays), then attached to this task's DAG and relatives."""
        mapped = self.expand_input.resolve(context, map_index)
        kwargs = dict(self.partial_kwargs)
        kwargs.pop("task_id", None)
        kwargs.pop("task_group", None)
        kwargs.pop("dag", None)
        defaults: dict[str, Any] = {}
        if self._dag is not None:
            defaults.update(self._dag.default_args)
        if self.task_group is not None:
            defaults.update(getattr(self.task_group, "default_args", {}) or {})
        defaults.update(kwargs.pop("default_args", None) or {})
        kwargs.update(self._merge_mapped(kwargs, mapped))
        with _no_open_dag():
            operator = self.operator_class(task_id=self.task_id, default_args=defaults, **kwargs)
        for name in ("_dag", "task_group"):
            object.__setattr__(operator, name, getattr(self, name))
        operator._upstream = dict(self._upstream)
        operator._downstream = dict(self._downstream)
        operator.is_setup, operator.is_teardown = self.is_setup, self.is_teardown
        operator.map_index_template = self.map_index_template
        return operator

    def _merge_mapped(self, kwargs: dict[str, Any], mapped: dict[str, Any]) -> dict[str, Any]:
        """Mapped values over the fixed ones (``op_kwargs`` of a decorated task merge)."""
        return mapped

    def execute(self, context: dict[str, Any]) -> Any:
        raise RuntimeError(f"the mapped task {self.task_id!r} runs as its expanded instances "
                           f"(MappedOperator.unmap)")

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}): {self.task_id}>"


class DecoratedMappedOperator(MappedOperator):
    """A mapped ``@task``: expanded values become the function's keyword arguments."""

    def _merge_mapped(self, kwargs: dict[str, Any], mapped: dict[str, Any]) -> dict[str, Any]:
        return {"op_kwargs": {**(kwargs.get("op_kwargs") or {}), **mapped}}


@contextlib.contextmanager
def _no_open_dag() -> Iterator[None]:
    """No ``with DAG``/``TaskGroup`` block open while an instance's operator is built (it must
    not join whatever DAG the caller has open, as Airflow builds unmapped operators)."""
    from dagcore.dag import DagContext
    from dagcore.task_group import TaskGroupContext

    dags, groups = DagContext._stack(), TaskGroupContext._stack()
    saved = (dags[:], groups[:])
    dags.clear()
    groups.clear()
    try:
        yield
    finally:
        dags[:] = saved[0]
        groups[:] = saved[1]


# -------------------------------------------------------------------------------------------------
# mapped task groups


class MappedArgument:
    """A ``@task_group`` function's mapped parameter: its value at the instance's map index."""

    def __init__(self, group: MappedTaskGroup, key: str) -> None:
        self.group = group
        self.key = key

    def resolve(self, context: Mapping[str, Any]) -> Any:
        index = context["ti"].map_index
        return self.group.expand_input.resolve(context, index)[self.key]

    def __repr__(self) -> str:
        return f"MappedArgument({self.group.group_id!r}, {self.key!r})"


class _GroupExpandInput(ExpandInput):
    """What a task inside a mapped task group expands over: the group's input (each instance
    resolves its :class:`MappedArgument` values at its map index)."""

    def __init__(self, group: MappedTaskGroup) -> None:
        self.group = group

    def references(self) -> list[Any]:
        return []  # the group is downstream of the input's producers (MappedTaskGroup.__exit__)

    def length_spec(self) -> dict[str, Any]:
        return self.group.expand_input.length_spec()

    def resolve(self, context: Mapping[str, Any], map_index: int) -> dict[str, Any]:
        return {}


def _mapped_group_class() -> type:
    from dagcore.task_group import TaskGroup

    class MappedTaskGroup(TaskGroup):
        """A task group expanded at run time: every task inside is mapped over the group's
        input, instance ``i`` of each task belonging to the group's ``i``-th expansion
        (docs/airflow-behaviour.md 3.10)."""

        is_mapped_group = True

        def __init__(self, group_id: str | None, *, expand_input: ExpandInput,
                     **kwargs: Any) -> None:
            from dagcore.task_group import TaskGroupContext

            parent = kwargs.get("parent_group") or TaskGroupContext.get_current_task_group(
                kwargs.get("dag") or _current_dag())
            while parent is not None:
                if getattr(parent, "is_mapped_group", False):
                    raise ValueError(f"task group {group_id!r}: a mapped task group inside the "
                                     f"mapped task group {parent.group_id!r} is not supported")
                parent = parent.parent_group
            super().__init__(group_id, **kwargs)
            self.expand_input = expand_input

        def adopt(self, task: BaseOperator) -> None:
            """Make a task added inside this group (or a group in it) mapped over its input."""
            if task.is_mapped and not isinstance(getattr(task, "expand_input", None),
                                                 _GroupExpandInput):
                raise ValueError(f"task {task.task_id!r}: mapping a task inside the mapped task "
                                 f"group {self.group_id!r} is not supported")
            setattr(task, "is_mapped", True)
            setattr(task, "expand_input", _GroupExpandInput(self))
            setattr(task, "mapped_group_id", self.group_id)

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            # As Airflow's MappedTaskGroup: the group runs after what produces its input.
            for ref in self.expand_input.references():
                for upstream in ref._dependency_tasks():
                    self.set_upstream(upstream)
            super().__exit__(exc_type, exc, tb)

    return MappedTaskGroup


def _current_dag() -> Any:
    from dagcore.dag import DagContext

    return DagContext.get_current_dag()


MappedTaskGroup: Any = _mapped_group_class()


def _resolve_mapped_arguments(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, MappedArgument):
        return value.resolve(context)
    if isinstance(value, list):
        return [_resolve_mapped_arguments(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve_mapped_arguments(v, context) for v in value)
    if isinstance(value, dict):
        return {k: _resolve_mapped_arguments(v, context) for k, v in value.items()}
    return value


def unmap_task(task: BaseOperator, context: Mapping[str, Any], map_index: int) -> BaseOperator:
    """The operator instance ``map_index`` of a mapped task runs: a mapped operator's
    (:meth:`MappedOperator.unmap`), or, for a task in a mapped task group, a copy with its
    :class:`MappedArgument` values (in ``op_args``/``op_kwargs`` and template fields)
    resolved."""
    if isinstance(task, MappedOperator):
        return task.unmap(context, map_index)
    clone = copy.copy(task)
    for name in {*task.template_fields, "op_args", "op_kwargs"}:
        if hasattr(clone, name):
            setattr(clone, name, _resolve_mapped_arguments(getattr(clone, name), context))
    return clone
