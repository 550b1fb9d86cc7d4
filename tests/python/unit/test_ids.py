"""Ids ending in a newline (issue 12 §5): a pattern ending in ``$`` also matches just before a
final ``"\\n"``, so ``re.match(r"^[\\w.-]+$", "my_dag\\n")`` accepts the id. Airflow's own checks
have that hole (task-sdk definitions/_internal/node.py ``validate_key`` uses
``KEY_REGEX.match``; airflow/models/dagrun.py ``validate_run_id`` uses ``re.match``); dagcore
anchors at the true end of the text, so an id with a newline is refused and the message names it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagcore import DAG
from dagcore.api.user_input import InvalidId, parse_dag_id
from dagcore.configuration import conf_vars
from dagcore.models.dagrun import validate_run_id
from dagcore.operators.base import validate_key
from dagcore.operators.empty import EmptyOperator

NEWLINE_IDS = ["my_dag\n", "my_dag\n\n", "\nmy_dag", "my\ndag"]


@pytest.mark.parametrize("key", NEWLINE_IDS)
def test_validate_key_refuses_a_newline_and_names_the_key(key: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_key(key, "dag_id")
    assert repr(key) in str(info.value)


def test_validate_key_still_accepts_a_plain_key() -> None:
    assert validate_key("my_dag.v-2", "dag_id") == "my_dag.v-2"


def test_dag_refuses_a_dag_id_ending_in_a_newline() -> None:
    with pytest.raises(ValueError, match=r"dag_id 'my_dag\\n'"):
        DAG("my_dag\n", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None)


def test_operator_refuses_a_task_id_ending_in_a_newline() -> None:
    with DAG("my_dag", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
        with pytest.raises(ValueError, match=r"task_id 'extract\\n'"):
            EmptyOperator(task_id="extract\n")


def test_cli_dag_id_ending_in_a_newline_is_an_invalid_id() -> None:
    with pytest.raises(InvalidId, match=r"--dag-id 'my_dag\\n'"):
        parse_dag_id("my_dag\n", "--dag-id")


@pytest.mark.parametrize("run_id", ["my_run\n", "manual__2024-01-01T00:00:00+00:00\n"])
def test_validate_run_id_refuses_a_final_newline(run_id: str) -> None:
    with pytest.raises(ValueError, match="does not match regex pattern") as info:
        validate_run_id(run_id)
    # Named on one line, the newline escaped.
    assert f"The run_id provided '{run_id[:-1]}\\n' does not" in str(info.value)


def test_validate_run_id_refuses_a_final_newline_with_a_configured_pattern() -> None:
    with conf_vars({("scheduler", "allowed_run_id_pattern"): r"^[a-z_]+$"}):
        validate_run_id("my_run")
        with pytest.raises(ValueError, match="does not match regex pattern"):
            validate_run_id("my_run\n")


def test_validate_run_id_keeps_airflow_prefix_matching_of_a_configured_pattern() -> None:
    # Airflow matches the configured pattern with re.match: a pattern without "$" only
    # constrains how the id starts.
    with conf_vars({("scheduler", "allowed_run_id_pattern"): r"^run_"}):
        validate_run_id("run_anything goes")
