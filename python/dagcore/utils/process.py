"""Facts about other processes, from this one."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and has not exited: ``kill(pid, 0)`` succeeds (or is
    refused, which means it exists) and ``/proc`` does not show it as a zombie (an exited
    process its parent has not reaped yet answers ``kill`` too). ``None`` and 0 are not alive."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux), or it exited meanwhile
        return True
