"""Page limits: ``[api] maximum_page_limit`` caps every ``limit`` (Airflow's option, 100);
``[api] fallback_page_limit`` is v2's default (Airflow 3: 50) and v1's ``limit=0``."""

from __future__ import annotations

from dagcore.configuration import conf

__all__ = ["effective_limit", "fallback_page_limit", "maximum_page_limit"]


def maximum_page_limit() -> int:
    return conf.getint("api", "maximum_page_limit")


def fallback_page_limit() -> int:
    return conf.getint("api", "fallback_page_limit")


def effective_limit(limit: int | None) -> int:
    """``limit`` capped at the maximum; None gives the fallback (capped too). 0 stays 0 (an
    empty page), as Airflow 3's ``LimitFilter`` (``api_fastapi/common/parameters``)."""
    value = fallback_page_limit() if limit is None else limit
    return min(value, maximum_page_limit())
