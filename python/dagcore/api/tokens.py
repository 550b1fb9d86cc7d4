"""The REST API's access tokens: signed JWTs (HS256) with an expiry, as Airflow 3 issues them.

Design note. ``POST /auth/token`` answers a JWT whose subject is the username; it expires after
``[api_auth] jwt_expiration_time`` seconds (Airflow's option, default one day). The server looks
the user up on every request, so a token names *who* calls, never what they may do: deleting a
user or changing their role takes effect at once.

The signing secret is ``[api_auth] jwt_secret``. Unset, it is generated once into
``$DAGCORE_HOME/jwt_secret`` (mode 0600): written to a temporary file and then hard-linked to
its name, which fails if the name exists, so two processes that start together (two API server
workers) agree on one secret and nobody ever reads a half-written file.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import jwt

from dagcore.configuration import ConfigError, conf, dagcore_home
from dagcore.utils import timezone

__all__ = [
    "ALGORITHM",
    "InvalidToken",
    "TokenClaims",
    "TokenError",
    "TokenExpired",
    "issue_token",
    "jwt_secret",
    "secret_file",
    "verify_token",
]

ALGORITHM: Final = "HS256"
SECRET_FILE_NAME: Final = "jwt_secret"
_SECRET_BYTES: Final = 32


class TokenError(ValueError):
    """A token that does not authenticate anyone."""


class TokenExpired(TokenError):
    """A well-signed token past its expiry."""


class InvalidToken(TokenError):
    """A token that is not a JWT signed with this server's secret (or lacks a subject)."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: who, and until when."""

    username: str
    expires_at: datetime


def secret_file() -> Path:
    """Where the generated secret lives: ``$DAGCORE_HOME/jwt_secret``."""
    return dagcore_home() / SECRET_FILE_NAME


def _generated_secret(path: Path) -> str:
    """The secret in ``path``, created first if missing (atomically: see the module note)."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(_SECRET_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won: use its secret
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def jwt_secret() -> str:
    """``[api_auth] jwt_secret``, or the generated one in :func:`secret_file`."""
    configured = str(conf.get("api_auth", "jwt_secret", fallback="")).strip()
    if configured:
        return configured
    secret = _generated_secret(secret_file())
    if not secret:
        raise InvalidToken(f"the JWT secret file {secret_file()} is empty: delete it to have "
                           f"a new secret generated, or set [api_auth] jwt_secret")
    return secret


def _expiration() -> timedelta:
    seconds = conf.getint("api_auth", "jwt_expiration_time")
    if seconds <= 0:
        raise ConfigError(f"[api_auth] jwt_expiration_time must be a positive number of "
                          f"seconds, got {seconds}")
    return timedelta(seconds=seconds)


def issue_token(username: str, *, now: datetime | None = None,
                secret: str | None = None) -> str:
    """A JWT for ``username`` valid for ``[api_auth] jwt_expiration_time`` seconds from
    ``now`` (default the current time)."""
    issued = now if now is not None else timezone.utcnow()
    claims = {
        "sub": username,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + _expiration()).timestamp()),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret if secret is not None else jwt_secret(), algorithm=ALGORITHM)


def verify_token(token: str, *, now: datetime | None = None,
                 secret: str | None = None) -> TokenClaims:
    """The claims of a valid ``token``.

    Raises:
        TokenExpired: past its ``exp``.
        InvalidToken: anything else wrong (bad signature, not a JWT, no subject, another
            algorithm).
    """
    current = now if now is not None else timezone.utcnow()
    try:
        # The clock is ours (freezable in tests), so expiry is checked below, not by PyJWT.
        claims = jwt.decode(token, secret if secret is not None else jwt_secret(),
                            algorithms=[ALGORITHM], options={
                                "require": ["sub", "exp"], "verify_exp": False,
                                "verify_nbf": False, "verify_iat": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"Invalid JWT token: {exc}") from None
    subject, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not subject or not isinstance(exp, (int, float)):
        raise InvalidToken("Invalid JWT token: no subject or expiry")
    expires_at = datetime.fromtimestamp(exp, tz=current.tzinfo)
    if current >= expires_at:
        raise TokenExpired("Token Expired")
    return TokenClaims(username=subject, expires_at=expires_at)
