"""The one clock seam of dagcore.

Everything in the package that needs "now" calls :func:`utcnow` through this module's attribute
(``timezone.utcnow()``), never ``datetime.now`` directly, so a test freezes time for the whole
package with ``monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: frozen)``. The C++
engines never read a clock: the Python layer passes the value of this function to them.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime.

    Returns:
        ``datetime.now(UTC)``: ``tzinfo`` is ``datetime.timezone.utc``, microsecond precision.
    """
    return datetime.now(UTC)
