"""Stable names for the classes a serialized DAG names: operators and timetables.

A serialized DAG names each task's operator class (``"operator"``) and its timetable class
(``"timetable"."__type"``), and that data is hashed into the DAG's version. If the name were
whatever ``module.qualname`` the class has today, moving a class to another module would change
every stored DAG's hash (a new version of every DAG) and leave old versions naming a class that
no longer exists there. So dagcore's own classes are named through this registry: one table
(:func:`_builtin_classes`) maps each stable name to the class, wherever the class lives now.

Design note. The stable names are the ``module.qualname`` each class had when it was first stored
(``"dagcore.operators.empty.EmptyOperator"``), which is also Airflow's naming (its
``_encode_timetable`` stores ``qualname(type(timetable))``; docs/airflow-behaviour.md 8.10). To move
a class, change the import in the table and keep the name; after a rename, keep the old name as an
alias (:meth:`ClassRegistry.register`). Classes not in the registry (operators and timetables
defined by users) are named by their ``module.qualname`` and found by importing that module, as
before the registry existed.
The table is built on first use: importing this module imports no operator or timetable.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["ClassRegistry", "UnknownClassError", "class_for", "registry", "stable_name"]

T = TypeVar("T")


class UnknownClassError(LookupError):
    """A stored class name that names no class: neither registered nor importable."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"unknown class {name!r}: {reason}")
        self.name = name


def _import_path(name: str) -> type:
    """The class ``module.qualname`` names, imported (a user-defined class).

    Raises:
        UnknownClassError: the module does not import, or has no such class.
    """
    module_name, _, qualname = name.rpartition(".")
    if not module_name or not qualname:
        raise UnknownClassError(name, "not a 'module.ClassName' path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownClassError(name, f"not registered, and module {module_name!r} does not "
                                      f"import ({exc})") from None
    found: object = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise UnknownClassError(name, f"not registered, and module {module_name!r} has no "
                                          f"{qualname!r}")
    if not isinstance(found, type):
        raise UnknownClassError(name, f"{qualname!r} in {module_name!r} is not a class")
    return found


class ClassRegistry:
    """Stable name to class, and class to stable name (thread-safe).

    A class may have several names (aliases kept after a rename): the first registered is the
    one written when serializing, every one of them is read.

    Args:
        entries: initial ``{stable name: class}``, registered in order.
    """

    def __init__(self, entries: Mapping[str, type] | None = None) -> None:
        self._classes: dict[str, type] = {}
        self._names: dict[type, str] = {}
        self._lock = threading.Lock()
        for name, cls in (entries or {}).items():
            self.register(name, cls)

    def register(self, name: str, cls: type) -> None:
        """Name ``cls`` ``name`` (its stable name if it has none yet, else an alias).

        Raises:
            TypeError: ``name`` is not a string or ``cls`` not a class.
            ValueError: ``name`` is empty, or already names another class (the message names
                both).
        """
        if not isinstance(name, str):
            raise TypeError(f"a stable class name must be a str, got {type(name).__name__}: "
                            f"{name!r}")
        if not name:
            raise ValueError("a stable class name must not be empty")
        if not isinstance(cls, type):
            raise TypeError(f"only classes can be registered, got {type(cls).__name__}: {cls!r}")
        with self._lock:
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"stable class name {name!r} already names "
                                 f"{existing.__module__}.{existing.__qualname__}; cannot give it "
                                 f"to {cls.__module__}.{cls.__qualname__}")
            self._classes[name] = cls
            self._names.setdefault(cls, name)

    def stable_name(self, cls: type) -> str:
        """The name under which ``cls`` is serialized: its registered name, else (a class
        defined outside dagcore) its ``module.qualname``."""
        with self._lock:
            name = self._names.get(cls)
        return name if name is not None else f"{cls.__module__}.{cls.__qualname__}"

    def class_for(self, name: str, base: type[T]) -> type[T]:
        """The class a stored ``name`` names: registered, else imported by its path.

        Raises:
            UnknownClassError: ``name`` is neither registered nor an importable class, or the
                class is not a subclass of ``base`` (the message names the class).
        """
        if not isinstance(name, str):
            raise UnknownClassError(repr(name), "a stored class name must be a str")
        with self._lock:
            cls = self._classes.get(name)
        if cls is None:
            cls = _import_path(name)
        if not issubclass(cls, base):
            raise UnknownClassError(name, f"not a subclass of {base.__module__}."
                                          f"{base.__qualname__}")
        return cls

    def names(self) -> dict[str, type]:
        """Every registered ``{name: class}`` (aliases included), a copy."""
        with self._lock:
            return dict(self._classes)


def _builtin_classes() -> dict[str, type]:
    """dagcore's operator and timetable classes by stable name: THE table.

    A name here never changes (stored DAGs and their hashes use it); when a class moves, only
    its import below changes. ``tests/python/unit/test_serialization_registry.py`` pins the
    names and fails when a public operator or timetable class is missing.
    """
    from dagcore import assets
    from dagcore import timetables as tt
    from dagcore.decorators import DecoratedPythonOperator
    from dagcore.operators.base import BaseOperator
    from dagcore.operators import branch, latest_only, short_circuit, weekday
    from dagcore.operators import datetime as datetime_ops
    from dagcore.operators.bash import BashOperator
    from dagcore.operators.email import EmailOperator
    from dagcore.operators.empty import DummyOperator, EmptyOperator
    from dagcore.operators.python import PythonOperator
    from dagcore.operators.trigger_dagrun import TriggerDagRunOperator
    # -- operators, decorators (issue 14 part D)
    from dagcore.operators.bash_decorated import DecoratedBashOperator
    from dagcore.operators import python_virtualenv as venv
    from dagcore.operators import branch_virtualenv as branch_venv

    return {
        "dagcore.operators.base.BaseOperator": BaseOperator,
        "dagcore.operators.bash.BashOperator": BashOperator,
        "dagcore.operators.email.EmailOperator": EmailOperator,
        "dagcore.operators.empty.EmptyOperator": EmptyOperator,
        "dagcore.operators.empty.DummyOperator": DummyOperator,
        "dagcore.operators.python.PythonOperator": PythonOperator,
        "dagcore.operators.trigger_dagrun.TriggerDagRunOperator": TriggerDagRunOperator,
        "dagcore.decorators.DecoratedPythonOperator": DecoratedPythonOperator,
        # -- operators, decorators (issue 14 part D)
        "dagcore.operators.bash_decorated.DecoratedBashOperator": DecoratedBashOperator,
        "dagcore.operators.python_virtualenv.PythonVirtualenvOperator":
            venv.PythonVirtualenvOperator,
        "dagcore.operators.python_virtualenv.ExternalPythonOperator":
            venv.ExternalPythonOperator,
        "dagcore.operators.python_virtualenv.DecoratedVirtualenvOperator":
            venv.DecoratedVirtualenvOperator,
        "dagcore.operators.python_virtualenv.DecoratedExternalPythonOperator":
            venv.DecoratedExternalPythonOperator,
        # -- branching, short-circuit, latest-only
        "dagcore.operators.branch.BaseBranchOperator": branch.BaseBranchOperator,
        "dagcore.operators.branch.BranchPythonOperator": branch.BranchPythonOperator,
        "dagcore.operators.branch.DecoratedBranchPythonOperator":
            branch.DecoratedBranchPythonOperator,
        "dagcore.operators.datetime.BranchDateTimeOperator": datetime_ops.BranchDateTimeOperator,
        "dagcore.operators.latest_only.LatestOnlyOperator": latest_only.LatestOnlyOperator,
        "dagcore.operators.short_circuit.ShortCircuitOperator": short_circuit.ShortCircuitOperator,
        "dagcore.operators.short_circuit.DecoratedShortCircuitOperator":
            short_circuit.DecoratedShortCircuitOperator,
        "dagcore.operators.weekday.BranchDayOfWeekOperator": weekday.BranchDayOfWeekOperator,
        **{f"dagcore.operators.branch_virtualenv.{name}": getattr(branch_venv, name)
           for name in branch_venv.__all__},
        "dagcore.timetables.Timetable": tt.Timetable,
        "dagcore.timetables.NullTimetable": tt.NullTimetable,
        "dagcore.timetables.OnceTimetable": tt.OnceTimetable,
        "dagcore.timetables.ContinuousTimetable": tt.ContinuousTimetable,
        "dagcore.timetables.CronTriggerTimetable": tt.CronTriggerTimetable,
        "dagcore.timetables.MultipleCronTriggerTimetable": tt.MultipleCronTriggerTimetable,
        "dagcore.timetables.CronDataIntervalTimetable": tt.CronDataIntervalTimetable,
        "dagcore.timetables.DeltaTriggerTimetable": tt.DeltaTriggerTimetable,
        "dagcore.timetables.DeltaDataIntervalTimetable": tt.DeltaDataIntervalTimetable,
        "dagcore.assets.AssetTriggeredTimetable": assets.AssetTriggeredTimetable,
        "dagcore.assets.AssetOrTimeSchedule": assets.AssetOrTimeSchedule,
    }


_registry: ClassRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> ClassRegistry:
    """The process's registry, holding :func:`_builtin_classes` (built on first use)."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                _registry = ClassRegistry(_builtin_classes())
    return _registry


def stable_name(cls: type) -> str:
    """``registry().stable_name(cls)``: the name a serialized DAG stores for ``cls``."""
    return registry().stable_name(cls)


def class_for(name: str, base: type[T]) -> type[T]:
    """``registry().class_for(name, base)``: the class a stored name names."""
    return registry().class_for(name, base)
