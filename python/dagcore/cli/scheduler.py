"""``dagcore scheduler`` and ``dagcore standalone``: the commands that run a scheduler.

Design note. These handlers start schedulers and executors, so their imports happen when they
run and the listing commands stay free of them.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from typing import Any

from dagcore.cli.common import CLIError, dag_folder, engine, migrated_engine, usage_error

__all__ = ["add_scheduler_command", "add_standalone_command", "run_scheduler"]

log = logging.getLogger(__name__)


def _check_counts(args: argparse.Namespace) -> None:
    """``-n/--num-runs`` and ``-p/--parallelism`` are positive (else a usage error)."""
    from dagcore.api.user_input import require_positive

    usage_error(lambda: require_positive(args.num_runs, "--num-runs"))
    usage_error(lambda: require_positive(args.parallelism, "--parallelism"))


def run_scheduler(eng: Any, args: argparse.Namespace) -> int:
    """A scheduler with a LocalExecutor of ``args.parallelism`` on ``eng``, for
    ``args.num_runs`` loops (None: until SIGTERM/SIGINT). The database faults that stop it
    (another scheduler alive, the SQLite file deleted, its lock held too long) end it with one
    line naming them."""
    import sqlalchemy as sa

    from dagcore.configuration import conf
    from dagcore.db.sqlite_file import (
        DatabaseFileGone,
        DatabaseLocked,
        describe_lock_timeout,
        is_lock_error,
    )
    from dagcore.executors.local import LocalExecutor
    from dagcore.jobs.job import SchedulerAlreadyRunning
    from dagcore.jobs.scheduler import SchedulerJob

    executor = LocalExecutor(args.parallelism,
                             engine_url=eng.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=eng, executor=executor,
                       num_runs=-1 if args.num_runs is None else args.num_runs)
    try:
        loops = job.run()
    except (SchedulerAlreadyRunning, DatabaseFileGone, DatabaseLocked) as exc:
        raise CLIError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        if not is_lock_error(exc):  # registering: the loop's own lock errors are DatabaseLocked
            raise
        raise CLIError(describe_lock_timeout(
            eng, conf.getfloat("database", "sqlite_busy_timeout"))) from None
    print(f"scheduler: stopped after {loops} loop(s)", flush=True)
    return 0


def _cmd_scheduler(args: argparse.Namespace) -> int:
    _check_counts(args)
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("dagcore").setLevel(logging.INFO)
    with migrated_engine() as eng:
        print(f"scheduler: starting ({eng.url.render_as_string(hide_password=True)}; "
              f"SIGTERM or Ctrl-C stops)", flush=True)
        return run_scheduler(eng, args)


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
    from dagcore.dag_processing import sync_dags
    from dagcore.db import migrate

    _check_counts(args)
    folder = dag_folder(args.subdir)
    logging.getLogger("dagcore").setLevel(logging.INFO)
    with engine() as eng:
        revision = migrate(eng)
        print(f"standalone: database at {revision}", flush=True)
        # Parsed in child processes, stopped when the sync returns: a DAG file that crashes or
        # hangs its parsing process is an import error, and standalone goes on.
        result = sync_dags(folder, engine=eng)
        print(f"standalone: {len(result.written) + len(result.unchanged)} DAG(s) parsed "
              f"({len(result.written)} written), {len(result.import_errors)} import error(s)",
              flush=True)
        processor = subprocess.Popen(
            [sys.executable, "-m", "dagcore", "dag-processor", "--subdir", str(folder)],
            stdout=subprocess.DEVNULL)
        try:
            return run_scheduler(eng, args)
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
