"""``/api/v1/importErrors`` response models, with Airflow 2.10's field names (``v1.yaml``
``ImportError``)."""

from __future__ import annotations

from datetime import datetime

from dagcore.api.import_errors import ImportError_
from dagcore.server.serializers import V1Model

__all__ = ["ImportError", "ImportErrorCollection", "import_error_v1"]


class ImportError(V1Model):  # noqa: A001 (Airflow's schema name)
    import_error_id: int
    timestamp: datetime
    filename: str
    stack_trace: str


class ImportErrorCollection(V1Model):
    import_errors: list[ImportError]
    total_entries: int


def import_error_v1(error: ImportError_) -> ImportError:
    return ImportError(import_error_id=error.id, timestamp=error.timestamp,
                       filename=error.filename, stack_trace=error.stacktrace)
