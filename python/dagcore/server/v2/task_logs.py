"""``GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}``.

Airflow 3's ``core_api/routes/public/log.py`` shape (docs/airflow-rest-api.md, "UI endpoints"
3): ``{"content": [{"timestamp", "event"}...], "continuation_token"}``. A try's log is the file
:func:`dagcore.executors.base.log_path_for` names (``map_index=<i>/`` for a mapped instance);
each line is one ``event`` (dagcore writes plain text, so ``timestamp`` is null).

Design note. The continuation token is opaque to the client: urlsafe base64 of
``{"offset": <bytes read so far>}``. A poll sends it back and gets only what was written since;
``full_content=true`` reads from the start. One answer carries at most :data:`MAX_CHUNK_BYTES`
(the token continues) and ends on a line break, unless the file is complete (the try is not
running) and its last line has none. A try without a log file yet answers 200 with one
"*** Log file does not exist" line and no token (Airflow 3 answers such a line too). An unknown
run or task instance is 404, ``try_number`` below 1 is 422, a malformed token 400. With
``Accept: text/plain`` the text itself is the answer and the token is in the
``X-Continuation-Token`` header.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path as FilePath
from typing import Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from dagcore.api import common as api_common
from dagcore.api import task_instances as api_tis
from dagcore.api.users import Action
from dagcore.executors.base import TaskInstanceKey, log_path_for
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.serializers import V2Model
from dagcore.server.state import ServerState, server_state

__all__ = ["MAX_CHUNK_BYTES", "decode_token", "encode_token", "read_chunk", "router"]

router = APIRouter(tags=["Task Instance"])

MAX_CHUNK_BYTES: Final = 2 * 1024 * 1024
# States in which a try may still write to its log: its last line may not be complete yet.
_WRITING: Final = frozenset({"running", "queued", "scheduled", "restarting", "deferred",
                             "up_for_reschedule"})


class StructuredLogMessage(V2Model):
    timestamp: str | None
    event: str


class TaskInstancesLogResponse(V2Model):
    content: list[StructuredLogMessage]
    continuation_token: str | None


def encode_token(offset: int) -> str:
    """The token of a byte offset."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str) -> int:
    """The byte offset a token carries.

    Raises:
        ApiError: 400 naming the token when it is not one :func:`encode_token` wrote.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii") + b"=="))
        offset = data["offset"] if isinstance(data, dict) else None
    except (ValueError, UnicodeError, binascii.Error, KeyError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ApiError(400, f"Invalid continuation token: {token!r}")
    return offset


def read_chunk(path: FilePath, offset: int, *, complete: bool,
               limit: int = MAX_CHUNK_BYTES) -> tuple[str, int]:
    """The text of ``path`` from byte ``offset`` (at most ``limit`` bytes, ending on a line
    break unless the file is ``complete`` and this reaches its end) and the offset after it."""
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(limit + 1)
    at_end = len(data) <= limit
    data = data[:limit]
    if not (at_end and complete):
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[:cut + 1]
        elif at_end:
            data = b""  # a line still being written: wait for its end
    return data.decode("utf-8", errors="replace"), offset + len(data)


def _wants_text(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
            response_model=TaskInstancesLogResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
            dependencies=[Depends(require(Action.READ))])
def get_log(request: Request, dag_id: str = Path(...), dag_run_id: str = Path(...),
            task_id: str = Path(...), try_number: int = Path(..., ge=1),
            map_index: int = Query(-1, ge=-1), full_content: bool = Query(False),
            token: str | None = Query(None),
            server: ServerState = Depends(server_state)) -> Any:
    """A try's log from the token's offset (or the start)."""
    offset = 0 if full_content or token is None else decode_token(token)
    try:
        info = api_tis.get_task_instance(server.engine, dag_id, dag_run_id, task_id, map_index)
    except (api_common.DagRunNotFound, api_tis.TaskInstanceNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    path = log_path_for(TaskInstanceKey(dag_id=dag_id, task_id=task_id, run_id=dag_run_id,
                                        try_number=try_number, map_index=map_index))
    next_token: str | None
    if path.is_file():
        text, end = read_chunk(path, offset, complete=info.ti.state not in _WRITING)
        next_token = encode_token(end)
        lines = text.splitlines()
    else:
        text, next_token = "", None
        lines = [f"*** Log file does not exist: {path}"]
    if _wants_text(request):
        headers = {"X-Continuation-Token": next_token} if next_token else {}
        return Response(text if next_token else lines[0] + "\n",
                        media_type="text/plain; charset=utf-8", headers=headers)
    return {"content": [{"timestamp": None, "event": line} for line in lines],
            "continuation_token": next_token}
