"""Who is calling, and may they: the ``require(action)`` dependency every protected route uses.

Design note. A request authenticates with ``Authorization: Bearer <JWT>`` (a token from
``POST /auth/token``, Airflow 3's way) or ``Authorization: Basic`` (what ``requests`` sends for
``auth=(user, password)``, Airflow 2's basic-auth backend); both are accepted on both API
versions. The user is looked up on every request, so a deleted user or a changed role counts at
once. Answers (issue 13; Airflow 3's texts from ``api_fastapi/core_api/security.py``, Airflow 2's
problem bodies from ``api_connexion/security.py``):

* no credentials → 401 ``Not authenticated``;
* an expired token → 401 ``Token Expired``; a bad token, password or user → 401 (Airflow 3
  answers 403 "Invalid JWT token" for a bad token; issue 13 asks for 401);
* a role without the permission → 403 ``Forbidden``.

v1 writes these as Airflow 2 does: problem+json with ``detail`` null and, on 401,
``WWW-Authenticate: Basic``. Checks run as route dependencies, before the body is validated, so
an anonymous request with a bad body gets 401, as in Airflow 3.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBearer

from dagcore.api.tokens import TokenExpired, TokenError, verify_token
from dagcore.api.users import Action, Role, can, stored_credentials, verify_password
from dagcore.server.errors import ApiError
from dagcore.server.state import ServerState, server_state

__all__ = ["Principal", "authenticate", "require"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    username: str
    role: Role


# Declared for the OpenAPI document (the docs page's "Authorize" button); the header itself is
# read by :func:`authenticate`, which accepts either scheme.
class _BasicScheme(HTTPBasic):
    """HTTP Basic for the OpenAPI document only: FastAPI's own refuses non-ASCII passwords."""

    async def __call__(self, request: Request) -> None:
        return None


# FastAPI resolves a callable instance's annotations without its module's globals.
_BasicScheme.__call__.__annotations__ = {"request": Request, "return": None}

_bearer_scheme = HTTPBearer(auto_error=False)
_basic_scheme = _BasicScheme(auto_error=False)


def _unauthorized(detail: str, request: Request) -> ApiError:
    scheme = "Basic" if request.url.path.startswith("/api/v1") else "Bearer"
    return ApiError(401, detail, v1_detail=None, headers={"WWW-Authenticate": scheme})


def _basic_credentials(param: str) -> tuple[str, str] | None:
    """(username, password) from a Basic credential (UTF-8, else Latin-1 as ``requests``
    encodes non-ASCII), or None when it is not one."""
    try:
        raw = base64.b64decode(param.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, sep, password = text.partition(":")
    return (username, password) if sep else None


def _from_token(state: ServerState, token: str, request: Request) -> Principal:
    try:
        claims = verify_token(token)
    except TokenExpired:
        raise _unauthorized("Token Expired", request) from None
    except TokenError:
        raise _unauthorized("Invalid JWT token", request) from None
    stored = stored_credentials(state.engine, claims.username)
    if stored is None:
        raise _unauthorized("Invalid JWT token", request)
    return Principal(stored.username, stored.role)


def _from_basic(state: ServerState, param: str, request: Request) -> Principal:
    pair = _basic_credentials(param)
    if pair is None:
        raise _unauthorized("Invalid credentials", request)
    username, password = pair
    stored = stored_credentials(state.engine, username)
    if stored is None:
        verify_password(password, None)  # as slow as a wrong password
        raise _unauthorized("Invalid credentials", request)
    if not state.credentials.verified(username, password, stored.password_hash):
        if not verify_password(password, stored.password_hash):
            raise _unauthorized("Invalid credentials", request)
        state.credentials.remember(username, password, stored.password_hash)
    return Principal(stored.username, stored.role)


def authenticate(request: Request, state: ServerState = Depends(server_state),
                 _bearer: object = Depends(_bearer_scheme),
                 _basic: object = Depends(_basic_scheme)) -> Principal:
    """The caller of ``request`` (see the module note).

    Raises:
        ApiError: 401 when nobody is authenticated.
    """
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("Not authenticated", request)
    scheme, _, param = header.partition(" ")
    param = param.strip()
    if scheme.lower() == "bearer" and param:
        return _from_token(state, param, request)
    if scheme.lower() == "basic" and param:
        return _from_basic(state, param, request)
    raise _unauthorized("Not authenticated", request)


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks that their role may do ``action``
    (:func:`dagcore.api.users.can`); it returns the :class:`Principal`.

    Raises:
        ApiError: 401 (nobody authenticated), 403 (not permitted).
    """

    # async: a role check does no I/O, so it need not take a trip through the thread pool
    # (authenticate, which reads the user, stays a plain def and runs there).
    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if not can(principal.role, action):
            raise ApiError(403, "Forbidden", v1_detail=None)
        return principal

    dependency.__name__ = f"require_{action.value}"
    return dependency
