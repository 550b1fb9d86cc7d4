"""The public ``/api/v2`` routes the web UI adds, on a real ``dagcore api-server`` (SQLite and
PostgreSQL): ``dagVersions``, ``dagSources``, ``dagTags``, task logs with continuation tokens,
``TaskInstanceResponse.dag_version``, ``TaskResponse.is_mapped`` and the backfill body's
``keep_dag_paused`` (docs/airflow-rest-api.md, "UI endpoints" 1-5)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from api_server_process import ApiServer, serve
from ui_home import UI_DAG_V1, UI_DAG_V2, UiHome, build_ui_home

LOGS = "/api/v2/dags/ui_dag/dagRuns/{run}/taskInstances/{task}/logs/{try_number}"


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> UiHome:
    return build_ui_home(tmp_path_factory.mktemp("ui"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(ui_home: UiHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(ui_home.home, tmp_path_factory)


def _get(server: ApiServer, path: str, status: int = 200, **params: Any) -> Any:
    answer = server.request("GET", path, as_user="viewer", params=params)
    assert answer.status_code == status, answer.text
    return answer.json()


# -- dagVersions ----------------------------------------------------------------------------------

def test_dag_versions_list_and_paging(server: ApiServer, ui_home: UiHome) -> None:
    body = _get(server, "/api/v2/dags/ui_dag/dagVersions")
    assert body["total_entries"] == 2
    versions = body["dag_versions"]
    assert [v["version_number"] for v in versions] == [1, 2]
    assert [v["id"] for v in versions] == [ui_home.v1, ui_home.v2]
    first = versions[0]
    assert first["dag_id"] == "ui_dag" and first["dag_display_name"] == "UI Dag"
    assert first["bundle_name"] == "dags-folder" and first["bundle_url"] is None
    assert first["created_at"].endswith("Z")
    desc = _get(server, "/api/v2/dags/ui_dag/dagVersions", order_by="-version_number")
    assert [v["version_number"] for v in desc["dag_versions"]] == [2, 1]
    page = _get(server, "/api/v2/dags/ui_dag/dagVersions", limit=1, offset=1)
    assert [v["version_number"] for v in page["dag_versions"]] == [2]
    assert page["total_entries"] == 2


def test_dag_version_one(server: ApiServer, ui_home: UiHome) -> None:
    body = _get(server, "/api/v2/dags/ui_dag/dagVersions/2")
    assert body["id"] == ui_home.v2 and body["version_number"] == 2


def test_dag_versions_errors(server: ApiServer) -> None:
    assert _get(server, "/api/v2/dags/nope/dagVersions", 404)["detail"] == \
        "The Dag with ID: `nope` was not found"
    assert _get(server, "/api/v2/dags/nope/dagVersions/1", 404)["detail"] == \
        "The Dag with ID: `nope` was not found"
    missing = _get(server, "/api/v2/dags/ui_dag/dagVersions/3", 404)["detail"]
    assert "ui_dag" in missing and "3" in missing
    bad = _get(server, "/api/v2/dags/ui_dag/dagVersions", 400, order_by="bogus")["detail"]
    assert "bogus" in bad
    _get(server, "/api/v2/dags/ui_dag/dagVersions/x", 422)
    _get(server, "/api/v2/dags/ui_dag/dagVersions", 422, limit=-1)


# -- dagSources -----------------------------------------------------------------------------------

def test_dag_source_latest_and_by_version(server: ApiServer) -> None:
    latest = _get(server, "/api/v2/dagSources/ui_dag")
    assert latest == {"content": UI_DAG_V2, "dag_id": "ui_dag", "version_number": 2,
                      "dag_display_name": "UI Dag"}
    first = _get(server, "/api/v2/dagSources/ui_dag", version_number=1)
    assert first["content"] == UI_DAG_V1 and first["version_number"] == 1


def test_dag_source_as_text(server: ApiServer) -> None:
    answer = server.request("GET", "/api/v2/dagSources/ui_dag", as_user="viewer",
                            params={"version_number": 1}, headers={"Accept": "text/plain"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == UI_DAG_V1


def test_dag_source_errors(server: ApiServer) -> None:
    assert _get(server, "/api/v2/dagSources/nope", 404)["detail"] == \
        "The Dag with ID: `nope` was not found"
    assert "version 9" in _get(server, "/api/v2/dagSources/ui_dag", 404, version_number=9)[
        "detail"]
    _get(server, "/api/v2/dagSources/ui_dag", 422, version_number=0)
    _get(server, "/api/v2/dagSources/ui_dag", 422, version_number="latest")


# -- dagTags --------------------------------------------------------------------------------------

def test_dag_tags(server: ApiServer) -> None:
    assert _get(server, "/api/v2/dagTags") == {"tags": ["etl", "ml", "prod", "ui"],
                                               "total_entries": 4}
    page = _get(server, "/api/v2/dagTags", limit=2, offset=1)
    assert page == {"tags": ["ml", "prod"], "total_entries": 4}
    assert _get(server, "/api/v2/dagTags", order_by="-name")["tags"] == ["ui", "prod", "ml",
                                                                         "etl"]
    assert _get(server, "/api/v2/dagTags", tag_name_pattern="R") == {"tags": ["prod"],
                                                                     "total_entries": 1}
    assert _get(server, "/api/v2/dagTags", tag_name_pattern="~")["total_entries"] == 4
    assert "bogus" in _get(server, "/api/v2/dagTags", 400, order_by="bogus")["detail"]


# -- task instances and tasks ---------------------------------------------------------------------

def test_task_instance_dag_version(server: ApiServer, ui_home: UiHome) -> None:
    old = _get(server, "/api/v2/dags/ui_dag/dagRuns/r1/taskInstances/start")["dag_version"]
    assert old["id"] == ui_home.v1 and old["version_number"] == 1
    assert old["dag_display_name"] == "UI Dag"
    new = _get(server, "/api/v2/dags/ui_dag/dagRuns/r3/taskInstances/start")["dag_version"]
    assert new["version_number"] == 2
    # no version of its own: the run's
    end = _get(server, "/api/v2/dags/ui_dag/dagRuns/r3/taskInstances/end")["dag_version"]
    assert end["id"] == ui_home.v2
    listed = _get(server, "/api/v2/dags/ui_dag/dagRuns/r1/taskInstances")["task_instances"]
    assert {ti["dag_version"]["version_number"] for ti in listed} == {1}
    mapped = _get(server, "/api/v2/dags/ui_dag/dagRuns/r3/taskInstances/m/listMapped")
    assert [ti["dag_version"]["version_number"] for ti in mapped["task_instances"]] == [2] * 4


def test_task_is_mapped(server: ApiServer) -> None:
    assert _get(server, "/api/v2/dags/ui_dag/tasks/m")["is_mapped"] is True
    assert _get(server, "/api/v2/dags/ui_dag/tasks/start")["is_mapped"] is False
    tasks = _get(server, "/api/v2/dags/ui_dag/tasks")["tasks"]
    assert {t["task_id"] for t in tasks if t["is_mapped"]} == {"m"}


# -- logs -----------------------------------------------------------------------------------------

def _log(server: ApiServer, run: str, task: str, try_number: int = 1, status: int = 200,
         **params: Any) -> Any:
    return _get(server, LOGS.format(run=run, task=task, try_number=try_number), status, **params)


def _events(body: dict[str, Any]) -> list[str]:
    assert all(line["timestamp"] is None for line in body["content"])
    return [line["event"] for line in body["content"]]


def test_log_with_continuation(server: ApiServer, ui_home: UiHome) -> None:
    path = ui_home.log_file("r1", "start")
    path.write_text("one\ntwo\n")
    first = _log(server, "r1", "start")
    assert _events(first) == ["one", "two"]
    token = first["continuation_token"]
    assert isinstance(token, str)
    assert _events(_log(server, "r1", "start", token=token)) == []
    with path.open("a") as f:
        f.write("three\nfour\n")
    second = _log(server, "r1", "start", token=token)
    assert _events(second) == ["three", "four"]
    full = _log(server, "r1", "start", token=token, full_content="true")
    assert _events(full) == ["one", "two", "three", "four"]
    assert full["continuation_token"] == second["continuation_token"]


def test_log_of_mapped_instance(server: ApiServer, ui_home: UiHome) -> None:
    ui_home.log_file("r3", "m", map_index=1).write_text("mapped one\n")
    assert _events(_log(server, "r3", "m", map_index=1)) == ["mapped one"]
    # map index 0 exists but wrote nothing yet
    missing = _log(server, "r3", "m", map_index=0)
    assert missing["continuation_token"] is None
    [line] = _events(missing)
    assert line.startswith("*** Log file does not exist")


def test_log_partial_line_of_running_try(server: ApiServer, ui_home: UiHome) -> None:
    path = ui_home.log_file("r3", "grp.inner.b")
    path.write_text("done line\npart")
    first = _log(server, "r3", "grp.inner.b")
    assert _events(first) == ["done line"]
    with path.open("a") as f:
        f.write("ial line\n")
    assert _events(_log(server, "r3", "grp.inner.b", token=first["continuation_token"])) == [
        "partial line"]


def test_log_finished_try_shows_last_line_without_break(server: ApiServer,
                                                        ui_home: UiHome) -> None:
    ui_home.log_file("r2", "grp.a").write_text("first\nlast without break")
    assert _events(_log(server, "r2", "grp.a")) == ["first", "last without break"]


def test_log_as_text(server: ApiServer, ui_home: UiHome) -> None:
    ui_home.log_file("r2", "start").write_text("plain a\nplain b\n")
    answer = server.request("GET", LOGS.format(run="r2", task="start", try_number=1),
                            as_user="viewer", headers={"Accept": "text/plain"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "plain a\nplain b\n"
    assert answer.headers["x-continuation-token"]


def test_log_is_capped_and_continues(server: ApiServer, ui_home: UiHome) -> None:
    line = "x" * 1023
    ui_home.log_file("r1", "end").write_text(f"{line}\n" * 3072)  # 3 MiB
    first = _log(server, "r1", "end")
    assert 0 < len(first["content"]) <= 2048
    rest = _log(server, "r1", "end", token=first["continuation_token"])
    assert len(first["content"]) + len(rest["content"]) == 3072
    assert set(_events(first)) | set(_events(rest)) == {line}


def test_log_errors(server: ApiServer) -> None:
    assert "nope" in _log(server, "nope", "start", status=404)["detail"]
    assert "ghost2" in _log(server, "r1", "ghost2", status=404)["detail"]
    _log(server, "r1", "start", try_number=0, status=422)
    _log(server, "r1", "m", status=404)  # a mapped task has no map index -1 instance in r1
    for token in ("not base64!", base64.urlsafe_b64encode(b'{"offset": -1}').decode(),
                  base64.urlsafe_b64encode(b'[1]').decode(), "e30="):
        detail = _log(server, "r1", "start", status=400, token=token)["detail"]
        assert detail.startswith("Invalid continuation token")
    missing_dag = server.request("GET", "/api/v2/dags/nope/dagRuns/r1/taskInstances/start/"
                                 "logs/1", as_user="viewer")
    assert missing_dag.status_code == 404


def test_log_requires_a_token(server: ApiServer) -> None:
    answer = server.request("GET", LOGS.format(run="r1", task="start", try_number=1))
    assert answer.status_code == 401


# -- backfills: keep_dag_paused -------------------------------------------------------------------

def _backfill_body(**changes: Any) -> dict[str, Any]:
    body = {"dag_id": "bf_dag", "from_date": "2024-03-01T00:00:00Z",
            "to_date": "2024-03-03T00:00:00Z", "keep_dag_paused": True}
    body.update(changes)
    return body


def test_backfill_keep_dag_paused(server: ApiServer) -> None:
    dry = server.request("POST", "/api/v2/backfills/dry_run", as_user="op",
                         json=_backfill_body())
    assert dry.status_code == 200, dry.text
    assert dry.json()["total_entries"] == 3
    bad = server.request("POST", "/api/v2/backfills", as_user="op",
                         json=_backfill_body(keep_dag_paused="perhaps"))
    assert bad.status_code == 422, bad.text
    made = server.request("POST", "/api/v2/backfills", as_user="op", json=_backfill_body())
    assert made.status_code == 200, made.text
    backfill_id = made.json()["id"]
    listed = _get(server, "/ui/backfills", dag_id="bf_dag")["backfills"]
    assert [(b["id"], b["keep_dag_paused"]) for b in listed] == [(backfill_id, True)]
    assert _get(server, "/api/v2/dags/bf_dag")["is_paused"] is True


def test_openapi_lists_new_routes(server: ApiServer) -> None:
    paths = _get(server, "/api/v2/openapi.json")["paths"]
    for path in ("/api/v2/dags/{dag_id}/dagVersions",
                 "/api/v2/dags/{dag_id}/dagVersions/{version_number}",
                 "/api/v2/dagSources/{dag_id}", "/api/v2/dagTags",
                 "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/"
                 "{try_number}", "/ui/dags", "/ui/grid/{dag_id}", "/ui/backfills"):
        assert "get" in paths[path], path
    assert paths["/ui/grid/{dag_id}"]["get"]["tags"] == ["UI"]
    body = _get(server, "/api/v2/openapi.json")["components"]["schemas"]["BackfillPostBody"]
    assert body["properties"]["keep_dag_paused"]["default"] is False
