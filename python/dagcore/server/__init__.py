"""The REST API server (interfaces layer): Airflow 3's ``/api/v2``, Airflow 2's ``/api/v1``,
``/auth/token``. :func:`create_app` builds the application; ``dagcore api-server`` serves it."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """:func:`dagcore.server.app.create_app` (imported when called, so that importing the
    package stays cheap)."""
    from dagcore.server.app import create_app as create

    return create(*args, **kwargs)
