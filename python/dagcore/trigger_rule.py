"""Trigger rules: when a task may run given its upstream tasks' states (Airflow's 13 rules)."""

from __future__ import annotations

from enum import Enum

__all__ = ["TriggerRule"]


class TriggerRule(str, Enum):
    """Airflow's trigger rules (values as in Airflow; default ALL_SUCCESS)."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"
    ALL_SKIPPED = "all_skipped"

    def __str__(self) -> str:
        return self.value
