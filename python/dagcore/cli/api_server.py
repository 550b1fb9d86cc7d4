"""``dagcore api-server [--host H] [--port P] [--workers N]``: serve the REST API with uvicorn.

Design note. uvicorn imports the application factory (``dagcore.server.app:create_app``) in
each worker process, so with ``--workers N`` every worker has its own engine and DAG-version
cache. uvicorn handles SIGTERM and SIGINT: it stops accepting connections and lets the requests
in flight finish before the process exits. The database must be migrated first (checked here,
once, so a misconfigured server fails with one line instead of on its first request).
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from dagcore.cli.common import CLIError, migrated_engine

__all__ = ["APP_FACTORY", "add_api_server_command"]

APP_FACTORY: Final = "dagcore.server.app:create_app"


def _cmd_api_server(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 < args.port < 65536:
        raise CLIError(f"--port {args.port} is not a TCP port (1-65535)", exit_code=2)
    if args.workers < 1:
        raise CLIError(f"--workers must be a positive integer, got {args.workers}", exit_code=2)
    with migrated_engine():
        pass
    # uvicorn logs "Uvicorn running on ..." and each request; it exits 0 after a SIGTERM.
    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="debug" if args.verbose else "info",
                log_config=_log_config(), timeout_keep_alive=5)
    return 0


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, without passing its records on to the root logger too (the CLI
    configures that one: every line would be written twice)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"].setdefault(name, {})["propagate"] = False
    config["loggers"]["uvicorn.error"].setdefault("handlers", ["default"])
    return config


def add_api_server_command(commands: Any) -> None:
    """``dagcore api-server``."""
    parser = commands.add_parser(
        "api-server", help="Serve the REST API (/api/v2, /api/v1)",
        description="Serve Airflow 3's public REST API under /api/v2 and Airflow 2's stable "
        "API under /api/v1 (users: `dagcore users create`). SIGTERM stops it after the "
        "requests in flight.")
    parser.add_argument("-H", "--host", default="127.0.0.1",
                        help="The address to listen on (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=8080,
                        help="The port to listen on (default 8080)")
    parser.add_argument("-w", "--workers", type=int, default=1,
                        help="Worker processes (default 1)")
    parser.set_defaults(func=_cmd_api_server)
