"""The command line, run for real in the integration tests: :class:`CLIHome` (the
``cli_home`` fixture of conftest.py) and the checks the CLI tests share."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.models import tables as t


@dataclass
class CLIHome:
    """A ``DAGCORE_HOME`` for running ``python -m dagcore`` for real, in tmp_path.

    ``env`` is this process's environment without any ``DAGCORE__`` setting, plus
    ``DAGCORE_HOME``; a test may add settings to it. The database is the default one, the SQLite
    file ``home/dagcore.db``; ``dags_folder`` (empty, beside the home) is not configured:
    commands get it with ``-S``, and ``[core] dags_folder`` stays its default (``home/dags``).
    """

    home: Path
    dags_folder: Path
    env: dict[str, str]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.home / 'dagcore.db'}"

    def write_dags(self, files: Mapping[str, str]) -> Path:
        """Write ``{file name: source}`` into the DAG folder; returns the folder."""
        for name, text in files.items():
            (self.dags_folder / name).write_text(textwrap.dedent(text))
        return self.dags_folder

    def store_dags(self, engine: sa.Engine, files: Mapping[str, str], *,
                   unpause: bool = False) -> Path:
        """Write ``files`` into the DAG folder, migrate ``engine`` and store every DAG (no import
        error allowed); ``unpause`` unpauses them all. Returns the folder."""
        folder = self.write_dags(files)
        migrate(engine)
        result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        if unpause:
            with transaction(engine) as conn:
                conn.execute(t.dag.update().values(is_paused=False))
        return folder

    def run(self, *args: str, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python -m dagcore ARGS`` to its end: ``returncode``, ``stdout`` and ``stderr``.
        ``stdin`` is what the command reads (default: nothing, at end of file)."""
        return subprocess.run([sys.executable, "-m", "dagcore", *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout, input=stdin,
                              stdin=subprocess.DEVNULL if stdin is None else None, check=False)


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))),
                                   key=repr)
                for table in t.metadata.sorted_tables}


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The command failed with exit code 1 and exactly one line on stderr,
    ``dagcore: error: ...``, holding every fragment; returns that line."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dagcore: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
