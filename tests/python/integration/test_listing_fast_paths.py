"""The listings rewritten for scale (docs/performance.md section 5) answer exactly what the
straightforward queries they replaced answered, on random runs (Hypothesis), on SQLite and
PostgreSQL: the latest runs of ``/ui/dags``, the DAG list's latest-started-run join, backfill
status, the task instances of every DAG and run, and the CLI tables that read only their ends.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from dagcore.api import backfills as api_backfills
from dagcore.api import dags as api_dags
from dagcore.api import task_instances as api_tis
from dagcore.api import ui as api_ui
from dagcore.cli.output import render
from dagcore.db import migrate, transaction
from dagcore.models import tables as t
from dagcore.models.types import uuid7

pytestmark = pytest.mark.integration

BASE = datetime(2025, 1, 1, tzinfo=UTC)
DAGS = ("fp_a", "fp_b", "fp_c", "fp_d")
STATES = ("success", "failed", "running", "queued")
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

run_strategy = st.lists(st.tuples(
    st.sampled_from(DAGS[:3]),  # fp_d never has a run
    st.integers(0, 5),  # run_after in hours: ties are likely
    st.sampled_from(STATES),
    st.booleans(),  # started
    st.integers(0, 3600),  # duration in seconds
    st.booleans(),  # of the backfill (fp_a's only)
), max_size=40)


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    with transaction(engine) as conn:
        conn.execute(t.dag.insert(), [{"dag_id": d, "dag_display_name": d.upper()
                                       if d != "fp_b" else None} for d in DAGS])
        conn.execute(t.backfill.insert().values(
            id=1, dag_id="fp_a", from_date=BASE, to_date=BASE + timedelta(days=9),
            dag_run_conf={}, max_active_runs=3, created_at=BASE, updated_at=BASE))
    return engine


def load(engine: Engine, runs: list[tuple[Any, ...]]) -> None:
    """Replace every run (and task instance) by ``runs``; three task instances each."""
    with transaction(engine) as conn:
        conn.execute(t.dag_run.delete())
        rows, tis = [], []
        for k, (dag_id, hours, state, started, seconds, of_backfill) in enumerate(runs):
            start = BASE + timedelta(hours=hours, minutes=k) if started else None
            end = (start + timedelta(seconds=seconds)
                   if start is not None and state in ("success", "failed") else None)
            rows.append({"dag_id": dag_id, "run_id": f"run_{k}", "logical_date": None,
                         "run_after": BASE + timedelta(hours=hours), "state": state,
                         "run_type": "scheduled", "start_date": start, "end_date": end,
                         "backfill_id": 1 if of_backfill and dag_id == "fp_a" else None})
            tis += [{"id": uuid7(), "dag_id": dag_id, "run_id": f"run_{k}", "task_id": task,
                     "map_index": -1 if task != "m" else k % 2, "state": state}
                    for task in ("a", "b", "m")]
        if rows:
            conn.execute(t.dag_run.insert(), rows)
            conn.execute(t.task_instance.insert(), tis)


def windowed_latest_runs(engine: Engine, dag_ids: list[str], n: int) -> dict[str, Any]:
    """The window-function query latest_runs replaced."""
    dr = t.dag_run
    found: dict[str, list[dict[str, Any]]] = {d: [] for d in dag_ids}
    ranked = sa.select(dr.c.run_id, dr.c.dag_id, dr.c.state, dr.c.run_type, dr.c.logical_date,
                       dr.c.run_after, dr.c.start_date, dr.c.end_date,
                       sa.func.row_number().over(
                           partition_by=dr.c.dag_id,
                           order_by=(dr.c.run_after.desc(), dr.c.id.desc())).label("rank")
                       ).where(dr.c.dag_id.in_(dag_ids)).subquery()
    with engine.connect() as conn:
        for row in conn.execute(sa.select(ranked).where(ranked.c.rank <= n)
                                .order_by(ranked.c.dag_id, ranked.c.rank)):
            run = dict(row._mapping)
            del run["rank"]
            found[run["dag_id"]].append(run)
    return found


def grouped_with_last_run(query: sa.Select) -> sa.Select:
    """The GROUP BY join to each DAG's latest started run that list_dags used before."""
    dr = t.dag_run
    latest = (sa.select(dr.c.dag_id, sa.func.max(dr.c.id).label("run_pk"))
              .where(dr.c.start_date.is_not(None)).group_by(dr.c.dag_id).subquery("mrq"))
    return query.select_from(
        t.dag.outerjoin(latest, latest.c.dag_id == t.dag.c.dag_id)
        .outerjoin(api_dags._last_run, api_dags._last_run.c.id == latest.c.run_pk))


@SETTINGS
@given(runs=run_strategy, n=st.integers(1, 4))
def test_latest_runs_match_the_window_query(db: Engine, runs: list[tuple[Any, ...]],
                                            n: int) -> None:
    load(db, runs)
    assert api_ui.latest_runs(db, list(DAGS), n) == windowed_latest_runs(db, list(DAGS), n)
    assert api_ui.latest_runs(db, ["fp_c"], n) == windowed_latest_runs(db, ["fp_c"], n)


@SETTINGS
@given(runs=run_strategy)
def test_dag_list_by_last_run_matches_the_group_by_join(db: Engine,
                                                        runs: list[tuple[Any, ...]]) -> None:
    load(db, runs)
    queries: list[dict[str, Any]] = [
        {"order_by": ("last_run_state",)}, {"order_by": ("-last_run_start_date", "dag_id")},
        {"order_by": ("last_run_start_date",), "limit": 2, "offset": 1},
        *({"last_dag_run_state": state} for state in STATES),
        {"dag_run_states": ("running", None)}]
    for kwargs in queries:
        kwargs = {"limit": 10, **kwargs}
        fast = api_dags.list_dags(db, **kwargs)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(api_dags, "_with_last_run", grouped_with_last_run)
            slow = api_dags.list_dags(db, **kwargs)
        assert (fast.total, fast.dags) == (slow.total, slow.dags), kwargs


def old_backfill_status(engine: Engine) -> tuple[Any, ...]:
    """What backfill_status computed from every run's row before."""
    dr = t.dag_run
    with engine.connect() as conn:
        runs = conn.execute(sa.select(dr.c.state, dr.c.start_date, dr.c.end_date)
                            .where(dr.c.backfill_id == 1).order_by(dr.c.id)).all()
    by_state = Counter(r.state for r in runs)
    starts = [r.start_date for r in runs if r.start_date is not None]
    durations = [(r.end_date - r.start_date).total_seconds() for r in runs
                 if r.start_date is not None and r.end_date is not None
                 and r.state in ("success", "failed")]
    left = by_state.get("queued", 0) + by_state.get("running", 0)
    estimate = timedelta(0) if left == 0 else None
    if durations and left:
        estimate = timedelta(seconds=sum(durations) / len(durations) * left / 3)
    return dict(by_state), (min(starts) if starts else None), estimate


@SETTINGS
@given(runs=run_strategy)
def test_backfill_status_matches_reading_every_run(db: Engine,
                                                   runs: list[tuple[Any, ...]]) -> None:
    load(db, runs)
    status = api_backfills.backfill_status(1, engine=db)
    assert (status.runs_by_state, status.started_at, status.estimated_time_left) == \
        old_backfill_status(db)


@SETTINGS
@given(runs=run_strategy)
def test_task_instances_of_every_run_are_every_row_in_order(
        db: Engine, runs: list[tuple[Any, ...]]) -> None:
    load(db, runs)
    ti, dr = t.task_instance, t.dag_run
    with db.connect() as conn:
        expected = conn.execute(
            sa.select(ti.c.id, dr.c.logical_date, dr.c.run_after)
            .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                             dr.c.run_id == ti.c.run_id)))
            .order_by(ti.c.map_index, ti.c.id)).all()
    pages = [api_tis.list_task_instances(db, None, None, limit=7, offset=o)
             for o in range(0, len(expected) + 7, 7)]
    assert all(p.total == len(expected) for p in pages)
    got = [(i.ti.id, i.logical_date, i.run_after) for p in pages for i in p.task_instances]
    assert got == [tuple(row) for row in expected]
    of_a = api_tis.list_task_instances(db, "fp_a", None, limit=1000)
    assert of_a.total == sum(3 for r in runs if r[0] == "fp_a")
    assert {i.ti.dag_id for i in of_a.task_instances} <= {"fp_a"}


@SETTINGS
@given(runs=run_strategy)
def test_cli_tables_of_the_ends_are_the_tables_of_every_row(
        db: Engine, runs: list[tuple[Any, ...]], tmp_path_factory: Any) -> None:
    from dagcore.cli import main
    from dagcore.cli.dags import RUN_COLUMNS, TABLE_ENDS

    load(db, runs * 2 if len(runs) > 10 else runs)  # often more rows than the two ends

    def cli(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(list(argv)) == 0
        return out.getvalue()

    dr = t.dag_run
    with db.connect() as conn:
        every = [row._mapping for row in conn.execute(
            sa.select(*(dr.c[c] for c in RUN_COLUMNS)).where(dr.c.dag_id == "fp_a")
            .order_by(dr.c.run_after.desc(), dr.c.id.desc()))]
    expected = io.StringIO()
    render(every, RUN_COLUMNS, "table", file=expected, ends=TABLE_ENDS,
           more_hint=" (--all shows every row)")
    whole = io.StringIO()
    render(every, RUN_COLUMNS, "table", file=whole)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGCORE_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("DAGCORE__DATABASE__SQL_ALCHEMY_CONN",
                  db.url.render_as_string(hide_password=False))
        assert cli("dags", "list-runs", "fp_a") == expected.getvalue()
        assert cli("dags", "list-runs", "fp_a", "--all") == whole.getvalue()
        plain = cli("dags", "list-runs", "fp_a", "-o", "plain").splitlines()
        assert len(plain) == 1 + len(every)
