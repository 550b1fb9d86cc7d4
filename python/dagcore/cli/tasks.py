"""``dagcore tasks list|clear|states-for-dag-run|test``."""

from __future__ import annotations

import argparse
import logging
import sys
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

__all__ = ["add_tasks_commands"]

log = logging.getLogger(__name__)

TASK_COLUMNS: Final = ("task_id", "operator", "upstream_task_ids", "downstream_task_ids",
                       "trigger_rule", "retries")
TI_COLUMNS: Final = ("dag_id", "run_id", "task_id", "map_index", "state", "try_number")
STATE_COLUMNS: Final = ("dag_id", "run_id", "task_id", "state", "try_number", "start_date",
                        "end_date")


def _cmd_tasks_list(args: argparse.Namespace) -> int:
    from dagcore.cli.output import render
    from dagcore.db_dagbag import DBDagBag

    with migrated_engine() as engine:
        with engine.connect() as conn:
            require_dag(conn, args.dag_id)
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
    from dataclasses import asdict

    from dagcore.api.common import clear_task_instances
    from dagcore.api.user_input import check_date_range, parse_date, parse_regex
    from dagcore.cli.output import render

    if args.only_failed and args.only_running:
        raise CLIError("--only-failed and --only-running cannot be combined")
    parse_regex(args.task_regex, "--task-regex")
    start = None if args.start_date is None else parse_date(args.start_date, "--start-date")
    end = None if args.end_date is None else parse_date(args.end_date, "--end-date")
    check_date_range(start, end, start_name="--start-date", end_name="--end-date")
    with migrated_engine() as engine:
        def clear(dry_run: bool) -> list[Any]:
            return clear_task_instances(
                args.dag_id, task_regex=args.task_regex, start_date=start, end_date=end,
                only_failed=args.only_failed, only_running=args.only_running,
                include_upstream=args.upstream, include_downstream=args.downstream,
                dry_run=dry_run, engine=engine)

        with engine.connect() as conn:
            require_dag(conn, args.dag_id)
        if args.dry_run or not args.yes:
            planned = clear(dry_run=True)
            if not planned:
                print("No task instances to clear.")
                return 0
            render([asdict(ti) for ti in planned], TI_COLUMNS, "table")
            if args.dry_run:
                print(f"Dry run: {len(planned)} task instance(s) would be cleared.")
                return 0
            if not ask_or_refuse(f"You are about to clear these {len(planned)} task "
                                 f"instance(s). Proceed? (y/n) ", False, "nothing cleared"):
                return 1
        cleared = clear(dry_run=False)
    print(f"Cleared {len(cleared)} task instance(s) of DAG {args.dag_id}.")
    return 0


def _cmd_tasks_states_for_dag_run(args: argparse.Namespace) -> int:
    """``dagcore tasks states-for-dag-run DAG_ID RUN_ID``."""
    import sqlalchemy as sa

    from dagcore.cli.output import render
    from dagcore.models import tables as t

    ti, dr = t.task_instance, t.dag_run
    with migrated_engine() as engine:
        with engine.connect() as conn:
            require_dag(conn, args.dag_id)
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


def _cmd_tasks_test(args: argparse.Namespace) -> int:
    """``dagcore tasks test DAG_ID TASK_ID [LOGICAL_DATE]``: one task, no database state."""
    from dagcore.api.user_input import parse_conf, parse_date
    from dagcore.exceptions import AirflowRescheduleException, TaskSkipped
    from dagcore.operators.skipmixin import DownstreamTasksSkipped
    from dagcore.utils import timezone

    conf = parse_conf(args.conf, "--conf")
    logical_date = (timezone.utcnow() if args.logical_date is None
                    else parse_date(args.logical_date, "logical_date"))
    dag = load_dag(args.dag_id, dag_folder(args.subdir))
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
    except AirflowRescheduleException as request:  # a sensor in reschedule mode said "not yet"
        print(f"Task {args.task_id}: up_for_reschedule (poke again at "
              f"{request.reschedule_date.isoformat()})", file=sys.stderr)
        return 0
    except DownstreamTasksSkipped as request:  # a branch: success; no run to skip them in
        print(f"Task {args.task_id}: success, skipping downstream tasks "
              f"{sorted(map(str, request.tasks))}", file=sys.stderr)
        return 0
    except Exception as exc:  # the task's own failure: report it as the task's outcome
        log.debug("task failed", exc_info=True)
        raise CLIError(f"Task {args.task_id} failed: {type(exc).__name__}: {exc}") from None
    if result is not None:
        print(result)
    print(f"Task {args.task_id}: success", file=sys.stderr)
    return 0


def add_tasks_commands(commands: Any) -> None:
    """``dagcore tasks list|clear|states-for-dag-run|test``."""
    from dagcore.cli.output import add_output_argument

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
    states.set_defaults(func=_cmd_tasks_states_for_dag_run)

    test = sub.add_parser(
        "test", help="Run one task in this process, recording nothing",
        description="Parse the DAG from its file and run one task in this process without "
        "checking dependencies or writing state (XComs stay in memory); print its return "
        "value. Exit 1 if the task fails.")
    test.add_argument("dag_id", help="The DAG id")
    test.add_argument("task_id", help="The task id")
    add_test_arguments(test)
    test.set_defaults(func=_cmd_tasks_test)
