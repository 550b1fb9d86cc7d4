"""Users of the REST API: create, list, delete, authenticate; roles and what each may do.

Design note. A password is never stored nor logged: the ``user`` table holds a salted scrypt
hash (:func:`hashlib.scrypt`, a memory-hard KDF, so a stolen table is slow to attack) written as
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64), the parameters beside the hash so that stronger
ones later do not invalidate stored passwords. :func:`authenticate` compares digests with
:func:`hmac.compare_digest` and spends the same work on an unknown user as on a wrong password,
so response times do not tell which usernames exist.

Roles are ordered, each with the permissions of those below it (issue 13): ``viewer`` reads;
``user`` also triggers, clears and pauses; ``op`` also runs backfills and deletes runs; ``admin``
also manages users. :func:`can` is the one place that answers "may this role do that".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.db import transaction
from dagcore.models import tables as t
from dagcore.utils import timezone

__all__ = [
    "Action",
    "InvalidPassword",
    "InvalidRole",
    "InvalidUsername",
    "Role",
    "User",
    "UserError",
    "UserExists",
    "StoredCredentials",
    "UserNotFound",
    "authenticate",
    "can",
    "check_username",
    "create_user",
    "delete_user",
    "get_user",
    "hash_password",
    "list_users",
    "parse_role",
    "stored_credentials",
    "verify_password",
]


class Role(str, Enum):
    """A user's role, from the least to the most permitted."""

    VIEWER = "viewer"
    USER = "user"
    OP = "op"
    ADMIN = "admin"


class Action(str, Enum):
    """What a request does, as permissions are granted."""

    READ = "read"
    TRIGGER = "trigger"
    CLEAR = "clear"
    PAUSE = "pause"
    BACKFILL = "backfill"
    DELETE_RUN = "delete_run"
    MANAGE_USERS = "manage_users"


_RANK: Final = {role: rank for rank, role in enumerate(Role)}

# The least role allowed each action; every role above it is allowed too.
PERMISSIONS: Final[dict[Action, Role]] = {
    Action.READ: Role.VIEWER,
    Action.TRIGGER: Role.USER,
    Action.CLEAR: Role.USER,
    Action.PAUSE: Role.USER,
    Action.BACKFILL: Role.OP,
    Action.DELETE_RUN: Role.OP,
    Action.MANAGE_USERS: Role.ADMIN,
}

# Letters, digits and "_.@-", starting with a letter or digit: no ":" (HTTP Basic splits the
# credentials at the first one) and nothing a terminal or a log line would misread.
_USERNAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
USERNAME_MAX_LEN: Final = 64

# scrypt parameters for new hashes: n=2**14, r=8 is the cost RFC 7914 suggests for interactive
# logins (about 16 MiB and tens of milliseconds).
_SCRYPT_N: Final = 1 << 14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
_SCRYPT_MAXMEM: Final = 64 << 20


class UserError(ValueError):
    """A user operation refused; the message names the value."""


class InvalidUsername(UserError):
    """A username outside the rules (see :func:`create_user`)."""


class InvalidPassword(UserError):
    """An empty password."""


class InvalidRole(UserError):
    """A role that is not viewer, user, op or admin."""


class UserExists(UserError):
    """A username already taken."""


class UserNotFound(LookupError):
    """No user with that username."""


@dataclass(frozen=True, slots=True)
class User:
    """A user as listings show it: never the password hash."""

    username: str
    role: Role
    created_at: datetime


# -- roles and permissions -----------------------------------------------------------------------


def parse_role(value: str) -> Role:
    """``value`` as a :class:`Role`.

    Raises:
        InvalidRole: not one of viewer, user, op, admin.
    """
    try:
        return Role(value)
    except ValueError:
        raise InvalidRole(f"role {value!r} is not a role: use one of "
                          f"{', '.join(r.value for r in Role)}") from None


def can(role: Role | str, action: Action | str) -> bool:
    """Whether ``role`` may do ``action`` (an unknown role or action may do nothing)."""
    try:
        return _RANK[Role(role)] >= _RANK[PERMISSIONS[Action(action)]]
    except (ValueError, KeyError):
        return False


# -- passwords -----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password``, with its parameters (see the module note).

    Raises:
        InvalidPassword: an empty password.
    """
    if not isinstance(password, str) or not password:
        raise InvalidPassword("the password must not be empty")
    salt = os.urandom(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                            p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=_HASH_BYTES)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the ``stored`` hash; False for a malformed hash. ``None``
    (no such user) costs as much as a wrong password and is False."""
    if stored is None:
        verify_password(password, _DUMMY_HASH)
        return False
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM,
                                dklen=len(base64.b64decode(expected)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


# A hash no password matches in practice, checked when the user does not exist so that an unknown
# username costs as much as a wrong password.
_DUMMY_HASH: Final = ("scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")


# -- users ---------------------------------------------------------------------------------------


def check_username(username: str) -> str:
    """``username`` if it follows the rules: 1 to 64 characters, letters, digits, ``_.@-``,
    starting with a letter or digit.

    Raises:
        InvalidUsername: otherwise.
    """
    if not isinstance(username, str) or not username:
        raise InvalidUsername("the username must not be empty")
    if len(username) > USERNAME_MAX_LEN:
        raise InvalidUsername(f"username {username[:USERNAME_MAX_LEN]!r}... is longer than "
                              f"{USERNAME_MAX_LEN} characters")
    if not _USERNAME_RE.match(username):
        raise InvalidUsername(f"username {username!r} may only contain letters, digits, '_', "
                              f"'.', '@' and '-', starting with a letter or digit")
    return username


def _user(row: sa.Row) -> User:
    return User(username=row.username, role=Role(row.role), created_at=row.created_at)


def create_user(engine: Engine, username: str, password: str, role: Role | str) -> User:
    """Store a new user with a hashed password.

    Raises:
        InvalidUsername, InvalidPassword, InvalidRole: a value outside the rules.
        UserExists: the username is taken.
    """
    check_username(username)
    role = parse_role(role.value if isinstance(role, Role) else role)
    password_hash = hash_password(password)
    now = timezone.utcnow()
    with transaction(engine) as conn:
        taken = conn.execute(sa.select(t.user.c.id)
                             .where(t.user.c.username == username)).first()
        if taken is not None:
            raise UserExists(f"user {username!r} already exists")
        try:
            conn.execute(t.user.insert().values(username=username, password_hash=password_hash,
                                                role=role.value, created_at=now,
                                                updated_at=now))
        except sa.exc.IntegrityError:  # created meanwhile by another process (PostgreSQL)
            raise UserExists(f"user {username!r} already exists") from None
    return User(username=username, role=role, created_at=now)


def list_users(engine: Engine) -> list[User]:
    """Every user, by username."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.user.c.username, t.user.c.role, t.user.c.created_at)
                            .order_by(t.user.c.username))
        return [_user(row) for row in rows]


def get_user(engine: Engine, username: str) -> User:
    """The user ``username``.

    Raises:
        UserNotFound: there is none.
    """
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.user).where(t.user.c.username == username)).first()
    if row is None:
        raise UserNotFound(f"user {username!r} not found")
    return _user(row)


def delete_user(engine: Engine, username: str) -> None:
    """Delete the user ``username``; tokens issued to them stop working at once (the server
    looks the user up on every request).

    Raises:
        UserNotFound: there is none.
    """
    with transaction(engine) as conn:
        deleted = conn.execute(t.user.delete().where(t.user.c.username == username)).rowcount
    if not deleted:
        raise UserNotFound(f"user {username!r} not found")


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    """A user's row as authentication needs it (the hash stays inside the server process)."""

    username: str
    role: Role
    password_hash: str


def _could_exist(username: str) -> bool:
    """Whether ``username`` is a name :func:`create_user` accepts. One it refuses is unknown
    without asking the database (a NUL character in it: PostgreSQL's driver refuses the query,
    SQLite finds nothing)."""
    return len(username) <= USERNAME_MAX_LEN and _USERNAME_RE.match(username) is not None


# Built once (every API request runs it): no construction or cache key per call.
_CREDENTIALS = (sa.select(t.user.c.username, t.user.c.role, t.user.c.password_hash)
                .where(t.user.c.username == sa.bindparam("username")))


def stored_credentials(engine: Engine, username: str) -> StoredCredentials | None:
    """The user's role and password hash, or None when there is no such user."""
    if not _could_exist(username):
        return None
    with engine.connect() as conn:
        row = conn.execute(_CREDENTIALS, {"username": username}).first()
    if row is None:
        return None
    return StoredCredentials(username=row.username, role=Role(row.role),
                             password_hash=row.password_hash)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (an unknown user costs the same time as
    a wrong password)."""
    row = None
    if _could_exist(username):
        with engine.connect() as conn:
            row = conn.execute(sa.select(t.user).where(t.user.c.username == username)).first()
    ok = verify_password(password, row.password_hash if row is not None else None)
    if row is None or not ok:
        return None
    return _user(row)
