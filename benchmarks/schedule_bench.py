#!/usr/bin/env python3
"""Benchmark dagcore's schedule engine against croniter loops, the way Airflow computes schedules.

Why this benchmark exists: Airflow computes every logical date of a cron schedule one at a time
in Python. A backfill over ten years of an hourly DAG walks ~87,600 dates, each costing a new
``croniter`` object and two time-zone conversions, before a single run is created. dagcore
computes the whole list in one C++ call and materializes the datetimes at the edge.

Workloads (same process, same ranges, inclusive at both ends, from 2025-01-01 00:00 wall time):

- ``hourly_10y``: ``0 * * * *`` in UTC over 10 years (87,649 dates);
- ``every5_1y``: ``*/5 * * * *`` in UTC over 1 year (105,121 dates);
- ``amsterdam``: ``0 * * * *`` in Europe/Amsterdam over 1 year (8,761 dates; crosses both DST
  transitions: the repeated hour fires twice, the skipped hour not at all);
- ``new_york_10y``: ``0 9 * * 1-5`` in America/New_York over 10 years (2,608 dates).

Contestants:

1. croniter loop: one ``croniter(expr, start)`` with an aware start in the zone (Debian's
   python3-croniter), ``get_next(datetime)`` until past the end. This is what a hand-written
   script would do. croniter 1.3.5 mishandles aware times around DST transitions (on these
   ranges it drops Amsterdam's repeated hour and the one after it, and puts some New York dates
   an hour off and lists extra ones), so its mismatch counts there are croniter's; they are
   reported, not hidden.
2. Airflow-style loop: airflow/timetables/_cron.py ``CronMixin`` as
   ``CronTriggerTimetable.next_dagrun_info`` drives it with catchup: ``_align_to_next(start)``
   once (a ``_get_next`` and a ``_get_prev``), then ``_get_next(previous)`` per date. Each
   ``_get_next`` converts the aware UTC time to naive wall time in the DAG's zone, builds a NEW
   ``croniter(expr, naive)`` and calls ``get_next(datetime)``; if the hour field is ``*``
   (``cron.expanded[1] == ["*"]``, Airflow's ``_covers_every_hour``) the result is
   ``t + (naive_next - naive)`` in absolute time, otherwise the naive result is made aware with
   ``fold=1`` and converted to UTC. zoneinfo stands in for pendulum (faster than pendulum, so this
   loop is, if anything, quicker than Airflow's), and no DagRunInfo objects are built. zoneinfo's
   ``fold=1`` moves a skipped wall time back where pendulum moves it forward; no range here has a
   wall-time fire in a gap (only the hour-``*`` crons cross one), so the dates are unaffected.
3. dagcore timetable: ``CronTriggerTimetable(expr, timezone=tz).iter_dagrun_infos_between(start,
   end).logical_dates``, timed as a whole (construction, the C++ call, every logical date as an
   aware datetime).
4. dagcore ``CronExpression(expr, timezone=tz).between(start, end)``, timed as a whole.
5. The C++ engine alone: ``_core.CronSchedule.count_generated`` generates every fire in the range
   as C++ instants and returns only how many (no Python object per date); the schedule is built
   outside the timer. This is the figure the ``cpp_ns_per_date_*`` keys report.
6. For reference, ``_core.CronSchedule.count_between``: the count without generating the fires;
   for a fixed-offset zone with an every-N-minutes or hourly cron it is a closed form, so its
   figure per date can be far below 1 ns.
7. The C++ per-date path: ``count_generated(..., per_date=True)``, every fire found by its own
   zone-aware ``next()`` search (``align_to_next(start)`` then ``next()`` of each fire, the
   engine before the segment walk of issue 18). Its dates are compared with the bulk walk's.
8. The floor of a zone with DST, C++: the same cron generated in UTC over a range of the same
   length (``count_generated``), where no offset ever changes. Only for the zones with DST.

Zones with DST (issue 18): ``between`` walks the zone one segment of constant offset at a time,
generating a segment's wall times in one pass over the days and converting them with the
segment's offset; only the instants next to a transition take the per-date search
(docs/performance.md section 1). Targets there: the C++ engine <= 50 ns per date and the
timetable (aware datetimes) <= 150 ns per date, and the same dates as the per-date path.

Sampling: the anchors take ~15-100 us per date, so they are timed on the first ``sample`` dates of
each range (20,000; 2,000 with ``--quick``), or the whole range if shorter; dagcore always runs
the full range. Figures are ns per date (elapsed / dates produced). On each anchor's sample,
dagcore's dates are compared with the anchor's (as UTC instants; mismatches = dates only one side
lists); the Airflow-style loop is the semantics dagcore promises, so its count must be 0.

Timing method: ``time.perf_counter_ns`` around each contestant with the garbage collector paused
(collected before each anchor run, whose garbage is large), dagcore's contestants interleaved in
each repeat, and the best repeat reported.

Output: a plain-text table with the targets marked PASS/MISS, then, as the last line of stdout,
one JSON object holding every figure. A benchmark reports; it never asserts, so the exit status
is 0 whether or not a target is met.

Usage: ``python benchmarks/schedule_bench.py [--quick]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from common import format_table, gc_paused, ratio
from zoneinfo import ZoneInfo

try:
    import dagcore
    from dagcore._native import core
    from dagcore.cron import CronExpression
    from dagcore.timetables import CronTriggerTimetable
except ImportError as exc:  # pragma: no cover - depends on the build
    raise SystemExit(
        f"schedule_bench: cannot import dagcore's schedules ({exc}).\n"
        "Build and install the package first: run `make test` or `make bench` from the "
        "repository root, then run this script with the project's virtual environment "
        "(.venv/bin/python benchmarks/schedule_bench.py)."
    ) from exc

try:
    import croniter as croniter_module
    from croniter import croniter
except ImportError:  # pragma: no cover - Debian package python3-croniter
    croniter_module = None
    croniter = None

UTC = timezone.utc
RANGE_START = (2025, 1, 1)  # wall time in each workload's zone

# Targets from the issue.
TARGET_VS_CRONITER = 50.0  # dagcore timetable+datetimes >= 50x faster per date than croniter
TARGET_VS_AIRFLOW = 200.0  # ... and >= 200x faster than the Airflow-style loop
TARGET_CPP_NS_HOURLY_UTC = 100.0  # C++ engine alone <= 100 ns per date, hourly UTC
TARGET_CPP_NS_DST = 50.0  # issue 18: C++ engine alone <= 50 ns per date in zones with DST
TARGET_TIMETABLE_NS_DST = 150.0  # ... and the timetable's aware datetimes <= 150 ns per date

CONTESTANTS: dict[str, str] = {
    "croniter": "croniter loop",
    "airflow_style": "Airflow-style loop",
    "dagcore_timetable": "dagcore timetable",
    "dagcore_between": "dagcore between",
    "cpp_generate": "C++ engine alone",
    "cpp_count": "C++ count_between",
    "cpp_per_date": "C++ per-date path",
    "cpp_utc_floor": "C++ same cron in UTC",
}
LEGEND = """\
   croniter loop: one croniter, get_next(datetime) per date. Airflow-style loop: _cron.py's
   _get_next per date (a new croniter, naive/aware conversions). dagcore timetable:
   CronTriggerTimetable.iter_dagrun_infos_between(...).logical_dates (aware datetimes). dagcore
   between: CronExpression.between. C++ engine alone: every fire generated in C++, only the count
   returned. C++ count_between: the count without generating (a closed form for fixed-offset
   zones with hourly/every-N-minutes crons). C++ per-date path: every fire by its own zone-aware
   next() (the engine before the segment walk). C++ same cron in UTC: the floor of a zone with
   DST, the same cron over a range as long in UTC (n/a for UTC workloads)."""
ANCHORS = ("croniter", "airflow_style")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """One cron expression in one zone over a number of years."""

    key: str
    expr: str
    tz: str
    years: int

    @property
    def label(self) -> str:
        """A short human-readable description."""
        return f"{self.expr!r} {self.tz} {self.years}y"

    def bounds(self) -> tuple[datetime, datetime]:
        """Return (start, end) as aware UTC datetimes: local midnight, ``years`` later."""
        zone = ZoneInfo(self.tz)
        start = datetime(*RANGE_START, tzinfo=zone)
        end = start.replace(year=start.year + self.years)
        return start.astimezone(UTC), end.astimezone(UTC)


WORKLOADS = (
    Workload(key="hourly_10y", expr="0 * * * *", tz="UTC", years=10),
    Workload(key="every5_1y", expr="*/5 * * * *", tz="UTC", years=1),
    Workload(key="amsterdam", expr="0 * * * *", tz="Europe/Amsterdam", years=1),
    Workload(key="new_york_10y", expr="0 9 * * 1-5", tz="America/New_York", years=10),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Sizes of one run; ``--quick`` shrinks them."""

    quick: bool
    sample: int  # anchor dates timed per workload
    anchor_repeats: int
    dagcore_repeats: int

    @classmethod
    def for_mode(cls, *, quick: bool) -> Settings:
        """Return the sizes for a quick or a full run."""
        if quick:
            return cls(quick=True, sample=2_000, anchor_repeats=1, dagcore_repeats=3)
        return cls(quick=False, sample=20_000, anchor_repeats=3, dagcore_repeats=7)


# --------------------------------------------------------------------------- anchors


class AirflowStyleCron:
    """airflow/timetables/_cron.py ``CronMixin`` with zoneinfo in place of pendulum."""

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        self._expression = expression
        self._timezone = tz

    def _get_next(self, current: datetime) -> datetime:
        """The first fire after ``current`` (aware UTC), with Airflow's DST fix."""
        naive = current.astimezone(self._timezone).replace(tzinfo=None)  # make_naive
        cron = croniter(self._expression, start_time=naive)
        scheduled = cron.get_next(datetime)
        if cron.expanded[1] != ["*"]:  # not _covers_every_hour: wall time, fold=1
            return scheduled.replace(tzinfo=self._timezone, fold=1).astimezone(UTC)
        return current + (scheduled - naive)  # absolute time: aware UTC arithmetic

    def _get_prev(self, current: datetime) -> datetime:
        """The last fire before ``current`` (aware UTC), with Airflow's DST fix."""
        naive = current.astimezone(self._timezone).replace(tzinfo=None)
        cron = croniter(self._expression, start_time=naive)
        scheduled = cron.get_prev(datetime)
        if cron.expanded[1] != ["*"]:
            return scheduled.replace(tzinfo=self._timezone, fold=1).astimezone(UTC)
        return current - (naive - scheduled)

    def _align_to_next(self, current: datetime) -> datetime:
        """``current`` if it is on the schedule, else the next fire."""
        next_time = self._get_next(current)
        if self._get_prev(next_time) != current:
            return next_time
        return current


def airflow_style_dates(w: Workload, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Up to ``limit`` logical dates in [start, end] by CronTriggerTimetable's Airflow loop."""
    cron = AirflowStyleCron(w.expr, ZoneInfo(w.tz))
    get_next = cron._get_next
    out: list[datetime] = []
    append = out.append
    t = cron._align_to_next(start)  # first run: catchup, no previous run, earliest = start
    while t <= end and len(out) < limit:
        append(t)
        t = get_next(t)  # next_dagrun_info: _get_next(last_automated_data_interval.end)
    return out


def croniter_dates(w: Workload, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Up to ``limit`` fires in [start, end] from one croniter with an aware start in the zone."""
    zone = ZoneInfo(w.tz)
    it = croniter(w.expr, start.astimezone(zone) - timedelta(seconds=1))  # start is inclusive
    get_next = it.get_next
    out: list[datetime] = []
    append = out.append
    while len(out) < limit:
        t = get_next(datetime)
        if t > end:
            break
        append(t)
    return out


# --------------------------------------------------------------------------- dagcore


def dagcore_timetable_dates(w: Workload, start: datetime, end: datetime) -> list[datetime]:
    """Every logical date in [start, end] from one bulk call, as aware datetimes."""
    tt = CronTriggerTimetable(w.expr, timezone=w.tz)
    return tt.iter_dagrun_infos_between(start, end).logical_dates


def dagcore_between_dates(w: Workload, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in [start, end] from ``CronExpression.between``."""
    return CronExpression(w.expr, timezone=w.tz).between(start, end)


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Return (ns elapsed, result) of one call."""
    t0 = time.perf_counter_ns()
    result = fn()
    return time.perf_counter_ns() - t0, result


@dataclass(slots=True, kw_only=True)
class Result:
    """Everything measured on one workload."""

    dates: int = 0  # dagcore's count over the full range
    sample: dict[str, int]  # anchor -> dates it produced (and was timed on)
    ns_per_date: dict[str, float | None]
    mismatches: dict[str, int | None]  # anchor -> dates only one side lists, on its sample
    mismatch_examples: dict[str, list[str]]
    between_equal: bool = False  # timetable logical dates == CronExpression.between
    count_equal: bool = False  # count_between == number of dates
    per_date_equal: bool = False  # the per-date path generates the same dates (count and list)


def to_utc(dates: Sequence[datetime]) -> list[datetime]:
    """Return the dates as aware UTC datetimes (so comparisons and hashes are by instant)."""
    return [d.astimezone(UTC) for d in dates]


def compare(reference: Sequence[datetime], anchor: Sequence[datetime],
            limit: int) -> tuple[int, list[str]]:
    """Count dates only one side lists, over the window the anchor sample covers.

    ``reference`` is dagcore's full sorted list; the anchor stopped after ``limit`` dates or at the
    end of the range, so only reference dates up to its last one are compared (all of them if the
    anchor ran to the end). Duplicates in either list count as mismatches.
    """
    if anchor and len(anchor) >= limit:
        window = list(reference[:bisect.bisect_right(reference, anchor[-1])])
    else:
        window = list(reference)
    ref_set, anchor_set = set(window), set(anchor)
    only_ref = sorted(ref_set - anchor_set)
    only_anchor = sorted(anchor_set - ref_set)
    dupes = (len(window) - len(ref_set)) + (len(anchor) - len(anchor_set))
    examples = [f"{d.isoformat()} only in dagcore" for d in only_ref[:3]]
    examples += [f"{d.isoformat()} only in the anchor" for d in only_anchor[:3]]
    if dupes:
        examples.append(f"{dupes} duplicate date(s)")
    return len(only_ref) + len(only_anchor) + dupes, examples


def bench_workload(cfg: Settings, w: Workload, notes: list[str]) -> Result:
    """Time every contestant on one workload and check dagcore against the anchors."""
    start, end = w.bounds()
    schedule = core.CronSchedule(w.expr, w.tz, None)
    # The floor of a zone with DST: the same cron over as long a range in UTC.
    utc_schedule = core.CronSchedule(w.expr, "UTC", None) if w.tz != "UTC" else None
    utc_start = datetime(*RANGE_START, tzinfo=UTC)
    utc_end = utc_start + (end - start)
    count_generated = getattr(schedule, "count_generated", None)
    if count_generated is None:  # an older binding: the closest thing is the closed-form count
        count_generated = schedule.count_between
        notes.append(f"{w.key}: _core.CronSchedule has no count_generated; the C++ engine figure "
                     "is count_between's")
    best: dict[str, int] = {}
    counts: dict[str, int] = {}
    outputs: dict[str, list[datetime]] = {}

    def record(name: str, ns: int, dates: int) -> None:
        best[name] = min(best.get(name, sys.maxsize), ns)
        counts[name] = dates

    with gc_paused():
        for _ in range(cfg.dagcore_repeats):
            ns, tt_dates = timed(lambda: dagcore_timetable_dates(w, start, end))
            record("dagcore_timetable", ns, len(tt_dates))
            ns, bw_dates = timed(lambda: dagcore_between_dates(w, start, end))
            record("dagcore_between", ns, len(bw_dates))
            ns, n = timed(lambda: count_generated(start, end))
            record("cpp_generate", ns, n)
            ns, n = timed(lambda: schedule.count_between(start, end))
            record("cpp_count", ns, n)
            ns, n = timed(lambda: count_generated(start, end, per_date=True))
            record("cpp_per_date", ns, n)
            if utc_schedule is not None:
                ns, n = timed(lambda: utc_schedule.count_generated(utc_start, utc_end))
                record("cpp_utc_floor", ns, n)
            outputs["dagcore_timetable"], outputs["dagcore_between"] = tt_dates, bw_dates
            del tt_dates, bw_dates
    if croniter is not None:
        for _ in range(cfg.anchor_repeats):
            for name, fn in (("croniter", croniter_dates), ("airflow_style", airflow_style_dates)):
                with gc_paused():  # one anchor at a time: its garbage is collected in between
                    ns, dates = timed(lambda fn=fn: fn(w, start, end, cfg.sample))
                record(name, ns, len(dates))
                outputs[name] = dates
                del dates

    reference = to_utc(outputs["dagcore_timetable"])
    result = Result(
        dates=len(reference),
        sample={name: counts[name] for name in ANCHORS if name in counts},
        ns_per_date={name: (best[name] / counts[name] if counts.get(name) else None)
                     for name in CONTESTANTS},
        mismatches=dict.fromkeys(ANCHORS),
        mismatch_examples={},
        between_equal=reference == to_utc(outputs["dagcore_between"]),
        count_equal=counts["cpp_count"] == len(reference) == counts["cpp_generate"],
        per_date_equal=(counts["cpp_per_date"] == len(reference)
                        and reference == to_utc(schedule.between_per_date(start, end))),
    )
    for name in ANCHORS:
        if name not in outputs:
            continue
        bad, examples = compare(reference, to_utc(outputs[name]), cfg.sample)
        result.mismatches[name] = bad
        result.mismatch_examples[name] = examples
        if bad:
            notes.append(f"{w.key}: {bad} mismatch(es) between dagcore and the "
                         f"{CONTESTANTS[name]} on its sample: {'; '.join(examples)}")
    if not result.between_equal:
        notes.append(f"{w.key}: CronTriggerTimetable logical dates differ from "
                     "CronExpression.between")
    if not result.per_date_equal:
        notes.append(f"{w.key}: the bulk walk and the per-date path list different dates")
    if not result.count_equal:
        notes.append(f"{w.key}: count_between = {counts['cpp_count']:,} and count_generated = "
                     f"{counts['cpp_generate']:,} but the timetable lists {len(reference):,} dates")
    return result


# --------------------------------------------------------------------------- output


def fmt_ns(x: float | None) -> str:
    """Format ns per date, or "n/a"."""
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every workload, print the tables and the JSON line; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller anchor samples")
    args = parser.parse_args(argv)

    cfg = Settings.for_mode(quick=args.quick)
    started = time.perf_counter()
    notes: list[str] = []
    if croniter is None:
        notes.append("croniter is not installed (Debian: python3-croniter): anchors skipped")

    results = {w.key: bench_workload(cfg, w, notes) for w in WORKLOADS}
    elapsed_s = time.perf_counter() - started

    croniter_version = getattr(croniter_module, "__version__", None) if croniter_module else None
    if croniter_module is not None and croniter_version is None:
        try:
            from importlib.metadata import version
            croniter_version = version("croniter")
        except Exception:  # noqa: BLE001 - the version is informational only
            croniter_version = None

    fig: dict[str, Any] = {"benchmark": "schedule", "quick": cfg.quick,
                           "python": platform.python_version(),
                           "dagcore_version": getattr(dagcore, "__version__", None),
                           "croniter_version": croniter_version, "cpus": os.cpu_count(),
                           "anchor_sample": cfg.sample, "anchor_repeats": cfg.anchor_repeats,
                           "dagcore_repeats": cfg.dagcore_repeats}
    for w in WORKLOADS:
        r = results[w.key]
        fig[f"{w.key}_expression"] = w.expr
        fig[f"{w.key}_timezone"] = w.tz
        fig[f"{w.key}_dates"] = r.dates
        for name in ANCHORS:
            fig[f"{w.key}_sample_{name}"] = r.sample.get(name)
        for name in CONTESTANTS:
            ns = r.ns_per_date[name]
            fig[f"{w.key}_ns_per_date_{name}"] = None if ns is None else round(ns, 3)
        tt = r.ns_per_date["dagcore_timetable"]
        for name in ANCHORS:
            s = ratio(r.ns_per_date[name], tt)
            fig[f"speedup_vs_{name}_{w.key}"] = None if s is None else round(s, 1)
            s = ratio(r.ns_per_date[name], r.ns_per_date["dagcore_between"])
            fig[f"speedup_between_vs_{name}_{w.key}"] = None if s is None else round(s, 1)
            fig[f"mismatches_{name}_{w.key}"] = r.mismatches[name]
        cpp = r.ns_per_date["cpp_generate"]
        fig[f"cpp_ns_per_date_{w.key}"] = None if cpp is None else round(cpp, 3)
        fig[f"timetable_equals_between_{w.key}"] = r.between_equal
        fig[f"count_equals_dates_{w.key}"] = r.count_equal
        fig[f"per_date_equals_bulk_{w.key}"] = r.per_date_equal
        per_date = r.ns_per_date["cpp_per_date"]
        s = ratio(per_date, cpp)
        fig[f"cpp_speedup_vs_per_date_{w.key}"] = None if s is None else round(s, 1)
        s = ratio(cpp, r.ns_per_date["cpp_utc_floor"])
        fig[f"cpp_over_utc_floor_{w.key}"] = None if s is None else round(s, 2)
    fig["cpp_ns_per_date_hourly_utc"] = fig["cpp_ns_per_date_hourly_10y"]

    targets: dict[str, tuple[str, str, bool]] = {}
    for w in WORKLOADS:
        for name, goal in (("croniter", TARGET_VS_CRONITER), ("airflow_style", TARGET_VS_AIRFLOW)):
            s = fig[f"speedup_vs_{name}_{w.key}"]
            targets[f"speedup_vs_{name}_{w.key}"] = (
                f"dagcore >= {goal:.0f}x {CONTESTANTS[name]}, {w.key}",
                "n/a" if s is None else f"{s:,.1f}x", s is not None and s >= goal)
    cpp = fig["cpp_ns_per_date_hourly_utc"]
    targets["cpp_ns_per_date_hourly_utc"] = (
        f"C++ engine <= {TARGET_CPP_NS_HOURLY_UTC:.0f} ns/date, hourly UTC",
        "n/a" if cpp is None else f"{cpp:.2f} ns",
        cpp is not None and cpp <= TARGET_CPP_NS_HOURLY_UTC)
    for w in WORKLOADS:
        if w.tz == "UTC":
            continue
        cpp = fig[f"cpp_ns_per_date_{w.key}"]
        targets[f"cpp_ns_per_date_dst_{w.key}"] = (
            f"C++ engine <= {TARGET_CPP_NS_DST:.0f} ns/date, {w.key}",
            "n/a" if cpp is None else f"{cpp:.2f} ns",
            cpp is not None and cpp <= TARGET_CPP_NS_DST)
        tt = fig[f"{w.key}_ns_per_date_dagcore_timetable"]
        targets[f"timetable_ns_per_date_dst_{w.key}"] = (
            f"timetable, aware datetimes <= {TARGET_TIMETABLE_NS_DST:.0f} ns/date, {w.key}",
            "n/a" if tt is None else f"{tt:.1f} ns",
            tt is not None and tt <= TARGET_TIMETABLE_NS_DST)
        same = fig[f"per_date_equals_bulk_{w.key}"] and fig[
            f"mismatches_airflow_style_{w.key}"] in (0, None)
        targets[f"same_dates_dst_{w.key}"] = (
            f"same dates as the per-date path and the Airflow-style loop, {w.key}",
            "yes" if same else "NO", bool(same))
    fig["targets_met"] = {key: met for key, (_, _, met) in targets.items()}
    fig["all_targets_met"] = all(fig["targets_met"].values())
    fig["mismatches_total_airflow_style"] = sum(
        results[w.key].mismatches["airflow_style"] or 0 for w in WORKLOADS)
    fig["mismatches_total_croniter"] = sum(
        results[w.key].mismatches["croniter"] or 0 for w in WORKLOADS)
    fig["elapsed_s"] = round(elapsed_s, 2)

    out: list[str] = [
        f"dagcore schedule benchmark ({'quick' if cfg.quick else 'full'}): Python "
        f"{fig['python']}, dagcore {fig['dagcore_version']}, croniter {croniter_version}, "
        f"{fig['cpus']} CPUs\n"]
    rows = []
    for w in WORKLOADS:
        r = results[w.key]
        sample = r.sample.get("airflow_style")
        rows.append([w.key, w.label, f"{r.dates:,}", "n/a" if sample is None else f"{sample:,}",
                     *(fmt_ns(r.ns_per_date[name]) for name in CONTESTANTS)])
    out.append(format_table(
        f"1. ns per logical date. Anchors (croniter, Airflow-style) timed on the first "
        f"{cfg.sample:,} dates of each range (all of it if shorter), best of {cfg.anchor_repeats}; "
        f"dagcore on the full range, best of {cfg.dagcore_repeats}",
        ["workload", "schedule", "dates", "anchor sample", *CONTESTANTS.values()], rows))
    out.append(LEGEND + "\n")
    rows = []
    for w in WORKLOADS:
        rows.append([w.key,
                     *(("n/a" if fig[f"speedup_vs_{n}_{w.key}"] is None
                        else f"{fig[f'speedup_vs_{n}_{w.key}']:,.1f}x") for n in ANCHORS),
                     *(("n/a" if fig[f"speedup_between_vs_{n}_{w.key}"] is None
                        else f"{fig[f'speedup_between_vs_{n}_{w.key}']:,.1f}x") for n in ANCHORS)])
    out.append(format_table(
        "2. Speedup per date (anchor ns/date / dagcore ns/date)",
        ["workload", "timetable vs croniter", "timetable vs Airflow-style",
         "between vs croniter", "between vs Airflow-style"], rows))
    rows = []
    for w in WORKLOADS:
        r = results[w.key]
        rows.append([w.key,
                     *("n/a" if r.mismatches[n] is None else str(r.mismatches[n])
                       for n in ANCHORS),
                     "yes" if r.between_equal else "NO", "yes" if r.count_equal else "NO",
                     "yes" if r.per_date_equal else "NO"])
    out.append(format_table(
        "3. Same dates? Mismatches = dates only one side lists, on each anchor's sample "
        "(must be 0 against the Airflow-style loop)",
        ["workload", "vs croniter", "vs Airflow-style", "timetable == between",
         "count == dates", "bulk == per-date path"], rows))
    rows = []
    for w in WORKLOADS:
        if w.tz == "UTC":
            continue
        r = results[w.key]
        speedup = fig[f"cpp_speedup_vs_per_date_{w.key}"]
        over = fig[f"cpp_over_utc_floor_{w.key}"]
        rows.append([w.key, fmt_ns(r.ns_per_date["cpp_per_date"]),
                     fmt_ns(r.ns_per_date["cpp_generate"]),
                     fmt_ns(r.ns_per_date["cpp_utc_floor"]),
                     "n/a" if speedup is None else f"{speedup:,.1f}x",
                     "n/a" if over is None else f"{over:.2f}x",
                     fmt_ns(r.ns_per_date["dagcore_timetable"])])
    out.append(format_table(
        "4. Zones with DST, ns per date: the C++ engine (segment walk) against the per-date path "
        "and against its floor, the same cron in UTC",
        ["workload", "C++ per-date path", "C++ engine", "C++ same cron in UTC",
         "engine vs per-date", "engine / UTC floor", "timetable (aware datetimes)"], rows))
    out.append(format_table("Targets", ["target", "measured", "result"],
                            [[desc, measured, "PASS" if met else "MISS"]
                             for desc, measured, met in targets.values()]))
    if notes:
        out.append("Notes:\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    out.append(f"elapsed {elapsed_s:.1f} s")
    print("\n".join(out))
    print(json.dumps(fig, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
