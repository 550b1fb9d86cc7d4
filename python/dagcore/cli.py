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
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
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


@contextlib.contextmanager
def _engine() -> Iterator[Any]:
    """The configured database's engine, disposed of when the command is done with it."""
    from dagcore.db import create_engine

    engine = create_engine()
    try:
        yield engine
    finally:
        engine.dispose()


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

    with _engine() as engine:
        revision = migrate(engine)
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
    with _engine() as engine:
        revision = reset(engine)
    print(f"Database {url} reset, now at revision {revision} (head).")
    return 0


def _cmd_db_check(args: argparse.Namespace) -> int:
    from dagcore.db import check

    with _engine() as engine:
        status = check(engine)
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
    with _migrated_engine() as engine:
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
# Shared by dags / tasks / config


def _default_timezone() -> Any:
    """``[core] default_timezone`` as a tzinfo (``utc``, ``system`` or an IANA name)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from dagcore.configuration import conf

    name = str(conf.get("core", "default_timezone")).strip()
    if name.lower() == "utc":
        return UTC
    if name.lower() == "system":
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CLIError(f"[core] default_timezone {name!r} is not a known time zone") from None


def _parse_date(text: str, option: str) -> Any:
    """An ISO 8601 date or date-time; a naive one is in ``[core] default_timezone`` (as
    Airflow's CLI does). Returns an aware datetime."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CLIError(f"{option}: invalid date {text!r} (expected ISO 8601, e.g. "
                       f"2024-01-31 or 2024-01-31T12:00:00+00:00)") from None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=_default_timezone())
    return value


def _parse_conf(text: str | None, option: str = "--conf") -> dict[str, Any] | None:
    """The JSON object given as ``option`` (``None`` when absent or ``null``)."""
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{option} is not valid JSON ({exc}): {text!r}") from None
    if value is not None and not isinstance(value, dict):
        raise CLIError(f"{option} must be a JSON object or null, got {type(value).__name__}: "
                       f"{text!r}")
    return value


@contextlib.contextmanager
def _migrated_engine() -> Iterator[Any]:
    """Like :func:`_engine`, for a database at the head revision (:class:`CLIError` if not)."""
    with _engine() as engine:
        _require_migrated(engine)
        yield engine


def _require_dag(conn: Any, dag_id: str) -> Any:
    """The ``dag`` row of ``dag_id``; :class:`CLIError` when there is none."""
    import sqlalchemy as sa

    from dagcore.models import tables as t

    row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
    if row is None:
        raise CLIError(f"DAG {dag_id!r} not found in the database (run `dagcore dags "
                       f"reserialize` or `dagcore dag-processor` to load the DAG files)")
    return row


def _ask_or_refuse(question: str, yes: bool, what: str) -> bool:
    """True to go ahead: ``yes`` given or the user answered yes. False when the user said no
    (a note went to stderr); :class:`CLIError` when stdin gave no answer."""
    if yes:
        return True
    answer = _confirm(question, sys.stdin, sys.stdout)
    if answer is None:
        raise CLIError(f"no answer on stdin: {what} (pass -y/--yes to skip the question)")
    if not answer:
        print(f"Cancelled: {what}.", file=sys.stderr)
    return answer


# -------------------------------------------------------------------------------------------------
# dags


DAG_COLUMNS: Final = ("dag_id", "fileloc", "is_paused", "is_stale", "has_import_errors",
                      "latest_version")
RUN_COLUMNS: Final = ("dag_id", "run_id", "state", "run_type", "logical_date", "run_after",
                      "start_date", "end_date")
TRIGGERED_RUN_COLUMNS: Final = ("dag_id", "run_id", "state", "run_type", "logical_date",
                                "run_after", "data_interval_start", "data_interval_end", "conf")
IMPORT_ERROR_COLUMNS: Final = ("filename", "bundle_name", "timestamp", "error")
TASK_COLUMNS: Final = ("task_id", "operator", "upstream_task_ids", "downstream_task_ids",
                       "trigger_rule", "retries")
TI_COLUMNS: Final = ("dag_id", "run_id", "task_id", "map_index", "state", "try_number")


def _cmd_dags_reserialize(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from dagcore.configuration import conf
    from dagcore.dag_processing import sync_dags

    folder = Path(args.subdir if args.subdir is not None
                  else conf.get("core", "dags_folder")).expanduser()
    if not folder.exists():
        raise CLIError(f"DAG folder {str(folder)!r} does not exist (set --subdir or "
                       f"[core] dags_folder)")
    with _migrated_engine() as engine:
        # No write throttle: reserializing is asked for now.
        result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    print(_summary(result))
    for filename in sorted(result.import_errors):
        print(f"  import error: {filename}")
    return 0


def _cmd_dags_list(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.cli_output import render
    from dagcore.models import tables as t

    dv = t.dag_version
    latest = (sa.select(dv.c.dag_id, sa.func.max(dv.c.version_number).label("latest_version"))
              .group_by(dv.c.dag_id).subquery())
    query = (sa.select(t.dag.c.dag_id, t.dag.c.fileloc, t.dag.c.is_paused, t.dag.c.is_stale,
                       t.dag.c.has_import_errors, latest.c.latest_version)
             .select_from(t.dag.outerjoin(latest, latest.c.dag_id == t.dag.c.dag_id))
             .order_by(t.dag.c.dag_id))
    with _migrated_engine() as engine:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
    render(rows, DAG_COLUMNS, args.output)
    return 0


def _cmd_dags_list_runs(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.cli_output import render
    from dagcore.models import tables as t
    from dagcore.state import DagRunState

    states = [s.value for s in DagRunState]
    if args.state is not None and args.state not in states:
        raise CLIError(f"--state {args.state!r} is not a DAG run state: use one of "
                       f"{', '.join(states)}")
    dr = t.dag_run
    query = sa.select(dr).where(dr.c.dag_id == args.dag_id)
    if args.state is not None:
        query = query.where(dr.c.state == args.state)
    with _migrated_engine() as engine:
        with engine.connect() as conn:
            _require_dag(conn, args.dag_id)
            rows = [dict(row._mapping) for row in
                    conn.execute(query.order_by(dr.c.run_after.desc(), dr.c.id.desc()))]
    render(rows, RUN_COLUMNS, args.output)
    return 0


def _cmd_dags_list_import_errors(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.cli_output import render
    from dagcore.models import tables as t

    ie = t.import_error
    query = (sa.select(ie.c.filename, ie.c.bundle_name, ie.c.timestamp,
                       ie.c.stacktrace.label("error"))
             .order_by(ie.c.bundle_name, ie.c.filename))
    with _migrated_engine() as engine:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
    render(rows, IMPORT_ERROR_COLUMNS, args.output)
    return 0


def _cmd_dags_trigger(args: argparse.Namespace) -> int:
    import getpass
    from dataclasses import asdict

    from dagcore.api.common import trigger_dag
    from dagcore.cli_output import render

    run_conf = _parse_conf(args.conf)
    kwargs: dict[str, Any] = {}
    if args.logical_date is not None:
        kwargs["logical_date"] = _parse_date(args.logical_date, "--logical-date")
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    with _migrated_engine() as engine:
        run = trigger_dag(args.dag_id, run_id=args.run_id, conf=run_conf,
                          replace_microseconds=args.replace_microseconds, triggered_by="cli",
                          triggering_user_name=user, engine=engine, **kwargs)
    render([asdict(run)], TRIGGERED_RUN_COLUMNS, args.output)
    return 0


def _set_paused(dag_id: str, paused: bool) -> int:
    from dagcore.db import transaction
    from dagcore.models import tables as t

    with _migrated_engine() as engine:
        with transaction(engine) as conn:
            _require_dag(conn, dag_id)
            conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id)
                         .values(is_paused=paused))
    print(f"Dag: {dag_id}, paused: {paused}")
    return 0


def _cmd_dags_pause(args: argparse.Namespace) -> int:
    return _set_paused(args.dag_id, True)


def _cmd_dags_unpause(args: argparse.Namespace) -> int:
    return _set_paused(args.dag_id, False)


def _cmd_dags_delete(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.db import transaction
    from dagcore.models import tables as t

    with _migrated_engine() as engine:
        with engine.connect() as conn:
            _require_dag(conn, args.dag_id)
        if not _ask_or_refuse(f"This will drop all existing records related to the specified "
                              f"DAG {args.dag_id!r} (its versions, runs and task instances). "
                              f"Proceed? (y/n) ", args.yes, "DAG not deleted"):
            return 1
        with transaction(engine) as conn:
            counts = {name: conn.execute(sa.select(sa.func.count()).select_from(table)
                                         .where(table.c.dag_id == args.dag_id)).scalar_one()
                      for name, table in (("versions", t.dag_version), ("runs", t.dag_run),
                                          ("task instances", t.task_instance))}
            # One row: the rest goes by ON DELETE CASCADE (see dagcore.models.tables).
            deleted = conn.execute(t.dag.delete().where(t.dag.c.dag_id == args.dag_id)).rowcount
    if not deleted:
        raise CLIError(f"DAG {args.dag_id!r} was deleted meanwhile")
    details = ", ".join(f"{n} {name}" for name, n in counts.items())
    print(f"Deleted DAG {args.dag_id} ({details}).")
    return 0


def _add_test_arguments(parser: Any) -> None:
    """The arguments ``dags test`` and ``tasks test`` share (after their ids)."""
    parser.add_argument("logical_date", nargs="?", default=None,
                        help="The logical date, ISO 8601 (default now)")
    parser.add_argument("-c", "--conf", metavar="JSON", default=None, help="The run's conf")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder or file (default [core] dags_folder)")


def add_dags_commands(commands: Any) -> None:
    """``dagcore dags reserialize|list|list-runs|list-import-errors|trigger|pause|unpause|
    delete|test``."""
    from dagcore.cli_output import add_output_argument

    dags = commands.add_parser("dags", help="Manage DAGs",
                               description="List, trigger, pause and delete DAGs.")
    sub = dags.add_subparsers(title="commands", metavar="COMMAND", dest="dags_command",
                              required=True)

    reserialize = sub.add_parser(
        "reserialize", help="Parse the DAG folder once and store the DAGs' versions",
        description="Parse the DAG folder once (without the write throttle) and store the "
        "DAGs' serialized versions and the import errors in the metadata database.")
    reserialize.add_argument("-S", "--subdir", metavar="PATH", default=None,
                             help="The DAG folder or file to parse (default [core] dags_folder)")
    reserialize.set_defaults(func=_cmd_dags_reserialize)

    listing = sub.add_parser("list", help="List the DAGs in the database")
    add_output_argument(listing)
    listing.set_defaults(func=_cmd_dags_list)

    runs = sub.add_parser("list-runs", help="List a DAG's runs, newest first")
    runs.add_argument("dag_id", help="The DAG id")
    runs.add_argument("--state", default=None, help="Only runs in this state (queued, "
                      "running, success, failed)")
    add_output_argument(runs)
    runs.set_defaults(func=_cmd_dags_list_runs)

    errors = sub.add_parser("list-import-errors", help="List the DAG files that fail to import")
    add_output_argument(errors)
    errors.set_defaults(func=_cmd_dags_list_import_errors)

    trigger = sub.add_parser(
        "trigger", help="Trigger a new DAG run",
        description="Create a queued manual run of a DAG. If DAG is paused then dagrun state "
        "will remain queued, and the task won't run.")
    trigger.add_argument("dag_id", help="The DAG id")
    trigger.add_argument("-c", "--conf", metavar="JSON", default=None,
                         help="The run's conf, a JSON object, e.g. '{\"key\": \"value\"}'")
    trigger.add_argument("-r", "--run-id", metavar="RUN_ID", default=None,
                         help="The run id (default manual__<logical date>)")
    trigger.add_argument("-l", "--logical-date", metavar="LOGICAL_DATE", default=None,
                         help="The logical date, ISO 8601 (naive: in [core] default_timezone; "
                         "default now)")
    trigger.add_argument("--no-replace-microseconds", dest="replace_microseconds",
                         action="store_false",
                         help="Keep the logical date's microseconds (they are zeroed by default)")
    add_output_argument(trigger)
    trigger.set_defaults(func=_cmd_dags_trigger)

    for name, handler, text in (("pause", _cmd_dags_pause, "Pause a DAG"),
                                ("unpause", _cmd_dags_unpause, "Resume a paused DAG")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("dag_id", help="The DAG id")
        parser.set_defaults(func=handler)

    delete = sub.add_parser(
        "delete", help="Delete a DAG and all its records",
        description="Delete the DAG's row and, by cascade, its versions, serialized DAGs, "
        "runs, task instances, XComs and backfills. Asks first unless -y.")
    delete.add_argument("dag_id", help="The DAG id")
    delete.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation")
    delete.set_defaults(func=_cmd_dags_delete)

    test = sub.add_parser(
        "test", help="Run one DAG run in this process",
        description="Parse the DAG from its file, run it once in this process with the real "
        "scheduler loop against a temporary SQLite database (or --db-url), print the task "
        "states, and exit 0 if the run succeeded, 1 if not.")
    test.add_argument("dag_id", help="The DAG id")
    _add_test_arguments(test)
    test.add_argument("--db-url", default=None, help="Run against this database instead")
    test.add_argument("--keep-db", action="store_true",
                      help="Keep the temporary database and print its URL")
    add_output_argument(test)
    test.set_defaults(func=_run_command("cmd_dags_test"))


# -------------------------------------------------------------------------------------------------
# tasks


def _cmd_tasks_list(args: argparse.Namespace) -> int:
    from dagcore.cli_output import render
    from dagcore.db_dagbag import DBDagBag

    with _migrated_engine() as engine:
        with engine.connect() as conn:
            _require_dag(conn, args.dag_id)
        dag = DBDagBag(engine=engine).get_latest_version_of_dag(args.dag_id)
    if dag is None:
        raise CLIError(f"DAG {args.dag_id!r} has no serialized version (run `dagcore dags "
                       f"reserialize`)")
    rows = [{"task_id": task.task_id, "operator": task.task_type,
             "upstream_task_ids": sorted(task.upstream_task_ids),
             "downstream_task_ids": sorted(task.downstream_task_ids),
             "trigger_rule": task.trigger_rule, "retries": task.retries}
            for task in dag.tasks]
    render(rows, TASK_COLUMNS, args.output)
    return 0


def _cmd_tasks_clear(args: argparse.Namespace) -> int:
    import re
    from dataclasses import asdict

    from dagcore.api.common import clear_task_instances
    from dagcore.cli_output import render

    if args.only_failed and args.only_running:
        raise CLIError("--only-failed and --only-running cannot be combined")
    if args.task_regex is not None:
        try:
            re.compile(args.task_regex)
        except re.error as exc:
            raise CLIError(f"--task-regex {args.task_regex!r} is not a valid regular "
                           f"expression: {exc}") from None
    start = None if args.start_date is None else _parse_date(args.start_date, "--start-date")
    end = None if args.end_date is None else _parse_date(args.end_date, "--end-date")
    if start is not None and end is not None and start > end:
        raise CLIError(f"--start-date ({start.isoformat()}) is after --end-date "
                       f"({end.isoformat()})")
    with _migrated_engine() as engine:
        def clear(dry_run: bool) -> list[Any]:
            return clear_task_instances(
                args.dag_id, task_regex=args.task_regex, start_date=start, end_date=end,
                only_failed=args.only_failed, only_running=args.only_running,
                include_upstream=args.upstream, include_downstream=args.downstream,
                dry_run=dry_run, engine=engine)

        with engine.connect() as conn:
            _require_dag(conn, args.dag_id)
        if args.dry_run or not args.yes:
            planned = clear(dry_run=True)
            if not planned:
                print("No task instances to clear.")
                return 0
            render([asdict(ti) for ti in planned], TI_COLUMNS, "table")
            if args.dry_run:
                print(f"Dry run: {len(planned)} task instance(s) would be cleared.")
                return 0
            if not _ask_or_refuse(f"You are about to clear these {len(planned)} task "
                                  f"instance(s). Proceed? (y/n) ", False,
                                  "nothing cleared"):
                return 1
        cleared = clear(dry_run=False)
    print(f"Cleared {len(cleared)} task instance(s) of DAG {args.dag_id}.")
    return 0


def add_tasks_commands(commands: Any) -> None:
    """``dagcore tasks list|clear|states-for-dag-run|test``."""
    from dagcore.cli_output import add_output_argument

    tasks = commands.add_parser("tasks", help="Manage tasks",
                                description="List and clear a DAG's tasks.")
    sub = tasks.add_subparsers(title="commands", metavar="COMMAND", dest="tasks_command",
                               required=True)

    listing = sub.add_parser("list", help="List a DAG's tasks (from its latest version)")
    listing.add_argument("dag_id", help="The DAG id")
    add_output_argument(listing)
    listing.set_defaults(func=_cmd_tasks_list)

    clear = sub.add_parser(
        "clear", help="Clear task instances so they run again",
        description="Clear a DAG's task instances (all runs, or the runs whose logical date is "
        "in [--start-date, --end-date]); finished runs that are touched go back to queued. "
        "Shows what will be cleared and asks first unless -y.")
    clear.add_argument("dag_id", help="The DAG id")
    clear.add_argument("-t", "--task-regex", metavar="REGEX", default=None,
                       help="Only tasks whose id matches this regular expression (searched)")
    clear.add_argument("-s", "--start-date", metavar="START", default=None,
                       help="Only runs with a logical date at or after this (ISO 8601)")
    clear.add_argument("-e", "--end-date", metavar="END", default=None,
                       help="Only runs with a logical date at or before this (ISO 8601)")
    clear.add_argument("-f", "--only-failed", action="store_true",
                       help="Only failed and upstream_failed task instances")
    clear.add_argument("-r", "--only-running", action="store_true",
                       help="Only running task instances")
    clear.add_argument("-u", "--upstream", action="store_true",
                       help="Include the upstream tasks of the matched tasks")
    clear.add_argument("-d", "--downstream", action="store_true",
                       help="Include the downstream tasks of the matched tasks")
    clear.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation")
    clear.add_argument("--dry-run", action="store_true",
                       help="Show what would be cleared and change nothing")
    clear.set_defaults(func=_cmd_tasks_clear)

    states = sub.add_parser("states-for-dag-run", help="The task instance states of a DAG run")
    states.add_argument("dag_id", help="The DAG id")
    states.add_argument("run_id", help="The run id")
    add_output_argument(states)
    states.set_defaults(func=_run_command("cmd_tasks_states_for_dag_run"))

    test = sub.add_parser(
        "test", help="Run one task in this process, recording nothing",
        description="Parse the DAG from its file and run one task in this process without "
        "checking dependencies or writing state (XComs stay in memory); print its return "
        "value. Exit 1 if the task fails.")
    test.add_argument("dag_id", help="The DAG id")
    test.add_argument("task_id", help="The task id")
    _add_test_arguments(test)
    test.set_defaults(func=_run_command("cmd_tasks_test"))


# -------------------------------------------------------------------------------------------------
# config


def _cmd_config_get_value(args: argparse.Namespace) -> int:
    from dagcore.configuration import conf

    value = conf.get(args.section, args.option, fallback=None)
    if value is None:
        raise CLIError(f"The option [{args.section}/{args.option}] is not found in config.")
    print(value)
    return 0


def add_config_commands(commands: Any) -> None:
    """``dagcore config get-value``."""
    config = commands.add_parser("config", help="View configuration",
                                 description="Read dagcore's configuration.")
    sub = config.add_subparsers(title="commands", metavar="COMMAND", dest="config_command",
                                required=True)
    get_value = sub.add_parser("get-value", help="Print the value of one option",
                               description="Print the effective value of [SECTION] OPTION "
                               "(environment, dagcore.cfg, then the default).")
    get_value.add_argument("section", help="The section name")
    get_value.add_argument("option", help="The option name")
    get_value.set_defaults(func=_cmd_config_get_value)


# -------------------------------------------------------------------------------------------------
# The parser and the entry point


def _run_command(name: str) -> Callable[[argparse.Namespace], int]:
    """A handler from :mod:`dagcore.cli_run`, imported when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        from dagcore import cli_run

        return int(getattr(cli_run, name)(args))

    return handler


def add_backfill_commands(commands: Any) -> None:
    """``dagcore backfill ...`` (:mod:`dagcore.cli_backfill`)."""
    from dagcore.cli_backfill import add_backfill_commands as add

    add(commands)


def add_scheduler_command(commands: Any) -> None:
    """``dagcore scheduler`` (:mod:`dagcore.cli_run`)."""
    from dagcore.cli_run import add_scheduler_command as add

    add(commands)


def add_standalone_command(commands: Any) -> None:
    """``dagcore standalone`` (:mod:`dagcore.cli_run`)."""
    from dagcore.cli_run import add_standalone_command as add

    add(commands)


COMMAND_GROUPS: Final[tuple[Callable[[Any], None], ...]] = (
    add_backfill_commands,
    add_config_commands,
    add_dag_processor_command,
    add_dags_commands,
    add_db_commands,
    add_scheduler_command,
    add_standalone_command,
    add_tasks_commands,
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


def _one_line(message: str) -> str:
    """An error message on one line: a multi-line one (a schema error, a driver message) is
    joined with " | " so that scripts reading stderr see one error per line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " | ".join(lines) if lines else message


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
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
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
        print(f"{PROG}: error: {_one_line(_error_message(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover - `python -m dagcore` uses dagcore.__main__
    sys.exit(main())
