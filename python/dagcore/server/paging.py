"""Page limits: ``[api] maximum_page_limit`` caps every ``limit`` (Airflow's option, 100);
``[api] fallback_page_limit`` is v2's default (Airflow 3: 50) and v1's ``limit=0``."""

from __future__ import annotations

from dagcore.configuration import conf
from dagcore.server.errors import ApiError

__all__ = [
    "MAX_OFFSET", "check_v1_offset", "effective_limit", "fallback_page_limit", "maximum_page_limit",
]

# The largest ``offset`` a database takes (a signed 64-bit integer); a larger one is bad input
# (422 in v2, 400 in v1), never a driver overflow (500).
MAX_OFFSET = 2**63 - 1


def maximum_page_limit() -> int:
    return conf.getint("api", "maximum_page_limit")


def fallback_page_limit() -> int:
    return conf.getint("api", "fallback_page_limit")


def effective_limit(limit: int | None) -> int:
    """``limit`` capped at the maximum; None gives the fallback (capped too). 0 stays 0 (an
    empty page), as Airflow 3's ``LimitFilter`` (``api_fastapi/common/parameters``)."""
    value = fallback_page_limit() if limit is None else limit
    return min(value, maximum_page_limit())


def check_v1_offset(offset: int) -> None:
    """Airflow 2's 400 (connexion's message) for an ``offset`` below 0 or above
    :data:`MAX_OFFSET`."""
    if offset < 0:
        raise ApiError(400, f"{offset} is less than the minimum of 0 - 'offset'")
    if offset > MAX_OFFSET:
        raise ApiError(400, f"{offset} is greater than the maximum of {MAX_OFFSET} - 'offset'")
