"""Rendering of the CLI's listings: ``-o table|json|yaml|plain``, as ``airflow``'s ``--output``.

Design note. A listing is a sequence of rows (mappings) and the column names to show, in order.

* ``table``: a python3-rich table. Off a terminal (a pipe, a file, a test) the console is made
  wide enough that rich never truncates or wraps a value, so scripts can still grep it.
* ``json``: one JSON array of objects (one per row, keys = the columns); dates in ISO 8601,
  UUIDs as strings, booleans and nulls as JSON's.
* ``yaml``: one YAML list of mappings (the json values, keys in column order), as Airflow's
  ``yaml.safe_dump(..., sort_keys=False)``.
* ``plain``: a header line, then one line per row, values separated by a tab (``cut -f`` works);
  nulls are empty fields.

Rows may be any iterable (a generator): json and plain write them one by one as they come, so a
listing of a million rows needs no more memory than one row. A table is laid out whole by rich,
so for long listings a caller passes ``ends``: the table then shows the first and last ``ends``
rows and how many it left out (the CLI's ``--all`` shows them all).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, Final, TextIO

__all__ = ["OUTPUT_FORMATS", "add_output_argument", "render", "to_jsonable"]

OUTPUT_FORMATS: Final = ("table", "json", "yaml", "plain")
_OFF_TERMINAL_WIDTH: Final = 10_000


def add_output_argument(parser: Any) -> None:
    """Add ``-o/--output {table,json,yaml,plain}`` (default ``table``) to an argparse
    parser."""
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


def render(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], output: str,
           *, file: TextIO | None = None, title: str | None = None, ends: int | None = None,
           more_hint: str = "", total: int | None = None) -> None:
    """Print ``rows`` (only ``columns``, in that order) to ``file`` (default stdout).

    Args:
        rows: the rows, read once (json and plain stream them).
        ends: for a table, show only the first and last ``ends`` rows, and when rows were
            left out between them a "…" row and a caption with the counts (None: every row).
        more_hint: appended to that caption, e.g. how to show every row.
        total: for a table with ``ends``, the caller read only the ends: ``rows`` are the first
            ``ends`` rows then the last ones, and ``total`` how many rows there are in all
            (the same table as from every row).

    Raises:
        ValueError: ``output`` is not one of :data:`OUTPUT_FORMATS`.
    """
    out = file if file is not None else sys.stdout
    if output == "json":
        _write_json(rows, columns, out)
    elif output == "yaml":
        import yaml  # type: ignore[import]  # PyYAML ships no stubs here

        out.write(yaml.safe_dump([{c: to_jsonable(row.get(c)) for c in columns} for row in rows],
                                 sort_keys=False, allow_unicode=True))
    elif output == "plain":
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(_text(row.get(c)) for c in columns) + "\n")
    elif output == "table":
        _write_table(rows, columns, out, title, ends, more_hint, total)
    else:
        raise ValueError(f"unknown output format {output!r}: use one of "
                         f"{', '.join(OUTPUT_FORMATS)}")
    out.flush()


def _write_json(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """The text ``json.dumps(list(rows), indent=2)`` would give, written a row at a time."""
    separator = "[\n"
    for row in rows:
        text = json.dumps({c: to_jsonable(row.get(c)) for c in columns}, indent=2)
        out.write(separator + "  " + text.replace("\n", "\n  "))
        separator = ",\n"
    out.write("[]\n" if separator == "[\n" else "\n]\n")


def _write_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO,
                 title: str | None, ends: int | None, more_hint: str,
                 total_rows: int | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    if ends is not None and ends < 1:
        raise ValueError(f"ends must be at least 1, got {ends!r}")
    head: list[Mapping[str, Any]] = []
    tail: deque[Mapping[str, Any]] = deque(maxlen=ends)
    total = 0
    for row in rows:
        total += 1
        if ends is None or len(head) < ends:
            head.append(row)
        else:
            tail.append(row)
    if total_rows is not None:
        total = total_rows
    left_out = total - len(head) - len(tail)
    isatty = getattr(out, "isatty", lambda: False)()
    console = Console(file=out, width=None if isatty else _OFF_TERMINAL_WIDTH,
                      highlight=False, soft_wrap=False)
    caption = (f"{total} rows: the first {len(head)} and the last {len(tail)} shown, "
               f"{left_out} left out{more_hint}" if left_out else None)
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in head:
        # markup off: a value such as "[bold]" is printed as is.
        table.add_row(*(_escape(_text(row.get(c))) for c in columns))
    if left_out:
        table.add_row(*(["…"] * len(columns)))
    for row in tail:
        table.add_row(*(_escape(_text(row.get(c))) for c in columns))
    console.print(table)
    if caption is not None:  # not the table's caption: rich would wrap it to the table's width
        console.print(caption, markup=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
