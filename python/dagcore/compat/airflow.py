"""``import airflow...`` served by dagcore, so unchanged Airflow DAG files load.

Design note. A meta-path finder answers for a fixed table of Airflow module names
(:data:`ALIASES`); each becomes a small alias module whose attributes are dagcore's objects
(``airflow.operators.bash.BashOperator is dagcore.operators.bash.BashOperator``). Names outside
the table are left to the normal import system, so ``import airflow.something_else`` fails with
the usual ``ModuleNotFoundError``. Alias modules are fresh module objects, never dagcore's own
modules re-registered under a second name (the import system would overwrite their
``__spec__``).

Two Airflow habits need more than a re-export, and get it here:

* naive ``start_date``/``end_date`` (Airflow's tutorial writes ``datetime(2021, 1, 1)``): Airflow
  reads them in ``[core] default_timezone``; dagcore's own ``DAG`` refuses them. The aliased
  :class:`DAG` and :func:`dag` make such dates aware in that zone first (also inside
  ``default_args``), then build an ordinary dagcore DAG;
* ``schedule_interval=`` (Airflow 2) is accepted as ``schedule=``; ``sla_miss_callback=`` (Airflow
  2's SLAs, removed in Airflow 3) is accepted and ignored with a warning, as is a task's ``sla=``;
  Airflow 2's ``orientation=``/``default_view=`` (UI settings) are accepted and unused, and
  ``concurrency=`` is ``max_active_tasks=``.

The finder is installed with :func:`install` and removed with :func:`uninstall` (or used as
``with enabled():``). Installs nest (a count); the last :func:`uninstall` removes the finder and
every alias module from ``sys.modules``. A real Airflow wins: if ``airflow`` can be imported
from ``sys.path`` (or a non-alias ``airflow`` module is loaded), :func:`install` does nothing
and returns ``False``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from types import ModuleType
from typing import Any, Final

from dagcore.dag import DAG as _DagcoreDAG
from dagcore.dag import dag as _dagcore_dag

__all__ = [
    "ALIASES",
    "DAG",
    "AirflowCompatFinder",
    "dag",
    "days_ago",
    "enabled",
    "install",
    "is_installed",
    "real_airflow_available",
    "uninstall",
]

log = logging.getLogger(__name__)

_HERE: Final = __name__
_ALL: Final = "*"

_ASSETS: Final = ("dagcore.assets", ("Asset", "AssetAlias", "AssetAll", "AssetAny", "Metadata",
                                     "asset", "Model", "AssetWatcher", "Dataset"))
_ASSET_DEFS: Final = ("dagcore.assets", (
    "Asset", "AssetAlias", "AssetAll", "AssetAny", "AssetNameRef", "AssetRef", "AssetUriRef",
    "AssetWatcher", "BaseAsset", "Dataset", "Model"))
_DATASETS: Final = ("dagcore.assets", ("Dataset", "DatasetAlias", "BaseDataset"))
_DATASET_CONDITIONS: Final = (("dagcore.assets", ("AssetAll", "AssetAny", "DatasetAll",
                                                  "DatasetAny")),)

_SDK: Final = (
    (_HERE, ("DAG", "dag")),
    ("dagcore.decorators", ("task",)),
    ("dagcore.task_group", ("TaskGroup", "task_group")),
    ("dagcore.params", ("Param", "ParamsDict")),
    ("dagcore.operators.base", ("BaseOperator",)),
    ("dagcore.decorators", ("XComArg",)),
    ("dagcore.context", ("Context",)),
    ("dagcore.setup_teardown", ("setup", "teardown")),
    ("dagcore.compat", ("timezone",)),
    ("dagcore.utils.helpers", ("chain", "chain_linear", "cross_downstream")),
    ("dagcore.trigger_rule", ("TriggerRule",)),
    ("dagcore.context", ("get_current_context",)),
    ("dagcore.variables", ("Variable",)),
    ("dagcore.connections", ("Connection", "BaseHook")),
    ("dagcore.utils.edgemodifier", ("Label", "EdgeModifier")),
    ("dagcore.sensors.base", ("BaseSensorOperator", "PokeReturnValue")),
    _ASSETS,
)
_EMPTY: Final = (("dagcore.operators.empty", ("EmptyOperator",)),)
_PYTHON: Final = (("dagcore.operators.python", ("PythonOperator",)),)
_BASH: Final = (("dagcore.operators.bash", ("BashOperator",)),)
_VENV_NAMES: Final = ("PythonVirtualenvOperator", "ExternalPythonOperator", "is_venv_installed")
_VENV: Final = (("dagcore.operators.python_virtualenv", _VENV_NAMES),)
_HELPERS: Final = (("dagcore.utils.helpers", ("chain", "chain_linear", "cross_downstream")),)
_SETUP_TEARDOWN: Final = (("dagcore.setup_teardown", ("setup", "teardown")),)
_TIMEZONE: Final = (("dagcore.compat.timezone", ("utc", "utcnow", "datetime", "parse",
                                                 "convert_to_utc", "make_aware", "make_naive",
                                                 "is_localized", "is_naive", "coerce_datetime")),)
_TRIGGER: Final = (("dagcore.operators.trigger_dagrun", ("TriggerDagRunOperator",)),)
_EXCEPTIONS: Final = (("dagcore.exceptions", (
    "AirflowException", "AirflowSkipException", "AirflowFailException", "AirflowTaskTimeout",
    "AirflowTaskTerminated", "AirflowSensorTimeout", "AirflowRescheduleException",
    "AirflowNotFoundException", "AirflowBadRequest")),)
_CONTEXT: Final = (("dagcore.context", ("get_current_context",)),)
_BRANCHING_PYTHON: Final = (("dagcore.operators.branch", ("BranchPythonOperator",)),
                            ("dagcore.operators.short_circuit", ("ShortCircuitOperator",)),
                            ("dagcore.operators.branch_virtualenv", (
                                "BranchPythonVirtualenvOperator",
                                "BranchExternalPythonOperator")))
_SENSOR_BASE: Final = ("dagcore.sensors.base",
                       ("BaseSensorOperator", "PokeReturnValue", "poke_mode_only"))
_SENSOR_PYTHON: Final = ("dagcore.sensors.python", ("PythonSensor",))
_SENSOR_TIME_DELTA: Final = ("dagcore.sensors.time", ("TimeDeltaSensor", "TimeDeltaSensorAsync"))
_SENSOR_TIME: Final = ("dagcore.sensors.time", ("TimeSensor", "TimeSensorAsync"))
_SENSOR_DATE_TIME: Final = ("dagcore.sensors.time", ("DateTimeSensor", "DateTimeSensorAsync"))
_SENSOR_FILE: Final = ("dagcore.sensors.filesystem", ("FileSensor",))
_SENSOR_BASH: Final = ("dagcore.sensors.bash", ("BashSensor",))
_SENSOR_WEEKDAY: Final = ("dagcore.sensors.weekday", ("DayOfWeekSensor",))
_SENSOR_EXTERNAL: Final = ("dagcore.sensors.external_task", ("ExternalTaskSensor",
                                                             "ExternalTaskMarker"))
_VARIABLE: Final = ("dagcore.variables", ("Variable",))
_EMAIL: Final = (("dagcore.operators.email", ("EmailOperator",)),)
_CONNECTION: Final = ("dagcore.connections", ("Connection",))

ALIASES: Final[Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "airflow": ((_HERE, ("DAG",)), ("dagcore.decorators", ("XComArg",))),
    "airflow.sdk": _SDK,
    "airflow.decorators": ((_HERE, ("dag",)), ("dagcore.decorators", ("task",)),
                           ("dagcore.task_group", ("task_group",))) + _SETUP_TEARDOWN,
    "airflow.models": ((_HERE, ("DAG",)), ("dagcore.operators.base", ("BaseOperator",)),
                       ("dagcore.params", ("Param",)), _VARIABLE, _CONNECTION),
    "airflow.models.dag": ((_HERE, ("DAG",)),),
    "airflow.models.baseoperator": (("dagcore.operators.base", ("BaseOperator",)),) + _HELPERS,
    "airflow.models.param": (("dagcore.params", ("Param", "ParamsDict")),),
    "airflow.operators": (),
    "airflow.operators.empty": _EMPTY,
    # Airflow 2's deprecated names (removed in Airflow 3).
    "airflow.operators.dummy": (("dagcore.operators.empty", ("DummyOperator", "EmptyOperator")),),
    "airflow.operators.dummy_operator": (("dagcore.operators.empty", ("DummyOperator",)),),
    "airflow.operators.python": _PYTHON + _CONTEXT + _VENV + _BRANCHING_PYTHON,
    "airflow.operators.bash": _BASH,
    "airflow.operators.trigger_dagrun": _TRIGGER,
    "airflow.operators.email": _EMAIL,
    "airflow.providers": (),
    "airflow.providers.standard": (),
    "airflow.providers.standard.operators": (),
    "airflow.providers.standard.operators.empty": _EMPTY,
    "airflow.providers.standard.operators.python": _PYTHON + _CONTEXT + _VENV + _BRANCHING_PYTHON,
    "airflow.providers.standard.operators.bash": _BASH,
    "airflow.providers.standard.operators.trigger_dagrun": _TRIGGER,
    # Airflow 3 moved EmailOperator to the SMTP provider (the SMTP server stays external).
    "airflow.providers.smtp": (),
    "airflow.providers.smtp.operators": (),
    "airflow.providers.smtp.operators.smtp": _EMAIL,
    "airflow.utils": (),
    "airflow.utils.trigger_rule": (("dagcore.trigger_rule", ("TriggerRule",)),),
    "airflow.utils.state": (("dagcore.state", ("TaskInstanceState", "DagRunState")),
                            (_HERE, ("State",))),
    "airflow.utils.dates": ((_HERE, ("days_ago",)),),
    "airflow.utils.context": (("dagcore.context", ("Context",)),),
    "airflow.utils.helpers": _HELPERS,
    "airflow.utils.task_group": (("dagcore.task_group", ("TaskGroup",)),),
    "airflow.utils.email": (("dagcore.operators.email", ("send_email",)),),
    "airflow.timetables": (),
    "airflow.timetables.base": (("dagcore.timetables", ("DataInterval", "DagRunInfo",
                                                        "TimeRestriction", "Timetable")),),
    "airflow.timetables.simple": (("dagcore.timetables", ("NullTimetable", "OnceTimetable",
                                                          "ContinuousTimetable")),
                                  ("dagcore.assets", ("AssetTriggeredTimetable",
                                                      "DatasetTriggeredTimetable"))),
    "airflow.timetables.trigger": (("dagcore.timetables", ("CronTriggerTimetable",
                                                           "DeltaTriggerTimetable",
                                                           "MultipleCronTriggerTimetable")),),
    "airflow.timetables.interval": (("dagcore.timetables", ("CronDataIntervalTimetable",
                                                            "DeltaDataIntervalTimetable")),),
    # -- assets (datasets in Airflow 2), docs/airflow-behaviour.md 11 ---------------------------
    "airflow.sdk.definitions.asset": (_ASSET_DEFS,),
    "airflow.sdk.definitions.asset.decorators": (
        ("dagcore.assets", ("asset", "AssetDefinition", "MultiAssetDefinition")),),
    "airflow.sdk.definitions.asset.metadata": (("dagcore.assets", ("Metadata",)),),
    "airflow.assets": (_ASSET_DEFS,),  # the Airflow 3 pre-release path
    "airflow.datasets": (_DATASETS,) + _DATASET_CONDITIONS,
    "airflow.datasets.metadata": (("dagcore.assets", ("Metadata",)),),
    "airflow.timetables.assets": (("dagcore.assets", ("AssetOrTimeSchedule",)),),
    "airflow.timetables.datasets": (("dagcore.assets", ("DatasetOrTimeSchedule",)),),
    # -- task exceptions, get_current_context, Variable, Connection ------------------------------
    "airflow.exceptions": _EXCEPTIONS + (
        ("dagcore.exceptions", ("ParamValidationError", "DuplicateTaskIdFound")),
        ("dagcore.task_group", ("TaskAlreadyInTaskGroup",)),
        ("dagcore.operators.skipmixin", ("DownstreamTasksSkipped",))),
    "airflow.sdk.exceptions": _EXCEPTIONS + (
        ("dagcore.operators.skipmixin", ("DownstreamTasksSkipped",)),),
    "airflow.models.variable": (_VARIABLE,),
    "airflow.models.connection": (_CONNECTION,),
    "airflow.hooks": (),
    "airflow.hooks.base": (("dagcore.connections", ("BaseHook",)),),
    # -- operators, decorators, sdk ------------------------------------------------------------
    "airflow.sdk.timezone": _TIMEZONE,
    "airflow.utils.timezone": _TIMEZONE,
    "airflow.sdk.bases": (),
    "airflow.sdk.bases.operator": (("dagcore.operators.base", ("BaseOperator",)),) + _HELPERS,
    "airflow.sdk.bases.hook": (("dagcore.connections", ("BaseHook",)),),
    "airflow.sdk.definitions": (),
    "airflow.sdk.definitions.dag": ((_HERE, ("DAG", "dag")),),
    "airflow.sdk.definitions.baseoperator": (("dagcore.operators.base", ("BaseOperator",)),)
    + _HELPERS,
    "airflow.sdk.definitions.param": (("dagcore.params", ("Param", "ParamsDict")),),
    "airflow.sdk.definitions.taskgroup": (("dagcore.task_group", ("TaskGroup", "task_group")),),
    "airflow.sdk.definitions.context": (("dagcore.context", ("get_current_context",)),),
    "airflow.sdk.definitions.variable": (_VARIABLE,),
    "airflow.sdk.definitions.connection": (_CONNECTION,),
    "airflow.sdk.definitions.xcom_arg": (("dagcore.decorators", ("XComArg",)),),
    "airflow.sdk.definitions.decorators": (("dagcore.decorators", ("task",)),
                                           ("dagcore.task_group", ("task_group",)))
    + _SETUP_TEARDOWN,
    "airflow.sdk.definitions.decorators.setup_teardown": (
        ("dagcore.setup_teardown", ("setup", "teardown")),
        (_HERE, ("setup_task", "teardown_task"))),
    "airflow.decorators.setup_teardown": (
        ("dagcore.setup_teardown", ("setup", "teardown")),
        (_HERE, ("setup_task", "teardown_task"))),
    "airflow.operators.python_operator": _PYTHON + _VENV,
    "airflow.providers.standard.decorators": (),
    "airflow.providers.standard.decorators.bash": ((_HERE, ("bash_task",)),),
    "airflow.providers.standard.decorators.python_virtualenv": ((_HERE, ("virtualenv_task",)),),
    "airflow.providers.standard.decorators.external_python": ((_HERE,
                                                               ("external_python_task",)),),
    "airflow.providers.standard.decorators.python": ((_HERE, ("python_task",)),),
    # -- more paths real DAG files import (issue 14's corpus) ------------------------------------
    "airflow.sdk.api": (),
    "airflow.sdk.api.datamodels": (),
    "airflow.sdk.api.datamodels._generated": (
        ("dagcore.trigger_rule", ("TriggerRule",)),
        ("dagcore.state", ("TaskInstanceState", "DagRunState"))),
    "airflow.providers.common": (),
    "airflow.providers.common.compat": (),
    "airflow.providers.common.compat.sdk": _SDK + _EXCEPTIONS,
    "airflow.models.xcom_arg": (("dagcore.decorators", ("XComArg",)),),
    # -- branching, short-circuit, latest-only, labels ------------------------------------------
    "airflow.operators.branch": (("dagcore.operators.branch", ("BaseBranchOperator",)),),
    "airflow.operators.latest_only": (("dagcore.operators.latest_only", ("LatestOnlyOperator",)),),
    "airflow.operators.datetime": (("dagcore.operators.datetime", ("BranchDateTimeOperator",
                                                                   "target_times_as_dates")),),
    "airflow.operators.weekday": (("dagcore.operators.weekday", ("BranchDayOfWeekOperator",)),),
    "airflow.utils.weekday": (("dagcore.utils.weekday", ("WeekDay",)),),
    "airflow.utils.edgemodifier": (("dagcore.utils.edgemodifier", ("EdgeModifier", "Label")),),
    "airflow.models.skipmixin": (("dagcore.operators.skipmixin", ("SkipMixin",)),),
    "airflow.providers.standard.operators.branch": (
        ("dagcore.operators.branch", ("BaseBranchOperator", "BranchMixIn")),),
    "airflow.providers.standard.operators.latest_only": (
        ("dagcore.operators.latest_only", ("LatestOnlyOperator",)),),
    "airflow.providers.standard.operators.datetime": (
        ("dagcore.operators.datetime", ("BranchDateTimeOperator", "target_times_as_dates")),),
    "airflow.providers.standard.operators.weekday": (
        ("dagcore.operators.weekday", ("BranchDayOfWeekOperator",)),),
    "airflow.providers.standard.utils": (),
    "airflow.providers.standard.utils.weekday": (("dagcore.utils.weekday", ("WeekDay",)),),
    "airflow.providers.standard.utils.skipmixin": (("dagcore.operators.skipmixin",
                                                    ("SkipMixin",)),),
    # -- sensors ---------------------------------------------------------------------------------
    "airflow.sensors": (),
    "airflow.sensors.base": (_SENSOR_BASE,),
    "airflow.sensors.python": (_SENSOR_PYTHON,),
    "airflow.sensors.time_delta": (_SENSOR_TIME_DELTA,),
    "airflow.sensors.time_sensor": (_SENSOR_TIME,),
    "airflow.sensors.date_time": (_SENSOR_DATE_TIME,),
    "airflow.sensors.filesystem": (_SENSOR_FILE,),
    "airflow.sensors.bash": (_SENSOR_BASH,),
    "airflow.sensors.weekday": (_SENSOR_WEEKDAY,),
    "airflow.sensors.external_task": (_SENSOR_EXTERNAL,),
    "airflow.sdk.bases.sensor": (_SENSOR_BASE,),
    "airflow.providers.standard.sensors": (),
    "airflow.providers.standard.sensors.python": (_SENSOR_PYTHON,),
    "airflow.providers.standard.sensors.time_delta": (_SENSOR_TIME_DELTA,),
    "airflow.providers.standard.sensors.time": (_SENSOR_TIME,),
    "airflow.providers.standard.sensors.date_time": (_SENSOR_DATE_TIME,),
    "airflow.providers.standard.sensors.filesystem": (_SENSOR_FILE,),
    "airflow.providers.standard.sensors.bash": (_SENSOR_BASH,),
    "airflow.providers.standard.sensors.weekday": (_SENSOR_WEEKDAY,),
    "airflow.providers.standard.sensors.external_task": (_SENSOR_EXTERNAL,),
}
"""Airflow module name -> ``(dagcore module, attribute names)`` pairs its alias re-exports.

A name that prefixes another (``airflow``, ``airflow.operators``) is a package."""

_PACKAGES: Final = frozenset(name for name in ALIASES
                             if any(other.startswith(name + ".") for other in ALIASES))


# -------------------------------------------------------------------------------------------------
# Airflow-flavoured objects the aliases export


def _default_timezone() -> tzinfo:
    """``[core] default_timezone`` as a tzinfo (``utc``, ``system`` or an IANA name)."""
    from dagcore.configuration import conf

    name = str(conf.get("core", "default_timezone", fallback="utc")).strip()
    if name.lower() == "utc":
        return UTC
    if name.lower() == "system":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _localize(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=_default_timezone())
    return value


def _airflow_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """DAG keyword arguments with Airflow's leniencies applied (naive dates, schedule_interval)."""
    kwargs = dict(kwargs)
    if kwargs.pop("sla_miss_callback", None) is not None:
        log.warning("sla_miss_callback is ignored: SLAs were removed in Airflow 3 and dagcore "
                    "has none (use a DAG-run timeout or a deadline instead)")
    for ui_hint in ("orientation", "default_view"):  # Airflow 2's graph/grid view settings
        kwargs.pop(ui_hint, None)
    if "concurrency" in kwargs:  # Airflow 2's old name of max_active_tasks
        kwargs.setdefault("max_active_tasks", kwargs.pop("concurrency"))
    if "schedule_interval" in kwargs:
        interval = kwargs.pop("schedule_interval")
        if "schedule" in kwargs:
            raise TypeError("pass either schedule or schedule_interval, not both")
        kwargs["schedule"] = interval
    for key in ("start_date", "end_date"):
        if key in kwargs:
            kwargs[key] = _localize(kwargs[key])
    default_args = kwargs.get("default_args")
    if default_args:
        default_args = dict(default_args)
        for key in ("start_date", "end_date"):
            if key in default_args:
                default_args[key] = _localize(default_args[key])
        kwargs["default_args"] = default_args
    return kwargs


class DAG(_DagcoreDAG):
    """``airflow.DAG``: dagcore's :class:`~dagcore.dag.DAG` that also accepts naive dates (read
    in ``[core] default_timezone``, as Airflow does) and ``schedule_interval``."""

    def __init__(self, dag_id: str, **kwargs: Any) -> None:
        super().__init__(dag_id, **_airflow_kwargs(kwargs))
        # The base class records the first frame outside dagcore.dag, which is this one.
        self.fileloc = sys._getframe(1).f_code.co_filename


def dag(dag_id: str | Callable[..., Any] | None = None, **dag_kwargs: Any) -> Any:
    """``airflow.decorators.dag``: :func:`dagcore.dag` with the leniencies of :class:`DAG`."""
    if callable(dag_id):
        return _dagcore_dag(dag_id)
    return _dagcore_dag(dag_id, **_airflow_kwargs(dag_kwargs))


def days_ago(n: int, hour: int = 0, minute: int = 0, second: int = 0,
             microsecond: int = 0) -> datetime:
    """``airflow.utils.dates.days_ago`` (Airflow 2): midnight UTC ``n`` days ago (aware)."""
    from dagcore.utils.timezone import utcnow

    today = utcnow().replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - timedelta(days=n)


def _make_state() -> type:
    from dagcore.state import DagRunState, TaskInstanceState

    members: dict[str, Any] = {m.name: m for m in DagRunState}
    members.update({m.name: m for m in TaskInstanceState})
    members["NONE"] = None
    members["__doc__"] = "``airflow.utils.state.State``: the state constants in one namespace."
    return type("State", (), members)


_TASK_FLAVOURS: Final = {"bash_task": "bash", "virtualenv_task": "virtualenv",
                         "external_python_task": "external_python", "python_task": ""}
"""Airflow's decorator functions (``airflow.providers.standard.decorators.bash.bash_task``...):
the ``@task.<flavour>`` of the same name."""


def __getattr__(name: str) -> Any:
    # Built on first use so that importing this module stays cheap.
    if name == "State":
        value: Any = _make_state()
    elif name in _TASK_FLAVOURS:
        from dagcore.decorators import task

        flavour = _TASK_FLAVOURS[name]
        value = getattr(task, flavour) if flavour else task
    elif name in ("setup_task", "teardown_task"):
        from dagcore import setup_teardown

        value = getattr(setup_teardown, name.removesuffix("_task"))
    elif name == "AirflowException":
        from dagcore.exceptions import DagcoreException

        value = DagcoreException
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


# -------------------------------------------------------------------------------------------------
# The finder


class AirflowCompatFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the alias modules of :data:`ALIASES` (and nothing else)."""

    def find_spec(self, fullname: str, path: Any = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ALIASES:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self,
                                              is_package=fullname in _PACKAGES)
        if fullname in _PACKAGES:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        exported: list[str] = []
        for source, names in ALIASES[module.__name__]:
            origin = importlib.import_module(source)
            for name in names:
                setattr(module, name, getattr(origin, name))
                exported.append(name)
        module.__all__ = exported  # type: ignore[attr-defined]
        module.__dagcore_alias__ = True  # type: ignore[attr-defined]
        module.__doc__ = f"dagcore's alias for Airflow's {module.__name__!r}."


_finder: Final = AirflowCompatFinder()
_lock = threading.Lock()
_installs = 0


def _is_alias(module: object) -> bool:
    return getattr(module, "__dagcore_alias__", False) is True


def real_airflow_available() -> bool:
    """Whether a real Airflow is loaded or importable from ``sys.path``."""
    loaded = sys.modules.get("airflow")
    if loaded is not None and not _is_alias(loaded):
        return True
    return importlib.machinery.PathFinder.find_spec("airflow") is not None


def is_installed() -> bool:
    """Whether the finder is on ``sys.meta_path``."""
    return _finder in sys.meta_path


def install() -> bool:
    """Serve ``airflow.*`` from dagcore until the matching :func:`uninstall`.

    Returns:
        ``True`` if the aliases are active (installed now or already), ``False`` when a real
        Airflow is available (it is never shadowed; nothing is changed then).
    """
    global _installs
    with _lock:
        if _installs == 0:
            if real_airflow_available():
                log.info("a real Airflow is importable; dagcore.compat.airflow stays off")
                return False
            sys.meta_path.insert(0, _finder)
        _installs += 1
        return True


def uninstall() -> None:
    """Undo one :func:`install`; the last one removes the finder and every alias module."""
    global _installs
    with _lock:
        if _installs == 0:
            return
        _installs -= 1
        if _installs:
            return
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_finder)
        for name in [n for n in sys.modules if n == "airflow" or n.startswith("airflow.")]:
            if _is_alias(sys.modules.get(name)):
                del sys.modules[name]


@contextlib.contextmanager
def enabled() -> Iterator[bool]:
    """``with enabled() as active:`` — :func:`install` on entry, :func:`uninstall` on exit.

    ``active`` is what :func:`install` returned; nothing is undone on exit when it is ``False``.
    """
    active = install()
    try:
        yield active
    finally:
        if active:
            uninstall()
