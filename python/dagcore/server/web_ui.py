"""The built web UI (``ui/`` at the repository root, built by Vite into this package's
``server/static``) served at ``/``.

Design note. :class:`WebUI` is an ASGI middleware in front of the API: a GET or HEAD of
``/assets/<file>`` or a top-level file of the build (``/favicon.svg``) answers the file (assets
are content-hashed, so they are cached for a year), and a GET of one of the UI's own client-side
routes (``/``, ``/login``, ``/dags`` and below) answers ``index.html`` uncached, so that a
reload or a shared link opens the page. Everything else, among it every ``/api``, ``/auth`` and
``/ui`` path, goes to the API untouched, so the API's 404 and 405 answers do not change. The
build lives in ``[api] ui_dir`` (default: the package's ``server/static``); without an
``index.html`` there, ``/`` answers a short page that says how to build it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from dagcore.configuration import conf
from dagcore.server.limits import ASGIApp, Receive, Scope, Send

__all__ = ["DEFAULT_UI_DIR", "WebUI", "ui_dir"]

DEFAULT_UI_DIR = Path(__file__).resolve().parent / "static"

# The client-side routes of ui/src/App.tsx: these paths answer index.html.
_PAGE_PREFIXES = ("/dags/",)
_PAGES = frozenset({"/", "/login", "/dags"})

_NOT_BUILT = """<!doctype html><html><head><title>dagcore</title></head><body>
<h1>dagcore</h1><p>The web UI is not built. Build it with <code>make ui</code> (or
<code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>) and reload.</p>
<p>The REST API is at <a href="/docs">/docs</a>.</p></body></html>"""


def ui_dir() -> Path:
    """``[api] ui_dir``, or the package's build."""
    configured = conf.get("api", "ui_dir")
    return Path(configured).expanduser() if configured else DEFAULT_UI_DIR


class WebUI:
    """Serve the UI's files and pages; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp, directory: Path | None = None) -> None:
        self.app = app
        self.directory = directory if directory is not None else ui_dir()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        response: Response | None = None
        if path.startswith("/assets/"):
            response = self._asset(path[len("/assets/"):])
        elif path in _PAGES or path.startswith(_PAGE_PREFIXES):
            response = self._index()
        elif path.count("/") == 1 and "." in path:
            response = self._top_level_file(path[1:])
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _asset(self, name: str) -> Response:
        """``assets/<name>``, cached for a year; 404 for anything else (no ``..``, no folders)."""
        target = self.directory / "assets" / name
        if "/" in name or name.startswith(".") or not target.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type,
                            headers={"cache-control": "public, max-age=31536000, immutable"})

    def _index(self) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, headers={"cache-control": "no-cache"})
        return FileResponse(index, media_type="text/html", headers={"cache-control": "no-cache"})

    def _top_level_file(self, name: str) -> Response | None:
        if name == "index.html" or name.startswith("."):
            return None
        target = self.directory / name
        if not target.is_file():
            return None
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type,
                            headers={"cache-control": "public, max-age=3600"})
