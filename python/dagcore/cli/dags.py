"""``dagcore dags reserialize|list|list-runs|list-import-errors|list-warnings|trigger|pause|
unpause|delete|test|versions|show-version``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, Final

from dagcore.cli.common import (
    CLIError,
    add_test_arguments,
    ask_or_refuse,
    dag_folder,
    load_dag,
    migrated_engine,
    require_dag,
)

__all__ = ["add_dags_commands"]

DAG_COLUMNS: Final = ("dag_id", "fileloc", "is_paused", "is_stale", "has_import_errors",
                      "latest_version")
RUN_COLUMNS: Final = ("dag_id", "run_id", "state", "run_type", "logical_date", "run_after",
                      "start_date", "end_date")
TRIGGERED_RUN_COLUMNS: Final = ("dag_id", "run_id", "state", "run_type", "logical_date",
                                "run_after", "data_interval_start", "data_interval_end", "conf")
IMPORT_ERROR_COLUMNS: Final = ("filename", "bundle_name", "timestamp", "error")
WARNING_COLUMNS: Final = ("filename", "bundle_name", "timestamp", "message")
VERSION_COLUMNS: Final = ("version", "created_at", "dag_hash", "code_hash", "files", "runs",
                          "task_instances")
# A table (rich lays it out whole: ~1 ms a row) shows this many rows at each end of a long
# listing unless --all; json, yaml and plain print every row (docs/performance.md section 5).
TABLE_ENDS: Final = 20
MORE_HINT: Final = " (--all shows every row)"
TEST_STATE_COLUMNS: Final = ("dag_id", "run_id", "task_id", "map_index", "state", "try_number",
                             "start_date", "end_date")


def _cmd_dags_reserialize(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from dagcore.cli.dag_processor import sync_summary
    from dagcore.dag_processing import sync_dags

    folder = dag_folder(args.subdir)
    with migrated_engine() as engine:
        # No write throttle: reserializing is asked for now.
        result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    print(sync_summary(result))
    for filename in sorted(result.import_errors):
        print(f"  import error: {filename}")
    for filename in sorted(result.warnings):
        print(f"  warning: {result.warnings[filename]}")
    return 0


def _cmd_dags_list(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.models import tables as t

    dv = t.dag_version
    # Per DAG row, its latest version through the (dag_id, version_number) unique index: a
    # page of the table reads only its own DAGs' versions.
    latest = (sa.select(sa.func.max(dv.c.version_number)).where(dv.c.dag_id == t.dag.c.dag_id)
              .scalar_subquery().label("latest_version"))
    query = sa.select(t.dag.c.dag_id, t.dag.c.fileloc, t.dag.c.is_paused, t.dag.c.is_stale,
                      t.dag.c.has_import_errors, latest)
    _render_listing(args, query, (t.dag.c.dag_id,), DAG_COLUMNS)
    return 0


def _ends(args: argparse.Namespace) -> int | None:
    return None if args.all or args.output != "table" else TABLE_ENDS


def _render_listing(args: argparse.Namespace, query: Any, order: Sequence[Any],
                    columns: Sequence[str], check: Any = None) -> None:
    """Print ``query``'s rows in ``order`` (columns with ``.desc()`` where descending; a
    unique order). A table of a long listing reads only its two ends: the first ``TABLE_ENDS``
    rows, the last ones (the reversed order), and the count between them."""
    import sqlalchemy as sa

    from dagcore.cli.output import render

    ends = _ends(args)
    total: int | None = None
    with migrated_engine() as engine:
        with engine.connect() as conn:
            if check is not None:
                check(conn)
            if ends is None:
                rows = conn.execute(query.order_by(*order)).all()
            else:
                rows = conn.execute(query.order_by(*order).limit(ends + 1)).all()
                counted = len(rows)
                if counted > ends:
                    counted = conn.execute(sa.select(sa.func.count()).select_from(
                        query.subquery())).scalar_one()
                    tail = conn.execute(query.order_by(*(_reversed(c) for c in order))
                                        .limit(min(ends, counted - ends))).all()
                    rows = rows[:ends] + tail[::-1]
                total = counted
    render((row._mapping for row in rows), columns, args.output, ends=ends,
           more_hint=MORE_HINT, total=total)


def _reversed(clause: Any) -> Any:
    """``column.desc()`` for ``column`` and the other way round."""
    from sqlalchemy.sql.elements import UnaryExpression
    from sqlalchemy.sql.operators import desc_op

    if isinstance(clause, UnaryExpression) and clause.modifier is desc_op:
        return clause.element.asc()
    return clause.desc()


def _cmd_dags_list_runs(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.api.user_input import parse_choice
    from dagcore.models import tables as t
    from dagcore.state import DagRunState

    if args.state is not None:
        parse_choice(args.state, [s.value for s in DagRunState], "--state", "a DAG run state")
    dr = t.dag_run
    query = sa.select(*(dr.c[c] for c in RUN_COLUMNS)).where(dr.c.dag_id == args.dag_id)
    if args.state is not None:
        query = query.where(dr.c.state == args.state)
    # Newest first: the (dag_id, run_after, id) index gives this order (docs/performance.md 5).
    _render_listing(args, query, (dr.c.run_after.desc(), dr.c.id.desc()), RUN_COLUMNS,
                    check=lambda conn: require_dag(conn, args.dag_id))
    return 0


def _cmd_dags_list_import_errors(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from dagcore.cli.output import render
    from dagcore.models import tables as t

    ie = t.import_error
    query = (sa.select(ie.c.filename, ie.c.bundle_name, ie.c.timestamp,
                       ie.c.stacktrace.label("error"))
             .order_by(ie.c.bundle_name, ie.c.filename))
    with migrated_engine() as engine:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
    render(rows, IMPORT_ERROR_COLUMNS, args.output)
    return 0


def _cmd_dags_list_warnings(args: argparse.Namespace) -> int:
    """The files that look like DAG files but defined no DAG after catching failed imports, as
    ``list-import-errors`` lists failing files (dagcore's warning; Airflow says nothing)."""
    import sqlalchemy as sa

    from dagcore.cli.output import render
    from dagcore.models import tables as t

    fw = t.dag_file_warning
    query = (sa.select(fw.c.filename, fw.c.bundle_name, fw.c.timestamp, fw.c.message)
             .order_by(fw.c.bundle_name, fw.c.filename))
    with migrated_engine() as engine:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
    render(rows, WARNING_COLUMNS, args.output)
    return 0


def _cmd_dags_trigger(args: argparse.Namespace) -> int:
    import getpass
    from dataclasses import asdict

    from dagcore.api.common import trigger_dag
    from dagcore.api.user_input import parse_conf, parse_date
    from dagcore.cli.output import render

    run_conf = parse_conf(args.conf, "--conf")
    kwargs: dict[str, Any] = {}
    if args.logical_date is not None:
        kwargs["logical_date"] = parse_date(args.logical_date, "--logical-date")
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    with migrated_engine() as engine:
        run = trigger_dag(args.dag_id, run_id=args.run_id, conf=run_conf,
                          replace_microseconds=args.replace_microseconds, triggered_by="cli",
                          triggering_user_name=user, engine=engine, **kwargs)
    render([asdict(run)], TRIGGERED_RUN_COLUMNS, args.output)
    return 0


def _set_paused(dag_id: str, paused: bool) -> int:
    from dagcore.db import transaction
    from dagcore.models import tables as t

    with migrated_engine() as engine:
        with transaction(engine) as conn:
            require_dag(conn, dag_id)
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

    from dagcore.dag_code_store import delete_unused_blobs
    from dagcore.db import transaction
    from dagcore.models import tables as t

    with migrated_engine() as engine:
        with engine.connect() as conn:
            require_dag(conn, args.dag_id)
        if not ask_or_refuse(f"This will drop all existing records related to the specified "
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
            delete_unused_blobs(conn)  # the stored code files only its versions used
    if not deleted:
        raise CLIError(f"DAG {args.dag_id!r} was deleted meanwhile")
    details = ", ".join(f"{n} {name}" for name, n in counts.items())
    print(f"Deleted DAG {args.dag_id} ({details}).")
    return 0


def _cmd_dags_versions(args: argparse.Namespace) -> int:
    from dagcore.api.dag_versions import list_version_summaries
    from dagcore.cli.output import render

    with migrated_engine() as engine:
        rows = [summary.as_dict() for summary in list_version_summaries(engine, args.dag_id)]
    for row in rows:  # 12 hex digits tell versions apart; the full hashes are in json/yaml
        if args.output == "table":
            for name in ("dag_hash", "code_hash"):
                row[name] = (row[name] or "-")[:12]
    render(rows, VERSION_COLUMNS, args.output)
    return 0


def _cmd_dags_show_version(args: argparse.Namespace) -> int:
    from dagcore.api.dag_versions import get_version_code
    from dagcore.api.user_input import UserInputError

    version = None
    if args.version is not None:
        try:
            version = int(args.version)
            if version < 1:
                raise ValueError
        except ValueError:
            raise UserInputError(f"VERSION must be a version number (1 or more), got "
                                 f"{args.version!r}", name="VERSION",
                                 value=args.version) from None
    with migrated_engine() as engine:
        code = get_version_code(engine, args.dag_id, version)
    if args.list_files:
        for path in code.files:
            print(f"{path}{'  (DAG file)' if path == code.code_path else ''}")
        return 0
    path = args.file or code.code_path
    if path not in code.files:
        raise CLIError(f"version {code.version_number} of DAG {args.dag_id!r} has no file "
                       f"{path!r}; its files: {', '.join(code.files)}")
    text = code.files[path]
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0


def _cmd_dags_test(args: argparse.Namespace) -> int:
    """``dagcore dags test DAG_ID [LOGICAL_DATE]``: one run of the DAG, in this process.

    As Airflow's ``dags test`` (``dag.test()``): exactly that run is created and run, no
    scheduled run beside it; the DAGs of the folder (of ``-S``, or of the file ``-S`` names)
    are stored too, so that a ``TriggerDagRunOperator`` finds its target DAG
    (docs/airflow-behaviour.md 4.3).
    """
    from dagcore.api.user_input import parse_conf, parse_date
    from dagcore.cli.output import render
    from dagcore.testing import run_dag_test

    conf = parse_conf(args.conf, "--conf")
    kwargs: dict[str, Any] = {}
    if args.logical_date is not None:
        kwargs["logical_date"] = parse_date(args.logical_date, "logical_date")
    folder = dag_folder(args.subdir)
    dag = load_dag(args.dag_id, folder)
    # The tasks run in this process: what they print goes to stderr, so that stdout holds
    # only the states (a JSON document with -o json).
    with contextlib.redirect_stdout(sys.stderr):
        result = run_dag_test(dag, conf=conf, db_url=args.db_url, keep_db=args.keep_db,
                              dag_folder=folder if folder.is_dir() else folder.parent,
                              **kwargs)
    instances = [*result.task_instances.values(),
                 *(ti for tis in result.mapped.values() for ti in tis)]
    rows = [{"dag_id": result.dag_id, "run_id": result.run_id, "task_id": ti.task_id,
             "map_index": ti.map_index, "state": ti.state, "try_number": ti.try_number,
             "start_date": ti.start_date, "end_date": ti.end_date} for ti in instances]
    render(rows, TEST_STATE_COLUMNS, args.output)
    print(f"Dag run {result.run_id}: {result.state}", file=sys.stderr)
    if args.keep_db and result.db_url:
        print(f"database kept: {result.db_url}", file=sys.stderr)
    return 0 if result.state == "success" else 1


def _add_all_argument(parser: Any) -> None:
    parser.add_argument("--all", action="store_true",
                        help=f"Show every row in a table (default: the first and last "
                        f"{TABLE_ENDS} of a longer listing; other formats show every row)")


def add_dags_commands(commands: Any) -> None:
    """``dagcore dags reserialize|list|list-runs|list-import-errors|trigger|pause|unpause|
    delete|test``."""
    from dagcore.cli.output import add_output_argument

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
    _add_all_argument(listing)
    listing.set_defaults(func=_cmd_dags_list)

    runs = sub.add_parser("list-runs", help="List a DAG's runs, newest first")
    runs.add_argument("dag_id", help="The DAG id")
    runs.add_argument("--state", default=None, help="Only runs in this state (queued, "
                      "running, success, failed)")
    add_output_argument(runs)
    _add_all_argument(runs)
    runs.set_defaults(func=_cmd_dags_list_runs)

    errors = sub.add_parser("list-import-errors", help="List the DAG files that fail to import")
    add_output_argument(errors)
    errors.set_defaults(func=_cmd_dags_list_import_errors)

    warned = sub.add_parser(
        "list-warnings", help="List the DAG files that define no DAG after a failed import",
        description="List the files that look like DAG files but defined no DAG after "
        "catching a failed import (a feature dagcore does not have?), with what they skipped.")
    add_output_argument(warned)
    warned.set_defaults(func=_cmd_dags_list_warnings)

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

    versions = sub.add_parser(
        "versions", help="List a DAG's versions with their hashes and the runs on each",
        description="One line per stored version of the DAG, oldest first: its number, "
        "creation time, structure hash, code hash, how many code files were stored with it, "
        "and the runs and task instances that ran with it.")
    versions.add_argument("dag_id", help="The DAG id")
    add_output_argument(versions)
    versions.set_defaults(func=_cmd_dags_versions)

    show = sub.add_parser(
        "show-version", help="Print the source stored with a DAG version",
        description="Print the DAG file's source as stored with the version (default: the "
        "latest), which is the code its tries run. --file prints another stored file (a helper "
        "module the DAG file imported); --list-files lists them.")
    show.add_argument("dag_id", help="The DAG id")
    show.add_argument("version", nargs="?", default=None,
                      help="The version number (default: the latest)")
    show.add_argument("--file", default=None, help="A stored file's path, relative to the DAG "
                      "folder (default: the DAG file)")
    show.add_argument("--list-files", action="store_true",
                      help="List the version's stored files instead")
    show.set_defaults(func=_cmd_dags_show_version)

    test = sub.add_parser(
        "test", help="Run one DAG run in this process",
        description="Parse the DAG from its file, run it once in this process with the real "
        "scheduler loop against a temporary SQLite database (or --db-url), print the task "
        "states, and exit 0 if the run succeeded, 1 if not.")
    test.add_argument("dag_id", help="The DAG id")
    add_test_arguments(test)
    test.add_argument("--db-url", default=None, help="Run against this database instead")
    test.add_argument("--keep-db", action="store_true",
                      help="Keep the temporary database and print its URL")
    add_output_argument(test)
    test.set_defaults(func=_cmd_dags_test)
