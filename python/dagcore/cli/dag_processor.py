"""``dagcore dag-processor``: parse the DAG folder into the metadata database, once or in a
loop until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from dagcore.cli.common import dag_folder, migrated_engine, usage_error

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from dagcore.dag_parsing import DagFileParserPool
    from dagcore.dag_processing import SyncResult

__all__ = ["DEFAULT_PROCESSOR_INTERVAL", "add_dag_processor_command", "sync_summary"]

log = logging.getLogger(__name__)

DEFAULT_PROCESSOR_INTERVAL: Final = 30.0
"""Seconds between two passes of ``dagcore dag-processor`` (Airflow's
``min_file_process_interval`` default)."""


def sync_summary(result: SyncResult) -> str:
    """One line on a pass over the DAG folder (``dag-processor``, ``dags reserialize``)."""
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
    from dagcore.api.user_input import require_positive
    from dagcore.dag_parsing import DagFileParserPool

    usage_error(lambda: require_positive(args.interval, "--interval", "number of seconds"))
    folder = dag_folder(args.subdir)
    interval = args.interval if args.interval is not None else DEFAULT_PROCESSOR_INTERVAL
    # The parsing children live as long as the command: forked at the first pass, reused by
    # every pass, stopped (SIGKILL for one still busy) when the command ends however it ends.
    with DagFileParserPool() as pool, migrated_engine() as engine:
        if args.once:
            return _one_pass(folder, engine, pool)
        print(f"dag-processor: parsing {folder} every {interval:g}s (Ctrl-C or SIGTERM stops)",
              flush=True)
        with _StopFlag() as stop:
            _loop(folder, engine, pool, interval, stop.event)
        print("dag-processor: stopped", flush=True)
        return 0


def _one_pass(folder: Path, engine: Engine, pool: DagFileParserPool) -> int:
    from dagcore.dag_processing import sync_dags

    result = sync_dags(folder, engine=engine, pool=pool)
    print(sync_summary(result))
    for filename in sorted(result.import_errors):
        print(f"  import error: {filename}")
    for filename in sorted(result.warnings):
        print(f"  warning: {result.warnings[filename]}")
    return 0


def _loop(folder: Path, engine: Engine, pool: DagFileParserPool, interval: float,
          stop: threading.Event) -> None:
    """Passes every ``interval`` seconds until ``stop`` is set; a pass under way when it is set
    is abandoned (its busy parsing children are killed, so a file stuck in C code cannot delay
    the stop)."""
    import sqlalchemy as sa

    from dagcore.dag_parsing import ParsingInterrupted
    from dagcore.dag_processing import sync_dags
    from dagcore.db.sqlite_file import check_database_file

    while not stop.is_set():
        check_database_file(engine)  # deleted or replaced: stop (one line, exit 1)
        try:
            result = sync_dags(folder, engine=engine, pool=pool, should_stop=stop.is_set)
        except ParsingInterrupted:
            log.info("dag-processor: pass abandoned to stop")
            return
        except sa.exc.OperationalError as exc:
            # Transient (a locked or restarting database): the next pass retries.
            log.error("dag-processor pass failed, retrying in %gs: %s", interval,
                      getattr(exc, "orig", exc))
        else:
            print(sync_summary(result), flush=True)
        stop.wait(interval)


def add_dag_processor_command(commands: Any) -> None:
    """``dagcore dag-processor``."""
    parser = commands.add_parser(
        "dag-processor", help="Parse DAG files and store them in the database",
        description="Parse the DAG folder and write the DAGs' serialized versions and the "
        "import errors to the metadata database, every --interval seconds until SIGTERM or "
        "SIGINT (or once with --once). Files are imported by [dag_processor] "
        "parsing_processes child processes; a file whose process dies, or runs past "
        "dag_file_processor_timeout and is killed, gets an import error; the parsed DAGs are "
        "stored [dag_processor] store_batch_size per transaction.")
    parser.add_argument("--once", action="store_true",
                        help="Do one pass, print a summary and exit")
    parser.add_argument("--interval", type=float, metavar="SECONDS", default=None,
                        help=f"Seconds between passes (default {DEFAULT_PROCESSOR_INTERVAL:g})")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder or file to parse (default [core] dags_folder)")
    parser.set_defaults(func=_cmd_dag_processor)
