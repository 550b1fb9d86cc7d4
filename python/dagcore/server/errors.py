"""Errors of the REST API and how each API version writes them.

Design note. A route raises :class:`ApiError` (status, detail); the application of each version
renders it: ``/api/v2`` and ``/auth`` as Airflow 3 does, ``{"detail": ...}`` in
``application/json``, with validation errors 422 and pydantic 2's list (dagcore's pydantic 1
errors rewritten by :mod:`dagcore.server.validation`);
``/api/v1`` as Airflow 2's connexion does, RFC 7807 ``application/problem+json`` with ``type``,
``title``, ``status`` and ``detail``, and 400 for a request that breaks the schema
(docs/airflow-rest-api.md A.1, B.1).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dagcore.server.validation import pydantic2_errors

__all__ = [
    "ApiError",
    "install_v1_handlers",
    "install_v2_handlers",
    "problem",
    "v1_problem_response",
]

_SAME: Final[Any] = object()


class ApiError(Exception):
    """An error answer: ``status`` and ``detail`` (v2's body); v1 shows ``title`` (default: the
    status's title) and ``v1_detail`` (default: ``detail``)."""

    def __init__(self, status: int, detail: Any, *, title: str | None = None,
                 v1_detail: Any = _SAME, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.title = title
        self.v1_detail = detail if v1_detail is _SAME else v1_detail
        self.headers = headers


# Airflow 2's problem types (airflow/api_connexion/exceptions.py): the anchor per status.
_V1_TYPES: Final = {400: "BadRequest", 401: "Unauthenticated", 403: "PermissionDenied",
                    404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists",
                    500: "Unknown"}
_V1_TITLES: Final = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                     404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                     413: "Request Entity Too Large", 500: "Internal Server Error"}
V1_DOC_URL: Final = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html"


def problem(status: int, detail: Any, title: str | None = None) -> dict[str, Any]:
    """An RFC 7807 body as Airflow 2's v1 API writes it."""
    anchor = _V1_TYPES.get(status)
    return {
        "detail": detail,
        "status": status,
        "title": title if title is not None else _V1_TITLES.get(status, "Error"),
        "type": f"{V1_DOC_URL}#section/Errors/{anchor}" if anchor else "about:blank",
    }


def v1_problem_response(status: int, detail: Any, title: str | None = None,
                        headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem(status, detail, title), status_code=status, headers=headers,
                        media_type="application/problem+json")


def v1_validation_detail(exc: RequestValidationError) -> str:
    """The first validation error as connexion words it: ``<message> - '<field>'``."""
    errors = exc.errors()
    if not errors:
        return "Invalid request"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    if first.get("type") == "value_error.jsondecode":
        return f"Request body is not valid JSON: {first.get('msg')}"
    if loc == [] and first.get("loc", ())[:1] == ("body",):
        return "Request body must not be empty"
    return f"{first.get('msg')} - '{'.'.join(loc)}'"


def install_v2_handlers(app: FastAPI) -> None:
    """Airflow 3's error bodies: ``{"detail": ...}``; a validation error 422 with pydantic 2's
    items."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": jsonable_encoder(pydantic2_errors(request, exc))},
                            status_code=422)


def install_v1_handlers(app: FastAPI) -> None:
    """Airflow 2's problem+json bodies, and 400 (not 422) for a request that breaks the
    schema."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return v1_problem_response(exc.status, exc.v1_detail, exc.title, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return v1_problem_response(400, v1_validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return v1_problem_response(exc.status_code, exc.detail, headers=exc.headers)
