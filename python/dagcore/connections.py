"""``Connection``: how to reach an external system, read from the environment as Airflow does.

``Connection.get("my_db")`` reads ``DAGCORE_CONN_MY_DB`` or, when that is not set,
``AIRFLOW_CONN_MY_DB`` (the id upper-cased, as Airflow's ``EnvironmentVariablesBackend``);
dagcore's own name wins, as for :mod:`dagcore.variables`. The value is a JSON object when it
starts with ``{`` (``conn_type``, ``host``, ``login``, ``password``, ``schema``, ``port``,
``extra``, ``description``), else a URI, parsed as Airflow's ``Connection._parse_from_uri``:
``scheme://login:password@host:port/schema?extra``, percent-decoded, ``postgresql`` read as
``postgres`` and ``-`` in the scheme as ``_``, a second ``://`` giving the host a protocol, and
the query as ``extra`` (JSON of its pairs, or the ``__extra__`` value verbatim).

Design note. There is no ``connection`` table in this change: the environment is the only
source, so the REST and CLI connection commands do not exist yet, and nothing is encrypted.
:class:`BaseHook` has only ``get_connection`` until hooks land.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from dagcore.exceptions import AirflowNotFoundException, DagcoreException

__all__ = ["AIRFLOW_CONN_PREFIX", "DAGCORE_CONN_PREFIX", "BaseHook", "Connection",
           "InvalidConnection"]

log = logging.getLogger(__name__)

DAGCORE_CONN_PREFIX: Final = "DAGCORE_CONN_"
AIRFLOW_CONN_PREFIX: Final = "AIRFLOW_CONN_"
EXTRA_KEY: Final = "__extra__"
_FIELDS: Final = ("conn_type", "description", "host", "login", "password", "schema", "port",
                  "extra")


class InvalidConnection(DagcoreException, ValueError):
    """A connection's URI or JSON cannot be read (Airflow raises ``AirflowException`` for a
    bad URI); the message names the connection id, never the value (it holds a password)."""


def env_var_names(conn_id: str) -> tuple[str, str]:
    """The environment variables read for ``conn_id``, the first found wins."""
    return DAGCORE_CONN_PREFIX + conn_id.upper(), AIRFLOW_CONN_PREFIX + conn_id.upper()


def _normalize_conn_type(conn_type: str) -> str:
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def _hostname(parts: Any) -> str:
    """The host of a split URI, percent-decoded; a host holding ``/`` (a socket path) is the
    netloc as written (Airflow's ``_parse_netloc_to_hostname``)."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc
        if "@" in hostname:
            hostname = hostname.rsplit("@", 1)[1]
        if ":" in hostname:
            hostname = hostname.split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


class Connection:
    """Airflow's ``Connection`` (``airflow.models.Connection``, ``airflow.sdk.Connection``)."""

    def __init__(self, conn_id: str | None = None, conn_type: str | None = None,
                 description: str | None = None, host: str | None = None,
                 login: str | None = None, password: str | None = None,
                 schema: str | None = None, port: int | None = None,
                 extra: str | dict[str, Any] | None = None, uri: str | None = None) -> None:
        self.conn_id = conn_id
        self.description = description
        if uri is not None:
            if any(v is not None for v in (conn_type, host, login, password, schema, port,
                                           extra)):
                raise ValueError("You must create an object using the URI or individual values "
                                 "(conn_type, host, login, password, schema, port or extra). "
                                 "You can't mix these two ways to create this object.")
            self._parse_from_uri(uri)
            return
        self.conn_type = conn_type
        self.host = host
        self.login = login
        self.password = password
        self.schema = schema
        self.port = port
        self.extra = json.dumps(extra) if isinstance(extra, dict) else extra

    def __repr__(self) -> str:
        return self.conn_id or ""

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` from the environment (Airflow 3's ``Connection.get``).

        Raises:
            AirflowNotFoundException: (a ``LookupError``) no such connection, with Airflow's
                message "The conn_id `<id>` isn't defined".
            InvalidConnection: (a ``ValueError``) its value is not a valid URI or JSON.
            ValueError: ``conn_id`` is not a non-empty string.
        """
        if not isinstance(conn_id, str) or not conn_id:
            raise ValueError(f"a connection id must be a non-empty string, got {conn_id!r}")
        for name in env_var_names(conn_id):
            value = os.environ.get(name)
            if value is not None:
                if value.lstrip().startswith("{"):
                    return cls.from_json(value, conn_id=conn_id)
                return cls(conn_id=conn_id, uri=value)
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    @classmethod
    def get_connection_from_secrets(cls, conn_id: str) -> Connection:
        """Airflow 2's name for :meth:`get`."""
        return cls.get(conn_id)

    @classmethod
    def from_json(cls, value: str, conn_id: str | None = None) -> Connection:
        """A connection from its JSON form (Airflow's ``Connection.from_json``): an object of
        the connection's fields; ``extra`` may be an object or a string, ``port`` a number or
        a numeric string."""
        try:
            fields = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidConnection(f"connection {conn_id!r} is not valid JSON: {exc.msg} at "
                                    f"position {exc.pos}") from None
        if not isinstance(fields, dict):
            raise InvalidConnection(f"connection {conn_id!r}: the JSON must be an object, got "
                                    f"{type(fields).__name__}")
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise InvalidConnection(f"connection {conn_id!r}: unknown field(s) {unknown}; "
                                    f"expected some of {list(_FIELDS)}")
        extra = fields.pop("extra", None)
        if extra:
            fields["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
        if fields.get("conn_type"):
            fields["conn_type"] = _normalize_conn_type(fields["conn_type"])
        port = fields.pop("port", None)
        if port:
            try:
                fields["port"] = int(port)
            except (TypeError, ValueError):
                raise InvalidConnection(f"Expected integer value for `port`, but got {port!r} "
                                        f"instead (connection {conn_id!r}).") from None
        return cls(conn_id=conn_id, **fields)

    def _parse_from_uri(self, uri: str) -> None:
        """Airflow's ``Connection._parse_from_uri``, for ``uri`` (see the module's note)."""
        invalid = InvalidConnection(f"Invalid connection string for connection "
                                    f"{self.conn_id!r}")
        schemes = uri.count("://")
        if schemes > 2:
            raise invalid
        host_with_protocol = schemes == 2
        conn_type = urlsplit(uri).scheme
        self.conn_type = _normalize_conn_type(conn_type)
        rest = uri.replace(f"{conn_type}://", "" if host_with_protocol else "//")
        if host_with_protocol:
            before = rest.split("://", 1)[0]
            if "@" in before or ":" in before:
                raise invalid
        try:
            parts = urlsplit(rest)
            port = parts.port
        except ValueError:  # a port that is not a number, or out of range
            raise invalid from None
        protocol = parts.scheme if host_with_protocol else None
        host = _hostname(parts)
        self.host = f"{protocol}://{host}" if host and protocol else host
        quoted_schema = parts.path[1:]
        self.schema = unquote(quoted_schema) if quoted_schema else quoted_schema
        self.login = unquote(parts.username) if parts.username else parts.username
        self.password = unquote(parts.password) if parts.password else parts.password
        self.port = port
        self.extra = None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            self.extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)

    # -- Airflow's accessors -------------------------------------------------------------------

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """``extra`` parsed as JSON; ``{}`` when empty or not JSON (logged), as Airflow's."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except json.JSONDecodeError:
            log.error("Failed parsing the json for conn_id %s", self.conn_id)
            return {}
        return value if isinstance(value, dict) else {}

    def get_uri(self) -> str:
        """The connection as a URI in Airflow's format (Airflow's ``Connection.get_uri``);
        read back (``Connection(uri=...)``), it gives the same fields."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        host, protocol = self.host, None
        if self.host and "://" in self.host:
            protocol, bare = self.host.split("://", 1)
            if protocol == self.conn_type:
                protocol = None
            else:
                host = bare
        if protocol:
            uri += f"{protocol}://"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            authority += "@"
            uri += authority
        block = quote(host, safe="") if host else ""
        if self.port:
            block += f"@:{self.port}" if not block and not authority else f":{self.port}"
        if self.schema:
            block += f"/{quote(self.schema, safe='')}"
        uri += block
        if self.extra:
            uri += ("?" if self.schema else "/?") + self._extra_query()
        return uri

    def _extra_query(self) -> str:
        """``extra`` as a query: its pairs when they read back the same (all strings), else
        the JSON under ``__extra__`` (Airflow 2's ``get_uri``; Airflow 3.1 writes non-string
        values as strings, and parses them back in ``extra_dejson``)."""
        extra = self.extra_dejson
        try:
            query = urlencode(extra)
        except TypeError:
            query = ""
        if query and extra == dict(parse_qsl(query, keep_blank_values=True)):
            return query
        return urlencode({EXTRA_KEY: self.extra})

    def to_dict(self) -> dict[str, Any]:
        """The connection's fields, ``extra`` parsed (Airflow's ``Connection.to_dict``)."""
        return {"conn_id": self.conn_id, "conn_type": self.conn_type,
                "description": self.description, "host": self.host, "login": self.login,
                "password": self.password, "schema": self.schema, "port": self.port,
                "extra": self.extra_dejson}


class BaseHook:
    """Airflow's ``BaseHook``, only ``get_connection`` for now (hooks come later)."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` (:meth:`Connection.get`)."""
        return Connection.get(conn_id)
