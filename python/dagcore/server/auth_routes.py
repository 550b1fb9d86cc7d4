"""``POST /auth/token``: a JWT for a username and password (Airflow 3's simple auth manager).

Airflow 3 (``auth/managers/simple/routes/login.py``, ``services/login.py``) takes
``{"username", "password"}`` as JSON or as a form and answers 201 ``{"access_token": <JWT>}``;
400 "Username and password must be provided" when either is missing or empty; 401 "Invalid
credentials" otherwise (docs/airflow-rest-api.md B.1).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from dagcore.api.tokens import issue_token
from dagcore.api.users import authenticate
from dagcore.server.errors import ApiError
from dagcore.server.state import ServerState, server_state

__all__ = ["LoginBody", "LoginResponse", "router"]

router = APIRouter(prefix="/auth", tags=["Auth"])

_MISSING = "Username and password must be provided"


class LoginBody(BaseModel):
    """The credentials (JSON or ``application/x-www-form-urlencoded``)."""

    username: str
    password: str


class LoginResponse(BaseModel):
    """The token to send as ``Authorization: Bearer <access_token>``."""

    access_token: str


async def _credentials(request: Request) -> tuple[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = dict(await request.form())
    else:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):
            raise ApiError(400, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, _MISSING)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) \
            or not username or not password:
        raise ApiError(400, _MISSING)
    return username, password


@router.post("/token", status_code=201, response_model=LoginResponse,
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": LoginBody.schema()},
                 "application/x-www-form-urlencoded": {"schema": LoginBody.schema()}}}})
async def create_token(request: Request,
                       state: ServerState = Depends(server_state)) -> LoginResponse:
    """Authenticate the user and answer a token (201)."""
    from starlette.concurrency import run_in_threadpool

    username, password = await _credentials(request)
    user = await run_in_threadpool(authenticate, state.engine, username, password)
    if user is None:
        raise ApiError(401, "Invalid credentials")
    token = await run_in_threadpool(issue_token, user.username)
    return LoginResponse(access_token=token)
