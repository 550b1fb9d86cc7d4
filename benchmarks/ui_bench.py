#!/usr/bin/env python3
"""Benchmark the web UI in a real browser: the grid of 500 runs x 50 tasks, the DAG list with
1,000 DAGs, and the size of the JavaScript the first page loads.

Why this benchmark exists: Airflow's grid view renders every run x task cell as a component, and
with hundreds of runs its pages take seconds to draw and stutter when scrolled; its DAG list
needs a DAG's latest runs, which a client of the public API alone gets with one request per DAG.
dagcore's UI reads one UI-only route per page (``/ui/grid/{dag_id}``, ``/ui/dags``; see
docs/airflow-rest-api.md, "UI endpoints") and is measured here where a user sees it: in headless
Chromium, from data arrival (or navigation start) to pixels.

Setup. A temporary ``DAGCORE_HOME`` (SQLite; ``dagcore db migrate``; user ``bench``, role admin)
with a DAGs folder of one DAG of 50 tasks (``ui_bench_grid``, @daily, five lanes of ten) and
1,000 small DAG files (``ui_bench_list_NNNN``: two tasks, tags ``bench`` and ``team_N``), synced
with ``dagcore.dag_processing.sync_dags`` so that every DAG and its version exist. Then, straight
into the database with SQLAlchemy Core (``dagcore.models.tables``): 500 runs of the grid DAG
with 50 task instances each (25,000; mostly success, with failed runs and their
upstream_failed tasks, skips, retries, and the newest runs running and queued), and one or two
runs per list DAG. ``dagcore api-server`` serves it on a free loopback port (no scheduler: the
data stays as written).

Browser (``ui/bench/ui_bench.mjs``, playwright-core driving ``/usr/bin/chromium``; its header
says exactly what it measures), signed in through the login form, 1400x900:

1. Grid: ``/dags/ui_bench_grid?limit=500`` (``limit``: the grid's "runs shown"); the page's own
   ``performance.measure("dagcore:grid-render")`` (from the data's arrival to the frame after
   the cells are painted). Target <= 1,000 ms. Then ~2 s of scrolling of the grid's scroll
   container (across, then down) driven by requestAnimationFrame: p95 frame interval (target
   <= 50 ms, smooth) and the share of dropped 60 Hz frames. Anchor: the same ``/ui/grid``
   JSON rendered naively in the same page (a plain ``<table>`` of 25,000 coloured cells built
   with ``document.createElement``), to the frame after paint; the ratio is grid / anchor.
2. DAG list: from navigation start to the first rendered page of rows of ``/dags`` (the page's
   ``dagcore:dag-list-rendered`` mark, else the first ``[data-testid="dag-row"]`` at the next
   frame), median of 7 warm loads (3 with ``--quick``). Target <= 300 ms. In the same page, the
   data alone: ``GET /ui/dags?limit=50`` against the anchor, what a client without the UI-only
   route does: ``GET /api/v2/dags?limit=50`` then one
   ``GET /api/v2/dags/{id}/dagRuns?limit=1&order_by=-run_after`` per DAG (in parallel).
3. Bundle: the JavaScript ``index.html`` loads at once (its module script and modulepreloads),
   gzipped at level 9 here. Target <= 400 KB.

Output: plain-text tables with the targets marked PASS/FAIL, then as the last line of stdout one
JSON object with every figure. Unlike the other benchmarks, this one exits 1 when a target
fails or a figure could not be measured (the UI's performance is part of its contract).

Usage: ``python benchmarks/ui_bench.py [--quick] [--keep]`` (``make bench``; needs the UI build,
``make ui``, and Chromium). ``--keep`` leaves the temporary home and prints its path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import fmt, format_table, missing_dagcore, ratio, rounded

REPO = Path(__file__).resolve().parent.parent
UI = REPO / "ui"
STATIC = REPO / "python" / "dagcore" / "server" / "static"
NODE_SCRIPT = UI / "bench" / "ui_bench.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))

GRID_DAG = "ui_bench_grid"
GRID_TASKS = 50
GRID_LANES = 5
GRID_RUNS = 500
LIST_DAGS = 1000
USER, PASSWORD = "bench", "bench-password"

TARGET_GRID_MS = 1000.0
TARGET_SCROLL_P95_MS = 50.0
TARGET_LIST_MS = 300.0
TARGET_BUNDLE_KB = 400.0

GRID_DAG_FILE = f'''\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{GRID_DAG}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         catchup=False, tags=["bench"]):
    tasks = [EmptyOperator(task_id=f"task_{{i:02}}") for i in range({GRID_TASKS})]
    for i in range({GRID_TASKS} - {GRID_LANES}):
        tasks[i] >> tasks[i + {GRID_LANES}]
'''

LIST_DAG_FILE = '''\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         catchup=False, tags=["bench", "team_{team}"], description="UI bench DAG {n}"):
    EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
'''


def log(msg: str) -> None:
    print(f"ui_bench: {msg}", file=sys.stderr, flush=True)


def write_dag_files(dags: Path) -> None:
    dags.mkdir(parents=True)
    (dags / f"{GRID_DAG}.py").write_text(GRID_DAG_FILE)
    for n in range(LIST_DAGS):
        dag_id = f"ui_bench_list_{n:04}"
        (dags / f"{dag_id}.py").write_text(LIST_DAG_FILE.format(dag_id=dag_id, team=n % 20, n=n))


def grid_states(rng: random.Random, run_state: str) -> list[str | None]:
    """The 50 task states of one run, consistent with its state and the lanes' dependencies."""
    states: list[str | None] = []
    for i in range(GRID_TASKS):
        upstream = states[i - GRID_LANES] if i >= GRID_LANES else "success"
        if upstream in ("failed", "upstream_failed"):
            states.append("upstream_failed")
        elif upstream in (None, "scheduled", "queued", "running", "up_for_retry"):
            states.append(None)
        elif upstream == "skipped":
            states.append("skipped")
        elif run_state == "failed" and rng.random() < 0.08:
            states.append("failed")
        elif run_state in ("running", "queued") and rng.random() < 0.15:
            states.append(rng.choice(["running", "queued", "scheduled", "up_for_retry"]))
        else:
            states.append("skipped" if rng.random() < 0.03 else "success")
    if run_state == "failed" and "failed" not in states:
        states[GRID_TASKS - 1] = "failed"
    return states


def seed(home: Path, dags: Path) -> dict[str, float]:
    """Migrate, create the user, sync the DAG files, write the runs; seconds per step."""
    env = {**os.environ, "DAGCORE_HOME": str(home)}
    cli = [sys.executable, "-m", "dagcore"]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    subprocess.run([*cli, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "users", "create", "--username", USER, "--password", PASSWORD,
                    "--role", "admin"], env=env, check=True, capture_output=True)
    timings["migrate_s"] = time.perf_counter() - started

    os.environ["DAGCORE_HOME"] = str(home)
    os.environ["DAGCORE__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    try:
        import sqlalchemy as sa

        from dagcore.dag_processing import sync_dags
        from dagcore.db import create_engine, transaction
        from dagcore.models import tables as t
        from dagcore.models.types import uuid7
    except ImportError as exc:
        raise missing_dagcore("ui_bench", exc) from exc

    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    started = time.perf_counter()
    sync_dags(dags, engine=engine, min_update_interval=timedelta(0))
    timings["sync_s"] = time.perf_counter() - started

    started = time.perf_counter()
    rng = random.Random(15)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with transaction(engine) as conn:
        versions = dict(conn.execute(
            sa.select(t.dag_version.c.dag_id, sa.func.max(t.dag_version.c.id))
            .group_by(t.dag_version.c.dag_id)).all())
        synced = conn.execute(sa.select(sa.func.count()).select_from(t.dag)).scalar()
        if synced != LIST_DAGS + 1 or GRID_DAG not in versions:
            raise SystemExit(f"ui_bench: the sync wrote {synced} DAGs, expected {LIST_DAGS + 1}")
        version = versions[GRID_DAG]
        runs: list[dict[str, Any]] = []
        tis: list[dict[str, Any]] = []
        for n in range(GRID_RUNS):
            logical = t0 + timedelta(days=n)
            newest = GRID_RUNS - 1 - n
            run_state = ("running" if newest == 0 else "queued" if newest == 1
                         else "failed" if rng.random() < 0.12 else "success")
            start = logical + timedelta(days=1, minutes=1)
            finished = run_state in ("success", "failed")
            runs.append({
                "dag_id": GRID_DAG, "run_id": f"scheduled__{logical:%Y-%m-%dT%H:%M:%S}+00:00",
                "logical_date": logical, "run_after": logical + timedelta(days=1),
                "data_interval_start": logical, "data_interval_end": logical + timedelta(days=1),
                "queued_at": start, "start_date": None if run_state == "queued" else start,
                "end_date": start + timedelta(seconds=rng.randint(60, 900)) if finished else None,
                "state": run_state, "run_type": "scheduled", "triggered_by": "timetable",
                "created_dag_version_id": version})
            for i, state in enumerate(grid_states(rng, run_state)):
                ran = state in ("success", "failed", "running", "up_for_retry")
                duration = rng.uniform(1, 30) if ran else None
                tis.append({
                    "id": uuid7(), "dag_id": GRID_DAG, "run_id": runs[-1]["run_id"],
                    "task_id": f"task_{i:02}", "map_index": -1, "state": state,
                    "try_number": 1 if ran else 0, "max_tries": 0, "operator": "EmptyOperator",
                    "start_date": start if ran else None,
                    "end_date": start + timedelta(seconds=duration)
                    if duration and state != "running" else None,
                    "duration": duration if state != "running" else None,
                    "dag_version_id": version})
        for n in range(LIST_DAGS):
            dag_id = f"ui_bench_list_{n:04}"
            for k in range(1 + n % 2):
                logical = t0 + timedelta(days=k + n % 7)
                state = "failed" if (n + k) % 9 == 0 else "running" if n % 50 == 0 else "success"
                runs.append({
                    "dag_id": dag_id, "run_id": f"scheduled__{logical:%Y-%m-%dT%H:%M:%S}+00:00",
                    "logical_date": logical, "run_after": logical + timedelta(days=1),
                    "data_interval_start": logical,
                    "data_interval_end": logical + timedelta(days=1),
                    "queued_at": logical + timedelta(days=1),
                    "start_date": logical + timedelta(days=1),
                    "end_date": None if state == "running"
                    else logical + timedelta(days=1, minutes=3),
                    "state": state, "run_type": "scheduled", "triggered_by": "timetable",
                    "created_dag_version_id": versions[dag_id]})
        conn.execute(t.dag_run.insert(), runs)
        conn.execute(t.task_instance.insert(), tis)
    timings["insert_s"] = time.perf_counter() - started
    engine.dispose()
    return timings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    logfile = open(home / "api-server.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "-m", "dagcore", "api-server", "--port", str(port)],
                            env=env, stdout=logfile, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    logfile.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    tail = (home / "api-server.log").read_text(errors="replace")[-3000:]
    raise SystemExit(f"ui_bench: the API server did not answer on {url}:\n{tail}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bundle_sizes() -> dict[str, Any]:
    """The JS index.html loads at once (module script + modulepreloads): bytes and gzip -9 bytes."""
    index = (STATIC / "index.html").read_text()
    srcs = re.findall(r'<script[^>]*\bsrc="([^"]+\.js)"', index)
    srcs += re.findall(r'<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"', index)
    files = []
    for src in dict.fromkeys(srcs):
        data = (STATIC / src.lstrip("/")).read_bytes()
        files.append({"file": src, "bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9))})
    return {"files": files, "bytes": sum(f["bytes"] for f in files),
            "gzip_bytes": sum(f["gzip_bytes"] for f in files)}


def run_browser(url: str, loads: int) -> dict[str, Any]:
    cmd = ["node", str(NODE_SCRIPT), "--url", url, "--user", USER, "--password", PASSWORD,
           "--grid-dag", GRID_DAG, "--runs", str(GRID_RUNS), "--list-loads", str(loads),
           "--scroll-ms", "2000"]
    proc = subprocess.run(cmd, cwd=UI, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def prerequisites() -> list[str]:
    missing = []
    if not (STATIC / "index.html").is_file():
        missing.append(f"the UI build ({STATIC}/index.html): run `make ui`")
    if shutil.which("node") is None:
        missing.append("node (Node >= 20.19): see scripts/build_ui.sh")
    if not (UI / "node_modules" / "playwright-core").is_dir():
        missing.append("ui/node_modules/playwright-core: run `make ui`")
    if not CHROMIUM.exists():
        missing.append(f"Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 list loads instead of 7")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    loads = 3 if args.quick else 7
    began = time.perf_counter()

    missing = prerequisites()
    if missing:
        print("ui_bench: cannot run: missing " + "; ".join(missing), file=sys.stderr)
        return 1

    root = Path(tempfile.mkdtemp(prefix="dagcore-ui-bench-"))
    home = root / "home"
    home.mkdir()
    notes: list[str] = []
    browser: dict[str, Any] = {}
    try:
        log(f"seeding {home}: {LIST_DAGS + 1} DAG files, {GRID_RUNS} x {GRID_TASKS} grid")
        write_dag_files(home / "dags")
        timings = seed(home, home / "dags")
        proc, url = start_server(home)
        try:
            log(f"server on {url}; browser: {NODE_SCRIPT.relative_to(REPO)}")
            try:
                browser = run_browser(url, loads)
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                notes.append(f"browser: {exc}")
        finally:
            stop_server(proc)
    finally:
        if args.keep:
            log(f"kept {home}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    notes += browser.get("notes", [])
    bundle = bundle_sizes()

    grid = browser.get("grid", {})
    scroll = browser.get("scroll", {})
    anchor = browser.get("grid_anchor", {})
    lst = browser.get("list", {})
    fetch = browser.get("list_fetch", {})
    if anchor.get("error"):
        notes.append(f"grid anchor: {anchor['error']}")
    # The render figure counts only if the page read the whole grid (500 runs x 50 tasks).
    fetched = grid.get("fetched") or []
    full_grid = any(f["runs"] == GRID_RUNS and f["tasks"] == GRID_TASKS for f in fetched)
    if grid.get("render_ms") is not None and not full_grid:
        notes.append(f"grid: the page did not read {GRID_RUNS} runs x {GRID_TASKS} tasks from "
                     f"/ui/grid (it read {[(f['runs'], f['tasks']) for f in fetched]}): is the "
                     "runs-shown parameter `limit`? The render figure does not count")
    for key in ("ui_error", "anchor_error"):
        if fetch.get(key):
            notes.append(f"list fetch: {fetch[key]}")

    def r(x: float | None, d: int = 1) -> float | None:
        return rounded(x, d)

    fig: dict[str, Any] = {
        "bench": "ui", "quick": args.quick, "loadavg_1m": os.getloadavg()[0],
        **{k: r(v, 2) for k, v in timings.items()},
        "grid_runs": GRID_RUNS, "grid_tasks": GRID_TASKS,
        "grid_render_ms": r(grid.get("render_ms")),
        "grid_full_data": full_grid,
        "grid_rendered_runs": grid.get("rendered_runs"),
        "grid_task_count": grid.get("task_count"), "grid_dom_nodes": grid.get("dom_nodes"),
        "grid_anchor_render_ms": r(anchor.get("render_ms")),
        "grid_anchor_cells": anchor.get("cells"),
        "grid_vs_anchor": r(ratio(grid.get("render_ms"), anchor.get("render_ms")), 2),
        "scroll_container": scroll.get("container"),
        "scroll_frames": scroll.get("frames"),
        "scroll_p95_frame_ms": r(scroll.get("p95_frame_ms")),
        "scroll_max_frame_ms": r(scroll.get("max_frame_ms")),
        "scroll_dropped_share": r(scroll.get("dropped_share"), 3),
        "list_dags": LIST_DAGS, "list_loads": lst.get("loads"),
        "list_first_page_ms": r(lst.get("first_page_ms")), "list_rows": lst.get("rows"),
        "list_source": lst.get("source"),
        "list_ui_dags_fetch_ms": r(fetch.get("ui_dags_ms")),
        "list_anchor_fetch_ms": r(fetch.get("anchor_ms")),
        "list_anchor_requests": fetch.get("anchor_requests"),
        "list_vs_anchor": r(ratio(lst.get("first_page_ms"), fetch.get("anchor_ms")), 2),
        "list_fetch_vs_anchor": r(ratio(fetch.get("ui_dags_ms"), fetch.get("anchor_ms")), 2),
        "bundle_js_bytes": bundle["bytes"], "bundle_js_gzip_bytes": bundle["gzip_bytes"],
        "bundle_js_files": [f["file"] for f in bundle["files"]],
    }

    def show(x: float | None, spec: str = ",.1f", suffix: str = " ms") -> str:
        return fmt(x, spec, suffix)

    out = [f"dagcore web UI benchmark (headless {CHROMIUM}; load average "
           f"{fig['loadavg_1m']:.2f}; seed: sync {timings['sync_s']:.1f} s, "
           f"inserts {timings['insert_s']:.1f} s)\n"]
    out.append(format_table(
        f"1. Grid: {GRID_RUNS} runs x {GRID_TASKS} tasks ({GRID_RUNS * GRID_TASKS:,} cells), "
        f"{grid.get('route', '/dags/' + GRID_DAG)}", ["figure", "value"], [
            ["render: data arrival -> painted (dagcore:grid-render)",
             show(fig["grid_render_ms"])],
            ["runs x tasks read from /ui/grid",
             ", ".join(f"{f['runs']} x {f['tasks']}" for f in fetched) or "n/a"],
            ["rendered runs / task rows (data-rendered-runs / data-task-count)",
             f"{fmt(grid.get('rendered_runs'), '')} / {fmt(grid.get('task_count'), '')}"],
            ["DOM elements under the grid", fmt(grid.get("dom_nodes"), ",")],
            ["anchor: naive <table> of the same JSON -> painted",
             f"{show(fig['grid_anchor_render_ms'])} ({fmt(anchor.get('cells'), ',')} cells)"],
            ["ratio grid / anchor", fmt(fig["grid_vs_anchor"], ".2f", "x")],
            [f"scroll ~2 s ({fmt(scroll.get('container'), '')}, "
             f"{fmt(scroll.get('scroll_x_px'), ',')} x {fmt(scroll.get('scroll_y_px'), ',')} px): "
             "p95 frame", show(fig["scroll_p95_frame_ms"])],
            ["scroll: longest frame", show(fig["scroll_max_frame_ms"])],
            ["scroll: dropped 60 Hz frames",
             fmt(None if fig["scroll_dropped_share"] is None
                 else 100 * fig["scroll_dropped_share"], ".1f", " %")],
        ]))
    out.append(format_table(
        f"2. DAG list: {LIST_DAGS:,} DAGs, /dags, median of {fmt(lst.get('loads'), '')} warm loads",
        ["figure", "value"], [
            ["navigation start -> first page of rows painted", show(fig["list_first_page_ms"])],
            ["  (from)", fmt(lst.get("source"), "")],
            ["rows on the first page", fmt(lst.get("rows"), "")],
            ["GET /ui/dags?limit=50 (fetch + JSON)", show(fig["list_ui_dags_fetch_ms"])],
            ["anchor: GET /api/v2/dags?limit=50 + "
             f"{fmt((fig['list_anchor_requests'] or 1) - 1, '')} x GET .../dagRuns?limit=1 "
             "(parallel)", show(fig["list_anchor_fetch_ms"])],
            ["ratio page / anchor fetch", fmt(fig["list_vs_anchor"], ".2f", "x")],
            ["ratio /ui/dags / anchor fetch", fmt(fig["list_fetch_vs_anchor"], ".2f", "x")],
        ]))
    out.append(format_table(
        "3. Bundle: JavaScript loaded by the first page (gzip -9)", ["file", "bytes", "gzip"],
        [[f["file"], f"{f['bytes']:,}", f"{f['gzip_bytes']:,}"] for f in bundle["files"]]
        + [["total", f"{bundle['bytes']:,}", f"{bundle['gzip_bytes']:,}"]]))

    gzip_kb = bundle["gzip_bytes"] / 1024
    targets = [
        (f"grid render <= {TARGET_GRID_MS:,.0f} ms", show(fig["grid_render_ms"]),
         fig["grid_render_ms"] if full_grid else None, TARGET_GRID_MS),
        (f"grid scroll p95 frame <= {TARGET_SCROLL_P95_MS:.0f} ms",
         show(fig["scroll_p95_frame_ms"]), fig["scroll_p95_frame_ms"], TARGET_SCROLL_P95_MS),
        (f"DAG list first page <= {TARGET_LIST_MS:.0f} ms", show(fig["list_first_page_ms"]),
         fig["list_first_page_ms"], TARGET_LIST_MS),
        (f"initial JS gzipped <= {TARGET_BUNDLE_KB:.0f} KB", f"{gzip_kb:,.1f} KB", gzip_kb,
         TARGET_BUNDLE_KB),
    ]
    rows = []
    failed = 0
    for desc, measured, value, limit in targets:
        met = value is not None and value <= limit
        failed += not met
        rows.append([desc, measured, "PASS" if met else "FAIL"])
    fig["targets_failed"] = failed
    out.append(format_table("Targets", ["target", "measured", "result"], rows))
    if notes:
        out.append("Notes:\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    fig["elapsed_s"] = r(time.perf_counter() - began, 1)
    out.append(f"elapsed {fig['elapsed_s']:.1f} s")
    print("\n".join(out))
    print(json.dumps(fig, separators=(",", ":")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
