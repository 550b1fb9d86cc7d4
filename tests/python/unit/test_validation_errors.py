"""dagcore.server.validation: pydantic 1's validation errors rewritten as pydantic 2 (under
FastAPI, as Airflow 3 runs it) reports them.

The expected items are pydantic 2's texts as Airflow 3's tests assert them
(``airflow-core/tests/unit/api_fastapi/core_api/routes/public/test_dag_run.py``:
``test_bad_filters`` datetime_from_date_parsing, ``test_invalid_dag_version`` int_parsing,
``TestListDagRunsBatch`` greater_than_equal and literal_error) and FastAPI's own tests
(``tests/test_tutorial/.../test_tutorial001.py``: missing with the body as input,
extra_forbidden). The app here is in-process (no server, no database).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Extra, Field, validator

from dagcore.server.errors import install_v2_handlers
from dagcore.server.validation import speedate_date_error


class Colour(str, Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Body(BaseModel):
    class Config:
        extra = Extra.forbid

    flag: bool
    count: int = 0
    when: datetime | None = None
    conf: dict[str, Any] = {}
    name: str = ""
    colour: Colour = Colour.RED
    items: list[str] = []
    note: str | None = Field(None, max_length=3)

    @validator("name")
    def _no_bad_names(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("name is bad")
        return value


def _app() -> TestClient:
    app = FastAPI()
    install_v2_handlers(app)

    @app.get("/q")
    def query(limit: int = Query(50, ge=0), paused: bool | None = None,
              when: datetime | None = None, mode: Literal["any", "all"] | None = None,
              versions: list[int] = Query([]), required: str = Query(...)) -> dict[str, Any]:
        return {}

    @app.post("/b")
    def body(payload: Body) -> dict[str, Any]:
        return {}

    return TestClient(app)


CLIENT = _app()


def _detail(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 422, answer.text
    return list(answer.json()["detail"])


def test_query_errors() -> None:
    """Query inputs are the raw strings; a missing query parameter has input None."""
    detail = _detail(CLIENT.get("/q?limit=-1&paused=maybe&when=invalid&mode=some"
                                "&versions=x&versions=2"))
    assert detail == [
        {"type": "greater_than_equal", "loc": ["query", "limit"],
         "msg": "Input should be greater than or equal to 0", "input": "-1", "ctx": {"ge": 0}},
        {"type": "bool_parsing", "loc": ["query", "paused"],
         "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
        {"type": "datetime_from_date_parsing", "loc": ["query", "when"],
         "msg": "Input should be a valid datetime or date, input is too short",
         "input": "invalid", "ctx": {"error": "input is too short"}},
        {"type": "literal_error", "loc": ["query", "mode"], "msg": "Input should be 'any' or 'all'",
         "input": "some", "ctx": {"expected": "'any' or 'all'"}},
        {"type": "int_parsing", "loc": ["query", "versions", 0],
         "msg": "Input should be a valid integer, unable to parse string as an integer",
         "input": "x"},
        {"type": "missing", "loc": ["query", "required"], "msg": "Field required", "input": None},
    ]


def test_body_errors() -> None:
    """Body inputs are the JSON values; a missing field's input is the object it is missing
    from; unknown keys are extra_forbidden."""
    sent = {"flag": "maybe", "bogus": 1, "when": "2025/02/27", "colour": "pink", "items": "a",
            "count": "x", "conf": 3, "note": "long"}
    detail = _detail(CLIENT.post("/b", json=sent))
    expected_colour = "'red', 'green' or 'blue'"
    assert {item["loc"][1]: item for item in detail} == {
        "flag": {"type": "bool_parsing", "loc": ["body", "flag"],
                 "msg": "Input should be a valid boolean, unable to interpret input",
                 "input": "maybe"},
        "count": {"type": "int_parsing", "loc": ["body", "count"],
                  "msg": "Input should be a valid integer, unable to parse string as an integer",
                  "input": "x"},
        "when": {"type": "datetime_from_date_parsing", "loc": ["body", "when"],
                 "msg": "Input should be a valid datetime or date, invalid date separator, "
                        "expected `-`", "input": "2025/02/27",
                 "ctx": {"error": "invalid date separator, expected `-`"}},
        "conf": {"type": "dict_type", "loc": ["body", "conf"],
                 "msg": "Input should be a valid dictionary", "input": 3},
        "colour": {"type": "enum", "loc": ["body", "colour"],
                   "msg": f"Input should be {expected_colour}", "input": "pink",
                   "ctx": {"expected": expected_colour}},
        "items": {"type": "list_type", "loc": ["body", "items"],
                  "msg": "Input should be a valid list", "input": "a"},
        "note": {"type": "string_too_long", "loc": ["body", "note"],
                 "msg": "String should have at most 3 characters", "input": "long",
                 "ctx": {"max_length": 3}},
        "bogus": {"type": "extra_forbidden", "loc": ["body", "bogus"],
                  "msg": "Extra inputs are not permitted", "input": 1},
    }
    missing = _detail(CLIENT.post("/b", json={"count": 1}))
    assert missing == [{"type": "missing", "loc": ["body", "flag"], "msg": "Field required",
                        "input": {"count": 1}}]


def test_none_validator_and_whole_body_errors() -> None:
    """null for a required bool is bool_type; a validator's ValueError is "Value error, ..."
    with ctx.error {}; a non-object body is one model_attributes_type; no body is missing; bad
    JSON is json_invalid."""
    detail = _detail(CLIENT.post("/b", json={"flag": None, "name": "bad"}))
    assert detail == [
        {"type": "bool_type", "loc": ["body", "flag"], "msg": "Input should be a valid boolean",
         "input": None},
        {"type": "value_error", "loc": ["body", "name"], "msg": "Value error, name is bad",
         "input": "bad", "ctx": {"error": {}}},
    ]
    assert _detail(CLIENT.post("/b", json=[1, 2])) == [{
        "type": "model_attributes_type", "loc": ["body"],
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": [1, 2]}]
    assert _detail(CLIENT.post("/b")) == [
        {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    bad_json = _detail(CLIENT.post("/b", content=b"{bad",
                                   headers={"content-type": "application/json"}))
    assert bad_json == [{"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error",
                         "input": {}, "ctx": {"error": "Expecting property name enclosed in "
                                                       "double quotes"}}]


@pytest.mark.parametrize(("text", "error"), [
    ("invalid", "input is too short"),
    ("20x5-01-01", "invalid character in year"),
    ("2025/02/27", "invalid date separator, expected `-`"),
    ("2025-0a-01", "invalid character in month"),
    ("2025-01_01", "invalid date separator, expected `-`"),
    ("2025-01-0b", "invalid character in day"),
    ("2025-13-01", "month value is outside expected range of 1-12"),
    ("2025-02-30", "day value is outside expected range"),
    ("2025-01-01T25:00:00", "unexpected extra characters at the end of the input"),
])
def test_speedate_date_errors(text: str, error: str) -> None:
    """pydantic-core's datetime_from_date_parsing carries speedate's date error (its
    ParseError documentation strings)."""
    assert speedate_date_error(text) == error
