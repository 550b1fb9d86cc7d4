"""The registry of stable class names: serialized DAGs (and their hashes) survive moving a class.

Airflow names a timetable class by ``qualname(type(timetable))`` and an operator by its class
(``_task_module`` + ``task_type``) in serialized DAGs (airflow/serialization/
serialized_objects.py ``_encode_timetable``, ``_get_registered_timetable``); dagcore keeps those
strings but reads them through :mod:`dagcore.serialization_registry`, so a class can move.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import dagcore.operators
import dagcore.serialization_registry as reg
from dagcore import DAG, task
from dagcore import assets
from dagcore import timetables as tt
from dagcore.operators import branch, latest_only, short_circuit, weekday
from dagcore.operators import datetime as datetime_ops
from dagcore.operators.base import BaseOperator
from dagcore.operators.bash import BashOperator
from dagcore.operators.email import EmailOperator
from dagcore.operators.empty import DummyOperator, EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator
from dagcore.serialization import DagSerializationError, SerializedDAG, dag_hash, serialize_dag
from dagcore.serialization_registry import ClassRegistry, UnknownClassError, class_for

# The stable names: exactly the module.qualname strings stored before the registry existed.
# Never edit a name here; a moved class keeps its name (only the table's import changes).
STABLE_NAMES = {
    "dagcore.operators.base.BaseOperator": BaseOperator,
    "dagcore.operators.bash.BashOperator": BashOperator,
    "dagcore.operators.email.EmailOperator": EmailOperator,
    "dagcore.operators.empty.EmptyOperator": EmptyOperator,
    "dagcore.operators.empty.DummyOperator": DummyOperator,
    "dagcore.operators.python.PythonOperator": PythonOperator,
    "dagcore.operators.trigger_dagrun.TriggerDagRunOperator": TriggerDagRunOperator,
    "dagcore.decorators.DecoratedPythonOperator": importlib.import_module(
        "dagcore.decorators").DecoratedPythonOperator,
    # -- operators, decorators (issue 14 part D)
    "dagcore.operators.bash_decorated.DecoratedBashOperator": importlib.import_module(
        "dagcore.operators.bash_decorated").DecoratedBashOperator,
    **{f"dagcore.operators.python_virtualenv.{name}": getattr(
        importlib.import_module("dagcore.operators.python_virtualenv"), name)
       for name in ("PythonVirtualenvOperator", "ExternalPythonOperator",
                    "DecoratedVirtualenvOperator", "DecoratedExternalPythonOperator")},
    # -- branching, short-circuit, latest-only
    "dagcore.operators.branch.BaseBranchOperator": branch.BaseBranchOperator,
    "dagcore.operators.branch.BranchPythonOperator": branch.BranchPythonOperator,
    "dagcore.operators.branch.DecoratedBranchPythonOperator": branch.DecoratedBranchPythonOperator,
    "dagcore.operators.datetime.BranchDateTimeOperator": datetime_ops.BranchDateTimeOperator,
    "dagcore.operators.latest_only.LatestOnlyOperator": latest_only.LatestOnlyOperator,
    "dagcore.operators.short_circuit.ShortCircuitOperator": short_circuit.ShortCircuitOperator,
    "dagcore.operators.short_circuit.DecoratedShortCircuitOperator":
        short_circuit.DecoratedShortCircuitOperator,
    "dagcore.operators.weekday.BranchDayOfWeekOperator": weekday.BranchDayOfWeekOperator,
    **{f"dagcore.operators.branch_virtualenv.{name}": getattr(
        importlib.import_module("dagcore.operators.branch_virtualenv"), name)
       for name in ("BranchPythonVirtualenvOperator", "BranchExternalPythonOperator",
                    "DecoratedBranchVirtualenvOperator", "DecoratedBranchExternalPythonOperator")},
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

# dag_hash of _sample(schedule), computed on main (7be02e2) before the registry existed.
PINNED_HASHES = {
    "cron": ("0 3 * * *", "73cc5d02c7d361ea5c3d060d5bf2c59a"),
    "delta": (timedelta(hours=1), "13103f27a21afbf5dd889b36c7c40488"),
    "none": (None, "310d4095074d404ff2a862dc642c1a21"),
    "once": ("@once", "e7b7e3485825eb788d0e79baae2fb043"),
    "continuous": ("@continuous", "60fdd793b5d18f9fc044ba8fc067a61e"),
}


def _sample(schedule: object) -> DAG:
    """One task of each built-in operator class (TaskFlow included) in a chain."""
    with DAG("pinned", schedule=schedule,
             start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        start = EmptyOperator(task_id="start")
        bash = BashOperator(task_id="bash", bash_command="echo hi")
        py = PythonOperator(task_id="py", python_callable=print)
        trig = TriggerDagRunOperator(task_id="trig", trigger_dag_id="other")

        @task
        def flow() -> int:
            return 1

        start >> bash >> py >> trig >> flow()
    dag.fileloc = "/dags/pinned.py"
    return dag


def _roundtrip(data: dict[str, Any]) -> SerializedDAG:
    return SerializedDAG(json.loads(json.dumps(data)))


@contextlib.contextmanager
def _moved(cls: type, module: str, qualname: str) -> Iterator[None]:
    """``cls`` as if it had moved to ``module`` and been renamed ``qualname`` (restored after;
    monkeypatch cannot restore ``__qualname__``, a type slot)."""
    old = cls.__module__, cls.__qualname__
    cls.__module__, cls.__qualname__ = module, qualname
    try:
        yield
    finally:
        cls.__module__, cls.__qualname__ = old


# -- the table -----------------------------------------------------------------------------------


def test_stable_names_are_the_class_paths_stored_before_the_registry() -> None:
    assert reg.registry().names() == STABLE_NAMES
    for name, cls in STABLE_NAMES.items():
        assert reg.stable_name(cls) == name
        assert class_for(name, object) is cls


def _public_classes(module_names: list[str], base: type) -> set[type]:
    found = set()
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, base) and not attr.startswith("_")
                    and value.__module__ == module_name):
                found.add(value)
    return found


def test_every_public_operator_and_timetable_class_of_dagcore_is_registered() -> None:
    operator_modules = [f"dagcore.operators.{m.name}"
                        for m in pkgutil.iter_modules(dagcore.operators.__path__)]
    classes = (_public_classes([*operator_modules, "dagcore.decorators"], BaseOperator)
               | _public_classes(["dagcore.timetables", "dagcore.assets"], tt.Timetable))
    missing = {f"{c.__module__}.{c.__qualname__}" for c in classes} - set(STABLE_NAMES)
    assert not missing, (f"add {sorted(missing)} to dagcore.serialization_registry."
                         f"_builtin_classes and to STABLE_NAMES here")


# -- hashes unchanged ----------------------------------------------------------------------------


@pytest.mark.parametrize("schedule, expected", list(PINNED_HASHES.values()),
                         ids=list(PINNED_HASHES))
def test_hash_of_a_sample_dag_is_the_one_computed_before_the_registry(
        schedule: object, expected: str) -> None:
    assert dag_hash(serialize_dag(_sample(schedule))) == expected


# -- moving a class ------------------------------------------------------------------------------


def test_a_moved_timetable_class_keeps_its_name_hash_and_deserializes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    dag = _sample("0 3 * * *")
    cls = type(dag.timetable)
    # Simulate moving (and renaming) the class: it no longer lives at its old path.
    monkeypatch.delattr(tt, "CronTriggerTimetable")
    with _moved(cls, "dagcore.schedules.cron", "CronTrigger"):
        data = serialize_dag(dag)
        assert data["dag"]["timetable"]["__type"] == "dagcore.timetables.CronTriggerTimetable"
        assert dag_hash(data) == PINNED_HASHES["cron"][1]
        restored = _roundtrip(data)
    assert type(restored.timetable) is cls
    assert restored.timetable.serialize() == dag.timetable.serialize()


def test_a_moved_operator_class_keeps_its_name_and_hash() -> None:
    dag = _sample(None)
    with (_moved(EmptyOperator, "dagcore.operators.nothing", "EmptyOperator"),
          _moved(BashOperator, "dagcore.operators.bash", "ShellOperator")):
        data = serialize_dag(dag)
    operators = {t["task_id"]: t["operator"] for t in data["dag"]["tasks"]}
    assert operators["start"] == "dagcore.operators.empty.EmptyOperator"
    assert operators["bash"] == "dagcore.operators.bash.BashOperator"
    assert dag_hash(data) == PINNED_HASHES["none"][1]
    assert _roundtrip(data).task_dict["start"].operator == "dagcore.operators.empty.EmptyOperator"


def test_an_alias_keeps_an_old_name_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = ClassRegistry(STABLE_NAMES)
    fresh.register("dagcore.timetables.CronTimetable", tt.CronTriggerTimetable)  # an old name
    monkeypatch.setattr(reg, "_registry", fresh)
    data = serialize_dag(_sample("0 3 * * *"))
    data["dag"]["timetable"]["__type"] = "dagcore.timetables.CronTimetable"
    assert isinstance(_roundtrip(data).timetable, tt.CronTriggerTimetable)
    # The first name stays the one written.
    assert fresh.stable_name(tt.CronTriggerTimetable) == "dagcore.timetables.CronTriggerTimetable"


# -- classes outside the registry ----------------------------------------------------------------


class HourlyTimetable(tt.DeltaTriggerTimetable):
    """A user-defined timetable (not registered)."""

    def __init__(self) -> None:
        super().__init__(timedelta(hours=1))

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> HourlyTimetable:
        return cls()


class NoisyOperator(EmptyOperator):
    """A user-defined operator (not registered)."""


def test_user_defined_classes_keep_their_module_qualname() -> None:
    with DAG("custom", schedule=HourlyTimetable(),
             start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        NoisyOperator(task_id="noisy")
    data = serialize_dag(dag)
    assert data["dag"]["timetable"]["__type"] == f"{__name__}.HourlyTimetable"
    assert data["dag"]["tasks"][0]["operator"] == f"{__name__}.NoisyOperator"
    assert type(_roundtrip(data).timetable) is HourlyTimetable


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, reason", [
    ("dagcore.timetables.NoSuchTimetable", "has no 'NoSuchTimetable'"),
    ("no_such_module.Timetable", "module 'no_such_module' does not import"),
    ("dagcore.operators.empty.EmptyOperator", "not a subclass of dagcore.timetables.Timetable"),
    ("dagcore.timetables.DEFAULT_MAX_RUNS", "is not a class"),
    ("Timetable", "not a 'module.ClassName' path"),
])
def test_an_unknown_timetable_name_is_a_clear_error_naming_it(name: str, reason: str) -> None:
    data = serialize_dag(_sample(None))
    data["dag"]["timetable"]["__type"] = name
    with pytest.raises(DagSerializationError, match=f"unknown timetable class '{name}'") as info:
        _roundtrip(data)
    assert reason in str(info.value)
    with pytest.raises(UnknownClassError, match=name) as lookup:
        class_for(name, tt.Timetable)
    assert isinstance(lookup.value, LookupError)


def test_a_name_cannot_be_given_to_two_classes() -> None:
    fresh = ClassRegistry(STABLE_NAMES)
    with pytest.raises(ValueError, match="'dagcore.operators.empty.EmptyOperator' already names "
                                         "dagcore.operators.empty.EmptyOperator; cannot give it "
                                         f"to {__name__}.NoisyOperator"):
        fresh.register("dagcore.operators.empty.EmptyOperator", NoisyOperator)
    fresh.register("dagcore.operators.empty.EmptyOperator", EmptyOperator)  # same: no-op
    assert fresh.names() == STABLE_NAMES


@pytest.mark.parametrize("name, cls, error, message", [
    ("", EmptyOperator, ValueError, "must not be empty"),
    (3, EmptyOperator, TypeError, "must be a str, got int: 3"),
    ("x.Y", EmptyOperator(task_id="t"), TypeError, "only classes can be registered"),
])
def test_registering_bad_input_is_an_error_naming_it(name: object, cls: object,
                                                     error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ClassRegistry().register(name, cls)  # type: ignore[arg-type]
