"""Assets (Airflow 2's datasets): the authoring API of data-aware scheduling.

A task declares the assets it produces (``outlets``) and reads (``inlets``); a DAG whose
``schedule`` is an asset, a list of assets or an expression (``a & b``, ``a | b``) gets an
:class:`AssetTriggeredTimetable` (summary ``"Asset"``): it never creates time-based runs, and the
scheduler runs it when its :attr:`~AssetTriggeredTimetable.asset_condition` is met.
:class:`AssetOrTimeSchedule` does both. See docs/airflow-behaviour.md section 11.

Design note. The classes follow Airflow 3's task SDK (validation rules and messages, defaults,
equality, the ``&``/``|`` flattening, the serialized shape ``{"__type": "asset", ...}`` of
:func:`encode_asset_condition`) without its ``attrs`` dependency. The event side is in-memory
only: :class:`OutletEventAccessors` collects what a task reports (extra per asset, alias
events, :class:`Metadata` it yields or returns) as :class:`AssetEventRecord` rows the task
runner can store later; :class:`InletEventsAccessors` and ``triggering_asset_events`` read
nothing until the asset tables exist.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from dagcore.timetables import (
    DagRunInfo,
    DataInterval,
    Timetable,
    TimeRestriction,
    create_timetable,
    describe_timetable,
)

if TYPE_CHECKING:
    from dagcore.dag import DAG

__all__ = [
    "Asset",
    "AssetAlias",
    "AssetAll",
    "AssetAny",
    "AssetEventRecord",
    "AssetNameRef",
    "AssetOrTimeSchedule",
    "AssetRef",
    "AssetTriggeredTimetable",
    "AssetUriRef",
    "AssetWatcher",
    "BaseAsset",
    "BaseDataset",
    "AssetDefinition",
    "Dataset",
    "DatasetAlias",
    "DatasetAll",
    "DatasetAny",
    "DatasetOrTimeSchedule",
    "DatasetTriggeredTimetable",
    "MultiAssetDefinition",
    "InletEventsAccessors",
    "InletEventsLookup",
    "Metadata",
    "Model",
    "OutletEventAccessor",
    "OutletEventAccessors",
    "TriggeringAssetEvents",
    "asset",
    "asset_outlets",
    "collect_metadata",
    "decode_asset_condition",
    "encode_asset_condition",
    "schedule_timetable",
]


# -- validation ---------------------------------------------------------------------------------


def _sanitize_uri(value: object) -> str:
    """The asset URI, checked and normalised as Airflow's ``_sanitize_uri`` does: a value that
    does not look like a URI, or whose scheme starts with ``x-``, is kept as it is; the
    ``airflow`` scheme is reserved; auth info is dropped (with a warning), the scheme lowered,
    trailing slashes removed, the query sorted and the fragment dropped."""
    uri = str(value)
    try:
        parsed = urllib.parse.urlsplit(uri)
    except ValueError as exc:
        raise ValueError(f"Asset uri {uri!r} is not a valid URI: {exc}") from None
    if not parsed.scheme and not parsed.netloc:
        return uri
    scheme = parsed.scheme.lower()
    if not scheme or scheme.startswith("x-"):
        return uri
    if scheme == "airflow":
        raise ValueError(f"Asset scheme 'airflow' is reserved (uri {uri!r})")
    _, has_auth, netloc = parsed.netloc.rpartition("@")
    if has_auth:
        warnings.warn("An Asset URI should not contain auth info (e.g. username or password). "
                      "It has been automatically dropped.", UserWarning, stacklevel=4)
    query = (urllib.parse.urlencode(sorted(urllib.parse.parse_qsl(parsed.query)))
             if parsed.query else "")
    return urllib.parse.urlunsplit(parsed._replace(
        scheme=scheme, netloc=netloc, path=parsed.path.rstrip("/") or "/", query=query,
        fragment=""))


def _identifier(kind: str, attribute: str, value: object, *, empty_ok: bool = False) -> str:
    """Airflow's ``_validate_identifier`` (and ``_validate_non_empty_identifier``)."""
    if not isinstance(value, str):
        raise ValueError(f"{kind} {attribute} must be a string, got {value!r}")
    if len(value) > 1500:
        raise ValueError(f"{kind} {attribute} cannot exceed 1500 characters "
                         f"({value[:40]!r}...)")
    if value.isspace():
        raise ValueError(f"{kind} {attribute} cannot be just whitespace ({value!r})")
    if not value and not empty_ok:
        raise ValueError(f"{kind} {attribute} cannot be empty")
    return value


def _json_extra(kind: str, extra: object) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"{kind} extra must be a dict, got {extra!r}")
    try:
        json.dumps(dict(extra), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind} extra must be JSON-serializable: {extra!r} ({exc})") from None
    return dict(extra)


# -- expressions --------------------------------------------------------------------------------


class BaseAsset:
    """What ``DAG(schedule=...)`` accepts: an asset, an alias, a reference or a condition;
    ``a | b`` is :class:`AssetAny`, ``a & b`` :class:`AssetAll`."""

    def __bool__(self) -> bool:
        return True

    def __or__(self, other: object) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(self, other)

    def __and__(self, other: object) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(self, other)

    def as_expression(self) -> Any:
        """The condition as JSON (Airflow's ``DagModel.asset_expression``, for display)."""
        raise NotImplementedError

    def iter_assets(self) -> Iterator[Asset]:
        """Every asset the expression names (duplicates included), depth first."""
        raise NotImplementedError

    def iter_asset_aliases(self) -> Iterator[AssetAlias]:
        """Every alias the expression names, depth first."""
        raise NotImplementedError

    def iter_asset_refs(self) -> Iterator[AssetRef]:
        """Every name/URI reference the expression holds, depth first."""
        raise NotImplementedError

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        """Whether the condition holds, given for each asset (by :attr:`Asset.key`), alias
        (``("alias", name)``) or reference (``("name_ref", n)``/``("uri_ref", u)``) whether it
        has a new event (missing: False). The scheduler evaluates in bulk elsewhere; this is the
        reference semantics."""
        raise NotImplementedError


class AssetWatcher:
    """Watches an external resource for an asset through an event trigger
    (``airflow.sdk.AssetWatcher``): accepted and kept on the asset; dagcore has no triggerer
    that runs it."""

    def __init__(self, name: str, trigger: Any) -> None:
        self.name = _identifier("AssetWatcher", "name", name)
        self.trigger = trigger

    def __repr__(self) -> str:
        return f"AssetWatcher(name={self.name!r}, trigger={self.trigger!r})"


class Asset(BaseAsset):
    """A piece of data tasks produce and DAGs are scheduled on (``airflow.sdk.Asset``).

    Args:
        name: the asset's name (default: the URI); ``"self"`` and ``"context"`` are refused.
        uri: where the data is (default: the name); sanitized as Airflow does.
        group: the asset's group (default ``"asset"``; ``"dataset"`` for :class:`Dataset`).
        extra: JSON-serializable details (not event extra).
        watchers: accepted and kept (no triggerer runs them).
        allow_producer_teams: the teams whose DAGs may produce events for this asset in Airflow's
            multi-team mode; kept, with no effect: dagcore has one team, as Airflow with
            ``[core] multi_team = False``, where every producer is allowed.

    Raises:
        TypeError: neither name nor uri.
        ValueError: a bad name, URI, group or extra; the message names it.
    """

    asset_type: ClassVar[str] = "asset"

    def __init__(self, name: str | None = None, uri: str | os.PathLike[str] | None = None, *,
                 group: str | None = None, extra: Mapping[str, Any] | None = None,
                 watchers: list[Any] | None = None,
                 allow_producer_teams: Sequence[str] | None = None) -> None:
        if name is None and uri is None:
            raise TypeError(f"{type(self).__name__}() requires either 'name' or 'uri'")
        if name is None:
            name = str(uri)
        elif uri is None:
            uri = name
        kind = type(self).__name__
        self.name: str = _identifier(kind, "name", name)
        if self.name in ("self", "context"):
            raise ValueError(f"prohibited name for asset: {self.name}")
        if isinstance(uri, os.PathLike):  # an ObjectStoragePath or a pathlib path
            uri = os.fspath(uri)
        self.uri: str = _sanitize_uri(_identifier(kind, "uri", uri))
        self.group: str = _identifier(kind, "group", self.asset_type if group is None else group,
                                      empty_ok=True)
        self.extra: dict[str, Any] = _json_extra(kind, extra)
        self.watchers: list[Any] = list(watchers or [])
        self.allow_producer_teams: list[str] = list(allow_producer_teams or [])

    @staticmethod
    def ref(*, name: str = "", uri: str = "") -> AssetRef:
        """A reference to an asset defined elsewhere, by name or by URI (not both).

        Raises:
            TypeError: both or neither given, with Airflow's messages.
        """
        if name and uri:
            raise TypeError("Asset reference must be made to either name or URI, not both")
        if name:
            return AssetNameRef(name)
        if uri:
            return AssetUriRef(uri)
        raise TypeError("Asset reference expects keyword argument 'name' or 'uri'")

    @property
    def key(self) -> tuple[str, str]:
        """``(name, uri)``: what identifies the asset (Airflow's ``AssetUniqueKey``)."""
        return (self.name, self.uri)

    def __fspath__(self) -> str:
        return self.uri

    def _fields(self) -> tuple[str, str, str, str]:
        return (self.name, self.uri, self.group, json.dumps(self.extra, sort_keys=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Asset):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        extra = f", extra={self.extra!r}" if self.extra else ""
        return (f"{type(self).__name__}(name={self.name!r}, uri={self.uri!r}, "
                f"group={self.group!r}{extra})")

    def as_expression(self) -> Any:
        return {"asset": {"uri": self.uri, "name": self.name, "group": self.group}}

    def iter_assets(self) -> Iterator[Asset]:
        yield self

    def iter_asset_aliases(self) -> Iterator[AssetAlias]:
        return iter(())

    def iter_asset_refs(self) -> Iterator[AssetRef]:
        return iter(())

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        return bool(statuses.get(self.key, False))


class Dataset(Asset):
    """Airflow 2's name (``airflow.datasets.Dataset``): an asset of group ``"dataset"``.

    Airflow 2's positional form ``Dataset(uri, extra)`` is read as such (a mapping second).
    """

    asset_type: ClassVar[str] = "dataset"

    def __init__(self, name: str | None = None, uri: Any = None, *,
                 group: str | None = None, extra: Mapping[str, Any] | None = None,
                 watchers: list[Any] | None = None) -> None:
        if isinstance(uri, Mapping) and extra is None:
            name, uri, extra = None, name, uri
        super().__init__(name, uri, group=group, extra=extra, watchers=watchers)


class Model(Asset):
    """An asset of group ``"model"`` (``airflow.sdk.Model``)."""

    asset_type: ClassVar[str] = "model"


class AssetRef(BaseAsset):
    """A reference to an asset by name or URI, resolved by the scheduler (``Asset.ref``)."""

    _field: ClassVar[str]
    value: str

    def __init__(self, value: str) -> None:
        self.value = _identifier(type(self).__name__, self._field, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetRef):
            return NotImplemented
        return type(self) is type(other) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._field}={self.value!r})"

    def as_expression(self) -> Any:
        return {"asset_ref": {self._field: self.value}}

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())

    def iter_asset_aliases(self) -> Iterator[AssetAlias]:
        return iter(())

    def iter_asset_refs(self) -> Iterator[AssetRef]:
        yield self

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        return bool(statuses.get((f"{self._field}_ref", self.value), False))


class AssetNameRef(AssetRef):
    """A reference to the asset of this name."""

    _field = "name"

    @property
    def name(self) -> str:
        return self.value


class AssetUriRef(AssetRef):
    """A reference to the asset of this URI."""

    _field = "uri"

    @property
    def uri(self) -> str:
        return self.value


class AssetAlias(BaseAsset):
    """A name under which a task attaches asset events decided at run time
    (``airflow.sdk.AssetAlias``; Airflow 2's ``DatasetAlias``).

    Raises:
        ValueError: an empty, whitespace-only or too long name or group.
    """

    def __init__(self, name: str, group: str = "asset") -> None:
        self.name: str = _identifier(type(self).__name__, "name", name)
        self.group: str = _identifier(type(self).__name__, "group", group, empty_ok=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetAlias):
            return NotImplemented
        return (self.name, self.group) == (other.name, other.group)

    def __hash__(self) -> int:
        return hash(("alias", self.name, self.group))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, group={self.group!r})"

    def as_expression(self) -> Any:
        return {"alias": {"name": self.name, "group": self.group}}

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())

    def iter_asset_aliases(self) -> Iterator[AssetAlias]:
        yield self

    def iter_asset_refs(self) -> Iterator[AssetRef]:
        return iter(())

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        return bool(statuses.get(("alias", self.name), False))


DatasetAlias = AssetAlias


class _AssetBooleanCondition(BaseAsset):
    """AND/OR of asset expressions."""

    _word: ClassVar[str]

    def __init__(self, *objects: BaseAsset) -> None:
        for obj in objects:
            if not isinstance(obj, BaseAsset):
                raise TypeError(f"expect asset expressions in condition, got {obj!r}")
        self.objects: tuple[BaseAsset, ...] = tuple(objects)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _AssetBooleanCondition):
            return NotImplemented
        return type(self) is type(other) and self.objects == other.objects

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.objects))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"

    def as_expression(self) -> Any:
        return {self._word: [o.as_expression() for o in self.objects]}

    def iter_assets(self) -> Iterator[Asset]:
        for obj in self.objects:
            yield from obj.iter_assets()

    def iter_asset_aliases(self) -> Iterator[AssetAlias]:
        for obj in self.objects:
            yield from obj.iter_asset_aliases()

    def iter_asset_refs(self) -> Iterator[AssetRef]:
        for obj in self.objects:
            yield from obj.iter_asset_refs()


class AssetAny(_AssetBooleanCondition):
    """True when any of its parts is (``a | b``); ``(a | b) | c`` flattens to three parts."""

    _word = "any"

    def __or__(self, other: object) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(*self.objects, other)

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        return any(o.evaluate(statuses) for o in self.objects)


class AssetAll(_AssetBooleanCondition):
    """True when all of its parts are (``a & b``); ``(a & b) & c`` flattens to three parts."""

    _word = "all"

    def __and__(self, other: object) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(*self.objects, other)

    def evaluate(self, statuses: Mapping[Any, bool]) -> bool:
        return all(o.evaluate(statuses) for o in self.objects)


BaseDataset = BaseAsset
DatasetAll = AssetAll
DatasetAny = AssetAny


# -- serialized form (Airflow's encode_asset_condition) -----------------------------------------


def encode_asset_condition(value: BaseAsset) -> dict[str, Any]:
    """``value`` in Airflow's serialized shape: ``{"__type": "asset", "name", "uri", "group",
    "extra"}``, ``{"__type": "asset_alias", "name", "group"}``, ``{"__type": "asset_all" |
    "asset_any", "objects": [...]}``, ``{"__type": "asset_ref", "name" | "uri"}``.

    Raises:
        ValueError: not an asset expression.
    """
    if isinstance(value, Asset):
        return {"__type": "asset", "name": value.name, "uri": value.uri, "group": value.group,
                "extra": value.extra}
    if isinstance(value, AssetAlias):
        return {"__type": "asset_alias", "name": value.name, "group": value.group}
    if isinstance(value, AssetAll):
        return {"__type": "asset_all", "objects": [encode_asset_condition(o)
                                                   for o in value.objects]}
    if isinstance(value, AssetAny):
        return {"__type": "asset_any", "objects": [encode_asset_condition(o)
                                                   for o in value.objects]}
    if isinstance(value, AssetRef):
        return {"__type": "asset_ref", value._field: value.value}
    raise ValueError(f"serialization not implemented for {type(value).__name__!r}: {value!r}")


def decode_asset_condition(data: Mapping[str, Any]) -> BaseAsset:
    """The expression :func:`encode_asset_condition` wrote (Airflow 2's form, with only
    ``uri``/``extra`` for a dataset, is read too).

    Raises:
        ValueError: an unknown ``__type``.
    """
    kind = data.get("__type")
    if kind in ("asset", "dataset"):
        uri = data.get("uri")
        return Asset(name=data.get("name") or uri, uri=uri, group=data.get("group"),
                     extra=data.get("extra"))
    if kind in ("asset_alias", "dataset_alias"):
        return AssetAlias(name=data["name"], group=data.get("group") or "asset")
    if kind in ("asset_all", "dataset_all"):
        return AssetAll(*(decode_asset_condition(o) for o in data["objects"]))
    if kind in ("asset_any", "dataset_any"):
        return AssetAny(*(decode_asset_condition(o) for o in data["objects"]))
    if kind == "asset_ref":
        if "name" in data:
            return AssetNameRef(data["name"])
        return AssetUriRef(data["uri"])
    raise ValueError(f"deserialization not implemented for asset type {kind!r}")


def asset_outlets(values: Iterable[Any]) -> list[BaseAsset]:
    """The assets and aliases among a task's ``outlets`` (or ``inlets``), in order: what the
    scheduler records events for. Other entries (lineage strings, objects) are not assets."""
    return [v for v in values if isinstance(v, (Asset, AssetAlias, AssetRef))]


# -- timetables ---------------------------------------------------------------------------------


class AssetTriggeredTimetable(Timetable):
    """The timetable of a DAG scheduled on assets (Airflow's, summary ``"Asset"``): no
    time-based runs; the scheduler creates an ``asset_triggered`` run when
    :attr:`asset_condition` is met. A manual run's data interval is ``[run_after, run_after]``.
    """

    periodic = False
    description = "Triggered by assets"

    def __init__(self, assets: BaseAsset) -> None:
        if not isinstance(assets, BaseAsset):
            raise TypeError(f"an asset condition is needed, got {assets!r}")
        self.asset_condition: BaseAsset = assets

    @property
    def summary(self) -> str:
        return "Asset"

    def serialize(self) -> dict[str, Any]:
        return {"asset_condition": encode_asset_condition(self.asset_condition)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(decode_asset_condition(data["asset_condition"]))

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        return None

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after, run_after)

    def iter_dagrun_infos_between(self, earliest: datetime, latest: datetime, *,
                                  max_runs: int = 0) -> Any:
        raise ValueError("a DAG scheduled on assets has no time-based runs to backfill")

    def __repr__(self) -> str:
        return f"AssetTriggeredTimetable({self.asset_condition!r})"


class AssetOrTimeSchedule(AssetTriggeredTimetable):
    """Runs on a time schedule AND whenever its assets condition is met
    (``airflow.timetables.assets.AssetOrTimeSchedule``; Airflow 2's ``DatasetOrTimeSchedule``).

    Args:
        timetable: the time schedule (a Timetable, or a schedule value such as a cron string).
        assets: an asset expression, or a list of assets (all of them).

    Raises:
        ValueError: a bad schedule or a list with a non-asset entry.
    """

    def __init__(self, *, timetable: Any, assets: Any = None,
                 datasets: Any = None) -> None:
        assets = datasets if assets is None else assets
        condition = _condition_of(assets)
        if condition is None:
            raise ValueError(f"AssetOrTimeSchedule needs assets, got {assets!r}")
        super().__init__(condition)
        self.timetable: Timetable = (timetable if isinstance(timetable, Timetable)
                                     else create_timetable(timetable, "UTC"))
        self.periodic = self.timetable.periodic  # type: ignore[misc]
        self.active_runs_limit = self.timetable.active_runs_limit  # type: ignore[misc]
        self.description = (  # type: ignore[misc]
            "Triggered by assets or "
            f"{describe_timetable(self.timetable) or self.timetable.summary}")

    @property
    def summary(self) -> str:
        return f"Asset or {self.timetable.summary}"

    def serialize(self) -> dict[str, Any]:
        # layer-exception: the inner timetable is named by its stable class name, as the DAG's
        from dagcore.serialization_registry import stable_name

        return {"asset_condition": encode_asset_condition(self.asset_condition),
                "timetable": {"__type": stable_name(type(self.timetable)),
                              "__var": self.timetable.serialize()}}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        # layer-exception: the inner timetable is found by its stable class name, as the DAG's
        from dagcore.serialization_registry import class_for

        inner = data["timetable"]
        timetable = class_for(inner["__type"], Timetable).deserialize(
            dict(inner.get("__var") or {}))
        return cls(timetable=timetable, assets=decode_asset_condition(data["asset_condition"]))

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        return self.timetable.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return self.timetable.infer_manual_data_interval(run_after=run_after)

    def iter_dagrun_infos_between(self, earliest: datetime, latest: datetime, *,
                                  max_runs: int = 0) -> Any:
        if max_runs:
            return self.timetable.iter_dagrun_infos_between(earliest, latest, max_runs=max_runs)
        return self.timetable.iter_dagrun_infos_between(earliest, latest)

    def __repr__(self) -> str:
        return f"AssetOrTimeSchedule(timetable={self.timetable!r}, assets={self.asset_condition!r})"


DatasetOrTimeSchedule = AssetOrTimeSchedule
DatasetTriggeredTimetable = AssetTriggeredTimetable


def _condition_of(schedule: object) -> BaseAsset | None:
    """The asset condition a schedule value stands for, or None when it names no assets.

    Raises:
        ValueError: a list (or other collection) with an entry that is not an asset
            expression, with Airflow's message and the entry.
    """
    if isinstance(schedule, BaseAsset):
        return schedule
    if isinstance(schedule, (list, tuple, set, frozenset)):
        for item in schedule:
            if not isinstance(item, BaseAsset):
                raise ValueError("All elements in 'schedule' should be either assets, asset "
                                 f"references, or asset aliases; got {item!r}")
        return AssetAll(*schedule)
    return None


def schedule_timetable(schedule: object) -> Timetable | None:
    """The timetable of an asset schedule (an asset, an expression or a list of assets: all
    of them), or None for any other value (the DAG's time-based schedule rules apply)."""
    condition = _condition_of(schedule)
    return None if condition is None else AssetTriggeredTimetable(condition)


# -- task context: events -----------------------------------------------------------------------


@dataclass
class AssetEventRecord:
    """One asset event a task reported: the asset, its extra, and the alias it came through."""

    asset: Asset
    extra: dict[str, Any] = field(default_factory=dict)
    alias: AssetAlias | None = None


class Metadata:
    """Extra for an asset's event, yielded (or returned) by a task (``airflow.sdk.Metadata``).

    Raises:
        TypeError: ``asset`` is not an Asset; ValueError: ``extra`` is not JSON.
    """

    def __init__(self, asset: Asset, extra: Mapping[str, Any] | None = None,
                 alias: AssetAlias | str | None = None) -> None:
        if not isinstance(asset, Asset):
            raise TypeError(f"Metadata needs an Asset, got {asset!r}")
        self.asset = asset
        self.extra: dict[str, Any] = _json_extra("Metadata", extra)
        self.alias: AssetAlias | None = (AssetAlias(alias) if isinstance(alias, str)
                                         else alias)

    def __repr__(self) -> str:
        return f"Metadata({self.asset!r}, extra={self.extra!r}, alias={self.alias!r})"


def _asset_by_text(objects: Sequence[Any], text: str) -> Asset | None:
    """The first asset among ``objects`` whose URI is ``text``, else the first whose name is
    (how Airflow 2's string keys of ``outlet_events`` and ``inlet_events`` name an asset)."""
    for attr in ("uri", "name"):
        for obj in objects:
            if isinstance(obj, Asset) and getattr(obj, attr) == text:
                return obj
    return None


class OutletEventAccessor:
    """``outlet_events[key]``: set ``extra`` for an asset's event; ``add`` an event through an
    alias."""

    def __init__(self, key: BaseAsset) -> None:
        self.key = key
        self.extra: dict[str, Any] = {}
        self.asset_alias_events: list[AssetEventRecord] = []

    def add(self, asset: Asset | str, extra: Mapping[str, Any] | None = None) -> None:
        """Record an event of ``asset`` through this alias.

        Raises:
            TypeError: the key is not an alias, or ``asset`` is not an Asset.
        """
        if not isinstance(self.key, AssetAlias):
            raise TypeError(f"add() records events through an asset alias; {self.key!r} is not "
                            "one")
        if isinstance(asset, str):
            asset = Asset(uri=asset)
        if not isinstance(asset, Asset):
            raise TypeError(f"add() needs an Asset, got {asset!r}")
        self.asset_alias_events.append(AssetEventRecord(asset, _json_extra("event", extra),
                                                        self.key))


class OutletEventAccessors(Mapping[BaseAsset, OutletEventAccessor]):
    """The task context's ``outlet_events``: one accessor per asset or alias, made on first
    access. :meth:`events` gives what the task reported, for the task runner to store.

    Args:
        outlets: the task's outlets (one event per asset in them on success).
    """

    def __init__(self, outlets: Iterable[Any] = ()) -> None:
        self._outlets = asset_outlets(outlets)
        self._accessors: dict[BaseAsset, OutletEventAccessor] = {}

    def __getitem__(self, key: BaseAsset | str) -> OutletEventAccessor:
        if isinstance(key, str):
            key = self._string_key(key)
        if not isinstance(key, (Asset, AssetAlias, AssetRef)):
            raise KeyError(f"outlet_events are keyed by an Asset or AssetAlias, got {key!r}")
        if key not in self._accessors:
            self._accessors[key] = OutletEventAccessor(key)
        return self._accessors[key]

    def _string_key(self, text: str) -> BaseAsset:
        """Airflow 2 keys ``outlet_events`` by a string too: the outlet alias of that name (so
        ``outlet_events["my-alias"].add(...)`` works, as in its example_dataset_alias), else the
        outlet asset of that URI, then of that name, else the asset of that URI."""
        for outlet in self._outlets:
            if isinstance(outlet, AssetAlias) and outlet.name == text:
                return outlet
        found = _asset_by_text(self._outlets, text)
        return Asset(uri=text) if found is None else found

    def __iter__(self) -> Iterator[BaseAsset]:
        return iter(self._accessors)

    def __len__(self) -> int:
        return len(self._accessors)

    def record_metadata(self, metadata: Metadata) -> None:
        """What yielding ``metadata`` does: the asset's extra is updated; with an alias, an
        event is added through it."""
        self[metadata.asset].extra.update(metadata.extra)
        if metadata.alias is not None:
            self[metadata.alias].add(metadata.asset, extra=metadata.extra)

    def events(self) -> list[AssetEventRecord]:
        """The events a successful try records: one per asset outlet (with the extra the task
        set), then those added through aliases, in order."""
        out: list[AssetEventRecord] = []
        for outlet in self._outlets:
            if isinstance(outlet, Asset):
                accessor = self._accessors.get(outlet)
                out.append(AssetEventRecord(outlet, dict(accessor.extra) if accessor else {}))
        for key, accessor in self._accessors.items():
            if isinstance(key, AssetAlias):
                out.extend(accessor.asset_alias_events)
        return out


InletEventsLookup = Callable[[str, str], list[Any]]
"""Reads stored events for ``inlet_events``: ``(kind, value)`` with kind ``"asset_key"`` (value
``name\0uri``), ``"name"``, ``"uri"`` or ``"alias"``; returns the events, oldest first."""


class InletEventsAccessors(Mapping[Any, list[Any]]):
    """The task context's ``inlet_events``: the events of an inlet asset, oldest first. Without
    a ``lookup`` (no database: ``dag.test()`` before events are stored, a bare context) every
    list is empty; the task runner passes one that reads the ``asset_event`` table."""

    def __init__(self, inlets: Iterable[Any] = (),
                 lookup: InletEventsLookup | None = None) -> None:
        self._inlets = asset_outlets(inlets)
        self._lookup = lookup

    def _read(self, kind: str, value: str) -> list[Any]:
        return [] if self._lookup is None else list(self._lookup(kind, value))

    def __getitem__(self, key: Any) -> list[Any]:
        if isinstance(key, int):  # Airflow: inlet_events[0] is the first inlet's
            try:
                key = self._inlets[key]
            except IndexError:
                raise IndexError(f"the task has no inlet at position {key}") from None
        if isinstance(key, str):  # Airflow 2: an inlet's URI (its templates index by URI)
            found = _asset_by_text(self._inlets, key)
            if found is None:
                raise KeyError(f"{key!r} is not the URI or name of an inlet of the task")
            key = found
        if not isinstance(key, (Asset, AssetAlias, AssetRef)):
            raise KeyError(f"inlet_events are keyed by an Asset or AssetAlias, got {key!r}")
        if isinstance(key, (Asset, AssetAlias)) and key not in self._inlets:
            # Airflow looks the asset up among the task's inlets: another one is a KeyError.
            raise KeyError(f"{key!r} is not an inlet of the task")
        if isinstance(key, Asset):
            return self._read("asset_key", f"{key.name}\0{key.uri}")
        if isinstance(key, AssetAlias):
            return self._read("alias", key.name)
        return self._read(key._field, key.value)

    def for_asset(self, *, name: str | None = None, uri: str | None = None) -> list[Any]:
        """The events of the asset of this name and/or URI."""
        if name is None and uri is None:
            raise TypeError("for_asset() expects keyword argument 'name' or 'uri'")
        if name is not None and uri is not None:
            return self._read("asset_key", f"{name}\0{uri}")
        return self._read("name", name) if name is not None else self._read("uri", str(uri))

    def for_asset_alias(self, *, name: str) -> list[Any]:
        """The events added through the alias of this name."""
        return self._read("alias", name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._inlets)

    def __len__(self) -> int:
        return len(self._inlets)


class TriggeringAssetEvents(Mapping[Any, list[Any]]):
    """The task context's ``triggering_asset_events``: the events an asset-triggered run
    consumed, by asset (Airflow 3's ``TriggeringAssetEventsAccessor``; Airflow 2 keyed them by
    URI, which works too). A key may be an ``Asset``, an ``AssetAlias`` (the events recorded
    through it), a reference, or a URI string; an unknown one gives ``[]``.

    Args:
        events: records with ``asset`` (an :class:`Asset`) and ``source_aliases``, oldest
            first (``dagcore.asset_store.StoredAssetEvent``).
    """

    def __init__(self, events: Iterable[Any] = ()) -> None:
        self._by_asset: dict[Asset, list[Any]] = {}
        self._events = list(events)
        for event in self._events:
            self._by_asset.setdefault(event.asset, []).append(event)

    def __getitem__(self, key: Any) -> list[Any]:
        if isinstance(key, AssetAlias):
            return [e for e in self._events
                    if any(a.name == key.name for a in getattr(e, "source_aliases", ()))]
        if isinstance(key, Asset):
            return [e for e in self._events
                    if e.asset.name == key.name and e.asset.uri == key.uri]
        if isinstance(key, AssetRef):
            return [e for e in self._events if getattr(e.asset, key._field) == key.value]
        if isinstance(key, str):
            return [e for e in self._events if e.asset.uri == key]
        raise KeyError(f"triggering_asset_events are keyed by an asset, got {key!r}")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._by_asset)

    def __len__(self) -> int:
        return len(self._by_asset)


def collect_metadata(context: Mapping[str, Any], value: Any) -> Any:
    """Record ``value`` if it is :class:`Metadata` (or a list of them) in the context's
    ``outlet_events``; returns what the task's return value stays (None for Metadata)."""
    events = context.get("outlet_events")
    if not isinstance(events, OutletEventAccessors):
        return value
    if isinstance(value, Metadata):
        events.record_metadata(value)
        return None
    return value


# -- @asset -------------------------------------------------------------------------------------


class AssetDefinition(Asset):
    """An asset defined by the function that materializes it (``@asset``); its DAG (``dag``)
    has one task (``task``) whose outlet is the asset."""

    dag: DAG

    def __deepcopy__(self, memo: dict[int, Any]) -> AssetDefinition:
        # A copy of the task (rendering works on one) keeps the definition, not a copy of its
        # whole DAG.
        return self


class MultiAssetDefinition:
    """The DAG ``@asset.multi`` made: one task whose outlets are several assets."""

    def __init__(self, dag: DAG, outlets: list[BaseAsset]) -> None:
        self.dag = dag
        self.outlets = outlets

    def iter_assets(self) -> Iterator[Asset]:
        for outlet in self.outlets:
            yield from outlet.iter_assets()


_MISSING: Any = object()
_DAG_KWARGS_OF_ASSET = ("uri", "group", "extra", "watchers")


def _asset_dag(function: Callable[..., Any], name: str, outlets: list[BaseAsset],
               schedule: Any, dag_kwargs: dict[str, Any]) -> DAG:
    from dagcore.dag import DAG  # lazy: dag imports this module for schedules
    from dagcore.decorators import DecoratedPythonOperator

    # Parameters: ``self`` is the asset, ``context`` the task context, one with a default keeps
    # it, any other names an upstream asset (an inlet, passed as a reference by name).
    parameters = inspect.signature(function).parameters
    inlets: list[BaseAsset] = [Asset.ref(name=p) for p, spec in parameters.items()
                               if p not in ("self", "context") and spec.default is spec.empty]
    asset_self = outlets[0] if len(outlets) == 1 else None

    def materialize(**context: Any) -> Any:
        kwargs: dict[str, Any] = {}
        for p, spec in parameters.items():
            if p == "self":
                kwargs[p] = asset_self
            elif p == "context":
                kwargs[p] = context
            elif spec.default is spec.empty:
                kwargs[p] = Asset.ref(name=p)
        return function(**kwargs)

    functools.update_wrapper(materialize, function)
    materialize.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("context", inspect.Parameter.VAR_KEYWORD)])
    with DAG(dag_id=name, schedule=schedule, **dag_kwargs) as dag:
        DecoratedPythonOperator(task_id=name, python_callable=materialize,
                                outlets=list(outlets), inlets=inlets)
    return dag


class _AssetDecorator:
    """``@asset(schedule=..., uri=..., group=..., extra=..., **DAG arguments)`` and
    ``@asset.multi(outlets=[...], schedule=...)``."""

    def __call__(self, function: Callable[..., Any] | None = None, *, schedule: Any = _MISSING,
                 name: str | None = None, **kwargs: Any) -> Any:
        if function is not None:
            raise TypeError("@asset needs arguments: use @asset(schedule=...)")
        if schedule is _MISSING:
            raise TypeError("@asset() requires the 'schedule' argument (None for no schedule)")

        def wrap(func: Callable[..., Any]) -> AssetDefinition:
            asset_kwargs = {k: kwargs.pop(k) for k in _DAG_KWARGS_OF_ASSET if k in kwargs}
            definition = AssetDefinition(name=name or func.__name__, **asset_kwargs)
            definition.dag = _asset_dag(func, definition.name, [definition], schedule,
                                        dict(kwargs))
            return definition

        return wrap

    def multi(self, *, outlets: list[BaseAsset], schedule: Any, name: str | None = None,
              **kwargs: Any) -> Callable[[Callable[..., Any]], MultiAssetDefinition]:
        """A DAG named after the function whose one task produces every asset of ``outlets``.

        Raises:
            ValueError: an outlet that is not an Asset or AssetAlias (named).
        """
        for outlet in outlets:
            if not isinstance(outlet, (Asset, AssetAlias)):
                raise ValueError(f"@asset.multi outlets must be assets, got {outlet!r}")

        def wrap(func: Callable[..., Any]) -> MultiAssetDefinition:
            dag = _asset_dag(func, name or func.__name__, list(outlets), schedule, dict(kwargs))
            return MultiAssetDefinition(dag, list(outlets))

        return wrap


asset = _AssetDecorator()
