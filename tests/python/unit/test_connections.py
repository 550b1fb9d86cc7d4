"""``Connection`` from the environment, as Airflow's: airflow/models/connection.py
(``_parse_from_uri``, ``from_json``, ``get_uri``, ``extra_dejson``, "The conn_id `<id>` isn't
defined"), airflow/secrets/environment_variables.py (``AIRFLOW_CONN_`` + the id upper-cased, a
value starting with ``{`` is JSON); the URI cases follow tests/models/test_connection.py."""

from __future__ import annotations

import os

import pytest

from dagcore.connections import BaseHook, Connection, InvalidConnection
from dagcore.exceptions import AirflowNotFoundException


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("AIRFLOW_CONN_", "DAGCORE_CONN_"))]:
        monkeypatch.delenv(name)


def fields(conn: Connection) -> tuple[object, ...]:
    return (conn.conn_type, conn.host, conn.login, conn.password, conn.schema, conn.port,
            conn.extra_dejson)


def test_uri_from_airflow_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MY_DB",
                       "postgresql://user%40corp:p%40ss%2Fw@db.example.com:5433/sales"
                       "?sslmode=require&connect_timeout=10")
    conn = Connection.get("my_db")
    assert conn.conn_id == "my_db"
    assert fields(conn) == ("postgres", "db.example.com", "user@corp", "p@ss/w", "sales", 5433,
                            {"sslmode": "require", "connect_timeout": "10"})


def test_dagcore_env_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_X", "http://airflow-host")
    monkeypatch.setenv("DAGCORE_CONN_X", "http://dagcore-host")
    assert Connection.get("x").host == "dagcore-host"


def test_json_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_API", '{"conn_type": "my-api", "host": "api.example.com", '
                       '"login": "bot", "password": "s3cret", "port": "8443", '
                       '"extra": {"verify": false}}')
    conn = Connection.get("api")
    assert fields(conn) == ("my_api", "api.example.com", "bot", "s3cret", None, 8443,
                            {"verify": False})


def test_missing_connection_raises_airflow_s_not_found() -> None:
    with pytest.raises(AirflowNotFoundException, match=r"^The conn_id `nope` isn't defined$"):
        Connection.get("nope")
    with pytest.raises(LookupError):
        BaseHook.get_connection("nope")


def test_base_hook_and_airflow_2_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FS", "fs://?path=%2Ftmp")
    assert BaseHook.get_connection("fs").extra_dejson == {"path": "/tmp"}
    assert Connection.get_connection_from_secrets("fs").conn_type == "fs"


def test_host_with_protocol_and_extra_key() -> None:
    # tests/models/test_connection.py: "type://protocol://host" and __extra__ kept verbatim.
    conn = Connection(uri="spark://k8s://api.example.com:443?__extra__=%7B%22a%22%3A+1%7D")
    assert (conn.conn_type, conn.host, conn.port, conn.extra) == (
        "spark", "k8s://api.example.com", 443, '{"a": 1}')


@pytest.mark.parametrize("uri", ["a://b://c://d", "spark://user@k8s://host",
                                 "http://host:notaport"])
def test_invalid_uris_are_refused_without_their_value(uri: str) -> None:
    with pytest.raises(InvalidConnection, match="Invalid connection string for connection 'c'"):
        Connection(conn_id="c", uri=uri)


def test_uri_and_fields_cannot_be_mixed() -> None:
    with pytest.raises(ValueError, match="You can't mix these two ways"):
        Connection(uri="http://h", host="other")


@pytest.mark.parametrize("value", ["{not json", '{"hostname": "h"}', '{"port": "x"}'])
def test_bad_json_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BAD", value)
    with pytest.raises(InvalidConnection, match="'bad'"):
        Connection.get("bad")


def test_json_must_be_an_object() -> None:
    with pytest.raises(InvalidConnection, match="the JSON must be an object, got list"):
        Connection.from_json("[1]", conn_id="bad")


def test_get_uri_round_trips() -> None:
    conn = Connection(conn_id="c", conn_type="my_type", host="h.example.com", login="us er",
                      password="p@ss:w/d", schema="db/x", port=5432,
                      extra={"a": "1", "flag": "true"})
    uri = conn.get_uri()
    assert uri == ("my-type://us%20er:p%40ss%3Aw%2Fd@h.example.com:5432/db%2Fx"
                   "?a=1&flag=true")
    back = Connection(conn_id="c", uri=uri)
    assert fields(back) == ("my_type", "h.example.com", "us er", "p@ss:w/d", "db/x", 5432,
                            {"a": "1", "flag": "true"})


def test_get_uri_keeps_non_string_extra_under_the_extra_key() -> None:
    conn = Connection(conn_type="t", host="h", extra={"nested": {"k": [1, 2]}, "n": 1})
    assert Connection(uri=conn.get_uri()).extra_dejson == {"nested": {"k": [1, 2]}, "n": 1}


def test_extra_dejson_of_bad_extra_is_empty() -> None:
    assert Connection(conn_type="t", extra="not json").extra_dejson == {}
    assert Connection(conn_type="t").extra_dejson == {}


def test_bad_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="connection id must be a non-empty string"):
        Connection.get("")
