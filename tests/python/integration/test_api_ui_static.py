"""The built web UI served by the API application (docs/airflow-rest-api.md, "UI endpoints"
9): ``/`` and client-side routes are ``index.html`` (no-cache), ``/assets/*`` are immutable
with their content types, API paths keep their JSON 404 and 405 answers, a missing build gives
a page saying how to build it, and large answers are gzipped. The whole application
(:func:`dagcore.server.app.create_app`) with a temporary ``[api] ui_dir``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dagcore.configuration import conf_vars
from dagcore.server.app import create_app

INDEX = "<!doctype html><html><body><div id=root></div>" \
        "<script type=module src=/assets/index-abc123.js></script></body></html>"
SCRIPT = "console.log('dagcore');\n" * 100  # 2.4 KB: over the gzip threshold


def _client(ui_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        with conf_vars({("api", "ui_dir"): str(ui_dir)}):
            app = create_app(engine=engine)
        with TestClient(app) as client:
            yield client
    finally:
        engine.dispose()


@pytest.fixture
def built(tmp_path: Path) -> Iterator[TestClient]:
    ui = tmp_path / "dist"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX)
    (ui / "assets" / "index-abc123.js").write_text(SCRIPT)
    (ui / "assets" / "index-abc123.css").write_text("body{margin:0}")
    (ui / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside")
    (ui / "secret.txt").write_text("not an asset")
    yield from _client(ui, tmp_path)


def test_index_and_client_routes(built: TestClient) -> None:
    for path in ("/", "/dags/tutorial/runs/x", "/dags"):
        answer = built.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
        assert answer.status_code == 200, path
        assert answer.text == INDEX
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-cache"


def test_assets_are_immutable_with_types(built: TestClient) -> None:
    script = built.get("/assets/index-abc123.js")
    assert script.status_code == 200 and script.text == SCRIPT
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    css = built.get("/assets/index-abc123.css")
    assert css.headers["content-type"].startswith("text/css")
    icon = built.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


def test_assets_gzip(built: TestClient) -> None:
    answer = built.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.text == SCRIPT  # the client decodes it
    small = built.get("/assets/index-abc123.css", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_assets_page_is_a_client_route(built: TestClient) -> None:
    # The UI's asset list is at /assets (docs/airflow-rest-api.md D.7): without a trailing
    # slash it is not under /assets/, so a browser's visit (or a reload) gets index.html while
    # the built files stay under /assets/<file>.
    for path in ("/assets", "/assets?name_pattern=raw"):
        answer = built.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
        assert answer.status_code == 200, path
        assert answer.text == INDEX and answer.headers["cache-control"] == "no-cache"
    assert built.get("/assets/index-abc123.js").text == SCRIPT
    assert built.get("/assets", headers={"Accept": "application/json"}).status_code == 404


def test_missing_files_and_api_paths_stay_404(built: TestClient) -> None:
    html = {"Accept": "text/html"}
    for path in ("/assets/missing.js", "/assets/%2e%2e/secret.txt", "/assets/..%2F..%2Fsecret.txt",
                 "/api/v2/nope", "/api/v2", "/ui/nope", "/auth/nope", "/docs/nope",
                 "/openapi.json"):
        answer = built.get(path, headers=html)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json", path
        assert answer.json()["detail"] == "Not Found", path
    assert built.get("/dags/x", headers={"Accept": "application/json"}).status_code == 404
    assert built.get("/%2e%2e/secret.txt", headers=html).text == INDEX  # never the file


def test_api_method_errors_unchanged(built: TestClient) -> None:
    answer = built.post("/api/v2/monitor/health")
    assert answer.status_code == 405
    assert built.get("/api/v2/monitor/health").status_code == 200


def test_not_built(tmp_path: Path) -> None:
    for client in _client(tmp_path / "nothing-here", tmp_path):
        answer = client.get("/", headers={"Accept": "text/html"})
        assert answer.status_code == 200
        assert "not built" in answer.text and "make ui" in answer.text
        route = client.get("/dags/x", headers={"Accept": "text/html"})
        assert route.status_code == 200 and "make ui" in route.text
        assert client.get("/assets/x.js").status_code == 404
