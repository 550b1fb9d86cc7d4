"""The try rules of dagcore.models.taskinstance: retry or fail, and when to retry (ref. 3.7)."""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.configuration import conf_vars
from dagcore.models import tables as t
from dagcore.models.taskinstance import (
    HISTORY_FIELDS,
    NO_STATE,
    end_try,
    failure_state,
    next_retry_datetime,
)
from dagcore.state import TaskInstanceState

END = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RETRY = TaskInstanceState.UP_FOR_RETRY
FAILED = TaskInstanceState.FAILED


# -- failure_state ------------------------------------------------------------------------------


@pytest.mark.parametrize(("try_number", "max_tries", "restarting", "expected"), [
    pytest.param(1, 0, False, FAILED, id="no-retries"),
    pytest.param(1, 1, False, RETRY, id="first-try-one-retry"),
    pytest.param(2, 1, False, FAILED, id="retry-used-up"),
    pytest.param(1, 3, False, RETRY, id="first-of-four"),
    pytest.param(3, 3, False, RETRY, id="third-of-four"),
    pytest.param(4, 3, False, FAILED, id="last-of-four"),
    pytest.param(2, 3, False, RETRY, id="cleared-then-retrying"),
    pytest.param(1, -1, False, FAILED, id="legacy-max-tries-minus-one"),
    pytest.param(5, 0, True, RETRY, id="restarting-always-retries"),
    pytest.param(9, 2, True, RETRY, id="restarting-past-max-tries"),
])
def test_failure_state(try_number: int, max_tries: int, restarting: bool,
                       expected: TaskInstanceState) -> None:
    assert failure_state(try_number=try_number, max_tries=max_tries,
                         restarting=restarting) is expected


# -- next_retry_datetime: constant delay --------------------------------------------------------


@pytest.mark.parametrize("backoff", [False, 0, 0.0, 1, 1.0, -2.0], ids=repr)
def test_constant_delay_without_backoff(backoff: bool | float) -> None:
    for try_number in (1, 2, 7):
        assert next_retry_datetime(end_date=END, try_number=try_number,
                                   retry_delay=timedelta(seconds=300),
                                   retry_exponential_backoff=backoff) == END + timedelta(
            seconds=300)


def test_constant_delay_ignores_max_retry_delay_as_airflow() -> None:
    got = next_retry_datetime(end_date=END, try_number=1, retry_delay=timedelta(minutes=10),
                              max_retry_delay=timedelta(minutes=1))
    assert got == END + timedelta(minutes=10)


def test_constant_delay_is_capped_by_max_task_retry_delay() -> None:
    with conf_vars({("core", "max_task_retry_delay"): "60"}):
        got = next_retry_datetime(end_date=END, try_number=1, retry_delay=timedelta(hours=2))
    assert got == END + timedelta(seconds=60)


def test_end_date_in_another_zone_keeps_the_instant() -> None:
    from zoneinfo import ZoneInfo

    end = END.astimezone(ZoneInfo("Europe/Zurich"))  # UTC+2 in June
    got = next_retry_datetime(end_date=end, try_number=1, retry_delay=timedelta(seconds=5))
    assert got == END + timedelta(seconds=5)


# -- next_retry_datetime: exponential backoff ---------------------------------------------------


def _airflow_delay(delay_s: float, base: float, try_number: int, seed: str) -> int:
    """Airflow 3's formula, written out independently."""
    min_backoff = max(math.ceil(delay_s * base ** (try_number - 1)), 1)
    jitter = int(hashlib.sha1(seed.encode()).hexdigest(), 16) % min_backoff
    return min_backoff + jitter


@pytest.mark.parametrize("try_number", [1, 2, 3, 5, 8])
def test_exponential_matches_airflow(try_number: int) -> None:
    logical = datetime(2025, 1, 2, tzinfo=UTC)
    got = next_retry_datetime(end_date=END, try_number=try_number,
                              retry_delay=timedelta(seconds=10), retry_exponential_backoff=True,
                              dag_id="etl", task_id="load", logical_date=logical)
    expected = _airflow_delay(10, 2, try_number, f"etl#load#{logical}#{try_number}")
    assert got == END + timedelta(seconds=expected)


@pytest.mark.parametrize("try_number", range(1, 9))
def test_exponential_jitter_stays_within_one_backoff(try_number: int) -> None:
    delay = next_retry_datetime(end_date=END, try_number=try_number,
                                retry_delay=timedelta(seconds=30),
                                retry_exponential_backoff=True, dag_id="d", task_id="t") - END
    low = 30 * 2 ** (try_number - 1)
    assert timedelta(seconds=low) <= delay < timedelta(seconds=2 * low)


def test_exponential_is_deterministic_per_try() -> None:
    def delay() -> datetime:
        return next_retry_datetime(end_date=END, try_number=3, retry_delay=timedelta(seconds=60),
                                   retry_exponential_backoff=True, dag_id="d", task_id="t",
                                   logical_date=END)

    assert delay() == delay()
    # The seed holds the task: across many tasks the jitter is not one constant.
    delays = {next_retry_datetime(end_date=END, try_number=4, retry_delay=timedelta(seconds=60),
                                  retry_exponential_backoff=True, dag_id="d", task_id=f"t{i}")
              for i in range(20)}
    assert len(delays) > 1


def test_true_means_base_two() -> None:
    def delay(backoff: bool | float) -> datetime:
        return next_retry_datetime(end_date=END, try_number=4, retry_delay=timedelta(seconds=7),
                                   retry_exponential_backoff=backoff, dag_id="d", task_id="t")

    assert delay(True) == delay(2.0) != delay(3.0)


def test_a_float_is_the_base() -> None:
    got = next_retry_datetime(end_date=END, try_number=3, retry_delay=timedelta(seconds=10),
                              retry_exponential_backoff=3.0, dag_id="d", task_id="t")
    assert got == END + timedelta(seconds=_airflow_delay(10, 3.0, 3, "d#t#None#3"))
    assert timedelta(seconds=90) <= got - END < timedelta(seconds=180)


def test_zero_delay_backs_off_at_least_one_second() -> None:
    delay = next_retry_datetime(end_date=END, try_number=1, retry_delay=timedelta(0),
                                retry_exponential_backoff=True) - END
    assert delay == timedelta(seconds=1)  # min_backoff 1: 1 + h % 1


def test_max_retry_delay_caps_the_backoff() -> None:
    got = next_retry_datetime(end_date=END, try_number=10, retry_delay=timedelta(seconds=60),
                              retry_exponential_backoff=True,
                              max_retry_delay=timedelta(minutes=5))
    assert got == END + timedelta(minutes=5)


def test_max_task_retry_delay_caps_the_backoff() -> None:
    got = next_retry_datetime(end_date=END, try_number=30, retry_delay=timedelta(seconds=60),
                              retry_exponential_backoff=True)
    assert got == END + timedelta(seconds=86400)  # the default [core] max_task_retry_delay
    with conf_vars({("core", "max_task_retry_delay"): "600"}):
        got = next_retry_datetime(end_date=END, try_number=30, retry_delay=timedelta(seconds=60),
                                  retry_exponential_backoff=True,
                                  max_retry_delay=timedelta(hours=1))
    assert got == END + timedelta(seconds=600)


def test_huge_try_numbers_do_not_overflow() -> None:
    got = next_retry_datetime(end_date=END, try_number=5000, retry_delay=timedelta(seconds=1),
                              retry_exponential_backoff=1.5)
    assert got == END + timedelta(seconds=86400)


@given(delay_s=st.integers(min_value=0, max_value=10**6),
       try_number=st.integers(min_value=1, max_value=80),
       base=st.sampled_from([True, 1.5, 2.0, 3.0, 10.0]),
       cap_s=st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
       task_id=st.sampled_from(["a", "b", "extract"]))
def test_backoff_bounds(delay_s: int, try_number: int, base: bool | float, cap_s: int | None,
                        task_id: str) -> None:
    delay = next_retry_datetime(
        end_date=END, try_number=try_number, retry_delay=timedelta(seconds=delay_s),
        retry_exponential_backoff=base,
        max_retry_delay=None if cap_s is None else timedelta(seconds=cap_s),
        dag_id="d", task_id=task_id).timestamp() - END.timestamp()
    ceiling = min(86400, cap_s if cap_s is not None else math.inf)
    b = 2.0 if base is True else float(base)
    try:
        floor = max(math.ceil(delay_s * b ** (try_number - 1)), 1)
    except OverflowError:
        floor = math.inf
    assert delay <= ceiling
    assert delay >= min(floor, ceiling)
    if 2 * floor <= ceiling:
        assert delay < 2 * floor


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    pytest.param({"end_date": datetime(2025, 1, 1)}, ValueError, "naive", id="naive-end"),
    pytest.param({"end_date": "2025-01-01"}, TypeError, "end_date", id="end-not-datetime"),
    pytest.param({"try_number": 0}, ValueError, "try_number.*0", id="try-zero"),
    pytest.param({"try_number": True}, ValueError, "try_number", id="try-bool"),
    pytest.param({"retry_delay": 300}, TypeError, "retry_delay.*300", id="delay-seconds"),
    pytest.param({"retry_delay": timedelta(seconds=-1)}, ValueError, "retry_delay",
                 id="delay-negative"),
    pytest.param({"max_retry_delay": 60}, TypeError, "max_retry_delay", id="cap-seconds"),
    pytest.param({"retry_exponential_backoff": "yes"}, TypeError, "'yes'", id="backoff-str"),
])
def test_bad_input_names_the_value(kwargs: dict[str, object], error: type[Exception],
                                   match: str) -> None:
    args: dict[str, object] = {"end_date": END, "try_number": 1,
                               "retry_delay": timedelta(seconds=5),
                               "retry_exponential_backoff": True}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        next_retry_datetime(**args)  # type: ignore[arg-type]


def test_bad_max_task_retry_delay_config_is_named() -> None:
    with conf_vars({("core", "max_task_retry_delay"): "0"}), \
            pytest.raises(ValueError, match="max_task_retry_delay.*0"):
        next_retry_datetime(end_date=END, try_number=1, retry_delay=timedelta(seconds=5))


# -- history ------------------------------------------------------------------------------------


def test_history_fields_are_the_shared_columns() -> None:
    ti_columns = {c.name for c in t.task_instance.columns}
    tih_columns = {c.name for c in t.task_instance_history.columns}
    assert set(HISTORY_FIELDS) == ti_columns - {"id"}
    assert set(HISTORY_FIELDS) == tih_columns - {"id", "task_instance_id"}


# -- end_try: the cached statement against the statement built per call --------------------------

_STATES = [None, "queued", "running", "restarting", "success", "up_for_retry"]


def _reference_end_try(conn: sa.engine.Connection, row: Any, state: TaskInstanceState | None,
                       now: datetime) -> None:
    """end_try as it was written before its statement was cached (built on every call)."""
    ti = t.task_instance
    duration = None if row.start_date is None else (now - row.start_date).total_seconds()
    conn.execute(ti.update().where(ti.c.id == row.id, ti.c.state == row.state).values(
        state=None if state is None else state.value, end_date=now, duration=duration,
        updated_at=now))


@settings(max_examples=80, deadline=None)
@given(seen=st.sampled_from(_STATES), actual=st.sampled_from(_STATES),
       new=st.sampled_from([None, *TaskInstanceState]),
       started=st.one_of(st.none(), st.integers(0, 10**7)),
       ended=st.integers(0, 10**7))
def test_end_try_writes_what_the_per_call_statement_writes(
        seen: str | None, actual: str | None, new: TaskInstanceState | None,
        started: int | None, ended: int) -> None:
    """Whatever state the caller saw and the row is in now (the guard matches or not, NULL
    included), end_try changes the row exactly as the statement built per call did."""
    engine = sa.create_engine("sqlite://", future=True)
    ti = t.task_instance
    with engine.begin() as conn:
        ti.create(conn)
        start = None if started is None else END - timedelta(seconds=started / 1000)
        ids = [uuid.uuid4(), uuid.uuid4()]
        for ti_id in ids:
            conn.execute(ti.insert().values(id=ti_id, dag_id="d", task_id="t", run_id=str(ti_id),
                                            map_index=-1, try_number=1, state=actual,
                                            start_date=start))
        now = END + timedelta(microseconds=ended)
        fast = SimpleNamespace(id=ids[0], state=seen, start_date=start)
        slow = SimpleNamespace(id=ids[1], state=seen, start_date=start)
        assert end_try(conn, fast, new, now=now) == (NO_STATE if new is None else new.value)
        _reference_end_try(conn, slow, new, now)
        got = [conn.execute(sa.select(ti).where(ti.c.id == ti_id)).one()._asdict()
               for ti_id in ids]
    for row in got:
        row.pop("id")
        row.pop("run_id")
    assert got[0] == got[1]
    if seen == actual:
        assert got[0]["state"] == (None if new is None else new.value)
        assert got[0]["end_date"] == now
