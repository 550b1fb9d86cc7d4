"""The plumbing every ``dagcore`` command shares: the error type, the database engine, the
confirmation question, the DAG folder and the arguments of the ``test`` commands.

Design note. Only command-line concerns live here. Parsing what the user typed (conf JSON,
dates, regular expressions, numbers) is :mod:`dagcore.api.user_input`'s, shared with the REST
server; its errors are ``ValueError``\\ s that :func:`dagcore.cli.main` prints as they are, so a
command calls those functions directly. :func:`usage_error` turns one into a usage error (exit
code 2) where a command reports bad numbers that way.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

__all__ = [
    "PROG",
    "CLIError",
    "add_test_arguments",
    "ask_or_refuse",
    "confirm",
    "dag_folder",
    "database_url_for_display",
    "engine",
    "load_dag",
    "migrated_engine",
    "require_dag",
    "require_migrated",
    "usage_error",
]

PROG: Final = "dagcore"

T = TypeVar("T")


class CLIError(Exception):
    """A failure to report as ``dagcore: error: <message>`` with exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage_error(check: Callable[[], T]) -> T:
    """``check()``; a :class:`~dagcore.api.user_input.UserInputError` it raises becomes a
    :class:`CLIError` with exit code 2 (a usage error, as argparse's)."""
    from dagcore.api.user_input import UserInputError

    try:
        return check()
    except UserInputError as exc:
        raise CLIError(str(exc), exit_code=2) from None


def database_url_for_display() -> str:
    """The configured database URL with its password masked."""
    from sqlalchemy.engine import make_url

    from dagcore.configuration import conf

    raw = str(conf.get("database", "sql_alchemy_conn"))
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - create_engine reports a bad URL properly
        return raw


# -- the database ----------------------------------------------------------------------------------


@contextlib.contextmanager
def engine() -> Iterator[Any]:
    """The configured database's engine, disposed of when the command is done with it."""
    from dagcore.db import create_engine

    eng = create_engine()
    try:
        yield eng
    finally:
        eng.dispose()


def require_migrated(eng: Any) -> None:
    """:class:`CLIError` unless the database is at the head revision."""
    from dagcore.db import check

    status = check(eng)
    if not status.up_to_date:
        where = (f"at revision {status.current}" if status.current is not None
                 else "not initialized")
        raise CLIError(f"the metadata database ({database_url_for_display()}) is {where}, "
                       f"this dagcore needs {status.head}: run `dagcore db migrate` first")


@contextlib.contextmanager
def migrated_engine() -> Iterator[Any]:
    """Like :func:`engine`, for a database at the head revision (:class:`CLIError` if not)."""
    with engine() as eng:
        require_migrated(eng)
        yield eng


def require_dag(conn: Any, dag_id: str) -> Any:
    """The ``dag`` row of ``dag_id``; :class:`CLIError` when there is none."""
    import sqlalchemy as sa

    from dagcore.models import tables as t

    row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
    if row is None:
        raise CLIError(f"DAG {dag_id!r} not found in the database (run `dagcore dags "
                       f"reserialize` or `dagcore dag-processor` to load the DAG files)")
    return row


# -- asking --------------------------------------------------------------------------------------


def confirm(question: str, stdin: TextIO | None, stdout: TextIO) -> bool | None:
    """Ask ``question`` on stdout and read the answer: True (yes), False (no), None (no answer:
    stdin closed or at end of file)."""
    stdout.write(question)
    stdout.flush()
    if stdin is None or stdin.closed:
        stdout.write("\n")
        return None
    try:
        line = stdin.readline()
    except (OSError, ValueError):
        line = ""
    if not line:
        stdout.write("\n")
        return None
    return line.strip().lower() in ("y", "yes")


def ask_or_refuse(question: str, yes: bool, what: str) -> bool:
    """True to go ahead: ``yes`` given or the user answered yes. False when the user said no
    (a note went to stderr); :class:`CLIError` when stdin gave no answer."""
    if yes:
        return True
    answer = confirm(question, sys.stdin, sys.stdout)
    if answer is None:
        raise CLIError(f"no answer on stdin: {what} (pass -y/--yes to skip the question)")
    if not answer:
        print(f"Cancelled: {what}.", file=sys.stderr)
    return answer


# -- DAG files -----------------------------------------------------------------------------------


def dag_folder(subdir: str | None) -> Path:
    """``subdir`` (``-S/--subdir``) or ``[core] dags_folder``; :class:`CLIError` when it does
    not exist."""
    from dagcore.configuration import conf

    folder = Path(subdir if subdir is not None else conf.get("core", "dags_folder")).expanduser()
    if not folder.exists():
        raise CLIError(f"DAG folder {str(folder)!r} does not exist (set --subdir or "
                       f"[core] dags_folder)")
    return folder


def load_dag(dag_id: str, folder: Path) -> Any:
    """The DAG ``dag_id`` parsed from ``folder`` (a folder or a file); :class:`CLIError` naming
    the folder's import errors when it is not there."""
    from dagcore.dagbag import DagBag

    bag = DagBag(folder)
    dag = bag.get_dag(dag_id)
    if dag is None:
        errors = "".join(f"; {path}: {err.strip().splitlines()[-1]}"
                         for path, err in sorted(bag.import_errors.items()))
        raise CLIError(f"DAG {dag_id!r} not found in {folder}{errors}")
    return dag


def add_test_arguments(parser: Any) -> None:
    """The arguments ``dags test`` and ``tasks test`` share (after their ids)."""
    parser.add_argument("logical_date", nargs="?", default=None,
                        help="The logical date, ISO 8601 (default now)")
    parser.add_argument("-c", "--conf", metavar="JSON", default=None, help="The run's conf")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder or file (default [core] dags_folder)")
