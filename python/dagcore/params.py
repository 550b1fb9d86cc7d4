"""DAG and task params: :class:`Param` (a value with a JSON schema) and :class:`ParamsDict`.

As in Airflow, a :class:`Param` without a default is *required*: resolving it without a value
raises. ``dag_run.conf`` overrides params by key (:func:`merge_params`), and the merged values are
validated before a task runs; the task sees them as a plain ``dict`` (:meth:`ParamsDict.validate`).

Design note. Validation is Airflow's ``Param.resolve`` (``airflow/sdk/definitions/param.py``,
docs/airflow-behaviour.md 8.1): the ``jsonschema`` library's
``validate(value, schema, format_checker=FormatChecker())``, so every keyword (``oneOf``,
``anyOf``, ``if``/``then``, ``$ref``, ``dependentRequired``...) and every format the library
checks behaves as it does under Airflow, with the library's error text. Two format checkers
need optional libraries Airflow installs along with jsonschema (``rfc3339-validator`` for
``date-time``, ``isoduration`` for ``duration``); when they are missing, dagcore registers
checkers of its own with the same rules, so a ``date-time`` param is never silently left
unchecked. A value must be JSON-serializable (Airflow's ``_check_json``): params travel as JSON
(``dag_run.conf``, the serialized DAG, the trigger form; their stored form:
docs/airflow-behaviour.md 8.2).
"""

from __future__ import annotations

import calendar
import copy
import json
import re
from collections.abc import Iterator, Mapping, MutableMapping
from functools import cache
from typing import TYPE_CHECKING, Any

from dagcore.exceptions import ParamValidationError

if TYPE_CHECKING:
    import jsonschema

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

# The JSON-schema type names; a misspelt one (``"int"``) is refused when the Param is made.
_TYPE_NAMES = ("string", "integer", "number", "boolean", "array", "object", "null")

# rfc3339-validator's grammar (RFC 3339 section 5.6, ``T`` and ``Z`` in upper case after
# jsonschema's ``.upper()``); the day is checked against the month separately.
_RFC3339 = re.compile(r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
                      r"(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)", re.ASCII)
_NUMBER = r"(?:\d+(?:[.,]\d*)?|[.,]\d+)"
# ISO 8601 durations as isoduration parses them: an optional sign, designators in order (Y M D,
# or W alone), a ``T`` only before a time part (H M S), at least one designator. (Its
# alternative ``PYYYY-MM-DDThh:mm:ss`` form is not accepted here.)
_ISO_DURATION = re.compile(
    rf"[+-]?P(?!$)(?:{_NUMBER}W|(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}D)?)"
    rf"(?:T(?=[\d.,])(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?", re.ASCII)


def _is_rfc3339_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    match = _RFC3339.fullmatch(instance.upper())
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    return year > 0 and 1 <= day <= calendar.monthrange(year, month)[1]


def _is_iso_duration(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return _ISO_DURATION.fullmatch(instance) is not None


@cache
def _format_checker() -> jsonschema.FormatChecker:
    """jsonschema's checker (Airflow passes ``FormatChecker()``), completed where an optional
    library is missing (module docstring). jsonschema is imported here, not with the module,
    as Airflow does: importing it costs a tenth of a second that commands without params
    should not pay."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_is_rfc3339_date_time)
    if "duration" not in checker.checkers:
        checker.checks("duration")(_is_iso_duration)
    return checker


def _check_json(value: Any) -> None:
    """Airflow's ``Param._check_json``: a value that ``json.dumps`` refuses is an error, with
    Airflow's text (docs/airflow-behaviour.md 8.1)."""
    try:
        json.dumps(value)
    except Exception:  # noqa: BLE001 - TypeError, ValueError (circular), RecursionError...
        raise ParamValidationError(f"All provided parameters must be json-serializable. The "
                                   f"value '{value}' is not serializable.") from None


def _check_schema(schema: Mapping[str, Any]) -> None:
    """Refuse a schema the validator would refuse at every resolve, when the Param is made (so
    resolving need not check it again: jsonschema's check is most of a validation's cost).

    Raises:
        ParamValidationError: an unknown ``type`` name, or a schema that is not valid JSON
            Schema; the message names the bad part.
    """
    if not schema:
        return
    types = schema.get("type", ())
    for name in [types] if isinstance(types, str) else types:
        if name not in _TYPE_NAMES:
            raise ParamValidationError(f"unknown JSON-schema type {name!r} for Param (expected "
                                       f"one of: {', '.join(_TYPE_NAMES)})")
    import jsonschema
    import jsonschema.validators

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as err:
        location = "".join(f"[{part!r}]" for part in err.path)
        raise ParamValidationError(f"invalid JSON schema for Param at schema{location}: "
                                   f"{err.message}") from None


def _validate(value: Any, schema: Mapping[str, Any]) -> None:
    """``jsonschema.validate`` without its schema check (done by :func:`_check_schema`): the
    error jsonschema's ``best_match`` picks, as ``validate`` raises it."""
    import jsonschema
    import jsonschema.validators

    validator = jsonschema.validators.validator_for(schema)(
        schema, format_checker=_format_checker())
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        raise ParamValidationError(str(error))


def validate_schema(value: Any, schema: Mapping[str, Any]) -> None:
    """Check ``value`` against ``schema`` as Airflow's ``Param.resolve`` does
    (``jsonschema.validate(value, schema, format_checker=FormatChecker())``,
    docs/airflow-behaviour.md 8.1).

    Raises:
        ParamValidationError: a schema that is not valid JSON Schema, or the violation
            jsonschema reports (its full text, as Airflow's ``ParamValidationError(err)`` gives).
    """
    _check_schema(schema)
    _validate(value, schema)


class Param:
    """A param's default value and schema (Airflow's ``Param``).

    Args:
        default: the value used when neither the trigger's ``conf`` nor the caller gives one;
            without it the param is required. It must be JSON-serializable.
        description: shown in the trigger form.
        **schema: JSON-schema keywords (``type="integer", minimum=1``...), or the whole schema
            as ``schema={...}`` (as Airflow accepts). Keywords the trigger form reads
            (``title``, ``values_display``, ``section``...) are kept and not validated.

    Raises:
        ParamValidationError: (a ``ValueError``) a default that is not JSON-serializable, an
            unknown ``type`` name, or a schema that is not valid JSON Schema.
    """

    __slots__ = ("description", "schema", "value")

    def __init__(self, default: Any = NOTSET, description: str | None = None,
                 **schema: Any) -> None:
        if default is not NOTSET:
            _check_json(default)
        self.value = default
        self.description = description
        self.schema: dict[str, Any] = schema.pop("schema") if "schema" in schema else schema
        _check_schema(self.schema)

    @property
    def has_value(self) -> bool:
        """Whether the param has a value (a default or one set later)."""
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, *, suppress_exception: bool = False) -> Any:
        """The param's value: ``value`` if given, else its own, validated against the schema.

        Raises:
            ParamValidationError: a ``value`` that is not JSON-serializable (always, as in
                Airflow), no value at all, or a value the schema rejects (these two unless
                ``suppress_exception``, which returns ``None`` instead).
        """
        if value is not NOTSET:
            _check_json(value)
        final = self.value if value is NOTSET else value
        try:
            if final is NOTSET:
                raise ParamValidationError("No value passed and Param has no default value")
            _validate(final, self.schema)
        except ParamValidationError:
            if suppress_exception:
                return None
            raise
        return final

    def dump(self) -> dict[str, Any]:
        """The param as plain data (value, description, schema)."""
        return {"value": None if self.value is NOTSET else self.value,
                "description": self.description, "schema": dict(self.schema)}

    @classmethod
    def restore(cls, value: Any, description: str | None, schema: dict[str, Any]) -> Param:
        """A Param from parts that were checked when it was first made (a copy, a serialized
        DAG): no JSON or schema check again, so the per-run copies :func:`merge_params` makes
        stay cheap and a stored DAG always loads. ``value`` may be :data:`NOTSET`."""
        param = cls.__new__(cls)
        param.value, param.description, param.schema = value, description, schema
        return param

    def __copy__(self) -> Param:
        return self.restore(self.value, self.description, self.schema)

    def __deepcopy__(self, memo: dict[int, Any]) -> Param:
        return self.restore(copy.deepcopy(self.value, memo), self.description,
                            copy.deepcopy(self.schema, memo))

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return (self.value, self.description, self.schema) == (other.value, other.description,
                                                               other.schema)

    __hash__ = None  # type: ignore[assignment]


class ParamsDict(MutableMapping[str, Any]):
    """Params by name; reading a key gives its resolved value (Airflow's ``ParamsDict``,
    docs/airflow-behaviour.md 8.1).

    Plain values are wrapped in a schema-less :class:`Param`; assigning to a key that holds a
    :class:`Param` validates the new value against that param's schema.

    Args:
        params: the params (values or :class:`Param` objects) by name.
        suppress_exception: as Airflow's flag: a value the schema rejects is ignored on
            assignment and resolves to ``None`` (a value that is not JSON-serializable is
            still an error).

    Raises:
        ParamValidationError: (on assignment, :meth:`validate`) a value the schema rejects; the
            message names the param: ``Invalid input for param <name>: ...``.
    """

    __slots__ = ("_dict", "suppress_exception")

    def __init__(self, params: Mapping[str, Any] | None = None,
                 suppress_exception: bool = False) -> None:
        self._dict: dict[str, Param] = {}
        self.suppress_exception = suppress_exception
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
            _check_json(value)
            try:
                param.resolve(value)
            except ParamValidationError:
                if self.suppress_exception:
                    return
                raise
        except ParamValidationError as exc:
            raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None
        param.value = value

    def __getitem__(self, key: str) -> Any:
        try:
            param = self._dict[key]
        except KeyError:
            raise KeyError(key) from None
        try:
            return param.resolve(suppress_exception=self.suppress_exception)
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
        return ParamsDict({k: copy.copy(p) for k, p in self._dict.items()},
                          self.suppress_exception)

    def __deepcopy__(self, memo: dict[int, Any]) -> ParamsDict:
        return ParamsDict({k: copy.deepcopy(p, memo) for k, p in self._dict.items()},
                          self.suppress_exception)

    def get_param(self, key: str) -> Param:
        """The :class:`Param` object under ``key`` (``KeyError`` if none)."""
        return self._dict[key]

    def items_params(self) -> Iterator[tuple[str, Param]]:
        """The ``(name, Param)`` pairs."""
        return iter(self._dict.items())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
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
        """Every param's resolved value, by name: a plain ``dict`` (what a task's
        ``context["params"]`` is, as Airflow's ``process_params`` returns;
        docs/airflow-behaviour.md 8.3).

        Raises:
            ParamValidationError: the first param that is missing or invalid, named (unless
                ``suppress_exception``: its value is then ``None``).
        """
        resolved = {}
        for key, param in self._dict.items():
            try:
                resolved[key] = param.resolve(suppress_exception=self.suppress_exception)
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
    ``dag_run_conf_overrides_params`` (its default; docs/airflow-behaviour.md 8.1).

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
