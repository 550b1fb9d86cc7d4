"""The health document both API versions serve (``/api/v2/monitor/health``, ``/api/v1/health``).

As Airflow's ``get_airflow_health`` (``airflow/api/common/airflow_health.py``): the metadata
database is "healthy" when it answers; the scheduler is "healthy" when its most recent job is
alive (running, with a heartbeat younger than ``[scheduler] scheduler_health_check_threshold``),
else "unhealthy", and its ``latest_scheduler_heartbeat`` is that job's heartbeat (ISO 8601, as
Airflow's ``isoformat()``), null when no scheduler ever ran. dagcore has no triggerer and its
DAG processor registers no job: those components answer ``status`` null, as Airflow does for a
component that never ran.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.health import most_recent_job
from dagcore.jobs.job import is_alive
from dagcore.utils import timezone

__all__ = ["HEALTHY", "UNHEALTHY", "health"]

log = logging.getLogger(__name__)

HEALTHY: Final = "healthy"
UNHEALTHY: Final = "unhealthy"
SCHEDULER_JOB_TYPE: Final = "SchedulerJob"


def health(engine: Engine) -> dict[str, Any]:
    """The health document (see the module note)."""
    database = HEALTHY
    scheduler = UNHEALTHY
    heartbeat: str | None = None
    try:
        job = most_recent_job(engine, SCHEDULER_JOB_TYPE)
        if job is not None:
            heartbeat = job.latest_heartbeat.isoformat()
            if is_alive(job, timezone.utcnow()):
                scheduler = HEALTHY
    except sa.exc.SQLAlchemyError:
        log.warning("health: the metadata database does not answer", exc_info=True)
        database = UNHEALTHY
    return {
        "metadatabase": {"status": database},
        "scheduler": {"status": scheduler, "latest_scheduler_heartbeat": heartbeat},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
    }
