"""Requests refused before any route sees them: a body over ``[api] max_request_body_bytes``
(default 1 MiB) → 413, and a NUL character in the path (404) or the query (v2 422, v1 400).

Design note. Both checks are ASGI middlewares in front of every route. An oversized body is
refused before any handler, model or JSON parser sees it: by its ``Content-Length`` without
reading it, or, for a chunked body, as soon as the bytes read pass the limit (a body within the
limit is then replayed to the application). The answer is written as the path's API version
writes errors (:mod:`dagcore.server.errors`). A NUL character: PostgreSQL's text cannot hold
one and its driver refuses a query parameter with one (a 500 from every lookup), while SQLite
just finds nothing; no stored id can contain one (DAG ids, run ids and usernames are
validated), so :class:`NulInUrl` answers on both backends as the SQLite server did, before a
route reads the database.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from dagcore.server.errors import problem

__all__ = ["BodySizeLimit", "NulInUrl"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# A refused body up to this many times the limit is read (and dropped) before the 413 is sent;
# a larger one is refused at once and the connection closed.
_DRAIN_FACTOR = 16


class BodySizeLimit:
    """Refuse a request whose body is longer than ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = self._content_length(scope)
        if length is not None:
            if length > self.limit:
                if length <= self.limit * _DRAIN_FACTOR:
                    await self._drain(receive)
                await self._refuse(scope, send)
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read up to the limit, then replay what was read.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                if message.get("more_body", False):
                    await self._drain(receive, self.limit * _DRAIN_FACTOR - size)
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, budget: int | None = None) -> None:
        """Read and drop the rest of the body (at most ``budget`` more bytes): a client that
        sends its whole body before it reads the answer (``requests`` does) then gets the 413
        instead of a connection reset by a server that closed on an unread body."""
        while budget is None or budget > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            if budget is not None:
                budget -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    @staticmethod
    def _content_length(scope: Scope) -> int | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _refuse(self, scope: Scope, send: Send) -> None:
        detail = (f"Request body is larger than the limit of {self.limit} bytes "
                  f"([api] max_request_body_bytes)")
        if str(scope.get("path", "")).startswith("/api/v1"):
            body = problem(413, detail)
            media = b"application/problem+json"
        else:
            body = {"detail": detail}
            media = b"application/json"
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", media),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


class NulInUrl:
    """A NUL character in the path: 404 (nothing is stored under such an id); in a query
    parameter: v2 422, v1 400, naming the parameter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        v1 = path.startswith("/api/v1")
        if "\x00" in path:
            await _answer(send, 404, "Not Found", v1=v1)
            return
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                await _answer(send, 400 if v1 else 422,
                              f"Query parameter {name!r} contains a NUL character", v1=v1)
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, detail: str, *, v1: bool) -> None:
    """An error answer as the path's API version writes errors."""
    body = problem(status, detail) if v1 else {"detail": detail}
    media = b"application/problem+json" if v1 else b"application/json"
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
