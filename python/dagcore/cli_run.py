"""The CLI commands that run work: ``scheduler``, ``standalone``, ``dags test``, ``tasks test``
and ``tasks states-for-dag-run``.

Design note. :mod:`dagcore.cli` owns the parser and the error contract (one line on stderr,
exit 1); this module holds the handlers that start schedulers and executors, so the listing
commands stay free of those imports. Every handler raises :class:`dagcore.cli.CLIError` for a
user's mistake.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "add_scheduler_command",
    "add_standalone_command",
    "cmd_dags_test",
    "cmd_tasks_states_for_dag_run",
    "cmd_tasks_test",
]

log = logging.getLogger(__name__)

STATE_COLUMNS = ("dag_id", "run_id", "task_id", "state", "try_number", "start_date", "end_date")


def _positive_int(value: int | None, option: str) -> None:
    from dagcore.cli import CLIError

    if value is not None and value < 1:
        raise CLIError(f"{option} must be a positive integer, got {value}", exit_code=2)


def _scheduler(engine: Any, args: argparse.Namespace) -> int:
    from dagcore.cli import CLIError
    from dagcore.executors.local import LocalExecutor
    from dagcore.jobs.job import SchedulerAlreadyRunning
    from dagcore.jobs.scheduler import SchedulerJob

    executor = LocalExecutor(args.parallelism,
                             engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       num_runs=-1 if args.num_runs is None else args.num_runs)
    try:
        loops = job.run()
    except SchedulerAlreadyRunning as exc:
        raise CLIError(str(exc)) from None
    print(f"scheduler: stopped after {loops} loop(s)", flush=True)
    return 0


def _cmd_scheduler(args: argparse.Namespace) -> int:
    from dagcore.cli import _migrated_engine

    _positive_int(args.num_runs, "--num-runs")
    _positive_int(args.parallelism, "--parallelism")
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("dagcore").setLevel(logging.INFO)
    with _migrated_engine() as engine:
        print(f"scheduler: starting ({engine.url.render_as_string(hide_password=True)}; "
              f"SIGTERM or Ctrl-C stops)", flush=True)
        return _scheduler(engine, args)


def add_scheduler_command(commands: Any) -> None:
    """``dagcore scheduler``."""
    parser = commands.add_parser(
        "scheduler", help="Run the scheduler",
        description="Create, start and decide DAG runs and run their tasks with the "
        "LocalExecutor, until SIGTERM or SIGINT (or --num-runs loops). Running tasks are "
        "waited for (up to [core] killed_task_cleanup_time after a signal).")
    parser.add_argument("-n", "--num-runs", type=int, default=None, metavar="N",
                        help="Exit after N scheduler loops")
    parser.add_argument("-p", "--parallelism", type=int, default=None, metavar="N",
                        help="Tasks run at once (default [core] parallelism)")
    parser.set_defaults(func=_cmd_scheduler)


def _cmd_standalone(args: argparse.Namespace) -> int:
    from dagcore.cli import CLIError, _engine
    from dagcore.configuration import conf
    from dagcore.dag_processing import sync_dags
    from dagcore.db import migrate

    _positive_int(args.num_runs, "--num-runs")
    _positive_int(args.parallelism, "--parallelism")
    folder = Path(args.subdir if args.subdir is not None
                  else conf.get("core", "dags_folder")).expanduser()
    if not folder.exists():
        raise CLIError(f"DAG folder {str(folder)!r} does not exist (set --subdir or "
                       f"[core] dags_folder)")
    logging.getLogger("dagcore").setLevel(logging.INFO)
    with _engine() as engine:
        revision = migrate(engine)
        print(f"standalone: database at {revision}", flush=True)
        result = sync_dags(folder, engine=engine)
        print(f"standalone: {len(result.written) + len(result.unchanged)} DAG(s) parsed "
              f"({len(result.written)} written), {len(result.import_errors)} import error(s)",
              flush=True)
        processor = subprocess.Popen(
            [sys.executable, "-m", "dagcore", "dag-processor", "--subdir", str(folder)],
            stdout=subprocess.DEVNULL)
        try:
            return _scheduler(engine, args)
        finally:
            processor.terminate()
            try:
                processor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                processor.kill()
                processor.wait()


def add_standalone_command(commands: Any) -> None:
    """``dagcore standalone``."""
    parser = commands.add_parser(
        "standalone", help="Migrate the database, then run the DAG processor and the scheduler",
        description="Everything on one machine: `db migrate`, one parse of the DAG folder, "
        "then the DAG processor (a child process) and the scheduler until SIGTERM or SIGINT.")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder (default [core] dags_folder)")
    parser.add_argument("-n", "--num-runs", type=int, default=None, metavar="N",
                        help="Exit after N scheduler loops")
    parser.add_argument("-p", "--parallelism", type=int, default=None, metavar="N",
                        help="Tasks run at once (default [core] parallelism)")
    parser.set_defaults(func=_cmd_standalone)


def _load_dag(dag_id: str, subdir: str | None) -> Any:
    from dagcore.cli import CLIError
    from dagcore.configuration import conf
    from dagcore.dagbag import DagBag

    folder = Path(subdir if subdir is not None else conf.get("core", "dags_folder")).expanduser()
    if not folder.exists():
        raise CLIError(f"DAG folder {str(folder)!r} does not exist (set --subdir or "
                       f"[core] dags_folder)")
    bag = DagBag(folder)
    dag = bag.get_dag(dag_id)
    if dag is None:
        errors = "".join(f"; {path}: {err.strip().splitlines()[-1]}"
                         for path, err in sorted(bag.import_errors.items()))
        raise CLIError(f"DAG {dag_id!r} not found in {folder}{errors}")
    return dag


def cmd_dags_test(args: argparse.Namespace) -> int:
    """``dagcore dags test DAG_ID [LOGICAL_DATE]``: one whole run, in this process."""
    from dagcore.cli import _parse_conf, _parse_date
    from dagcore.cli_output import render

    conf = _parse_conf(args.conf)
    kwargs: dict[str, Any] = {}
    if args.logical_date is not None:
        kwargs["logical_date"] = _parse_date(args.logical_date, "logical_date")
    dag = _load_dag(args.dag_id, args.subdir)
    # The tasks run in this process: what they print goes to stderr, so that stdout holds
    # only the states (a JSON document with -o json).
    with contextlib.redirect_stdout(sys.stderr):
        result = dag.test(conf=conf, db_url=args.db_url, keep_db=args.keep_db, **kwargs)
    rows = [{"dag_id": result.dag_id, "run_id": result.run_id, "task_id": ti.task_id,
             "state": ti.state, "try_number": ti.try_number, "start_date": ti.start_date,
             "end_date": ti.end_date} for ti in result.task_instances.values()]
    render(rows, STATE_COLUMNS, args.output)
    print(f"Dag run {result.run_id}: {result.state}", file=sys.stderr)
    if args.keep_db and result.db_url:
        print(f"database kept: {result.db_url}", file=sys.stderr)
    return 0 if result.state == "success" else 1


def cmd_tasks_test(args: argparse.Namespace) -> int:
    """``dagcore tasks test DAG_ID TASK_ID [LOGICAL_DATE]``: one task, no database state."""
    from dagcore.cli import CLIError, _parse_conf, _parse_date
    from dagcore.exceptions import TaskSkipped
    from dagcore.utils import timezone

    conf = _parse_conf(args.conf)
    logical_date = (timezone.utcnow() if args.logical_date is None
                    else _parse_date(args.logical_date, "logical_date"))
    dag = _load_dag(args.dag_id, args.subdir)
    if not dag.has_task(args.task_id):
        raise CLIError(f"Task {args.task_id!r} not found in DAG {args.dag_id!r} (its tasks: "
                       f"{', '.join(sorted(dag.task_ids))})")
    run_id = f"__dagcore_tasks_test__{logical_date.isoformat()}"
    try:
        result = dag.run_task(args.task_id, run_id=run_id, logical_date=logical_date,
                              conf=conf)
    except TaskSkipped as exc:
        print(f"Task {args.task_id} skipped: {exc}", file=sys.stderr)
        return 0
    except Exception as exc:  # the task's own failure: report it as the task's outcome
        log.debug("task failed", exc_info=True)
        raise CLIError(f"Task {args.task_id} failed: {type(exc).__name__}: {exc}") from None
    if result is not None:
        print(result)
    print(f"Task {args.task_id}: success", file=sys.stderr)
    return 0


def cmd_tasks_states_for_dag_run(args: argparse.Namespace) -> int:
    """``dagcore tasks states-for-dag-run DAG_ID RUN_ID``."""
    import sqlalchemy as sa

    from dagcore.cli import CLIError, _migrated_engine, _require_dag
    from dagcore.cli_output import render
    from dagcore.models import tables as t

    ti, dr = t.task_instance, t.dag_run
    with _migrated_engine() as engine:
        with engine.connect() as conn:
            _require_dag(conn, args.dag_id)
            run = conn.execute(sa.select(dr.c.id).where(dr.c.dag_id == args.dag_id,
                                                        dr.c.run_id == args.run_id)
                               ).one_or_none()
            if run is None:
                raise CLIError(f"DagRun {args.run_id!r} of DAG {args.dag_id!r} not found")
            rows = [dict(row._mapping) for row in conn.execute(
                sa.select(ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.state, ti.c.try_number,
                          ti.c.start_date, ti.c.end_date)
                .where(ti.c.dag_id == args.dag_id, ti.c.run_id == args.run_id)
                .order_by(ti.c.start_date.is_(None), ti.c.start_date, ti.c.task_id))]
    render(rows, STATE_COLUMNS, args.output)
    return 0
