"""``LatestOnlyOperator``: run the downstream tasks only in the latest scheduled interval.

Airflow 3's rule (``providers/standard/operators/latest_only.py``; docs/airflow-behaviour.md
9.4): a manual run always proceeds; otherwise the run's window reaches from the end of the
interval before its own (or its own start, when the timetable gives none before it) to the end
of the next interval. When now is inside that window (``left < now <= right``) the run is the
latest and proceeds; when it is not, every direct downstream task is skipped. A run with no next
interval (the last one the timetable makes) proceeds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from dagcore.operators.branch import BaseBranchOperator
from dagcore.timetables import DataInterval, TimeRestriction
from dagcore.utils import timezone

__all__ = ["LatestOnlyOperator"]

log = logging.getLogger(__name__)

_MANUAL = "manual"


class LatestOnlyOperator(BaseBranchOperator):
    """Skip the direct downstream tasks unless the run is the latest scheduled one."""

    ui_color = "#e9ffdb"

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str]:
        dag_run = context["dag_run"]
        downstream = sorted(self.get_direct_relative_ids(upstream=False))
        if str(getattr(dag_run.run_type, "value", dag_run.run_type)) == _MANUAL:
            log.info("Manually triggered DAG_Run: allowing execution to proceed.")
            return downstream
        window = self._window(dag_run)
        if window is None:
            log.info("Last scheduled execution: allowing execution to proceed.")
            return downstream
        now = timezone.utcnow()
        left, right = window
        log.info("Checking latest only with left_window: %s right_window: %s now: %s", left,
                 right, now)
        if not left < now <= right:
            log.info("Not latest execution, skipping downstream.")
            return []
        log.info("Latest, allowing execution to proceed.")
        return downstream

    def _window(self, dag_run: Any) -> tuple[datetime, datetime] | None:
        """``(left, right)``: from the end of the interval before the run's (or the run's
        start) to the end of the next one; None when the timetable has no next interval."""
        assert self.dag is not None
        timetable = self.dag.timetable
        date = dag_run.logical_date or dag_run.run_after
        current = DataInterval(dag_run.data_interval_start or date,
                               dag_run.data_interval_end or date)
        before = timetable.next_dagrun_info(
            last_automated_data_interval=current,
            restriction=TimeRestriction(earliest=None,
                                        latest=current.end - timedelta(microseconds=1),
                                        catchup=True))
        left = before.data_interval.end if before is not None else current.start
        after = timetable.next_dagrun_info(
            last_automated_data_interval=current,
            restriction=TimeRestriction(earliest=current.end, latest=None, catchup=True))
        if after is None:
            return None
        return left, after.data_interval.end
