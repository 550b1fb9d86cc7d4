"""DAG and task params: :class:`Param` (a value with a JSON-schema subset) and :class:`ParamsDict`.

As in Airflow, a :class:`Param` without a default is *required*: resolving it without a value
raises. ``dag_run.conf`` overrides params by key (:func:`merge_params`), and the merged values are
validated before a task runs.

The schema keywords understood are the ones DAG authors use: ``type`` (a name or a list of names
among ``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``, ``null``),
``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``,
``maxLength``, ``enum``, ``const``, ``pattern`` (searched, as JSON Schema does), ``minItems``,
``maxItems``, ``items``, ``properties`` and ``required`` for objects. Other keywords (``title``,
``format``, ``description``, ...) are kept for display and not checked.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from dagcore.exceptions import ParamValidationError

__all__ = ["NOTSET", "Param", "ParamsDict", "merge_params", "validate_schema"]


class _NotSet:
    """The marker for "no value given" (``None`` is a valid param value)."""

    _instance: _NotSet | None = None

    def __new__(cls) -> _NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _NotSet:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _NotSet:
        return self


NOTSET: Any = _NotSet()

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict, Mapping),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name not in _TYPES:
        raise ValueError(f"unknown JSON-schema type {name!r} (expected one of: "
                         f"{', '.join(_TYPES)})")
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def validate_schema(value: Any, schema: Mapping[str, Any], path: str = "") -> None:
    """Check ``value`` against ``schema`` (the subset described in the module docstring).

    Raises:
        ParamValidationError: the first violation, naming the keyword and the value.
    """
    where = f" at {path}" if path else ""
    if "type" in schema:
        types = schema["type"]
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, name) for name in names):
            raise ParamValidationError(f"{value!r} is not of type {' or '.join(map(repr, names))}"
                                       f"{where}")
    if "enum" in schema and value not in schema["enum"]:
        raise ParamValidationError(f"{value!r} is not one of {list(schema['enum'])!r}{where}")
    if "const" in schema and value != schema["const"]:
        raise ParamValidationError(f"{value!r} is not {schema['const']!r}{where}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ParamValidationError(f"{value!r} is less than the minimum of "
                                       f"{schema['minimum']!r}{where}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ParamValidationError(f"{value!r} is greater than the maximum of "
                                       f"{schema['maximum']!r}{where}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise ParamValidationError(f"{value!r} is less than or equal to the minimum of "
                                       f"{schema['exclusiveMinimum']!r}{where}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            raise ParamValidationError(f"{value!r} is greater than or equal to the maximum of "
                                       f"{schema['exclusiveMaximum']!r}{where}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise ParamValidationError(f"{value!r} is shorter than {schema['minLength']}{where}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ParamValidationError(f"{value!r} is longer than {schema['maxLength']}{where}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            raise ParamValidationError(f"{value!r} does not match {schema['pattern']!r}{where}")
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise ParamValidationError(f"{list(value)!r} should have at least "
                                       f"{schema['minItems']} items{where}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ParamValidationError(f"{list(value)!r} should have at most "
                                       f"{schema['maxItems']} items{where}")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                validate_schema(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, Mapping):
        for key in schema.get("required", ()):
            if key not in value:
                raise ParamValidationError(f"{key!r} is a required property{where}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate_schema(value[key], sub, f"{path}.{key}" if path else str(key))


class Param:
    """A param's default value and schema (Airflow's ``Param``).

    Args:
        default: the value used when neither the trigger's ``conf`` nor the caller gives one;
            without it the param is required.
        description: shown in the trigger form.
        **schema: JSON-schema keywords (``type="integer", minimum=1``...).

    Raises:
        ValueError: an unknown ``type`` name.
    """

    __slots__ = ("description", "schema", "value")

    def __init__(self, default: Any = NOTSET, description: str | None = None,
                 **schema: Any) -> None:
        self.value = default
        self.description = description
        self.schema = schema
        for name in ([schema["type"]] if isinstance(schema.get("type"), str)
                     else schema.get("type", ())):
            if name not in _TYPES:
                raise ValueError(f"unknown JSON-schema type {name!r} for Param (expected one of: "
                                 f"{', '.join(_TYPES)})")

    @property
    def has_value(self) -> bool:
        """Whether the param has a value (a default or one set later)."""
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, *, suppress_exception: bool = False) -> Any:
        """The param's value: ``value`` if given, else its own, validated against the schema.

        Raises:
            ParamValidationError: no value at all, or a value the schema rejects (unless
                ``suppress_exception``, which returns ``None`` instead).
        """
        final = self.value if value is NOTSET else value
        try:
            if final is NOTSET:
                raise ParamValidationError("No value passed and Param has no default value")
            validate_schema(final, self.schema)
        except ParamValidationError:
            if suppress_exception:
                return None
            raise
        return final

    def dump(self) -> dict[str, Any]:
        """The param as plain data (value, description, schema)."""
        return {"value": None if self.value is NOTSET else self.value,
                "description": self.description, "schema": dict(self.schema)}

    def __copy__(self) -> Param:
        return Param(self.value, self.description, **self.schema)

    def __deepcopy__(self, memo: dict[int, Any]) -> Param:
        return Param(copy.deepcopy(self.value, memo), self.description,
                     **copy.deepcopy(self.schema, memo))

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return (self.value, self.description, self.schema) == (other.value, other.description,
                                                               other.schema)

    __hash__ = None  # type: ignore[assignment]


class ParamsDict(MutableMapping[str, Any]):
    """Params by name; reading a key gives its resolved value (Airflow's ``ParamsDict``).

    Plain values are wrapped in a schema-less :class:`Param`; assigning to a key that holds a
    :class:`Param` validates the new value against that param's schema.

    Raises:
        ParamValidationError: (on assignment, :meth:`validate`) a value the schema rejects; the
            message names the param: ``Invalid input for param <name>: ...``.
    """

    __slots__ = ("_dict",)

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._dict: dict[str, Param] = {}
        for key, value in (params or {}).items():
            self._dict[key] = value if isinstance(value, Param) else Param(value)

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Param):
            self._dict[key] = value
            return
        param = self._dict.get(key)
        if param is None:
            self._dict[key] = Param(value)
            return
        try:
            param.resolve(value)
        except ParamValidationError as exc:
            raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None
        param.value = value

    def __getitem__(self, key: str) -> Any:
        try:
            param = self._dict[key]
        except KeyError:
            raise KeyError(key) from None
        try:
            return param.resolve()
        except ParamValidationError as exc:
            raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None

    def __delitem__(self, key: str) -> None:
        del self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __repr__(self) -> str:
        return f"ParamsDict({self._dict!r})"

    def __copy__(self) -> ParamsDict:
        return ParamsDict({k: copy.copy(p) for k, p in self._dict.items()})

    def __deepcopy__(self, memo: dict[int, Any]) -> ParamsDict:
        return ParamsDict({k: copy.deepcopy(p, memo) for k, p in self._dict.items()})

    def get_param(self, key: str) -> Param:
        """The :class:`Param` object under ``key`` (``KeyError`` if none)."""
        return self._dict[key]

    def items_params(self) -> Iterator[tuple[str, Param]]:
        """The ``(name, Param)`` pairs."""
        return iter(self._dict.items())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Set each key as ``__setitem__`` does (validating against existing schemas); a
        :class:`ParamsDict` contributes its :class:`Param` objects."""
        if isinstance(other, ParamsDict):
            for key, param in other.items_params():
                self._dict[key] = copy.copy(param)
        else:
            for key, value in dict(other).items():
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def validate(self) -> dict[str, Any]:
        """Every param's resolved value, by name.

        Raises:
            ParamValidationError: the first param that is missing or invalid, named.
        """
        resolved = {}
        for key, param in self._dict.items():
            try:
                resolved[key] = param.resolve()
            except ParamValidationError as exc:
                raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None
        return resolved

    def dump(self) -> dict[str, Any]:
        """The current values by name (``None`` for a required param without a value)."""
        return {key: None if p.value is NOTSET else p.value for key, p in self._dict.items()}


def merge_params(*layers: Mapping[str, Any] | None,
                 conf: Mapping[str, Any] | None = None) -> ParamsDict:
    """Params as a task run sees them: the layers in order (DAG params, then task params), then
    ``dag_run.conf`` on top, validated against the schemas, as Airflow does with
    ``dag_run_conf_overrides_params`` (its default).

    Raises:
        ParamValidationError: a conf value the schema rejects, or a required param that neither a
            default nor ``conf`` gives; the message names the param.
    """
    merged = ParamsDict()
    for layer in layers:
        if layer:
            merged.update(layer if isinstance(layer, ParamsDict) else ParamsDict(layer))
    merged = copy.deepcopy(merged)
    if conf:
        merged.update(conf)
    merged.validate()
    return merged
