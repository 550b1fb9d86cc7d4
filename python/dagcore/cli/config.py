"""``dagcore config get-value``."""

from __future__ import annotations

import argparse
from typing import Any

from dagcore.cli.common import CLIError

__all__ = ["add_config_commands"]


def _cmd_config_get_value(args: argparse.Namespace) -> int:
    from dagcore.configuration import conf

    value = conf.get(args.section, args.option, fallback=None)
    if value is None:
        raise CLIError(f"The option [{args.section}/{args.option}] is not found in config.")
    print(value)
    return 0


def add_config_commands(commands: Any) -> None:
    """``dagcore config get-value``."""
    config = commands.add_parser("config", help="View configuration",
                                 description="Read dagcore's configuration.")
    sub = config.add_subparsers(title="commands", metavar="COMMAND", dest="config_command",
                                required=True)
    get_value = sub.add_parser("get-value", help="Print the value of one option",
                               description="Print the effective value of [SECTION] OPTION "
                               "(environment, dagcore.cfg, then the default).")
    get_value.add_argument("section", help="The section name")
    get_value.add_argument("option", help="The option name")
    get_value.set_defaults(func=_cmd_config_get_value)
