"""``dagcore scheduler`` and ``dagcore standalone``: the commands that run a scheduler.

Design note. These handlers start schedulers and executors, so their imports happen when they
run and the listing commands stay free of them. ``standalone`` runs the API server and the DAG
processor as child processes, as Airflow 3's ``airflow standalone`` does, and stops them
(SIGTERM, then SIGKILL after a timeout) however it ends, so nothing it started outlives it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from dagcore.cli.common import CLIError, dag_folder, engine, migrated_engine, usage_error

__all__ = ["add_scheduler_command", "add_standalone_command", "run_scheduler"]

log = logging.getLogger(__name__)

# Seconds standalone waits for its API server's health endpoint (uvicorn starts in about one).
API_SERVER_START_TIMEOUT = 60.0


def _check_counts(args: argparse.Namespace) -> None:
    """``-n/--num-runs`` and ``-p/--parallelism`` are positive (else a usage error)."""
    from dagcore.api.user_input import require_positive

    usage_error(lambda: require_positive(args.num_runs, "--num-runs"))
    usage_error(lambda: require_positive(args.parallelism, "--parallelism"))


def run_scheduler(eng: Any, args: argparse.Namespace) -> int:
    """A scheduler with the ``[core] executor`` (``args.parallelism`` at once) on ``eng``, for
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
    from dagcore.executors import get_executor
    from dagcore.jobs.job import SchedulerAlreadyRunning
    from dagcore.jobs.scheduler import SchedulerJob

    executor = get_executor(parallelism=args.parallelism,
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
        "[core] executor (LocalExecutor or CeleryExecutor), until SIGTERM or SIGINT (or "
        "--num-runs loops). Running tasks are waited for (up to [core] "
        "killed_task_cleanup_time after a signal).")
    parser.add_argument("-n", "--num-runs", type=int, default=None, metavar="N",
                        help="Exit after N scheduler loops")
    parser.add_argument("-p", "--parallelism", type=int, default=None, metavar="N",
                        help="Tasks run at once (default [core] parallelism)")
    parser.set_defaults(func=_cmd_scheduler)


class _Stopped(Exception):
    """SIGTERM while standalone starts its children (the scheduler's own handler takes over
    once it runs)."""


def _raise_stopped(signum: int, frame: Any) -> None:
    raise _Stopped(signum)


class _ApiServerChild:
    """``dagcore api-server`` as standalone's child process (as Airflow 3's standalone runs
    it): its stderr (uvicorn's startup lines, errors) is copied to standalone's stderr with an
    ``api-server |`` prefix by a thread that also notices an "address already in use"; its
    stdout (a line per request) is dropped."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.address_in_use = False
        self.serving = False  # answered, and not being stopped: a failure now is reported
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dagcore", "api-server", "--host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._copier = threading.Thread(target=self._copy_stderr, name="api-server-stderr",
                                        daemon=True)
        self._copier.start()

    @property
    def url(self) -> str:
        """The URL to print: a wildcard host is reached on loopback."""
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{shown}]:{self.port}" if ":" in shown else f"http://{shown}:{self.port}"

    def _copy_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if "address already in use" in line.lower():
                self.address_in_use = True
            print(f"api-server | {line}", file=sys.stderr, flush=True)
        code = self.process.wait()
        if self.serving and code != 0:  # 0: a Ctrl-C, which reached the whole process group
            print(f"standalone: the API server exited with code {code}; the scheduler goes on",
                  file=sys.stderr, flush=True)

    def wait_until_serving(self, timeout: float) -> None:
        """Until ``/api/v2/monitor/health`` answers; a :class:`CLIError` naming the address if
        the server exits first (its port in use) or never answers within ``timeout``."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        health = f"{self.url}/api/v2/monitor/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._copier.join(timeout=5)  # its last lines, and address_in_use
                raise CLIError(self._exit_message(self.process.returncode))
            try:
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if answer.status == 200:
                        self.serving = True
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise CLIError(f"the API server did not answer on {health} within {timeout:g} s")

    def _exit_message(self, code: int) -> str:
        where = f"{self.host}:{self.port}"
        if self.address_in_use:
            return (f"the API server cannot listen on {where}: the address is already in use "
                    f"(--api-port picks another port, --no-api-server runs without it)")
        return f"the API server exited with code {code} before it answered on {where}"

    def stop(self) -> None:
        self.serving = False
        _stop_child(self.process)
        self._copier.join(timeout=5)


def _stop_child(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL (our child, by its handle)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cmd_standalone(args: argparse.Namespace) -> int:
    from dagcore.dag_processing import sync_dags
    from dagcore.db import migrate

    _check_counts(args)
    if not 0 < args.api_port < 65536:
        raise CLIError(f"--api-port {args.api_port} is not a TCP port (1-65535)", exit_code=2)
    folder = dag_folder(args.subdir)
    logging.getLogger("dagcore").setLevel(logging.INFO)
    children: list[subprocess.Popen[Any]] = []
    api_server: _ApiServerChild | None = None
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        with engine() as eng:
            revision = migrate(eng)
            print(f"standalone: database at {revision}", flush=True)
            if not args.no_api_server:  # it starts while the DAG folder is parsed
                api_server = _ApiServerChild(args.api_host, args.api_port)
                children.append(api_server.process)
            # Parsed in child processes, stopped when the sync returns: a DAG file that crashes
            # or hangs its parsing process is an import error, and standalone goes on.
            result = sync_dags(folder, engine=eng)
            print(f"standalone: {len(result.written) + len(result.unchanged)} DAG(s) parsed "
                  f"({len(result.written)} written), {len(result.import_errors)} import "
                  f"error(s)", flush=True)
            children.append(subprocess.Popen(
                [sys.executable, "-m", "dagcore", "dag-processor", "--subdir", str(folder)],
                stdout=subprocess.DEVNULL))
            if api_server is not None:
                api_server.wait_until_serving(API_SERVER_START_TIMEOUT)
                print(f"standalone: API server at {api_server.url} (users: `dagcore users "
                      f"create`)", flush=True)
            return run_scheduler(eng, args)
    except _Stopped:
        print("standalone: stopped (SIGTERM) before the scheduler started", file=sys.stderr,
              flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM: the cleanup goes on
        if api_server is not None:
            api_server.serving = False
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            _stop_child(child)
        if api_server is not None:
            api_server.stop()
        signal.signal(signal.SIGTERM, previous)


def add_standalone_command(commands: Any) -> None:
    """``dagcore standalone``."""
    parser = commands.add_parser(
        "standalone",
        help="Migrate the database, then run the API server, the DAG processor and the scheduler",
        description="Everything on one machine, as Airflow 3's standalone: `db migrate`, one "
        "parse of the DAG folder, then the API server and the DAG processor (child processes, "
        "stopped when it stops) and the scheduler until SIGTERM or SIGINT (or --num-runs "
        "loops).")
    parser.add_argument("-S", "--subdir", metavar="PATH", default=None,
                        help="The DAG folder (default [core] dags_folder)")
    parser.add_argument("-n", "--num-runs", type=int, default=None, metavar="N",
                        help="Exit after N scheduler loops")
    parser.add_argument("-p", "--parallelism", type=int, default=None, metavar="N",
                        help="Tasks run at once (default [core] parallelism)")
    parser.add_argument("--api-host", default="127.0.0.1", metavar="HOST",
                        help="The API server's address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, default=8080, metavar="PORT",
                        help="The API server's port (default 8080, Airflow's)")
    parser.add_argument("--no-api-server", action="store_true",
                        help="Run without the API server")
    parser.set_defaults(func=_cmd_standalone)
