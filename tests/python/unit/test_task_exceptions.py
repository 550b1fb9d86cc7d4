"""Airflow's task exceptions and ``get_current_context`` outside the task runner.

Follows Airflow's airflow/exceptions.py (the classes and their bases) and
tests/operators/test_python.py ``TestCurrentContext`` (the error outside a task, nesting). The
states each exception leaves a try in are tested in tests/python/integration/test_task_runner.py
and test_dag_test.py.
"""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime

import pytest

from dagcore import exceptions as exc
from dagcore.context import get_current_context, set_current_context


def test_airflow_names_are_dagcore_s_classes() -> None:
    # airflow/exceptions.py: AirflowSkipException and AirflowFailException are AirflowExceptions;
    # AirflowTaskTimeout and AirflowTaskTerminated are BaseExceptions.
    assert exc.AirflowException is exc.DagcoreException
    assert exc.AirflowSkipException is exc.TaskSkipped
    assert exc.AirflowTaskTimeout is exc.TaskTimeout
    assert exc.AirflowTaskTerminated is exc.TaskTerminated
    for cls in (exc.AirflowSkipException, exc.AirflowFailException, exc.AirflowSensorTimeout,
                exc.AirflowRescheduleException, exc.AirflowNotFoundException,
                exc.AirflowBadRequest):
        assert issubclass(cls, exc.AirflowException), cls
    assert not issubclass(exc.AirflowTaskTimeout, Exception)
    assert not issubclass(exc.AirflowFailException, exc.AirflowSkipException)


def test_http_flavoured_exceptions_carry_airflow_s_status_codes() -> None:
    # airflow/exceptions.py: AirflowBadRequest 400, AirflowNotFoundException 404.
    assert exc.AirflowBadRequest.status_code == 400
    assert issubclass(exc.AirflowBadRequest, ValueError)
    assert exc.AirflowNotFoundException.status_code == 404
    assert issubclass(exc.AirflowNotFoundException, LookupError)


def test_reschedule_exception_keeps_its_date_and_pickles() -> None:
    # airflow/exceptions.py AirflowRescheduleException(reschedule_date); __reduce__ for pickling.
    when = datetime(2024, 1, 1, tzinfo=UTC)
    error = pickle.loads(pickle.dumps(exc.AirflowRescheduleException(when)))
    assert isinstance(error, exc.AirflowRescheduleException) and error.reschedule_date == when


def test_get_current_context_outside_a_task_raises_airflow_s_error() -> None:
    # airflow/operators/python.py get_current_context (Airflow 2).
    with pytest.raises(exc.AirflowException, match=r"^Current context was requested but no "
                       r"context was found! Are you running within an airflow task\?$"):
        get_current_context()


def test_set_current_context_nests_and_clears() -> None:
    outer, inner = {"name": "outer"}, {"name": "inner"}
    with set_current_context(outer):
        assert get_current_context() is outer
        with set_current_context(inner):
            assert get_current_context() is inner
        assert get_current_context() is outer
    with pytest.raises(exc.AirflowException):
        get_current_context()


def test_context_is_cleared_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with set_current_context({"name": "x"}):
            raise RuntimeError("boom")
    with pytest.raises(exc.AirflowException):
        get_current_context()


def test_context_is_per_thread() -> None:
    # dag.test()'s in-process executor may run tries in threads: each sees its own context only.
    seen: list[object] = []

    def other() -> None:
        try:
            seen.append(get_current_context())
        except exc.AirflowException as error:
            seen.append(type(error))

    with set_current_context({"name": "main"}):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert get_current_context() == {"name": "main"}
    assert seen == [exc.DagcoreException]
