"""Users of the REST API (dagcore.api.users) on each database, and ``dagcore users`` for real.

Airflow 2's ``airflow users create --username --password --role`` / ``users list`` /
``users delete --username`` (airflow/cli/commands/user_command.py, FAB) are the model; dagcore's
roles are issue 13's viewer < user < op < admin.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error

from dagcore.api.users import (
    InvalidUsername,
    Role,
    UserExists,
    UserNotFound,
    authenticate,
    create_user,
    delete_user,
    get_user,
    list_users,
)
from dagcore.db import migrate
from dagcore.models import tables as t


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    migrate(engine)
    return engine


def test_create_list_authenticate_delete(db: sa.Engine) -> None:
    create_user(db, "bob", "pw-bob", "op")
    create_user(db, "alice", "pw-alice", Role.VIEWER)
    assert [(u.username, u.role) for u in list_users(db)] == [("alice", Role.VIEWER),
                                                              ("bob", Role.OP)]
    assert authenticate(db, "bob", "pw-bob").role is Role.OP  # type: ignore[union-attr]
    assert authenticate(db, "bob", "pw-alice") is None
    assert authenticate(db, "nobody", "pw-bob") is None
    delete_user(db, "bob")
    assert authenticate(db, "bob", "pw-bob") is None
    with pytest.raises(UserNotFound, match="user 'bob' not found"):
        get_user(db, "bob")


def test_password_stored_only_as_hash(db: sa.Engine) -> None:
    create_user(db, "carol", "correct horse battery", "admin")
    with db.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.select(t.user))]
    assert len(rows) == 1
    assert not any("correct horse" in str(value) for value in rows[0])


def test_duplicate_and_bad_values_name_the_value(db: sa.Engine) -> None:
    create_user(db, "dave", "pw", "user")
    with pytest.raises(UserExists, match="user 'dave' already exists"):
        create_user(db, "dave", "other", "viewer")
    with pytest.raises(InvalidUsername, match="'a:b'"):
        create_user(db, "a:b", "pw", "user")  # Basic auth splits at ':'
    with pytest.raises(InvalidUsername, match="must not be empty"):
        create_user(db, "", "pw", "user")
    with pytest.raises(ValueError, match="'root' is not a role"):
        create_user(db, "erin", "pw", "root")
    with pytest.raises(ValueError, match="password must not be empty"):
        create_user(db, "erin", "", "user")
    with pytest.raises(UserNotFound, match="'zed'"):
        delete_user(db, "zed")
    assert [u.username for u in list_users(db)] == ["dave"]


# -- the command line ----------------------------------------------------------------------------


def test_cli_users(cli_home: CLIHome) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    made = cli_home.run("users", "create", "--username", "ann", "--password", "hunter22",
                        "--role", "op")
    assert made.returncode == 0, made.stderr
    assert "hunter22" not in made.stdout + made.stderr
    env_pw = dict(cli_home.env, DAGCORE_PASSWORD="from-env")
    import subprocess
    import sys
    viaenv = subprocess.run([sys.executable, "-m", "dagcore", "users", "create", "--username",
                             "ben", "--role", "viewer"], env=env_pw, text=True,
                            capture_output=True, check=False)
    assert viaenv.returncode == 0, viaenv.stderr

    listed = cli_home.run("users", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["username"], r["role"]) for r in rows] == [("ann", "op"), ("ben", "viewer")]
    assert set(rows[0]) == {"username", "role", "created_at"}  # never the hash
    assert "scrypt" not in cli_home.run("users", "list", "-o", "plain").stdout

    assert_one_line_error(cli_home.run("users", "create", "--username", "ann", "--password",
                                       "x", "--role", "user"), "user 'ann' already exists")
    assert_one_line_error(cli_home.run("users", "delete", "--username", "nope"),
                          "user 'nope' not found")
    assert cli_home.run("users", "delete", "--username", "ben").returncode == 0
    assert [r["username"] for r in json.loads(cli_home.run("users", "list", "-o",
                                                           "json").stdout)] == ["ann"]


def test_cli_users_needs_a_password_and_a_role(cli_home: CLIHome) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    missing = cli_home.run("users", "create", "--username", "ann", "--role", "op")
    assert missing.returncode == 2 and "DAGCORE_PASSWORD" in missing.stderr
    bad_role = cli_home.run("users", "create", "--username", "ann", "--password", "p",
                            "--role", "root")
    assert bad_role.returncode == 2 and "'root'" in bad_role.stderr
