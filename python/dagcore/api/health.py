"""What the health endpoints read: whether the database answers and the latest job rows.

Design note. Airflow's health (``airflow/api/common/airflow_health.py``) reports the metadata
database as healthy when its queries succeed, and each component by its most recent job row
(``most_recent_job``: the latest heartbeat of that job type). Deciding whether that row's
process is alive is the runtime layer's (:func:`dagcore.jobs.job.is_alive`), so this module only
reads.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.models import tables as t

__all__ = ["most_recent_job"]


def most_recent_job(engine: Engine, job_type: str) -> Any | None:
    """The ``job`` row of ``job_type`` with the latest heartbeat, or None.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database does not answer.
    """
    with engine.connect() as conn:
        return conn.execute(sa.select(t.job).where(t.job.c.job_type == job_type)
                            .order_by(t.job.c.latest_heartbeat.desc()).limit(1)).first()
