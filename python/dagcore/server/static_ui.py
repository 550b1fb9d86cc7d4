"""Serving the built web UI (a Vite ``dist`` directory) from the API server.

docs/airflow-rest-api.md, "UI endpoints" 9. The directory is ``[api] ui_dir`` (empty: the
package's ``dagcore/server/static``). ``GET /`` is its ``index.html``; ``GET /assets/<file>`` a
file of its ``assets/`` with a year-long immutable cache (Vite names them by content hash);
a top-level file such as ``/favicon.svg`` is served as it is; any other GET of a path outside
the API (``/api/``, ``/auth/``, ``/ui/``, ``/docs``, ``/openapi``, ``/assets/``) whose client
accepts HTML is ``index.html`` again with ``Cache-Control: no-cache``, so client-side routes
such as ``/dags/tutorial/runs/x`` load the app. Without an ``index.html`` ``/`` answers a small
page saying how to build the UI (``make ui``). Everything else, API 404s included, is left to
the routes (JSON 404s).

Design note. ``/`` and ``/assets/`` are routes; the fallback is a middleware
(:class:`ClientRoutes`) that never touches an API path, so API answers (404, 405) stay as they
were. A path is resolved inside the directory and refused (404) if it leaves it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dagcore.configuration import conf
from dagcore.server.errors import ApiError

__all__ = ["ASSET_CACHE", "NOT_BUILT_PAGE", "ClientRoutes", "install_ui", "ui_dir"]

ASSET_CACHE: Final = "public, max-age=31536000, immutable"
_API_PREFIXES: Final = ("/api/", "/auth/", "/ui/", "/docs", "/openapi", "/assets/")
_API_EXACT: Final = ("/api", "/auth", "/ui")

NOT_BUILT_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dagcore</title></head>
<body><h1>dagcore</h1>
<p>The web UI is not built. Build it with <code>make ui</code> (it copies <code>ui/dist</code>
to <code>python/dagcore/server/static</code>) or set <code>[api] ui_dir</code> to a built
UI's directory. The REST API is at <a href="/api/v2/openapi.json">/api/v2</a>
(<a href="/docs">docs</a>).</p></body></html>
"""

for _type, _ext in (("text/javascript", ".js"), ("text/javascript", ".mjs"),
                    ("text/css", ".css"), ("image/svg+xml", ".svg"),
                    ("application/json", ".map"), ("font/woff2", ".woff2"),
                    ("application/manifest+json", ".webmanifest")):
    mimetypes.add_type(_type, _ext)


def ui_dir() -> Path:
    """``[api] ui_dir``, else the package's ``server/static``."""
    configured = str(conf.get("api", "ui_dir", fallback="") or "").strip()
    return Path(configured).expanduser() if configured else Path(__file__).parent / "static"


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` when it is a file inside ``root``."""
    try:
        base = root.resolve()
        path = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    if base not in path.parents or not path.is_file():
        return None
    return path


def _index(root: Path) -> Response:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT_PAGE, headers={"Cache-Control": "no-cache"})
    return FileResponse(index, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


def install_ui(app: FastAPI) -> None:
    """Add the UI routes to ``app`` (after every API route: the catch-all comes last)."""
    root = ui_dir()

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return _index(root)

    @app.get("/assets/{name:path}", include_in_schema=False)
    def asset(name: str) -> Response:
        path = _inside(root / "assets", name)
        if path is None:
            raise ApiError(404, "Not Found")
        return FileResponse(path, headers={"Cache-Control": ASSET_CACHE})

    app.add_middleware(ClientRoutes, root=root)


class ClientRoutes:
    """ASGI middleware: a GET (or HEAD) outside the API that no route serves gets a top-level
    file of the UI directory, or ``index.html`` when the client accepts HTML (a client-side
    route); anything else goes on to the routes. A middleware, not a catch-all route, so a
    wrong method on an API path keeps its 405 and an unknown API path its JSON 404."""

    def __init__(self, app: ASGIApp, root: Path) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = self._answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        if path == "/" or path in _API_EXACT or path.startswith(_API_PREFIXES):
            return None
        name = path.lstrip("/")
        if name and "/" not in name:
            top = _inside(self.root, name)
            if top is not None and top.name != "index.html":
                return FileResponse(top, headers={"Cache-Control": "no-cache"})
        accept = Headers(scope=scope).get("accept", "")
        return _index(self.root) if "text/html" in accept else None
