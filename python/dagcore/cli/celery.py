"""``dagcore celery worker`` and ``dagcore celery stop``: the CeleryExecutor's workers.

Design note. ``worker`` runs Celery's own worker (prefork pool) in this process with dagcore's
Celery app (:mod:`dagcore.executors.celery_app`), as ``airflow celery worker`` does, with
Airflow's flags. A worker needs the metadata database (``[database] sql_alchemy_conn``, checked
to be migrated before it starts) and the broker (``[celery] broker_url``, ``result_backend``);
nothing else is shared with the scheduler. It writes its pid to ``--pid`` (``[celery]
worker_pid_file``), which ``stop`` reads to send it SIGTERM: Celery's warm shutdown, which lets
the running tries finish. Celery is imported only when these commands run: without it they end
with an error naming ``python3-celery``. See docs/deployment.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path
from typing import Any

from dagcore.cli.common import CLIError, migrated_engine

__all__ = ["add_celery_commands"]

log = logging.getLogger(__name__)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _queues(text: str | None, default: str) -> list[str]:
    if text is None:
        return [default]
    queues = [q.strip() for q in text.split(",")]
    if not queues or any(not q for q in queues):
        raise CLIError(f"--queues {text!r}: give queue names separated by commas "
                       f"(e.g. {default},q2)", exit_code=2)
    return list(dict.fromkeys(queues))


def _pid_file(path: str | None) -> Path:
    from dagcore.configuration import conf

    return Path(path if path is not None else conf.get("celery", "worker_pid_file")).expanduser()


def _cmd_worker(args: argparse.Namespace) -> int:
    from dagcore.configuration import conf
    from dagcore.executors.celery import CelerySettings, load_celery_app, masked_url

    settings = CelerySettings.from_conf()
    queues = _queues(args.queues, settings.default_queue)
    concurrency = settings.worker_concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise CLIError(f"--concurrency must be >= 1, got {concurrency}", exit_code=2)
    level = (args.loglevel or str(conf.get("logging", "logging_level"))).upper()
    if level not in _LOG_LEVELS:
        raise CLIError(f"--loglevel {level!r}: one of {', '.join(_LOG_LEVELS)}", exit_code=2)
    with migrated_engine():
        pass  # a clear error now, rather than in every try
    app = load_celery_app(settings, worker=True)
    from celery.utils.nodenames import default_nodename, host_format

    hostname = host_format(default_nodename(args.hostname))  # %h, %n, %d as Celery's CLI
    pid_file = _pid_file(args.pid)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    worker = app.Worker(
        hostname=hostname, queues=queues, concurrency=concurrency, pool_cls="prefork",
        loglevel=level, pidfile=str(pid_file), without_gossip=True, without_mingle=True,
        without_heartbeat=True, quiet=args.quiet)
    print(f"celery worker: queues {','.join(queues)}, concurrency {concurrency}, broker "
          f"{masked_url(settings.broker_url)}", flush=True)
    worker.start()
    return int(worker.exitcode or 0)


def _cmd_stop(args: argparse.Namespace) -> int:
    pid_file = _pid_file(args.pid)
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        raise CLIError(f"no worker pid file at {pid_file} (is a worker running here? --pid "
                       f"names another file)") from None
    try:
        pid = int(text)
    except ValueError:
        raise CLIError(f"the worker pid file {pid_file} holds {text!r}, not a pid") from None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        raise CLIError(f"the worker of {pid_file} (pid {pid}) is not running") from None
    print(f"celery stop: sent SIGTERM to worker pid {pid} (it stops after its running tries)",
          flush=True)
    return 0


def add_celery_commands(commands: Any) -> None:
    """``dagcore celery worker`` and ``dagcore celery stop``."""
    parser = commands.add_parser(
        "celery", help="CeleryExecutor workers",
        description="Run or stop a Celery worker for the CeleryExecutor ([core] executor = "
        "CeleryExecutor; [celery] broker_url and result_backend name the Redis server).")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="celery_command",
                                required=True)
    worker = sub.add_parser(
        "worker", help="Start a Celery worker",
        description="Run tries sent by the CeleryExecutor, --concurrency at once, until "
        "SIGTERM (warm shutdown: running tries finish) or SIGINT. Needs the metadata database "
        "and the broker.")
    worker.add_argument("-q", "--queues", default=None, metavar="Q1,Q2",
                        help="Queues to take tries from, comma-separated (default [operators] "
                        "default_queue)")
    worker.add_argument("-c", "--concurrency", type=int, default=None, metavar="N",
                        help="Tries run at once, one pool process each (default [celery] "
                        "worker_concurrency)")
    worker.add_argument("-H", "--hostname", default=None, metavar="NAME",
                        help="The worker's node name; %%h is the host name (default "
                        "celery@%%h)")
    worker.add_argument("-l", "--loglevel", default=None, metavar="LEVEL",
                        help="Log level (default [logging] logging_level)")
    worker.add_argument("--pid", default=None, metavar="PATH",
                        help="The pid file (default [celery] worker_pid_file)")
    worker.add_argument("--quiet", action="store_true", help="No start-up banner")
    worker.set_defaults(func=_cmd_worker)
    stop = sub.add_parser("stop", help="Stop the Celery worker of a pid file",
                          description="Send SIGTERM to the worker whose pid file is --pid: it "
                          "takes no new tries and stops once its running tries end.")
    stop.add_argument("--pid", default=None, metavar="PATH",
                      help="The pid file (default [celery] worker_pid_file)")
    stop.set_defaults(func=_cmd_stop)
