"""Datetimes as each API version writes them, through pydantic models' JSON encoders.

Airflow 3 (``/api/v2``, pydantic 2) writes UTC datetimes with ``Z`` (``2024-01-01T00:00:00Z``);
Airflow 2 (``/api/v1``, marshmallow) with ``+00:00``. Both print fractions of a second only
when there are some (docs/airflow-rest-api.md A.1, B.1). A response model of a version derives
from that version's base model; FastAPI's encoder applies the outer model's encoders to every
nested value.

:func:`rendered` writes a response model the way FastAPI would, for hot routes: given a model,
FastAPI 0.92 turns it into a dict, validates that dict into a new model and walks the result
with ``jsonable_encoder`` before ``json.dumps``; for a page of 100 runs that was 28 of a
request's 48 ms (benchmarks/api_bench.py). The model was validated when it was built, so
:func:`rendered` dumps it once with the same encoders and ``JSONResponse``'s settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import Response
from pydantic import BaseModel, Extra

__all__ = ["StrictBody", "V1Model", "V2Model", "iso_offset", "iso_z", "rendered",
           "rendered_json"]


def iso_offset(value: datetime) -> str:
    """``2024-01-01T00:00:00+00:00`` (v1)."""
    if value.tzinfo is not UTC:  # values read from the database are UTC already
        value = value.astimezone(UTC)
    return value.isoformat()


def iso_z(value: datetime) -> str:
    """``2024-01-01T00:00:00Z`` (v2)."""
    return iso_offset(value).replace("+00:00", "Z")


class V2Model(BaseModel):
    """Base of ``/api/v2`` responses."""

    class Config:
        json_encoders = {datetime: iso_z}


class V1Model(BaseModel):
    """Base of ``/api/v1`` responses."""

    class Config:
        json_encoders = {datetime: iso_offset}


class StrictBody(BaseModel):
    """Base of ``/api/v2`` request bodies: an unknown key is refused (Airflow 3's
    ``StrictBaseModel``, ``extra="forbid"``)."""

    class Config:
        extra = Extra.forbid


def rendered(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as FastAPI's ``JSONResponse`` would write it for a route whose
    ``response_model`` is the model's class (the same bytes, see the module note); a route
    returning it keeps its ``response_model`` for the OpenAPI document."""
    encoder = cast(Callable[[Any], Any], model.__json_encoder__)  # the model's json_encoders
    body = json.dumps(model.dict(), default=encoder, ensure_ascii=False,
                      allow_nan=False, indent=None, separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status_code,
                    media_type="application/json")


def rendered_json(payload: Any, status_code: int = 200) -> Response:
    """``payload`` (JSON values only: str, int, float, bool, None, dicts and lists) with
    ``JSONResponse``'s settings, as :func:`rendered` writes a model; for routes that build
    their answer without a model (``dag_run_payload``)."""
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status_code,
                    media_type="application/json")
