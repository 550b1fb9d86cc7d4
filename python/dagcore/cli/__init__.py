"""The ``dagcore`` command line; its commands and options mirror ``airflow``'s.

Design note. The parser is built from command groups, one module each: a group is one function
that takes the top-level subparsers and adds its parser(s), each with
``set_defaults(func=handler)``; a handler takes the parsed arguments and returns the exit code.
Adding a group is one module plus one entry in :data:`COMMAND_GROUPS`.

* :mod:`~dagcore.cli.common`: the plumbing (:class:`CLIError`, the engine, confirmation, the
  DAG folder); :mod:`~dagcore.cli.output`: ``-o table|json|yaml|plain``.
* :mod:`~dagcore.cli.db`, :mod:`~dagcore.cli.dags`, :mod:`~dagcore.cli.assets`,
  :mod:`~dagcore.cli.tasks`,
  :mod:`~dagcore.cli.backfill`, :mod:`~dagcore.cli.scheduler` (``scheduler``, ``standalone``),
  :mod:`~dagcore.cli.dag_processor`, :mod:`~dagcore.cli.config`, :mod:`~dagcore.cli.version`,
  :mod:`~dagcore.cli.users`, :mod:`~dagcore.cli.api_server`, :mod:`~dagcore.cli.celery`
  (``celery worker``, ``celery stop``).
* What the user typed (conf JSON, dates, regular expressions, numbers) is parsed by
  :mod:`dagcore.api.user_input`, which the REST server shares; its errors name the value.

Handlers import what they need when they run, so ``dagcore version`` and ``--help`` stay cheap.
Errors a user can fix (a bad database URL, a bad option value, a database that is not migrated,
a missing folder) end the command with ``dagcore: error: <message>`` on stderr and exit code 1,
without a traceback (``-v`` logs it); usage errors exit 2, as argparse does; an interrupt 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from dagcore.cli.api_server import add_api_server_command
from dagcore.cli.assets import add_assets_commands
from dagcore.cli.backfill import add_backfill_commands
from dagcore.cli.celery import add_celery_commands
from dagcore.cli.common import PROG, CLIError, database_url_for_display
from dagcore.cli.config import add_config_commands
from dagcore.cli.dag_processor import add_dag_processor_command
from dagcore.cli.dags import add_dags_commands
from dagcore.cli.db import add_db_commands
from dagcore.cli.scheduler import add_scheduler_command, add_standalone_command
from dagcore.cli.tasks import add_tasks_commands
from dagcore.cli.users import add_users_commands
from dagcore.cli.version import add_version_command

__all__ = ["COMMAND_GROUPS", "CLIError", "build_parser", "main"]

log = logging.getLogger(__name__)

COMMAND_GROUPS: Final[tuple[Callable[[Any], None], ...]] = (
    add_api_server_command,
    add_assets_commands,
    add_backfill_commands,
    add_celery_commands,
    add_config_commands,
    add_dag_processor_command,
    add_dags_commands,
    add_db_commands,
    add_scheduler_command,
    add_standalone_command,
    add_tasks_commands,
    add_users_commands,
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
        return (f"database error ({database_url_for_display()}): "
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


def _check_dag_id(args: argparse.Namespace) -> None:
    """Refuse a DAG id no DAG can have ("my_dag\\n", "a b") before a command looks it up, so
    the error names the bad id instead of "not found".

    Raises:
        InvalidId: the command's DAG id is not a valid key.
    """
    from dagcore.api.user_input import parse_dag_id

    dag_id = getattr(args, "dag_id", None)
    if dag_id is not None:
        parse_dag_id(dag_id, "dag_id")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dagcore`` with ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 on an error (message on stderr), 2 on a usage error,
        130 when interrupted.
    """
    from dagcore.api.user_input import UserInputError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                            format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    try:
        _check_dag_id(args)
        return int(args.func(args))
    except CLIError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except UserInputError as exc:  # a value the user typed: its message names it
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
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
