"""Datetimes as each API version writes them, through pydantic models' JSON encoders.

Airflow 3 (``/api/v2``, pydantic 2) writes UTC datetimes with ``Z`` (``2024-01-01T00:00:00Z``);
Airflow 2 (``/api/v1``, marshmallow) with ``+00:00``. Both print fractions of a second only
when there are some (docs/airflow-rest-api.md A.1, B.1). A response model of a version derives
from that version's base model; FastAPI's encoder applies the outer model's encoders to every
nested value.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Extra

__all__ = ["StrictBody", "V1Model", "V2Model", "iso_offset", "iso_z"]


def iso_offset(value: datetime) -> str:
    """``2024-01-01T00:00:00+00:00`` (v1)."""
    return value.astimezone(UTC).isoformat()


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
