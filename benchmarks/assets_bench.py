#!/usr/bin/env python3
"""Benchmark dagcore's asset-condition engine against straightforward Python evaluation.

Why this benchmark exists: on every scheduler loop Airflow evaluates, for each DAG with queued
asset events, the DAG's asset condition (``AssetAll``/``AssetAny`` trees over assets) against the
assets queued for it, one DAG at a time in Python. With many asset-scheduled DAGs this is a loop
of tree walks and set lookups per DAG. dagcore compiles all conditions once (when DAG versions
change) and evaluates every DAG in one C++ call (docs/airflow-behaviour.md section 12).

Workload (fixed seed, same process): 1,000 consumer DAGs over 10,000 assets; each DAG's
condition is a random tree of ``&`` and ``|`` with 1..8 asset leaves (Airflow's serialized form,
``{"__type": "asset_all" | "asset_any", "objects": [...]}`` over ``{"__type": "asset", ...}``),
resolved to asset ids by a dict lookup on the URI. 100,000 asset events fall on the assets with
a Zipf-like skew (some assets get many events, about half of the rarely updated ones none); each
event queues a pair (DAG, asset) for every DAG consuming the asset, deduplicated per pair as
Airflow's ``asset_dag_run_queue`` table (one row per pair) does.

Contestants (the figures are one scheduler loop's evaluation, ms):

The queued pairs are given as the scheduler's queue query returns them
(docs/airflow-behaviour.md 12.7): sorted by DAG and asset (``ORDER BY target_dag_id,
asset_id``), each row a new tuple holding a new str for the DAG key and a new int for the asset
id, allocated in row order, as a database driver makes them (shared int objects scattered in
memory, as the event list's are, cost the engine cache misses no driver's rows cause).
``benchmarks/assets_step_bench.py`` times the same evaluation on rows read from SQLite and
PostgreSQL.

- Python reference: the queued pairs grouped into a set of assets per DAG, then for each DAG
  with queued assets a walk over its condition (``dagcore.asset_conditions.evaluate_python`` on
  the resolved tree: ``all()``/``any()`` of the children, a set lookup per leaf), collecting the
  ready DAGs.
- Python walk only: the same walks on the sets per DAG built beforehand (informational: the
  evaluation without the grouping).
- dagcore ``AssetConditions.ready`` on the same list of ``(dag key, asset id)`` rows (the
  headline, the scheduler's path: the rows read and the keys looked up in C++, the evaluation
  in C++).
- dagcore ``AssetConditions.ready_indices`` on prebuilt int64 arrays (evaluation only).
- Compiling (``AssetConditions(...)``: checking and resolving the serialized conditions and
  building the engine) is timed once per repeat and reported; it runs when DAG versions change,
  not on every loop.

Every dagcore result must equal the reference's ready DAGs; the script stops with an error if it
does not (a correctness check, not a timing assertion).

Timing method: ``time.perf_counter_ns`` around 10 back-to-back calls of each contestant (one
for compiling) with the garbage collector paused, the mean per call, after one untimed call of
the contestant (compiling, interleaved with the others, evicts the rows from the CPU caches; a
scheduler's rows, just made by the driver, are in cache); the contestants interleaved in each
repeat, the best repeat reported.

Targets: the asset step from the queued pairs (``ready``) within 50 ms per scheduler loop; the
bulk evaluation call (``ready_indices``) at least 20x the Python reference; ``ready`` on the
rows as the scheduler passes them against the same 20x (it also pays for reading the Python
tuples and their keys). ``benchmarks/assets_step_bench.py`` measures the same ratio on rows
read from SQLite and PostgreSQL by the scheduler's own query (the issue's figure).

Output: a plain-text table with ratios against the Python reference measured in the same run,
the targets marked PASS/FAIL, then, as the last line of stdout, one JSON object with every
figure. Usage: ``python benchmarks/assets_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from common import fmt, format_table, gc_paused, missing_dagcore, ratio, rounded

try:
    import dagcore
    from dagcore.asset_conditions import (
        AssetConditions,
        ResolvedCondition,
        evaluate_python,
        resolve_condition,
    )
except ImportError as exc:  # pragma: no cover - depends on the build
    raise missing_dagcore("assets_bench", exc) from exc

SEED = 20_261_207
N_DAGS = 1_000
N_ASSETS = 10_000
N_EVENTS = 100_000
MAX_LEAVES = 8
ZIPF_S = 1.1

INNER = 10  # back-to-back calls per timing (one call is well under a millisecond)

TARGET_STEP_MS = 50.0  # the whole asset step per scheduler loop
TARGET_SPEEDUP = 20.0  # >= 20x the straightforward Python evaluation

T = TypeVar("T")


def uri(asset: int) -> str:
    """The benchmark's URI of an asset id."""
    return f"s3://bench/asset-{asset}"


def random_tree(rng: random.Random, leaves: list[dict[str, Any]]) -> dict[str, Any]:
    """A random & / | tree over the leaves (each used once), Airflow's serialized form."""
    if len(leaves) == 1:
        return leaves[0]
    n_groups = rng.randint(2, min(4, len(leaves)))
    cuts = sorted(rng.sample(range(1, len(leaves)), n_groups - 1))
    groups = [leaves[a:b] for a, b in zip([0, *cuts], [*cuts, len(leaves)])]
    kind = rng.choice(("asset_all", "asset_any"))
    return {"__type": kind, "objects": [random_tree(rng, g) for g in groups]}


def build_workload() -> tuple[dict[str, dict[str, Any]], list[tuple[str, int]]]:
    """The DAGs' serialized conditions and the deduplicated queued pairs."""
    conditions, consumers, events = build_events()
    seen: set[tuple[str, int]] = set()
    pairs: list[tuple[str, int]] = []
    for a in events:
        for key in consumers.get(a, ()):
            if (key, a) not in seen:
                seen.add((key, a))
                pairs.append((key, a))
    return conditions, pairs


def build_events() -> tuple[dict[str, dict[str, Any]], dict[int, list[str]], list[int]]:
    """The DAGs' serialized conditions, the consumers of each asset and the asset of each of
    the N_EVENTS events, in event order (``benchmarks/assets_step_bench.py`` stores them)."""
    rng = random.Random(SEED)
    conditions: dict[str, dict[str, Any]] = {}
    consumers: dict[int, list[str]] = {}
    for d in range(N_DAGS):
        key = f"consumer_{d:04d}"
        assets = rng.sample(range(N_ASSETS), rng.randint(1, MAX_LEAVES))
        leaves = [{"__type": "asset", "name": f"asset-{a}", "uri": uri(a), "group": "asset",
                   "extra": {}} for a in assets]
        conditions[key] = random_tree(rng, leaves)
        for a in assets:
            consumers.setdefault(a, []).append(key)
    ranks = list(range(N_ASSETS))
    rng.shuffle(ranks)  # which asset gets which popularity
    weights = [1.0 / (r + 1) ** ZIPF_S for r in ranks]
    events = rng.choices(range(N_ASSETS), weights=weights, k=N_EVENTS)
    return conditions, consumers, events


def python_ready(resolved: Mapping[str, ResolvedCondition],
                 pairs: Sequence[tuple[str, int]]) -> list[str]:
    """The reference: group the queue per DAG, then walk each queued DAG's condition."""
    queued: dict[str, set[int]] = {}
    for key, asset in pairs:
        s = queued.get(key)
        if s is None:
            queued[key] = s = set()
        s.add(asset)
    return [key for key, assets in queued.items() if evaluate_python(resolved[key], assets)]


def timed(fn: Callable[[], T], inner: int) -> tuple[int, T]:
    """Mean nanoseconds per call over `inner` back-to-back calls after one untimed call, and
    the last result."""
    if inner > 1:
        fn()
    t0 = time.perf_counter_ns()
    for _ in range(inner - 1):
        fn()
    result = fn()
    return (time.perf_counter_ns() - t0) // inner, result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the workload, print the table and the JSON line; 0 unless results differ."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 15

    conditions, event_pairs = build_workload()
    # As the scheduler's query returns them: sorted, and per row a new tuple, a new key str and
    # a new int (a driver makes one per value: `a + 0` is a new object for ids above 256),
    # allocated in row order.
    pairs = [(key[:-1] + key[-1], a + 0) for key, a in sorted(event_pairs)]
    ids = {uri(a): a for a in range(N_ASSETS)}

    def resolver(leaf: Mapping[str, Any]) -> list[int]:
        return [ids[leaf["uri"]]]

    resolved = {key: resolve_condition(c, resolver) for key, c in conditions.items()}
    engine = AssetConditions(conditions, resolver)
    dag_index = array("q", (engine.index(k) for k, _ in pairs))
    asset_ids = array("q", (a for _, a in pairs))
    leaves = sum(len(engine.assets(k)) for k in engine.keys)

    best: dict[str, int] = {}
    results: dict[str, list[str]] = {}
    grouped: dict[str, set[int]] = {}
    for key, asset in pairs:
        grouped.setdefault(key, set()).add(asset)
    contestants: dict[str, Callable[[], list[str]]] = {
        "reference": lambda: python_ready(resolved, pairs),
        "reference_walk": lambda: [key for key, assets in grouped.items()
                                   if evaluate_python(resolved[key], assets)],
        "ready": lambda: engine.ready(pairs),
        "ready_indices": lambda: [engine.keys[i]
                                  for i in engine.ready_indices(dag_index, asset_ids)],
        "compile": lambda: list(AssetConditions(conditions, resolver).keys),
    }
    for _ in range(repeats):
        for name, fn in contestants.items():
            inner = 1 if name == "compile" else INNER
            with gc_paused():
                ns, result = timed(fn, inner)
            best[name] = min(best.get(name, ns), ns)
            results[name] = result

    expected = sorted(results["reference"], key=engine.index)
    if sorted(results["reference_walk"], key=engine.index) != expected:
        raise SystemExit("assets_bench: the two Python references differ")
    for name in ("ready", "ready_indices"):
        if results[name] != expected:
            raise SystemExit(f"assets_bench: dagcore {name} differs from the Python reference: "
                             f"{len(results[name])} vs {len(expected)} ready DAGs")

    ms = {name: ns / 1e6 for name, ns in best.items()}
    ref = ms["reference"]
    rows = [
        ["Python reference (group + walk per DAG)", fmt(ref, ".2f", " ms"), "1.0x"],
        ["Python walk only (sets per DAG prebuilt)", fmt(ms["reference_walk"], ".2f", " ms"),
         fmt(ratio(ref, ms["reference_walk"]), ".1f", "x")],
        ["dagcore ready(rows)", fmt(ms["ready"], ".3f", " ms"),
         fmt(ratio(ref, ms["ready"]), ".1f", "x")],
        ["dagcore ready_indices(int64 arrays)", fmt(ms["ready_indices"], ".3f", " ms"),
         fmt(ratio(ref, ms["ready_indices"]), ".1f", "x")],
        ["compile 1,000 conditions (per DAG-version change)", fmt(ms["compile"], ".2f", " ms"),
         ""],
    ]
    title = (f"Asset conditions: {N_DAGS:,} DAGs, {N_ASSETS:,} assets ({leaves:,} distinct "
             f"leaves), {N_EVENTS:,} events -> {len(pairs):,} queued pairs, "
             f"{len(expected):,} DAGs ready (best of {repeats})")
    print(format_table(title, ["contestant", "time", "vs Python"], rows))

    speedup = ratio(ref, ms["ready"])
    speedup_indices = ratio(ref, ms["ready_indices"])
    targets = [
        ("asset step (ready from queued pairs) <= 50 ms", fmt(ms["ready"], ".3f", " ms"),
         ms["ready"] <= TARGET_STEP_MS),
        ("ready_indices(arrays) >= 20x the Python evaluation", fmt(speedup_indices, ".1f", "x"),
         speedup_indices is not None and speedup_indices >= TARGET_SPEEDUP),
        ("ready(rows) >= 20x the Python evaluation", fmt(speedup, ".1f", "x"),
         speedup is not None and speedup >= TARGET_SPEEDUP),
    ]
    print(format_table("Targets", ["target", "measured", "result"],
                       [[d, m, "PASS" if ok else "FAIL"] for d, m, ok in targets]))

    fig: dict[str, Any] = {
        "benchmark": "assets", "quick": args.quick, "python": platform.python_version(),
        "dagcore_version": getattr(dagcore, "__version__", None), "cpus": os.cpu_count(),
        "repeats": repeats, "inner": INNER, "dags": N_DAGS, "assets": N_ASSETS, "events": N_EVENTS,
        "queued_pairs": len(pairs), "distinct_leaves": leaves, "ready_dags": len(expected),
        "reference_ms": rounded(ref, 3),
        "reference_walk_ms": rounded(ms["reference_walk"], 3),
        "ready_indices_speedup_vs_walk": rounded(ratio(ms["reference_walk"],
                                                       ms["ready_indices"]), 1),
        "ready_ms": rounded(ms["ready"], 4),
        "ready_indices_ms": rounded(ms["ready_indices"], 4),
        "compile_ms": rounded(ms["compile"], 3),
        "ready_speedup_vs_python": rounded(speedup, 1),
        "ready_indices_speedup_vs_python": rounded(speedup_indices, 1),
        "target_step_ms": TARGET_STEP_MS, "target_speedup": TARGET_SPEEDUP,
        "targets_met": all(ok for _, _, ok in targets),
    }
    print(json.dumps(fig, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
