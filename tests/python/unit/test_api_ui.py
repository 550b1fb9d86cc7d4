"""Pure parts of the web UI's endpoints: the grid's aggregate state (Airflow's priority), and
the task-log reader's chunks and continuation tokens (docs/airflow-rest-api.md, "UI
endpoints" 3 and 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagcore.api.ui import GRID_STATE_PRIORITY, aggregate_state
from dagcore.server.errors import ApiError
from dagcore.server.v2.task_logs import decode_token, encode_token, read_chunk


def test_aggregate_state_follows_priority() -> None:
    order = list(GRID_STATE_PRIORITY)
    assert order[:3] == ["failed", "upstream_failed", "up_for_retry"]
    assert order.index("running") < order.index("none") < order.index("success")
    for i, state in enumerate(order):
        # the state wins over every state after it, whatever the order given
        assert aggregate_state(list(reversed(order[i:]))) == state
    assert aggregate_state([]) is None
    assert aggregate_state(["success", "something_new"]) == "success"


def test_token_round_trip_and_refusals() -> None:
    for offset in (0, 1, 2**40):
        assert decode_token(encode_token(offset)) == offset
    for bad in ("", "!!", "eyJvZmZzZXQiOiAiMSJ9", "eyJvZmZzZXQiOiB0cnVlfQ==", "bnVsbA=="):
        with pytest.raises(ApiError) as caught:
            decode_token(bad)
        assert caught.value.status == 400 and repr(bad) in caught.value.detail


def test_read_chunk_lines_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "attempt=1.log"
    path.write_bytes("a\nbé\npartial".encode())
    assert read_chunk(path, 0, complete=False) == ("a\nbé\n", 6)
    assert read_chunk(path, 6, complete=False) == ("", 6)
    assert read_chunk(path, 6, complete=True) == ("partial", 13)
    assert read_chunk(path, 0, complete=True, limit=4) == ("a\n", 2)  # not mid-line
    assert read_chunk(path, 6, complete=True, limit=3) == ("par", 9)  # one long line: split
    assert read_chunk(path, 99, complete=True) == ("", 99)


def test_grid_rows_are_upstream_first_whatever_the_definition_order() -> None:
    """A task defined last but upstream of a group comes before it (Airflow's topological grid
    order); inside a group the same rule holds, and unrelated children keep their order."""
    from datetime import UTC, datetime

    from dagcore import DAG
    from dagcore.api.ui import grid_structure
    from dagcore.operators.empty import EmptyOperator
    from dagcore.serialization import SerializedDAG, serialize_dag
    from dagcore.task_group import TaskGroup

    with DAG("order", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None) as dag:
        with TaskGroup("checks") as checks:
            second = EmptyOperator(task_id="second")
            first = EmptyOperator(task_id="first")
            first >> second
        done = EmptyOperator(task_id="done")
        lone = EmptyOperator(task_id="lone")
        source = EmptyOperator(task_id="source")
        source >> checks >> done
        del lone
    rows = grid_structure(SerializedDAG(serialize_dag(dag)))
    assert [row["id"] for row in rows] == ["lone", "source", "checks", "done"]
    assert [row["id"] for row in rows[2]["children"]] == ["checks.first", "checks.second"]
