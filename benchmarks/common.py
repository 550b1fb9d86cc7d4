"""Helpers shared by the benchmark scripts (imported as ``common``: scripts run from this folder)."""

from __future__ import annotations

import gc
import resource
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["format_table", "gc_paused", "read_status_kib", "reset_peak_rss"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic GC out of the timed region."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render an aligned plain-text table; the first column left-aligned, the rest right."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join(parts).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([title, line(headers), rule, *(line(r) for r in rows), ""])


def read_status_kib() -> dict[str, int]:
    """Return VmRSS and VmHWM of this process in KiB (from /proc, else getrusage)."""
    fields: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0])
    except OSError:
        pass
    if "VmHWM" not in fields:
        fields["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    fields.setdefault("VmRSS", fields["VmHWM"])
    return fields


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs``); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def missing_dagcore(script: str, exc: ImportError) -> SystemExit:
    """The exit a benchmark raises when dagcore cannot be imported (not built or installed)."""
    return SystemExit(
        f"{script}: cannot import dagcore ({exc}).\n"
        "Build and install the package first: run `make test` or `make bench` from the "
        "repository root, then run this script with the project's virtual environment "
        f"(.venv/bin/python benchmarks/{script}.py).")


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None if either is missing or den is 0."""
    if num is None or not den:
        return None
    return num / den


def rounded(x: float | None, digits: int) -> float | None:
    """round(x, digits), or None."""
    return None if x is None else round(x, digits)


def fmt(x: float | None, spec: str, suffix: str = "") -> str:
    """Format a figure, or "n/a"."""
    return "n/a" if x is None else f"{x:{spec}}{suffix}"
