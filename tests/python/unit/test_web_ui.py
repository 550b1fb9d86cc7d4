"""The built web UI served in front of the API (dagcore.server.web_ui): files, client-side
routes, caching, and every other path left to the API untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagcore.server.web_ui import WebUI

INDEX = "<!doctype html><title>dagcore</title><div id=root></div>"


def _client(directory: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v2/things")
    def things() -> dict[str, int]:
        return {"n": 1}

    @app.post("/api/v2/things")
    def make() -> dict[str, int]:
        return {"n": 2}

    app.add_middleware(WebUI, directory=directory)
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/login", "/dags", "/dags/etl/runs/manual__x+00:00"])
def test_client_side_routes_answer_the_index_uncached(built: Path, path: str) -> None:
    answer = _client(built).get(path)
    assert answer.status_code == 200
    assert answer.text == INDEX
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"


def test_assets_are_cached_for_a_year_with_their_type(built: Path) -> None:
    answer = _client(built).get("/assets/index-abc123.js")
    assert answer.status_code == 200
    assert answer.text == "console.log(1)"
    assert "javascript" in answer.headers["content-type"]
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = _client(built).get("/assets/nope.js")
    assert missing.status_code == 404
    assert "cache-control" not in missing.headers


def test_top_level_files_but_not_hidden_ones(built: Path) -> None:
    (built / ".env").write_text("secret")
    client = _client(built)
    assert client.get("/favicon.svg").headers["content-type"].startswith("image/svg+xml")
    assert client.get("/.env").status_code == 404
    assert client.get("/../index.html").status_code in (404, 400)


def test_the_api_is_untouched(built: Path) -> None:
    client = _client(built)
    assert client.get("/api/v2/things").json() == {"n": 1}
    assert client.post("/api/v2/things").json() == {"n": 2}
    assert client.get("/api/v2/unknown").status_code == 404
    assert client.get("/api/v2/unknown").json() == {"detail": "Not Found"}
    assert client.post("/dags").status_code in (404, 405)
    assert client.get("/ui/grid/x").status_code == 404


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    answer = _client(tmp_path).get("/")
    assert answer.status_code == 200
    assert "make ui" in answer.text
    assert _client(tmp_path).get("/assets/x.js").status_code == 404
