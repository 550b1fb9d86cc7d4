"""``FileSensor``: waits for a file (or a non-empty folder) to exist, as Airflow's
``providers/standard/sensors/filesystem.py``.

The path is ``filepath`` joined to the ``path`` in the ``extra`` of the connection
``fs_conn_id`` (Airflow's ``FSHook``; ``fs_default`` needs no connection: its base path is
empty). ``filepath`` may be a glob; ``recursive`` lets ``**`` match folders.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from dagcore.connections import Connection
from dagcore.sensors.base import BaseSensorOperator

__all__ = ["FileSensor"]

log = logging.getLogger(__name__)


def _base_path(conn_id: str) -> str:
    """The ``path`` extra of the connection (``""`` for a missing ``fs_default``, which
    Airflow creates with an empty path)."""
    try:
        conn = Connection.get(conn_id)
    except LookupError:
        if conn_id == "fs_default":
            return ""
        raise
    return str(conn.extra_dejson.get("path", ""))


class FileSensor(BaseSensorOperator):
    """Waits until ``filepath`` (templated; a glob) names a file, or a folder with a file in it
    (at any depth).

    Args:
        filepath: the path, relative to the connection's base path.
        fs_conn_id: the connection whose ``extra`` gives ``{"path": base}``.
        recursive: ``**`` in the glob matches any folders.
    """

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(self, task_id: str, *, filepath: str, fs_conn_id: str = "fs_default",
                 recursive: bool = False, deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath of task {task_id!r} must be a str, got "
                            f"{type(filepath).__name__}: {filepath!r}")
        self.filepath = filepath
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive
        self.deferrable = deferrable

    @property
    def path(self) -> str:
        """The full glob: the connection's base path joined with ``filepath``."""
        return os.path.join(_base_path(self.fs_conn_id), os.fspath(self.filepath))

    def poke(self, context: dict[str, Any]) -> bool:
        path = self.path
        log.info("Poking for file %s", path)
        for found in glob.glob(path, recursive=self.recursive):
            if os.path.isfile(found):
                log.info("Found File %s", found)
                return True
            for _, _, files in os.walk(found):
                if files:
                    return True
        return False
