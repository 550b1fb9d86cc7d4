"""``dagcore version``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_version_command"]


def _cmd_version(args: argparse.Namespace) -> int:
    import dagcore

    print(dagcore.__version__)
    return 0


def add_version_command(commands: Any) -> None:
    """``dagcore version``."""
    parser = commands.add_parser("version", help="Show the version",
                                 description="Print dagcore's version.")
    parser.set_defaults(func=_cmd_version)
