"""What every request handler shares: the engine, the DAG bag and the credential cache.

Design note. :func:`dagcore.server.app.create_app` makes one :class:`ServerState` per
application and stores it on ``app.state.dagcore`` (the v1 sub-application gets the same
object); handlers reach it through the :func:`server_state` dependency, so tests can build an
app on their own engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.engine import Engine

from dagcore.api.common import DagNotFound
from dagcore.api.dags import dag_display_name
from dagcore.db_dagbag import DBDagBag
from dagcore.server.credentials import CredentialCache

__all__ = ["ServerState", "server_state"]


@dataclass
class ServerState:
    """The server's shared objects."""

    engine: Engine
    dag_bag: DBDagBag
    credentials: CredentialCache = field(default_factory=CredentialCache)

    def display_name(self, dag_id: str) -> str:
        """The DAG's display name for a response: its id when it has none or is gone (a
        backfill or task instance can outlive the ``dag`` row it names)."""
        try:
            with self.engine.connect() as conn:
                return dag_display_name(conn, dag_id)
        except DagNotFound:
            return dag_id


async def server_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the application serving ``request``.

    ``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency in its thread
    pool, one more thread hop per request for reading an attribute."""
    state: ServerState = request.app.state.dagcore
    return state
