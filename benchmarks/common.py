"""Helpers shared by the benchmark scripts (imported as ``common``: scripts run from this folder)."""

from __future__ import annotations

import gc
import glob
import os
import pwd
import resource
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Postgres", "format_table", "gc_paused", "read_status_kib", "reset_peak_rss"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic GC out of the timed region."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render an aligned plain-text table; the first column left-aligned, the rest right."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join(parts).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([title, line(headers), rule, *(line(r) for r in rows), ""])


def read_status_kib() -> dict[str, int]:
    """Return VmRSS and VmHWM of this process in KiB (from /proc, else getrusage)."""
    fields: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0])
    except OSError:
        pass
    if "VmHWM" not in fields:
        fields["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    fields.setdefault("VmRSS", fields["VmHWM"])
    return fields


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs``); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def missing_dagcore(script: str, exc: ImportError) -> SystemExit:
    """The exit a benchmark raises when dagcore cannot be imported (not built or installed)."""
    return SystemExit(
        f"{script}: cannot import dagcore ({exc}).\n"
        "Build and install the package first: run `make test` or `make bench` from the "
        "repository root, then run this script with the project's virtual environment "
        f"(.venv/bin/python benchmarks/{script}.py).")


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None if either is missing or den is 0."""
    if num is None or not den:
        return None
    return num / den


def rounded(x: float | None, digits: int) -> float | None:
    """round(x, digits), or None."""
    return None if x is None else round(x, digits)


def fmt(x: float | None, spec: str, suffix: str = "") -> str:
    """Format a figure, or "n/a"."""
    return "n/a" if x is None else f"{x:{spec}}{suffix}"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throw-away PostgreSQL server for a benchmark: ``initdb`` in a temporary directory,
    ``pg_ctl start`` on a free loopback port (trust authentication, no fsync), stopped by
    :meth:`stop`; run as ``nobody`` under root (PostgreSQL refuses root). :meth:`start` returns
    None when no server binaries are found (the benchmark then says so). Used by
    ``celery_bench.py`` and ``assets_step_bench.py``."""

    def __init__(self, bindir: Path, root: Path, run_as: str | None) -> None:
        self.bindir, self.root, self.run_as = bindir, root, run_as
        self.port = free_port()
        self.databases = 0

    @classmethod
    def start(cls, root: Path) -> Postgres | None:
        found = shutil.which("initdb")
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                            key=lambda p: int(p.split("/")[4]))
        if found:
            bindir = Path(found).resolve().parent
        elif candidates:
            bindir = Path(candidates[-1]).parent
        else:
            return None
        run_as = "nobody" if os.geteuid() == 0 else None
        root.mkdir(parents=True)
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            os.chown(root, account.pw_uid, account.pw_gid)
        server = cls(bindir, root, run_as)
        server._run(["initdb", "-D", str(root / "data"), "-U", "bench", "-A", "trust", "-E",
                     "UTF8", "--locale=C", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -p {server.port} "
                   f"-c unix_socket_directories={root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=100")
        server._run(["pg_ctl", "start", "-D", str(root / "data"), "-w", "-t", "60", "-l",
                     str(root / "server.log"), "-o", options])
        return server

    def _run(self, cmd: list[str]) -> None:
        cmd = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=120,
                                check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}")

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import sqlalchemy as sa  # here: common.py is imported by benchmarks without a database

        self.databases += 1
        name = f"bench_{self.databases}"
        admin = sa.create_engine(f"postgresql+psycopg2://bench@127.0.0.1:{self.port}/postgres",
                                 isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        return f"postgresql+psycopg2://bench@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "fast", "-w"])
        except (RuntimeError, subprocess.TimeoutExpired):
            self._run(["pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "immediate"])
