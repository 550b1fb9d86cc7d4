"""Rendering of the CLI's listings: ``-o table|json|plain``, as ``airflow``'s ``--output``.

Design note. A listing is a sequence of rows (mappings) and the column names to show, in order.

* ``table``: a python3-rich table. Off a terminal (a pipe, a file, a test) the console is made
  wide enough that rich never truncates or wraps a value, so scripts can still grep it.
* ``json``: one JSON array of objects (one per row, keys = the columns); dates in ISO 8601,
  UUIDs as strings, booleans and nulls as JSON's.
* ``plain``: a header line, then one line per row, values separated by a tab (``cut -f`` works);
  nulls are empty fields.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, Final, TextIO

__all__ = ["OUTPUT_FORMATS", "add_output_argument", "render", "to_jsonable"]

OUTPUT_FORMATS: Final = ("table", "json", "plain")
_OFF_TERMINAL_WIDTH: Final = 10_000


def add_output_argument(parser: Any) -> None:
    """Add ``-o/--output {table,json,plain}`` (default ``table``) to an argparse parser."""
    parser.add_argument("-o", "--output", choices=OUTPUT_FORMATS, default="table",
                        help="Output format (default: table)")


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: dates in ISO 8601, UUIDs and enums as strings, sets and
    tuples as (sorted, for sets) lists, durations in seconds."""
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return str(value)


def _text(value: Any) -> str:
    """A value as one line of text (table and plain cells)."""
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return json.dumps(value, sort_keys=True)
    return str(value).replace("\t", " ").replace("\n", " ")


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], output: str,
           *, file: TextIO | None = None, title: str | None = None) -> None:
    """Print ``rows`` (only ``columns``, in that order) to ``file`` (default stdout).

    Raises:
        ValueError: ``output`` is not one of :data:`OUTPUT_FORMATS`.
    """
    out = file if file is not None else sys.stdout
    if output == "json":
        data = [{c: to_jsonable(row.get(c)) for c in columns} for row in rows]
        out.write(json.dumps(data, indent=2) + "\n")
    elif output == "plain":
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(_text(row.get(c)) for c in columns) + "\n")
    elif output == "table":
        from rich.console import Console
        from rich.table import Table

        isatty = getattr(out, "isatty", lambda: False)()
        console = Console(file=out, width=None if isatty else _OFF_TERMINAL_WIDTH,
                          highlight=False, soft_wrap=False)
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            # markup off: a value such as "[bold]" is printed as is.
            table.add_row(*(_escape(_text(row.get(c))) for c in columns))
        console.print(table)
    else:
        raise ValueError(f"unknown output format {output!r}: use one of "
                         f"{', '.join(OUTPUT_FORMATS)}")
    out.flush()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
