"""Validation errors in pydantic 2's shape, for the routes that answer as Airflow 3 does.

Design note. Airflow 3 runs FastAPI on pydantic 2, whose 422 items read
``{"type": "missing", "loc": ["body", "x"], "msg": "Field required", "input": {...}}`` (FastAPI
leaves out pydantic's ``url``); dagcore runs on Debian's pydantic 1, whose items read
``{"loc": ..., "msg": "field required", "type": "value_error.missing"}`` and carry no input.
:func:`pydantic2_errors` rewrites the common kinds (missing, extra, int/float/bool/string/dict/
list types, datetimes, enums and literals, number bounds, string lengths, bad JSON, validator
errors) with pydantic 2's type, message and ``ctx``, and takes the ``input`` back from the
request (query, path, header or body); an item of a kind it does not know stays as it is.
Pydantic 1 also coerces some values pydantic 2 refuses (``5`` for a string, ``1.5`` for an
integer in a JSON body): those are accepted, so no error is rewritten for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

__all__ = ["pydantic2_errors", "speedate_date_error"]

_ABSENT: Final[Any] = object()

MODEL_ATTRIBUTES: Final = {
    "type": "model_attributes_type",
    "msg": "Input should be a valid dictionary or object to extract fields from",
}


def speedate_date_error(text: str) -> str:
    """Why pydantic 2 (speedate) cannot read ``text`` as a date: the ``ctx.error`` of its
    ``datetime_from_date_parsing`` error, tried after the datetime reading failed."""
    if len(text) < 10:
        return "input is too short"
    parts = ((0, 4, "invalid character in year"), (5, 7, "invalid character in month"),
             (8, 10, "invalid character in day"))
    for (start, end, message), separator in zip(parts, (4, 7, None)):
        if not text[start:end].isdigit() or not text[start:end].isascii():
            return message
        if separator is not None and text[separator] != "-":
            return "invalid date separator, expected `-`"
    month, day = int(text[5:7]), int(text[8:10])
    if not 1 <= month <= 12:
        return "month value is outside expected range of 1-12"
    try:
        datetime(int(text[:4]), month, day)
    except ValueError:
        return "day value is outside expected range"
    return "unexpected extra characters at the end of the input"


def _expected(values: Sequence[Any]) -> str:
    """pydantic 2's list of choices: ``'a'``, ``'a' or 'b'``, ``'a', 'b' or 'c'``."""
    shown = [repr(getattr(v, "value", v)) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


Rewrite = tuple[str, str, dict[str, Any] | None]


def _integer(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    if isinstance(value, float):
        return "int_from_float", ("Input should be a valid integer, got a number with a "
                                  "fractional part"), None
    if isinstance(value, str):
        return "int_parsing", ("Input should be a valid integer, unable to parse string as an "
                               "integer"), None
    return "int_type", "Input should be a valid integer", None


def _float(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    if isinstance(value, str):
        return "float_parsing", ("Input should be a valid number, unable to parse string as a "
                                 "number"), None
    return "float_type", "Input should be a valid number", None


def _bool(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    if isinstance(value, (str, int, float)):
        return "bool_parsing", "Input should be a valid boolean, unable to interpret input", None
    return "bool_type", "Input should be a valid boolean", None


def _datetime(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    if isinstance(value, str):
        error = speedate_date_error(value)
        return ("datetime_from_date_parsing", f"Input should be a valid datetime or date, {error}",
                {"error": error})
    return "datetime_type", "Input should be a valid datetime", None


def _bound(kind: str, key: str, words: str) -> Callable[[Any, Mapping[str, Any], str], Rewrite]:
    def rewrite(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
        limit = ctx.get("limit_value")
        return kind, f"Input should be {words} {limit}", {key: limit}
    return rewrite


def _length(kind: str, key: str, words: str) -> Callable[[Any, Mapping[str, Any], str], Rewrite]:
    def rewrite(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
        limit = ctx.get("limit_value")
        return kind, f"String should have {words} {_plural(limit, 'character')}", {key: limit}
    return rewrite


def _enum(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    expected = _expected(ctx.get("enum_values", ()))
    return "enum", f"Input should be {expected}", {"expected": expected}


def _literal(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    expected = _expected(ctx.get("permitted", ()))
    return "literal_error", f"Input should be {expected}", {"expected": expected}


def _value_error(value: Any, ctx: Mapping[str, Any], msg: str) -> Rewrite:
    if msg == "Input should have timezone info":  # our AwareDatetime validators
        return "timezone_aware", msg, None
    return "value_error", f"Value error, {msg}", {"error": {}}


def _fixed(kind: str, msg: str) -> Callable[[Any, Mapping[str, Any], str], Rewrite]:
    return lambda value, ctx, old: (kind, msg, None)


_REWRITES: Final[dict[str, Callable[[Any, Mapping[str, Any], str], Rewrite]]] = {
    "value_error.missing": _fixed("missing", "Field required"),
    "value_error.extra": _fixed("extra_forbidden", "Extra inputs are not permitted"),
    "type_error.integer": _integer,
    "type_error.float": _float,
    "type_error.bool": _bool,
    "type_error.str": _fixed("string_type", "Input should be a valid string"),
    "type_error.dict": _fixed("dict_type", "Input should be a valid dictionary"),
    "type_error.list": _fixed("list_type", "Input should be a valid list"),
    "value_error.datetime": _datetime,
    "type_error.enum": _enum,
    "value_error.const": _literal,
    "value_error.number.not_ge": _bound("greater_than_equal", "ge", "greater than or equal to"),
    "value_error.number.not_gt": _bound("greater_than", "gt", "greater than"),
    "value_error.number.not_le": _bound("less_than_equal", "le", "less than or equal to"),
    "value_error.number.not_lt": _bound("less_than", "lt", "less than"),
    "value_error.any_str.max_length": _length("string_too_long", "max_length", "at most"),
    "value_error.any_str.min_length": _length("string_too_short", "min_length", "at least"),
    "value_error": _value_error,
}

# What a None in place of a required value of each type is called (pydantic 2 has no
# "none is not an allowed value": it reports the type the value failed).
_NONE_AS: Final = {bool: ("bool_type", "Input should be a valid boolean"),
                   int: ("int_type", "Input should be a valid integer"),
                   float: ("float_type", "Input should be a valid number"),
                   str: ("string_type", "Input should be a valid string"),
                   dict: ("dict_type", "Input should be a valid dictionary"),
                   list: ("list_type", "Input should be a valid list"),
                   datetime: ("datetime_type", "Input should be a valid datetime")}


def _walk(value: Any, path: Sequence[Any]) -> Any:
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            return _ABSENT
    return value


def _request_value(request: Request, loc: Sequence[Any]) -> Any:
    """The raw value a query, path or header ``loc`` points at (``_ABSENT`` if none)."""
    where, name = loc[0], str(loc[1])
    params: Any = {"query": request.query_params, "path": request.path_params,
                   "header": request.headers, "cookie": request.cookies}[where]
    if len(loc) > 2 and isinstance(loc[2], int) and where in ("query", "header"):
        values = params.getlist(name)
        return values[loc[2]] if loc[2] < len(values) else _ABSENT
    return params.get(name, _ABSENT)


def _input(request: Request, body: Any, loc: Sequence[Any], kind: str) -> Any:
    """pydantic 2's ``input``: the value at ``loc``, for a missing one the object it is missing
    from (None outside a body)."""
    if not loc:
        return None
    if loc[0] == "body":
        if kind == "value_error.missing":
            found = _walk(body, loc[1:-1]) if len(loc) > 1 else None
        else:
            found = _walk(body, loc[1:])
    elif loc[0] in ("query", "path", "header", "cookie") and len(loc) > 1:
        found = None if kind == "value_error.missing" else _request_value(request, loc)
    else:
        found = _ABSENT
    return None if found is _ABSENT else found


def _body_field_type(request: Request, path: Sequence[Any]) -> Any:
    """The declared type of the body field at ``path`` (None when it cannot be told)."""
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    model = getattr(field, "type_", None)
    for part in path:
        fields = getattr(model, "__fields__", None)
        if not isinstance(fields, dict) or part not in fields:
            return None
        model = fields[part].type_
    return model


def _rewrite(request: Request, body: Any, error: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(error.get("type", ""))
    loc = [part for part in error.get("loc", ()) if part != "__root__"]
    value = _input(request, body, loc, kind)
    if kind == "type_error.none.not_allowed" and loc[:1] == ["body"]:
        named = _NONE_AS.get(_body_field_type(request, loc[1:]))
        if named is None:
            return dict(error)
        return {"type": named[0], "loc": loc, "msg": named[1], "input": None}
    if kind == "value_error.jsondecode":
        ctx = error.get("ctx") or {}
        return {"type": "json_invalid", "loc": loc, "msg": "JSON decode error", "input": {},
                "ctx": {"error": ctx.get("msg", error.get("msg"))}}
    rewrite = _REWRITES.get(kind)
    if rewrite is None:
        return dict(error)
    new_kind, msg, ctx = rewrite(value, error.get("ctx") or {}, str(error.get("msg", "")))
    out: dict[str, Any] = {"type": new_kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        out["ctx"] = ctx
    return out


def pydantic2_errors(request: Request, exc: RequestValidationError) -> list[dict[str, Any]]:
    """``exc``'s errors as pydantic 2 (under FastAPI) reports them (see the module note).

    A JSON body that is not an object where a model is expected is one
    ``model_attributes_type`` error at ``["body"]`` (pydantic 1 reports each required field
    missing instead)."""
    body = getattr(exc, "body", None)
    errors = list(exc.errors())
    rewritten: list[dict[str, Any]] = []
    wrong_body = (body is not None and not isinstance(body, (dict, bytes, str))
                  and not any(e.get("type") == "value_error.jsondecode" for e in errors))
    for error in errors:
        at_body = tuple(error.get("loc", ()))[:1] == ("body",)
        if wrong_body and at_body:
            if not any(e["loc"] == ["body"] and e["type"] == MODEL_ATTRIBUTES["type"]
                       for e in rewritten):
                rewritten.append({**MODEL_ATTRIBUTES, "loc": ["body"], "input": body})
            continue
        rewritten.append(_rewrite(request, body, error))
    return rewritten
