"""Query parameters shared by ``/api/v2`` routes, as Airflow 3's
``api_fastapi/common/parameters.py`` reads them.

``~`` in a ``*_pattern`` means every value (``_SearchParam.transform_aliases``); a datetime
range is four parameters ``<name>_gte``, ``_gt``, ``_lte``, ``_lt``
(``datetime_range_filter_factory``); a repeated state or run type may be ``none`` (NULL), and
an unknown one is 422 with Airflow's text listing the valid values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from fastapi import Query, Request

from dagcore.api.dags import DateRange
from dagcore.server.errors import ApiError

__all__ = ["DAG_RUN_STATES", "DAG_RUN_TYPES", "date_range", "enum_values", "search_pattern"]

# Airflow's DagRunState and DagRunType values, in their enums' order (the 422 texts list them).
DAG_RUN_STATES: Final = ("queued", "running", "success", "failed")
DAG_RUN_TYPES: Final = ("backfill", "scheduled", "manual", "asset_triggered")


def search_pattern(value: str | None) -> str | None:
    """Airflow's ``_SearchParam.transform_aliases``: ``~`` is the pattern ``%`` (everything)."""
    return "%" if value == "~" else value


def _aware_or_422(value: datetime | None, name: str, raw: str | None) -> datetime | None:
    """A query datetime must name its zone: Airflow would fail comparing a naive one with its
    UTC columns (a 500); dagcore answers pydantic 2's ``timezone_aware`` error instead."""
    if value is not None and value.utcoffset() is None:
        raise ApiError(422, [{"type": "timezone_aware", "loc": ["query", name],
                              "msg": "Input should have timezone info", "input": raw}])
    return value


def date_range(name: str) -> Callable[..., DateRange]:
    """A dependency reading ``<name>_gte``, ``_gt``, ``_lte`` and ``_lt`` into a
    :class:`~dagcore.api.dags.DateRange`."""

    def bounds(request: Request,
               gte: datetime | None = Query(None, alias=f"{name}_gte"),
               gt: datetime | None = Query(None, alias=f"{name}_gt"),
               lte: datetime | None = Query(None, alias=f"{name}_lte"),
               lt: datetime | None = Query(None, alias=f"{name}_lt")) -> DateRange:
        def aware(value: datetime | None, suffix: str) -> datetime | None:
            param = f"{name}_{suffix}"
            return _aware_or_422(value, param, request.query_params.get(param))

        return DateRange(gte=aware(gte, "gte"), gt=aware(gt, "gt"), lte=aware(lte, "lte"),
                         lt=aware(lt, "lt"))

    return bounds


def enum_values(values: Sequence[str], valid: Sequence[str], what: str) -> list[str | None]:
    """Airflow's ``_transform_dag_run_states`` / ``_types``: ``none`` is NULL, anything else
    unknown → 422 "Invalid value for <what>. Valid values are ..."."""
    if any(v not in valid and v != "none" for v in values):
        raise ApiError(422, f"Invalid value for {what}. Valid values are {', '.join(valid)}")
    return [None if v == "none" else v for v in values]
