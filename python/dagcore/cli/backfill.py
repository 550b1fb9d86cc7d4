"""``dagcore backfill create|pause|unpause|cancel|status|list``.

Design note. The handlers call :mod:`dagcore.api.backfills`; ``create --wait`` then runs a
scheduler in this process (LocalExecutor) until the backfill completes, drawing a rich progress
bar from :func:`~dagcore.api.backfills.backfill_status` between loops, and prints the runs per
state. A user's mistake raises :class:`dagcore.cli.common.CLIError` or a
:class:`dagcore.api.user_input.UserInputError` (one line, exit 1, nothing written).
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from dagcore.cli.common import CLIError, migrated_engine

__all__ = ["add_backfill_commands"]

BACKFILL_COLUMNS = ("id", "dag_id", "from_date", "to_date", "reprocess_behavior",
                    "max_active_runs", "is_paused", "keep_dag_paused", "created_at",
                    "completed_at")
PLAN_COLUMNS = ("sort_ordinal", "logical_date", "run_after", "action", "reason")
PLAN_TABLE_ENDS = 20  # dry-run table rows shown at each end unless --all
STATE_COLUMNS = ("state", "runs")


def _create_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from dagcore.api.user_input import parse_conf, parse_date, require_positive

    require_positive(args.max_active_runs, "--max-active-runs")
    if args.keep_dag_paused and args.unpause:
        raise CLIError("--keep-dag-paused and --unpause are mutually exclusive")
    kwargs: dict[str, Any] = dict(
        from_date=parse_date(args.from_date, "--from-date"),
        to_date=parse_date(args.to_date, "--to-date"),
        reprocess_behavior=args.reprocess_behavior or "none",
        run_backwards=args.run_backwards,
        dag_run_conf=parse_conf(args.dag_run_conf, "--dag-run-conf"),
        run_on_latest_version=args.run_on_latest_version,
        keep_dag_paused=args.keep_dag_paused, unpause=args.unpause)
    if args.max_active_runs is not None:
        kwargs["max_active_runs"] = args.max_active_runs
    return kwargs


def _cmd_create(args: argparse.Namespace) -> int:
    from dagcore.api.backfills import create_backfill, dry_run_backfill
    from dagcore.cli.output import render

    kwargs = _create_kwargs(args)
    with migrated_engine() as engine:
        if args.dry_run:
            plan = dry_run_backfill(args.dag_id, engine=engine, **kwargs)
            # A generator: json and plain stream the rows, a table keeps only its ends.
            rows = ({"sort_ordinal": e.sort_ordinal, "logical_date": e.logical_date,
                     "run_after": e.run_after, "action": str(e.action),
                     "reason": None if e.reason is None else str(e.reason)} for e in plan)
            render(rows, PLAN_COLUMNS, args.output, ends=None if args.all else PLAN_TABLE_ENDS,
                   more_hint=" (--all shows every row)")
            counts = plan.counts()
            print(f"Dry run of a backfill of {args.dag_id}: "
                  f"{sum(counts.values())} date(s): "
                  + ", ".join(f"{n} {a}" for a, n in counts.items() if n)
                  + "; nothing written", file=sys.stderr)
            return 0
        backfill = create_backfill(args.dag_id, engine=engine, **kwargs)
        print(f"Backfill {backfill.id} of {backfill.dag_id} created: {backfill.created} run(s) "
              f"created, {backfill.cleared} cleared, {backfill.skipped} date(s) skipped",
              flush=True)
        if _is_paused(engine, args.dag_id) and not backfill.keep_dag_paused:
            print(f"Note: DAG {args.dag_id} is paused: the backfill's runs wait until it is "
                  f"unpaused (`dagcore dags unpause {args.dag_id}`; or create backfills with "
                  f"--unpause or --keep-dag-paused)", file=sys.stderr, flush=True)
        if not args.wait:
            return 0
        return _wait(engine, backfill.id, args)


def _is_paused(engine: Any, dag_id: str) -> bool:
    import sqlalchemy as sa

    from dagcore.models import tables as t

    with engine.connect() as conn:
        return bool(conn.execute(sa.select(t.dag.c.is_paused).where(
            t.dag.c.dag_id == dag_id)).scalar())


def _wait(engine: Any, backfill_id: int, args: argparse.Namespace) -> int:
    """Run a scheduler in this process until the backfill completes, with a progress bar."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from dagcore.api.backfills import backfill_status
    from dagcore.cli.output import render
    from dagcore.executors.local import LocalExecutor
    from dagcore.jobs.job import SchedulerAlreadyRunning
    from dagcore.jobs.scheduler import SchedulerJob

    status = backfill_status(backfill_id, engine=engine)
    executor = LocalExecutor(args.parallelism,
                             engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor, idle_sleep=0.05)
    console = Console(stderr=True)
    progress = Progress(TextColumn("backfill {task.fields[bid]}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[states]}"),
                        TimeElapsedColumn(), console=console, transient=False)
    done = threading.Event()  # stop watching
    complete = threading.Event()  # the backfill completed

    def watch() -> None:
        task = progress.add_task("runs", total=status.total_runs, bid=backfill_id, states="")
        while not done.wait(0.2):
            current = backfill_status(backfill_id, engine=engine)
            states = " ".join(f"{k}={v}" for k, v in sorted(current.runs_by_state.items()))
            progress.update(task, completed=current.done_runs, total=current.total_runs,
                            states=states)
            if current.is_complete:
                complete.set()
                job.stop()
                return

    watcher = threading.Thread(target=watch, name="backfill-progress", daemon=True)
    with progress:
        watcher.start()
        try:
            job.run()
        except SchedulerAlreadyRunning:
            # Another scheduler owns this SQLite database: it runs the backfill; just watch.
            console.print("a scheduler is already running: waiting for it to run the backfill")
            while not complete.wait(0.5):
                pass
        finally:
            done.set()
            watcher.join()
    final = backfill_status(backfill_id, engine=engine)
    render([{"state": s, "runs": n} for s, n in sorted(final.runs_by_state.items())],
           STATE_COLUMNS, args.output)
    failed = final.runs_by_state.get("failed", 0)
    print(f"Backfill {backfill_id}: {final.done_runs} of {final.total_runs} run(s) finished, "
          f"{failed} failed", file=sys.stderr)
    return 0 if final.is_complete and not failed else 1


def _rows(backfills: list[Any]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(b) for b in backfills]


def _cmd_list(args: argparse.Namespace) -> int:
    from dagcore.api.backfills import list_backfills
    from dagcore.cli.output import render

    with migrated_engine() as engine:
        render(_rows(list_backfills(args.dag_id, engine=engine)), BACKFILL_COLUMNS, args.output)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from dagcore.api.backfills import backfill_status
    from dagcore.cli.output import render

    with migrated_engine() as engine:
        status = backfill_status(args.backfill_id, engine=engine)
    b = status.backfill
    rows = [{"state": s, "runs": n} for s, n in sorted(status.runs_by_state.items())]
    rows += [{"state": f"skipped: {reason}", "runs": n} for reason, n in status.skipped.items()]
    render(rows, STATE_COLUMNS, args.output)
    left = status.estimated_time_left
    print(f"Backfill {b.id} of {b.dag_id} ({b.from_date.isoformat()} to "
          f"{b.to_date.isoformat()}): {status.done_runs}/{status.total_runs} run(s) finished; "
          + ("complete" if status.is_complete else
             "paused" if b.is_paused else
             f"about {left.total_seconds():.0f}s left" if left is not None else "running"),
          file=sys.stderr)
    return 0


def _operate(name: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from dagcore.api import backfills

        with migrated_engine() as engine:
            kwargs = {"engine": engine}
            if name == "cancel_backfill":
                kwargs["terminate_running"] = not args.keep_running
            b = getattr(backfills, name)(args.backfill_id, **kwargs)
        verb = {"pause_backfill": "paused", "unpause_backfill": "unpaused",
                "cancel_backfill": "cancelled"}[name]
        print(f"Backfill {b.id} of {b.dag_id} {verb}")
        return 0

    return handler


def add_backfill_commands(commands: Any) -> None:
    """``dagcore backfill create|pause|unpause|cancel|status|list``."""
    from dagcore.cli.output import add_output_argument

    backfill = commands.add_parser("backfill", help="Create and manage backfills",
                                   description="Run a DAG over past dates.")
    sub = backfill.add_subparsers(title="commands", metavar="COMMAND", dest="backfill_command",
                                  required=True)
    create = sub.add_parser(
        "create", help="Create a backfill (and with --wait, run it)",
        description="Create runs for the DAG's schedule between --from-date and --to-date "
        "(inclusive). Runs start in order (latest first with --run-backwards), at most "
        "--max-active-runs at once, when a scheduler runs (or right here with --wait).")
    create.add_argument("--dag-id", required=True, help="The DAG id")
    create.add_argument("--from-date", "--start-date", dest="from_date", required=True,
                        help="The first logical date, ISO 8601 (naive: [core] "
                        "default_timezone)")
    create.add_argument("--to-date", "--end-date", dest="to_date", required=True,
                        help="The last logical date, ISO 8601")
    create.add_argument("--reprocess-behavior", "--reprocessing-behavior",
                        dest="reprocess_behavior", choices=("none", "failed", "completed"),
                        default=None, help="Which existing runs to run again (default none)")
    create.add_argument("--max-active-runs", type=int, default=None,
                        help="The backfill's runs at once (default 10)")
    create.add_argument("--run-backwards", action="store_true", help="Latest dates first")
    create.add_argument("--dag-run-conf", default=None, metavar="JSON",
                        help="The runs' conf, a JSON object")
    create.add_argument("--run-on-latest-version", dest="run_on_latest_version",
                        action="store_true", default=None,
                        help="Runs use the DAG's latest version when they start (default)")
    create.add_argument("--no-run-on-latest-version", dest="run_on_latest_version",
                        action="store_false", help="Runs use the version current now")
    create.add_argument("--keep-dag-paused", action="store_true",
                        help="Run the backfill while the DAG stays paused")
    create.add_argument("--unpause", action="store_true", help="Unpause the DAG")
    create.add_argument("--dry-run", action="store_true",
                        help="Print what each date would get and write nothing")
    create.add_argument("--all", action="store_true",
                        help=f"With --dry-run and the table output: every date, not only the "
                        f"first and last {PLAN_TABLE_ENDS}")
    create.add_argument("--wait", action="store_true",
                        help="Run a scheduler here until the backfill completes")
    create.add_argument("-p", "--parallelism", type=int, default=None,
                        help="With --wait: tasks at once (default [core] parallelism)")
    add_output_argument(create)
    create.set_defaults(func=_cmd_create)

    for name, handler, text in (("pause", "pause_backfill", "Pause a backfill"),
                                ("unpause", "unpause_backfill", "Unpause a backfill"),
                                ("cancel", "cancel_backfill",
                                 "Cancel a backfill: queued and running runs fail")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("backfill_id", type=int, help="The backfill id")
        if name == "cancel":
            parser.add_argument("--keep-running", action="store_true",
                                help="Let running runs finish (Airflow's behaviour)")
        parser.set_defaults(func=_operate(handler))

    status = sub.add_parser("status", help="A backfill's progress")
    status.add_argument("backfill_id", type=int, help="The backfill id")
    add_output_argument(status)
    status.set_defaults(func=_cmd_status)

    listing = sub.add_parser("list", help="List backfills")
    listing.add_argument("--dag-id", default=None, help="Only this DAG's")
    add_output_argument(listing)
    listing.set_defaults(func=_cmd_list)
