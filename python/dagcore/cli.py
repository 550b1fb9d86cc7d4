"""The ``dagcore`` command line; its commands and options mirror ``airflow``'s.

Design note. The parser is built from command groups: a group is one function that takes the
top-level subparsers and adds its parser(s), each with ``set_defaults(func=handler)``; a handler
takes the parsed arguments and returns the exit code. Adding a group (``dags``, ``tasks``,
``backfill``, ``scheduler``) is one function plus one entry in :data:`COMMAND_GROUPS`.

Handlers import what they need when they run, so ``dagcore version`` and ``--help`` stay cheap.
Errors a user can fix (a bad database URL, a bad option value, a database that is not migrated,
a missing folder) end the command with ``dagcore: error: <message>`` on stderr and exit code 1,
without a traceback (``-v`` logs it); usage errors exit 2, as argparse does; an interrupt 130.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, TextIO

import dagcore

if TYPE_CHECKING:
    from dagcore.dag_processing import SyncResult

__all__ = ["COMMAND_GROUPS", "CLIError", "build_parser", "main"]

log = logging.getLogger(__name__)

PROG: Final = "dagcore"
DEFAULT_PROCESSOR_INTERVAL: Final = 30.0
"""Seconds between two passes of ``dagcore dag-processor`` (Airflow's
``min_file_process_interval`` default)."""


class CLIError(Exception):
    """A failure to report as ``dagcore: error: <message>`` with exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -------------------------------------------------------------------------------------------------
# Helpers


def _database_url_for_display() -> str:
    """The configured database URL with its password masked."""
    from sqlalchemy.engine import make_url

    from dagcore.configuration import conf

    raw = str(conf.get("database", "sql_alchemy_conn"))
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - create_engine reports a bad URL properly
        return raw


def _confirm(question: str, stdin: TextIO | None, stdout: TextIO) -> bool | None:
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


def _engine() -> Any:
    from dagcore.db import create_engine

    return create_engine()


def _require_migrated(engine: Any) -> None:
    from dagcore.db import check

    status = check(engine)
    if not status.up_to_date:
        where = (f"at revision {status.current}" if status.current is not None
                 else "not initialized")
        raise CLIError(f"the metadata database ({_database_url_for_display()}) is {where}, "
                       f"this dagcore needs {status.head}: run `dagcore db migrate` first")


# -------------------------------------------------------------------------------------------------
# version


def _cmd_version(args: argparse.Namespace) -> int:
    print(dagcore.__version__)
    return 0


def add_version_command(commands: Any) -> None:
    """``dagcore version``."""
    parser = commands.add_parser("version", help="Show the version",
                                 description="Print dagcore's version.")
    parser.set_defaults(func=_cmd_version)


# -------------------------------------------------------------------------------------------------
# db


def _cmd_db_migrate(args: argparse.Namespace) -> int:
    from dagcore.db import migrate

    engine = _engine()
    try:
        revision = migrate(engine)
    finally:
        engine.dispose()
    print(f"Database {_database_url_for_display()} is at revision {revision} (head).")
    return 0


def _cmd_db_reset(args: argparse.Namespace) -> int:
    from dagcore.db import reset

    url = _database_url_for_display()
    if not args.yes:
        answer = _confirm(f"This will drop all dagcore tables (and their data) in {url} and "
                          f"create them again. Proceed? (y/n) ", sys.stdin, sys.stdout)
        if answer is None:
            raise CLIError("no answer on stdin: database not reset (pass -y/--yes to reset "
                           "without asking)")
        if not answer:
            print("Cancelled: database not reset.", file=sys.stderr)
            return 1
    engine = _engine()
    try:
        revision = reset(engine)
    finally:
        engine.dispose()
    print(f"Database {url} reset, now at revision {revision} (head).")
    return 0


def _cmd_db_check(args: argparse.Namespace) -> int:
    from dagcore.db import check

    engine = _engine()
    try:
        status = check(engine)
    finally:
        engine.dispose()
    print(f"current revision: {status.current or 'none (not initialized)'}")
    print(f"head revision:    {status.head}")
    if status.up_to_date:
        print("The database is up to date.")
        return 0
    print("The database is not up to date: run `dagcore db migrate`.", file=sys.stderr)
    return 1


def add_db_commands(commands: Any) -> None:
    """``dagcore db migrate|reset|check``."""
    db = commands.add_parser("db", help="Database operations",
                             description="Manage the metadata database's schema.")
    sub = db.add_subparsers(title="commands", metavar="COMMAND", dest="db_command",
                            required=True)
    migrate = sub.add_parser("migrate", help="Create the schema or upgrade it to the newest "
                             "revision (idempotent)")
    migrate.set_defaults(func=_cmd_db_migrate)
    reset = sub.add_parser("reset", help="Drop every dagcore table and create the schema again",
                           description="Drop every dagcore table (data included) and create "
                           "the schema again at the newest revision. Asks first unless -y.")
    reset.add_argument("-y", "--yes", action="store_true",
                       help="Do not ask for confirmation")
    reset.set_defaults(func=_cmd_db_reset)
    check = sub.add_parser("check", help="Check that the schema is at the newest revision "
                           "(exit code 1 if not)")
    check.set_defaults(func=_cmd_db_check)


# -------------------------------------------------------------------------------------------------
# dag-processor


def _summary(result: SyncResult) -> str:
    return (f"DAGs written: {len(result.written)}, versions created: "
            f"{len(result.versions_created)}, import errors: {len(result.import_errors)}")


class _StopFlag:
    """Set by SIGTERM/SIGINT: the current pass finishes, then the loop ends. A second signal
    interrupts the pass (``KeyboardInterrupt``)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        log.info("received %s: stopping after the current pass", signal.Signals(signum).name)
        self.event.set()


def _cmd_dag_processor(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.configuration import conf
    from dagcore.dag_processing import sync_dags

    if args.interval is not None and not args.interval > 0:
        raise CLIError(f"--interval must be a positive number of seconds, got {args.interval}",
                       exit_code=2)
    folder = Path(args.subdir if args.subdir is not None
                  else conf.get("core", "dags_folder")).expanduser()
    if not folder.exists():
        raise CLIError(f"DAG folder {str(folder)!r} does not exist (set --subdir or "
                       f"[core] dags_folder)")
    interval = args.interval if args.interval is not None else DEFAULT_PROCESSOR_INTERVAL
    engine = _engine()
    try:
        _require_migrated(engine)
        if args.once:
            result = sync_dags(folder, engine=engine)
            print(_summary(result))
            for filename in sorted(result.import_errors):
                print(f"  import error: {filename}")
            return 0
        print(f"dag-processor: parsing {folder} every {interval:g}s (Ctrl-C or SIGTERM stops)",
              flush=True)
        with _StopFlag() as stop:
            while not stop.event.is_set():
                try:
                    result = sync_dags(folder, engine=engine)
                except sa.exc.OperationalError as exc:
                    # Transient (a locked or restarting database): the next pass retries.
                    log.error("dag-processor pass failed, retrying in %gs: %s", interval,
                              getattr(exc, "orig", exc))
                else:
                    print(_summary(result), flush=True)
                stop.event.wait(interval)
        print("dag-processor: stopped", flush=True)
        return 0
    finally:
        engine.dispose()


def add_dag_processor_command(commands: Any) -> None:
    """``dagcore dag-processor``."""
    parser = commands.add_parser(
        "dag-processor", help="Parse DAG files and store them in the database",
        description="Parse the DAG folder and write the DAGs' serialized versions and the "
        "import errors to the metadata database, every --interval seconds until SIGTERM or "
        "SIGINT (or once with --once).")
    parser.add_argument("--once", action="store_true",
                        help="Do one pass, print a summary and exit")
    parser.add_argument("--interval", type=float, metavar="SECONDS", default=None,
                        help=f"Seconds between passes (default {DEFAULT_PROCESSOR_INTERVAL:g})")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder or file to parse (default [core] dags_folder)")
    parser.set_defaults(func=_cmd_dag_processor)


# -------------------------------------------------------------------------------------------------
# The parser and the entry point


COMMAND_GROUPS: Final[tuple[Callable[[Any], None], ...]] = (
    add_dag_processor_command,
    add_db_commands,
    add_version_command,
)
"""Each adds one top-level command (and its subcommands) to the ``dagcore`` parser."""


def build_parser() -> argparse.ArgumentParser:
    """The ``dagcore`` argument parser, with every group of :data:`COMMAND_GROUPS`."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="dagcore: an Airflow-compatible orchestration core.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="Log at DEBUG level (with tracebacks of errors)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command",
                                     required=True)
    for add_group in COMMAND_GROUPS:
        add_group(commands)
    return parser


def _error_message(exc: BaseException) -> str:
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        return (f"database error ({_database_url_for_display()}): "
                f"{type(exc.orig).__name__}: {str(exc.orig).strip()}")
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error: {str(exc).splitlines()[0]}"
    if isinstance(exc, ImportError):
        return f"{exc} (is the database driver installed?)"
    return str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dagcore`` with ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 on an error (message on stderr), 2 on a usage error,
        130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                            format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message, not a traceback
        import sqlalchemy as sa

        if not isinstance(exc, (ValueError, LookupError, OSError, ImportError,
                                sa.exc.SQLAlchemyError)):
            raise  # a bug: keep the traceback
        log.debug("command failed", exc_info=True)
        print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover - `python -m dagcore` uses dagcore.__main__
    sys.exit(main())
