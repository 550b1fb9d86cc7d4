"""The asset-condition engine: which asset-scheduled DAGs are ready, all in one C++ call.

A DAG scheduled on assets has a condition, a boolean expression of ``AssetAll`` (``&``, a plain
list) and ``AssetAny`` (``|``) over assets, aliases and asset references. Airflow keeps, per
consuming DAG, the assets that got an event since its last asset-triggered run (the queue table,
rows ``(asset_id, target_dag_id)``); the DAG is ready when its condition holds with "the asset is
queued for this DAG" as the truth of each leaf: ``all()`` / ``any()`` of the children, so an empty
``AssetAll`` is true and an empty ``AssetAny`` false, and an alias is true when one of the assets
it resolves to is queued (false when it resolves to none). See docs/airflow-behaviour.md section
12.

Design: :class:`AssetConditions` compiles every DAG's condition once (when DAG versions change)
into the C++ engine's prefix description (``all(n)`` / ``any(n)`` / ``leaf(asset id)``), calling
the caller's resolver for each leaf to get asset ids; a leaf resolving to several ids becomes
``any`` of them, to none an ``any()`` that is false. :meth:`AssetConditions.ready` then evaluates
all conditions against the queued ``(dag key, asset id)`` pairs in one call with the GIL released
(:meth:`AssetConditions.ready_indices` takes int64 arrays of condition indexes and asset ids and
skips the key lookup). Like Airflow's scheduler, which only looks at DAGs with queue rows, a DAG
with no queued pair for an asset of its condition is never ready, whatever its condition.

The pairs :meth:`AssetConditions.ready` reads are usually a database driver's rows: new str
objects per row, sorted by DAG. The binding compares each key with the previous row's first
(same object, else length and bytes), then looks it up in a table of the set's str keys hashed
by content (``AssetKeyTable``: a fresh str has no cached hash, and SipHash costs more than the
lookup), and only then in the dict; each pair is marked as it is read, and the conditions run
without the GIL. A leaf, or an ``all`` / ``any`` of leaves only (the usual schedules), is decided
from the count of its distinct assets marked, without running its program.

:class:`ConditionCache` keeps each DAG's compiled condition by a version token (the scheduler's:
latest version id and ``dag_hash``): a loop compiles only the DAGs whose token changed and
builds the engine from the cached per-DAG descriptions in one C++ construction; a change of the
stored assets or alias links resolves again only the DAGs whose leaves can resolve differently
(docs/airflow-behaviour.md 12.7).

The serialized form read (Airflow's ``encode_asset_condition``; the ``__type`` values of
``DagAttributeTypes``), field by field:

* ``{"__type": "asset", "name": ..., "uri": ...}``: a leaf; ``name`` and/or ``uri`` must be
  strings (Airflow 2's form has only ``uri``); ``group``, ``extra`` and ``watchers`` are not read
  here (the resolver gets the whole dict and may read them);
* ``{"__type": "asset_all" | "asset_any", "objects": [...]}``: ``objects`` only;
* ``{"__type": "asset_alias", "name": ...}``: ``name`` (``group`` is not read);
* ``{"__type": "asset_ref", "name": ...}`` or ``{"__type": "asset_ref", "uri": ...}`` (Airflow 3's
  ``AssetNameRef`` / ``AssetUriRef``), also spelled ``asset_name_ref`` / ``asset_uri_ref``;
* Airflow 2's ``dataset``, ``dataset_all``, ``dataset_any`` and ``dataset_alias`` are read as
  their ``asset`` counterparts, and a plain list as ``asset_all``.

:func:`evaluate_python` is the straightforward Python evaluation of one condition (a walk over
the tree with a set lookup per leaf), the reference the tests and ``benchmarks/assets_bench.py``
compare the engine with.

Example:
    >>> ids = {"s3://a": 1, "s3://b": 2, "s3://c": 3}
    >>> def resolve(leaf):
    ...     return [ids[leaf["uri"]]] if "uri" in leaf else []
    >>> def asset(uri):
    ...     return {"__type": "asset", "name": uri, "uri": uri}
    >>> conditions = AssetConditions({
    ...     "both": {"__type": "asset_all", "objects": [asset("s3://a"), asset("s3://b")]},
    ...     "either": {"__type": "asset_any", "objects": [asset("s3://b"), asset("s3://c")]},
    ... }, resolve)
    >>> conditions.ready([("both", 1), ("either", 3)])
    ['either']
    >>> conditions.ready([("both", 1), ("both", 2)])
    ['both']
    >>> conditions.missing("both", [2])
    [1]
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, Union

from dagcore._native import core

__all__ = [
    "KIND_ALL",
    "KIND_ANY",
    "KIND_LEAF",
    "AssetConditions",
    "ConditionCache",
    "ResolvedCondition",
    "Resolver",
    "evaluate_python",
    "resolve_condition",
]

KIND_LEAF = 0
"""Node kind of a leaf in the engine's prefix description (its value: the asset id)."""
KIND_ALL = 1
"""Node kind of ``all(n)`` (its value: the child count)."""
KIND_ANY = 2
"""Node kind of ``any(n)`` (its value: the child count)."""

Resolver: TypeAlias = Callable[[Mapping[str, Any]], Iterable[int]]
"""Maps a leaf dict (asset, alias or reference) to the ids of the assets it stands for."""

ResolvedCondition: TypeAlias = Union[int, tuple[str, tuple["ResolvedCondition", ...]]]
"""A condition with its leaves resolved: an asset id, or ``("all" | "any", children)``."""

K = TypeVar("K", bound=Hashable)

_GROUPS = {"asset_all": "all", "dataset_all": "all", "asset_any": "any", "dataset_any": "any"}
# Leaf __type -> the fields of which at least one must be a string.
_LEAVES: dict[str, tuple[str, ...]] = {
    "asset": ("name", "uri"),
    "dataset": ("uri",),
    "asset_alias": ("name",),
    "dataset_alias": ("name",),
    "asset_ref": ("name", "uri"),
    "asset_name_ref": ("name",),
    "asset_uri_ref": ("uri",),
}


def _check_leaf(node: Mapping[str, Any], kind: str, where: str) -> None:
    fields = _LEAVES[kind]
    if not any(isinstance(node.get(f), str) for f in fields):
        wanted = " or ".join(repr(f) for f in fields)
        raise ValueError(f"{where}: a {kind!r} leaf needs a string {wanted}, got {dict(node)!r}")


def _leaf_ids(node: Mapping[str, Any], resolver: Resolver, where: str) -> list[int]:
    result = resolver(node)
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise TypeError(f"{where}: the resolver must return an iterable of asset ids, got "
                        f"{type(result).__name__} {result!r}")
    ids: list[int] = []
    for asset_id in result:
        if isinstance(asset_id, bool) or not isinstance(asset_id, int):
            raise TypeError(f"{where}: the resolver returned a non-int asset id {asset_id!r} "
                            f"for {dict(node)!r}")
        if asset_id < 0 or asset_id >= 2 ** 63:
            raise ValueError(f"{where}: the resolver returned asset id {asset_id} for "
                             f"{dict(node)!r}; ids must lie in 0 .. 2**63 - 1")
        ids.append(asset_id)
    return list(dict.fromkeys(ids))  # distinct, in the resolver's order


def resolve_condition(condition: Any, resolver: Resolver, *,
                      where: str = "condition") -> ResolvedCondition:
    """Check a serialized condition and resolve its leaves.

    Args:
        condition: Airflow's serialized condition (see the module docstring), or a list of
            conditions (``AssetAll``).
        resolver: maps each leaf dict to asset ids; one id is that asset, several are ``any``
            of them, none is false (``("any", ())``).
        where: how error messages name the condition.

    Returns:
        An asset id, or ``("all" | "any", children)``.

    Raises:
        TypeError: a node that is not a dict (or list), ``objects`` that is not a list, a
            resolver result that is not an iterable of ints.
        ValueError: a missing or unknown ``__type``, a leaf without its name/uri, a negative id.
    """
    if isinstance(condition, (list, tuple)):
        return ("all", tuple(resolve_condition(c, resolver, where=f"{where}[{i}]")
                             for i, c in enumerate(condition)))
    if not isinstance(condition, Mapping):
        raise TypeError(f"{where}: an asset condition must be a dict, got "
                        f"{type(condition).__name__} {condition!r}")
    kind = condition.get("__type")
    if kind in _GROUPS:
        objects = condition.get("objects")
        if not isinstance(objects, (list, tuple)):
            raise TypeError(f"{where}: {kind!r} needs a list 'objects', got "
                            f"{type(objects).__name__} {objects!r}")
        return (_GROUPS[kind], tuple(
            resolve_condition(c, resolver, where=f"{where}.objects[{i}]")
            for i, c in enumerate(objects)))
    if not isinstance(kind, str) or kind not in _LEAVES:
        known = ", ".join(sorted([*_GROUPS, *_LEAVES]))
        raise ValueError(f"{where}: unknown asset condition __type {kind!r} (known: {known})")
    _check_leaf(condition, kind, where)
    ids = _leaf_ids(condition, resolver, where)
    if len(ids) == 1:
        return ids[0]
    return ("any", tuple(ids))


def evaluate_python(condition: ResolvedCondition | Mapping[str, Any] | Sequence[Any],
                    queued: Container[int], resolver: Resolver | None = None) -> bool:
    """Evaluate one condition in Python (the reference the engine is checked against).

    Args:
        condition: a resolved condition, or a serialized one (then ``resolver`` is needed).
        queued: the asset ids queued for the DAG.
        resolver: resolves a serialized condition's leaves (see :func:`resolve_condition`).

    Returns:
        Airflow's outcome: ``all()`` / ``any()`` of the children, a leaf true when queued.
    """
    if isinstance(condition, (Mapping, list)):
        if resolver is None:
            raise TypeError("evaluate_python: a serialized condition needs a resolver")
        condition = resolve_condition(condition, resolver)
    return _evaluate(condition, queued)  # type: ignore[arg-type]


def _evaluate(node: ResolvedCondition, queued: Container[int]) -> bool:
    if isinstance(node, int):
        return node in queued
    op, children = node
    if op == "all":
        return all(_evaluate(c, queued) for c in children)
    return any(_evaluate(c, queued) for c in children)


def _emit(node: ResolvedCondition, kinds: bytearray, values: array[int]) -> None:
    if isinstance(node, int):
        kinds.append(KIND_LEAF)
        values.append(node)
        return
    op, children = node
    kinds.append(KIND_ALL if op == "all" else KIND_ANY)
    values.append(len(children))
    for child in children:
        _emit(child, kinds, values)


class AssetConditions(Generic[K]):
    """Every asset-scheduled DAG's condition, compiled once, evaluated in bulk.

    Args:
        conditions: DAG key -> serialized condition (Airflow's form, see the module docstring).
        resolver: maps a leaf dict to asset ids (see :func:`resolve_condition`).

    Raises:
        TypeError, ValueError: a bad condition or resolver result, naming the DAG and the node.
    """

    __slots__ = ("_index", "_key_table", "_keys", "_resolved", "_set")

    def __init__(self, conditions: Mapping[K, Any], resolver: Resolver) -> None:
        if not isinstance(conditions, Mapping):
            raise TypeError("conditions must be a mapping of DAG key to serialized condition, "
                            f"got {type(conditions).__name__}")
        if not callable(resolver):
            raise TypeError(f"resolver must be callable, got {type(resolver).__name__}")
        keys = tuple(conditions)
        resolved = [resolve_condition(conditions[key], resolver,
                                      where=f"condition of DAG {key!r}") for key in keys]
        kinds = bytearray()
        values: array[int] = array("q")
        offsets = [0]
        for node in resolved:
            _emit(node, kinds, values)
            offsets.append(len(kinds))
        self._setup(keys, tuple(resolved), core.AssetConditionSet(kinds, values, offsets))

    def _setup(self, keys: tuple[K, ...], resolved: tuple[ResolvedCondition, ...],
               engine: Any) -> None:
        self._keys: tuple[K, ...] = keys
        self._index: dict[K, int] = {key: i for i, key in enumerate(keys)}
        self._resolved: tuple[ResolvedCondition, ...] = resolved
        self._set = engine
        self._key_table = core.AssetKeyTable(keys)  # str keys by content (rows' fresh strs)

    @classmethod
    def _from_parts(cls, keys: tuple[K, ...], resolved: tuple[ResolvedCondition, ...],
                    kinds: Sequence[bytes], values: Sequence[bytes]) -> AssetConditions[K]:
        """The set of already resolved conditions, from each one's prefix description (node
        kinds, and values as int64 bytes): one C++ construction, no Python walk."""
        offsets = [0]
        total = 0
        for part in kinds:
            total += len(part)
            offsets.append(total)
        all_values: array[int] = array("q")
        all_values.frombytes(b"".join(values))
        self = cls.__new__(cls)
        self._setup(keys, resolved, core.AssetConditionSet(b"".join(kinds), all_values, offsets))
        return self

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[K, ...]:
        """The DAG keys, in condition-index order."""
        return self._keys

    def index(self, key: K) -> int:
        """The condition index of a DAG key (ValueError for an unknown key)."""
        try:
            return self._index[key]
        except KeyError:
            raise ValueError(f"no asset condition for DAG {key!r}") from None

    def resolved(self, key: K) -> ResolvedCondition:
        """A DAG's condition with its leaves resolved (for :func:`evaluate_python`)."""
        return self._resolved[self.index(key)]

    def assets(self, key: K) -> list[int]:
        """The distinct asset ids of a DAG's condition, sorted."""
        return self._set.assets(self.index(key))

    def ready(self, queued_pairs: Iterable[tuple[K, int]]) -> list[K]:
        """The DAGs whose condition holds for the queued ``(dag key, asset id)`` pairs.

        Pairs may repeat; a pair for an asset a DAG's condition does not mention is ignored.
        Returns the keys in condition-index order. ValueError for an unknown DAG key or a
        negative asset id, TypeError for an asset id that is not an int.
        """
        pairs = queued_pairs if isinstance(queued_pairs, (list, tuple)) else list(queued_pairs)
        # The key lookups happen in C++ too (the pairs are read in place).
        return self._set.ready_pairs(pairs, self._index, self._keys, self._key_table)

    def ready_indices(self, dags: array[int] | Sequence[int],
                      asset_ids: array[int] | Sequence[int]) -> list[int]:
        """:meth:`ready` on parallel int64 arrays of condition indexes and asset ids.

        Returns the ready condition indexes, ascending. ValueError for an index out of range,
        a negative asset id or arrays of different lengths (naming the pair).
        """
        return self._set.ready(dags, asset_ids)

    def missing(self, key: K, queued: Iterable[int]) -> list[int]:
        """The asset ids of a DAG's condition that are not among ``queued``, sorted."""
        ids = queued if isinstance(queued, (list, tuple, array)) else list(queued)
        return self._set.missing(self.index(key), ids)


# Leaf types whose resolution cannot change once it found an asset: an asset is its (name, uri)
# row, created once. Aliases gain links and references gain assets later.
_STABLE_LEAVES = frozenset({"asset", "dataset"})


@dataclass(frozen=True)
class _Compiled:
    token: Hashable
    condition: Any  # the serialized condition, kept to resolve it again without loading it
    resolved: ResolvedCondition
    kinds: bytes
    values: bytes  # int64, native byte order
    volatile: bool  # an alias or reference leaf, or an asset leaf not found (yet)


class ConditionCache(Generic[K]):
    """Compiled conditions cached per DAG by a version token: only what changed is compiled.

    A scheduler loop knows each queued DAG's current version (a *token*: any hashable that
    changes when the DAG's serialized form may have changed, e.g. ``(version id, dag_hash)``).
    :meth:`sync` compiles (resolves and turns into the engine's prefix description) only the
    DAGs whose token is new or differs from the cached one, then builds the C++ engine from the
    cached descriptions of every cached DAG in one construction (a few hundred microseconds for
    a thousand DAGs), and returns the previous :class:`AssetConditions` unchanged when nothing
    changed. A DAG whose ``load`` gives ``None`` (no asset condition, or its version is gone)
    is compiled as ``any()``: never ready. DAGs are never dropped implicitly (a DAG without
    queue rows has no pairs, so it is not ready whatever its condition); :meth:`discard` drops
    them.

    Resolution depends on the stored assets and alias links, summed up by the caller's
    *resolver state* (a hashable): when it changes, only the *volatile* DAGs are resolved again
    (those with an alias or reference leaf, or an asset leaf that resolved to no asset), from
    the serialized condition kept in the cache. An asset leaf that found its asset keeps it
    (assets are unique by name and URI and are not renamed).

    The result is the same as a fresh :class:`AssetConditions` of the same conditions with the
    same resolver (the unit tests check it, adding, changing and removing DAGs); only the
    condition indexes' order may differ (cache order: first seen first).
    """

    __slots__ = ("_compiled", "_entries", "_state", "compiles")

    def __init__(self) -> None:
        self._entries: dict[K, _Compiled] = {}
        self._state: Hashable = None
        self._compiled: AssetConditions[K] | None = None
        self.compiles = 0
        """How many conditions were resolved and compiled since creation (tests read it)."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def token(self, key: K) -> Hashable:
        """The token a DAG was last compiled for (KeyError when it is not cached)."""
        return self._entries[key].token

    def discard(self, keys: Iterable[K]) -> int:
        """Drop these DAGs (unknown keys are ignored); returns how many were dropped."""
        dropped = 0
        for key in keys:
            if self._entries.pop(key, None) is not None:
                dropped += 1
        if dropped:
            self._compiled = None
        return dropped

    def sync(self, tokens: Mapping[K, Hashable], load: Callable[[K], Any],
             resolver: Callable[[list[Any]], Resolver], state: Hashable = None
             ) -> AssetConditions[K]:
        """Bring the DAGs of ``tokens`` up to date and return the compiled set.

        Args:
            tokens: DAG key -> its current version token (the DAGs the caller needs now).
            load: DAG key -> its serialized condition, or ``None`` for a DAG without one;
                called only for a DAG whose token is new or changed.
            resolver: returns the leaf resolver (see :func:`resolve_condition`) for the
                serialized conditions it is given (those about to be resolved, so that it may
                read only their assets); called at most once per sync, only when something has
                to be resolved.
            state: the resolver state (see the class docstring).

        Returns:
            Every cached DAG's condition (a superset of ``tokens``' DAGs), compiled.

        Raises:
            TypeError, ValueError: a bad condition or resolver result (naming the DAG); the
                cache keeps what it had before the call.
        """
        stale = [key for key, token in tokens.items()
                 if (entry := self._entries.get(key)) is None or entry.token != token]
        if state != self._state:  # resolve the volatile DAGs again, queued or not
            seen = set(stale)
            stale.extend(key for key, entry in self._entries.items()
                         if entry.volatile and key not in seen)
        if not stale and self._compiled is not None:
            self._state = state
            return self._compiled
        updates: dict[K, _Compiled] = {}
        if stale:
            todo: list[tuple[K, Hashable, Any]] = []
            for key in stale:
                entry = self._entries.get(key)
                token = tokens[key] if key in tokens else entry.token  # type: ignore[union-attr]
                if entry is not None and entry.token == token:
                    todo.append((key, token, entry.condition))  # the state changed
                else:
                    todo.append((key, token, load(key)))
            resolve = resolver([c for _, _, c in todo if c is not None])
            for key, token, condition in todo:
                updates[key] = self._compile(key, token, condition, resolve)
        self._entries.update(updates)
        self._state = state
        self.compiles += len(updates)
        entries = self._entries
        keys = tuple(entries)
        self._compiled = AssetConditions._from_parts(
            keys, tuple(e.resolved for e in entries.values()),
            [e.kinds for e in entries.values()], [e.values for e in entries.values()])
        return self._compiled

    @staticmethod
    def _compile(key: K, token: Hashable, condition: Any, resolver: Resolver) -> _Compiled:
        volatile = False

        def tracking(leaf: Mapping[str, Any]) -> Iterable[int]:
            nonlocal volatile
            result = resolver(leaf)
            if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
                return result  # resolve_condition names the bad result
            ids = list(result)
            if not ids or leaf.get("__type") not in _STABLE_LEAVES:
                volatile = True
            return ids

        if condition is None:
            resolved: ResolvedCondition = ("any", ())
        else:
            resolved = resolve_condition(condition, tracking, where=f"condition of DAG {key!r}")
        kinds = bytearray()
        values: array[int] = array("q")
        _emit(resolved, kinds, values)
        return _Compiled(token, condition, resolved, bytes(kinds), values.tobytes(), volatile)
