"""``/api/v2/importErrors`` response models, with Airflow 3's field names
(``api_fastapi/core_api/datamodels/import_error.py``)."""

from __future__ import annotations

from datetime import datetime

from dagcore.api.import_errors import ImportError_
from dagcore.server.serializers import V2Model

__all__ = ["ImportErrorCollectionResponse", "ImportErrorResponse", "import_error_response"]


class ImportErrorResponse(V2Model):
    import_error_id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None
    stack_trace: str


class ImportErrorCollectionResponse(V2Model):
    import_errors: list[ImportErrorResponse]
    total_entries: int


def import_error_response(error: ImportError_) -> ImportErrorResponse:
    return ImportErrorResponse(import_error_id=error.id, timestamp=error.timestamp,
                               filename=error.filename, bundle_name=error.bundle_name,
                               stack_trace=error.stacktrace)
