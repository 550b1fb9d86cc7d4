"""Passwords, permissions and tokens of the REST API (dagcore.api.users, dagcore.api.tokens),
without a database.

Airflow 3 issues HS256 JWTs from ``POST /auth/token`` that expire after ``[api_auth]
jwt_expiration_time`` seconds (airflow-core/src/airflow/api_fastapi/auth/tokens.py,
``JWTGenerator``/``JWTValidator``); an expired token is refused with "Token Expired" and a bad
one as invalid (airflow-core/src/airflow/api_fastapi/core_api/security.py).
"""

from __future__ import annotations

import multiprocessing
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from dagcore.api import tokens
from dagcore.api.tokens import InvalidToken, TokenExpired, issue_token, verify_token
from dagcore.api.users import (
    Action,
    InvalidPassword,
    InvalidRole,
    Role,
    can,
    hash_password,
    parse_role,
    verify_password,
)
from dagcore.configuration import conf_vars

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# -- passwords -----------------------------------------------------------------------------------


def test_hash_is_salted_scrypt_and_never_the_password() -> None:
    first, second = hash_password("s3cret-pw"), hash_password("s3cret-pw")
    assert first.startswith("scrypt$16384$8$1$")
    assert "s3cret-pw" not in first
    assert first != second  # a new salt each time
    assert verify_password("s3cret-pw", first) and verify_password("s3cret-pw", second)


def test_wrong_password_and_malformed_hash_do_not_verify() -> None:
    stored = hash_password("right")
    assert not verify_password("wrong", stored)
    assert not verify_password("", stored)
    assert not verify_password("right", "plain-text")
    assert not verify_password("right", "bcrypt$1$2$3$4$5")


def test_empty_password_refused() -> None:
    with pytest.raises(InvalidPassword, match="must not be empty"):
        hash_password("")


# -- roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", {"read"}),
    ("user", {"read", "trigger", "clear", "pause"}),
    ("op", {"read", "trigger", "clear", "pause", "backfill", "delete_run"}),
    ("admin", {a.value for a in Action}),
])
def test_permission_table(role: str, allowed: set[str]) -> None:
    """Issue 13: viewer reads; user also triggers, clears, pauses; op also runs backfills and
    deletes runs; admin also manages users."""
    assert {a.value for a in Action if can(role, a)} == allowed


def test_unknown_role_or_action_may_do_nothing() -> None:
    assert not can("root", Action.READ)
    assert not can(Role.ADMIN, "format_disk")


def test_parse_role_names_the_value() -> None:
    assert parse_role("op") is Role.OP
    with pytest.raises(InvalidRole, match="'superuser' is not a role: use one of viewer, user"):
        parse_role("superuser")


# -- tokens --------------------------------------------------------------------------------------


def test_token_round_trip_and_expiry_from_config() -> None:
    with conf_vars({("api_auth", "jwt_expiration_time"): 60}):
        token = issue_token("alice", now=NOW, secret="k")
    claims = verify_token(token, now=NOW + timedelta(seconds=59), secret="k")
    assert claims.username == "alice"
    assert claims.expires_at == NOW + timedelta(seconds=60)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_expired_token() -> None:
    token = issue_token("alice", now=NOW, secret="k")  # default 86400 s, Airflow's default
    verify_token(token, now=NOW + timedelta(seconds=86399), secret="k")
    with pytest.raises(TokenExpired, match="Token Expired"):
        verify_token(token, now=NOW + timedelta(seconds=86400), secret="k")


def test_tampered_token_and_other_secret_refused() -> None:
    token = issue_token("alice", now=NOW, secret="k")
    header, payload, signature = token.split(".")
    forged_payload = jwt.encode({"sub": "admin", "exp": 2_000_000_000}, "k").split(".")[1]
    with pytest.raises(InvalidToken):
        verify_token(f"{header}.{forged_payload}.{signature}", now=NOW, secret="k")
    with pytest.raises(InvalidToken):
        verify_token(token, now=NOW, secret="other")
    with pytest.raises(InvalidToken):
        verify_token("not-a-jwt", now=NOW, secret="k")


def test_unsigned_token_refused() -> None:
    """alg "none" must never pass (the classic JWT forgery)."""
    unsigned = jwt.encode({"sub": "admin", "exp": 2_000_000_000}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(unsigned, now=NOW, secret="k")


def test_token_without_subject_refused() -> None:
    token = jwt.encode({"exp": 2_000_000_000}, "k", algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(token, now=NOW, secret="k")


def test_configured_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    with conf_vars({("api_auth", "jwt_secret"): "configured"}):
        assert tokens.jwt_secret() == "configured"
    assert not (tmp_path / "jwt_secret").exists()


def test_secret_file_created_once_mode_0600(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    first = tokens.jwt_secret()
    path = tmp_path / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 40
    assert tokens.jwt_secret() == first
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]  # no temporary file left


def _secret_in_child(home: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import os

    os.environ["DAGCORE_HOME"] = home
    queue.put(tokens.jwt_secret())


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_secret_in_child, args=(str(tmp_path), queue))
                for _ in range(4)]
    for child in children:
        child.start()
    secrets = {queue.get(timeout=60) for _ in children}
    for child in children:
        child.join(timeout=60)
    assert len(secrets) == 1
    assert secrets == {(tmp_path / "jwt_secret").read_text().strip()}
