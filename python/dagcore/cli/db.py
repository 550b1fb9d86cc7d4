"""``dagcore db migrate|reset|check``: the metadata database's schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dagcore.cli.common import CLIError, confirm, database_url_for_display, engine

__all__ = ["add_db_commands"]


def _cmd_db_migrate(args: argparse.Namespace) -> int:
    from dagcore.db import migrate

    with engine() as eng:
        revision = migrate(eng)
    print(f"Database {database_url_for_display()} is at revision {revision} (head).")
    return 0


def _cmd_db_reset(args: argparse.Namespace) -> int:
    from dagcore.db import reset

    url = database_url_for_display()
    if not args.yes:
        answer = confirm(f"This will drop all dagcore tables (and their data) in {url} and "
                         f"create them again. Proceed? (y/n) ", sys.stdin, sys.stdout)
        if answer is None:
            raise CLIError("no answer on stdin: database not reset (pass -y/--yes to reset "
                           "without asking)")
        if not answer:
            print("Cancelled: database not reset.", file=sys.stderr)
            return 1
    with engine() as eng:
        revision = reset(eng)
    print(f"Database {url} reset, now at revision {revision} (head).")
    return 0


def _cmd_db_check(args: argparse.Namespace) -> int:
    from dagcore.db import check

    with engine() as eng:
        status = check(eng)
    print(f"current revision: {status.current or 'none (not initialized)'}")
    print(f"head revision:    {status.head}")
    if status.up_to_date:
        print("The database is up to date.")
        return 0
    print("The database is not up to date: run `dagcore db migrate`.", file=sys.stderr)
    return 1


def add_db_commands(commands: Any) -> None:
    """``dagcore db migrate|reset|check``."""
    db = commands.add_parser("db", help="Database operations",
                             description="Manage the metadata database's schema.")
    sub = db.add_subparsers(title="commands", metavar="COMMAND", dest="db_command",
                            required=True)
    migrate = sub.add_parser("migrate", help="Create the schema or upgrade it to the newest "
                             "revision (idempotent)")
    migrate.set_defaults(func=_cmd_db_migrate)
    reset = sub.add_parser("reset", help="Drop every dagcore table and create the schema again",
                           description="Drop every dagcore table (data included) and create "
                           "the schema again at the newest revision. Asks first unless -y.")
    reset.add_argument("-y", "--yes", action="store_true",
                       help="Do not ask for confirmation")
    reset.set_defaults(func=_cmd_db_reset)
    check = sub.add_parser("check", help="Check that the schema is at the newest revision "
                           "(exit code 1 if not)")
    check.set_defaults(func=_cmd_db_check)
