"""``dagcore users create|list|delete``: the REST API's users (``airflow users`` in Airflow 2).

The password comes from ``--password`` or, when that is omitted, from the environment variable
``DAGCORE_PASSWORD`` (so that it need not appear in the process list or the shell history). It is
never printed: listings show username, role and creation time only.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Final

from dagcore.cli.common import CLIError, migrated_engine

__all__ = ["add_users_commands"]

USER_COLUMNS: Final = ("username", "role", "created_at")
PASSWORD_ENV_VAR: Final = "DAGCORE_PASSWORD"
# dagcore.api.users.Role's values, here so that `dagcore --help` imports no database code.
ROLES: Final = ("viewer", "user", "op", "admin")


def _password(args: argparse.Namespace) -> str:
    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV_VAR)
    if password is None:
        raise CLIError(f"no password: give --password or set ${PASSWORD_ENV_VAR}", exit_code=2)
    return str(password)


def _cmd_users_create(args: argparse.Namespace) -> int:
    from dagcore.api.users import create_user

    password = _password(args)
    with migrated_engine() as engine:
        user = create_user(engine, args.username, password, args.role)
    print(f"User {user.username} created with role {user.role.value}.")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from dagcore.api.users import list_users
    from dagcore.cli.output import render

    with migrated_engine() as engine:
        rows = [asdict(user) for user in list_users(engine)]
    render(rows, USER_COLUMNS, args.output)
    return 0


def _cmd_users_delete(args: argparse.Namespace) -> int:
    from dagcore.api.users import delete_user

    with migrated_engine() as engine:
        delete_user(engine, args.username)
    print(f"User {args.username} deleted.")
    return 0


def add_users_commands(commands: Any) -> None:
    """``dagcore users create|list|delete``."""
    from dagcore.cli.output import add_output_argument

    users = commands.add_parser("users", help="Manage the REST API's users",
                                description="Create, list and delete the users of the REST "
                                "API server and their roles.")
    sub = users.add_subparsers(title="commands", metavar="COMMAND", dest="users_command",
                               required=True)

    create = sub.add_parser("create", help="Create a user",
                            description="Create a user. Roles: viewer reads; user also "
                            "triggers, clears and pauses; op also runs backfills and deletes "
                            "runs; admin also manages users.")
    create.add_argument("--username", required=True, help="The username")
    create.add_argument("--password", default=None,
                        help=f"The password (default: ${PASSWORD_ENV_VAR})")
    create.add_argument("--role", required=True, choices=ROLES,
                        help="The role")
    create.set_defaults(func=_cmd_users_create)

    listing = sub.add_parser("list", help="List the users (never their passwords)")
    add_output_argument(listing)
    listing.set_defaults(func=_cmd_users_list)

    delete = sub.add_parser("delete", help="Delete a user")
    delete.add_argument("--username", required=True, help="The username")
    delete.set_defaults(func=_cmd_users_delete)
