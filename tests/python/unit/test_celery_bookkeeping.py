"""The CeleryExecutor's bookkeeping, with a fake broker, a fake database and a fake clock
(no Celery, no Redis): what ends a workload, what sends it again, what never blocks."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from dagcore.configuration import ConfigError, conf_vars
from dagcore.executors import get_executor
from dagcore.executors.base import DagCallbackRequest, TaskInstanceKey, TaskWorkload
from dagcore.executors.celery import (
    CALLBACK_TASK,
    EXECUTE_TASK,
    CeleryExecutor,
    CeleryNotInstalled,
    CelerySettings,
    callback_from_json,
    callback_to_json,
    workload_from_json,
    workload_to_json,
)

SETTINGS = {("celery", "state_check_interval"): 1.0, ("celery", "state_check_min_age"): 1.0,
            ("celery", "task_resend_timeout"): 10.0, ("celery", "task_max_resends"): 2,
            ("scheduler", "task_instance_heartbeat_timeout"): 30.0}


class FakeBroker:
    """Records what is sent; results are set by the test; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str, str]] = []
        self.results: dict[str, tuple[str, Any]] = {}
        self.revoked: list[str] = []
        self.forgotten: list[str] = []
        self.down = False
        self.server = "run-1"
        self.fetches = 0

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting: Connection refused")

    def send(self, task: str, payload: dict[str, Any], queue: str, message_id: str) -> None:
        self._check()
        self.sent.append((task, payload, queue, message_id))

    def fetch(self, message_ids: list[str]) -> dict[str, tuple[str, Any]]:
        self._check()
        self.fetches += 1
        return {i: self.results[i] for i in message_ids if i in self.results}

    def forget(self, message_ids: list[str]) -> None:
        self.forgotten += message_ids

    def revoke(self, message_ids: list[str]) -> None:
        self._check()
        self.revoked += message_ids

    def server_id(self) -> str | None:
        self._check()
        return self.server

    def close(self) -> None:
        pass

    def messages_of(self, workload: TaskWorkload) -> list[str]:
        return [m for task, payload, _, m in self.sent
                if task == EXECUTE_TASK and payload["ti_id"] == workload.ti_id]


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.broker = FakeBroker()
        self.states: dict[str, tuple[str | None, datetime | None]] = {}
        self.reads: list[list[str]] = []
        self.executor = CeleryExecutor(4, transport=self.broker, read_states=self.read,
                                       background=False, clock=lambda: self.now)

    def read(self, ti_ids: list[str]) -> dict[str, tuple[str | None, datetime | None]]:
        self.reads.append(ti_ids)
        return {i: self.states[i] for i in ti_ids if i in self.states}

    def workload(self, task_id: str = "t", queue: str = "default") -> TaskWorkload:
        ti_id = str(uuid.uuid4())
        self.states[ti_id] = ("queued", None)
        return TaskWorkload(ti_id=ti_id, key=TaskInstanceKey("d", task_id, "r", 1),
                            dag_version_id=None, fileloc="/dags/d.py", log_path="/logs/x.log",
                            queue=queue)

    def tick(self, seconds: float = 0.0) -> list[Any]:
        self.now += seconds
        self.executor.sync()
        return self.executor.heartbeat()


@pytest.fixture
def world() -> Any:
    with conf_vars(SETTINGS):
        yield World()


def test_a_workload_is_sent_to_its_queue_and_a_claimed_result_ends_it(world: World) -> None:
    w = world.workload(queue="q2")
    world.executor.queue_workload(w)
    assert world.executor.running == {w.key} and world.executor.slots_available == 3
    assert world.tick() == []
    ((task, payload, queue, message),) = world.broker.sent
    assert (task, queue) == (EXECUTE_TASK, "q2")
    assert workload_from_json(payload) == w
    world.broker.results[message] = ("SUCCESS", {"code": 0, "claimed": True})
    (event,) = world.tick()
    assert (event.key, event.state, event.info) == (w.key, "success", None)
    assert world.executor.running == set()
    assert message in world.broker.forgotten  # its result key is deleted
    assert world.tick() == []


def test_a_non_zero_exit_code_ends_it_failed(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    (message,) = world.broker.messages_of(w)
    world.broker.results[message] = ("SUCCESS", {"code": 3, "claimed": True})
    (event,) = world.tick()
    assert (event.state, event.info) == ("failed", "exit status 3")


def test_redis_down_never_blocks_and_the_workload_stays_counted(world: World) -> None:
    world.broker.down = True
    w = world.workload()
    world.executor.queue_workload(w)
    assert world.tick() == []
    assert world.broker.sent == [] and world.executor.running == {w.key}
    assert world.tick(0.01) == []  # within the backoff: no new attempt
    world.broker.down = False
    world.tick(5.0)
    assert len(world.broker.messages_of(w)) == 1


def test_not_claimed_never_ends_a_workload_the_database_does(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    (first,) = world.broker.messages_of(w)
    world.states[w.ti_id] = ("running", datetime.now(UTC))  # someone else's message claimed it
    world.broker.results[first] = ("SUCCESS", {"code": 0, "claimed": False})
    assert world.tick() == []
    assert world.executor.running == {w.key}
    assert world.tick(5.0) == []  # running: the other message's worker has it
    world.states[w.ti_id] = ("success", None)
    (event,) = world.tick(1.0)
    assert (event.state, event.info) == ("success", "its task instance is success")


def test_a_celery_failure_ends_a_workload_only_as_its_last_message(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    world.tick(10.0)  # still queued after the resend timeout: sent again
    first, second = world.broker.messages_of(w)
    world.broker.results[first] = ("FAILURE", {"exc_type": "WorkerLostError"})
    assert world.tick() == []  # the second message may be running it
    world.broker.results[second] = ("FAILURE", {"exc_type": "WorkerLostError"})
    (event,) = world.tick()
    assert event.state == "failed" and "FAILURE" in (event.info or "")


def test_still_queued_is_sent_again_then_fails_after_the_bounded_resends(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    assert world.tick(9.0) == [] and len(world.broker.messages_of(w)) == 1
    world.tick(1.0)
    world.tick()
    assert len(world.broker.messages_of(w)) == 2
    world.tick(10.0)
    world.tick()
    assert len(world.broker.messages_of(w)) == 3  # task_max_resends = 2
    (event,) = world.tick(10.0)
    assert event.state == "failed" and "no worker claimed it: sent 3 time(s)" in event.info
    assert len(set(world.broker.messages_of(w))) == 3  # a fresh message id each time
    assert world.executor.resent == 2


def test_a_redis_restart_sends_the_queued_tries_again_at_once(world: World) -> None:
    queued, running = world.workload("a"), world.workload("b")
    world.executor.queue_workload(queued)
    world.executor.queue_workload(running)
    world.tick()
    world.states[running.ti_id] = ("running", datetime.now(UTC))
    world.broker.server = "run-2"
    world.tick(1.0)
    world.tick()
    assert len(world.broker.messages_of(queued)) == 2
    assert len(world.broker.messages_of(running)) == 1


def test_the_database_ends_a_workload_whose_result_was_lost(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    world.states[w.ti_id] = ("up_for_retry", None)
    assert world.tick(0.5) == []  # sent less than state_check_min_age ago: not read yet
    (event,) = world.tick(1.0)
    assert (event.state, event.info) == ("success", "its task instance is up_for_retry")


def test_a_cleared_try_ends_once_its_message_came_back(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    (message,) = world.broker.messages_of(w)
    world.states[w.ti_id] = ("running", datetime.now(UTC))
    world.tick(1.0)
    del world.states[w.ti_id]  # cleared: the row has a new id, the old try stops itself
    assert world.tick(1.0) == []  # its message may still be running the old try
    world.broker.results[message] = ("SUCCESS", {"code": 0, "claimed": False})
    world.tick()
    (event,) = world.tick(1.0)
    assert event.state == "success" and "gone" in (event.info or "")


def test_kill_revokes_and_ends_it_failed_with_the_reason(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    (message,) = world.broker.messages_of(w)
    assert world.executor.kill(w.key, "no heartbeat for 5 s")
    (event,) = world.executor.heartbeat()
    assert (event.state, event.info) == ("failed", "killed: no heartbeat for 5 s")
    world.tick()
    assert world.broker.revoked == [message]
    assert not world.executor.kill(w.key, "again")  # not in flight any more
    world.broker.results[message] = ("REVOKED", None)
    assert world.tick() == []  # its late result is ignored


def test_a_workload_killed_before_it_was_sent_is_never_sent(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    assert world.executor.kill(w.key, "stop")
    assert [e.state for e in world.executor.heartbeat()] == ["failed"]
    world.tick()
    assert world.broker.sent == []


def test_a_callback_is_sent_to_the_default_queue(world: World) -> None:
    request = DagCallbackRequest(dag_id="d", fileloc="/dags/d.py", state="failed",
                                 reason="task_failure", run_id="r",
                                 logical_date=datetime(2025, 1, 1, tzinfo=UTC), conf={"a": 1})
    world.executor.queue_callback(request)
    world.tick()
    ((task, payload, queue, _),) = world.broker.sent
    assert (task, queue) == (CALLBACK_TASK, "default")
    assert callback_from_json(payload) == request
    assert world.executor.running == set()


def test_end_leaves_running_tries_to_their_workers(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    world.states[w.ti_id] = ("running", datetime.now(UTC))
    assert world.executor.end(timeout=0.05) == []


def test_end_fails_a_try_whose_heartbeat_stopped(world: World) -> None:
    w = world.workload()
    world.executor.queue_workload(w)
    world.tick()
    world.states[w.ti_id] = ("running", datetime(2000, 1, 1, tzinfo=UTC))
    (event,) = world.executor.end(timeout=None)
    assert event.state == "failed" and "no heartbeat" in (event.info or "")


def test_messages_round_trip_as_json() -> None:
    import json

    w = TaskWorkload(ti_id="x", key=TaskInstanceKey("d", "t", "r", 2, 5), dag_version_id="v",
                     fileloc=None, log_path="/l", queue="q")
    assert workload_from_json(json.loads(json.dumps(workload_to_json(w)))) == w
    with pytest.raises(ValueError, match="not a dagcore workload"):
        workload_from_json({"ti_id": "x", "bogus": 1, "key": {}})
    request = DagCallbackRequest(dag_id="d", fileloc="f", state="success", reason="r",
                                 run_id="r", run_after=datetime(2025, 1, 1, tzinfo=UTC))
    assert callback_from_json(json.loads(json.dumps(callback_to_json(request)))) == request


@pytest.mark.parametrize(("key", "value", "message"), [
    ("broker_url", "amqp://guest:pw@host//",
     "[celery] broker_url 'amqp://guest:***@host//' has scheme 'amqp'"),
    ("result_backend", "localhost:6379", "[celery] result_backend 'localhost:6379' has scheme "
     "'localhost'"),
    ("broker_url", "", "[celery] broker_url '' has no scheme"),
    ("worker_concurrency", "0", "[celery] worker_concurrency must be > 0, got 0"),
    ("task_resend_timeout", "-1", "[celery] task_resend_timeout must be > 0, got -1.0"),
    ("task_max_resends", "x", 'Please check "task_max_resends" key in "celery" section. '
     'Current value: "x"'),
])
def test_bad_settings_are_named(key: str, value: str, message: str) -> None:
    with conf_vars({("celery", key): value}), pytest.raises(ConfigError) as info:
        CelerySettings.from_conf()
    assert message in str(info.value)
    assert "pw@" not in str(info.value)


def test_get_executor_knows_the_celery_executor_by_name() -> None:
    broker = FakeBroker()
    executor = CeleryExecutor(2, transport=broker, background=False)
    assert executor.parallelism == 2
    with conf_vars({("celery", "broker_url"): "sqs://x"}), pytest.raises(ConfigError,
                                                                         match="sqs"):
        get_executor("CeleryExecutor")


def test_without_celery_the_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "celery", None)  # `import celery` raises ImportError
    monkeypatch.delitem(sys.modules, "dagcore.executors.celery_app", raising=False)
    with pytest.raises(CeleryNotInstalled, match="install python3-celery"):
        get_executor("CeleryExecutor")


def test_a_try_logs_to_its_file_and_the_pool_process_gets_its_stdio_back(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("celery")
    from dagcore import task_runner
    from dagcore.executors.celery_app import run_in_this_process

    def fake_run_workload(workload: TaskWorkload, *, engine: Any) -> str | None:
        print("printed by the task")
        print("written to fd 2 by the task", file=sys.stderr)
        return None if workload.key.task_id == "unclaimed" else "success"

    monkeypatch.setattr(task_runner, "run_workload", fake_run_workload)
    log = tmp_path / "logs" / "attempt=1.log"
    w = TaskWorkload(ti_id=str(uuid.uuid4()), key=TaskInstanceKey("d", "t", "r", 1),
                     dag_version_id=None, fileloc=None, log_path=str(log))
    assert run_in_this_process(w, engine=None) == (0, True)  # type: ignore[arg-type]
    print("printed by the pool process after the try")
    unclaimed = TaskWorkload(ti_id=w.ti_id, key=TaskInstanceKey("d", "unclaimed", "r", 1),
                             dag_version_id=None, fileloc=None, log_path=str(log))
    assert run_in_this_process(unclaimed, engine=None) == (0, False)  # type: ignore[arg-type]
    assert log.read_text().count("printed by the task") == 2
    assert "written to fd 2 by the task" in log.read_text()
    assert "after the try" not in log.read_text()
    out, err = capfd.readouterr()
    assert "printed by the pool process after the try" in out
    assert "by the task" not in out + err


def test_sys_exit_in_a_try_is_its_exit_code(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    pytest.importorskip("celery")
    from dagcore import task_runner
    from dagcore.executors.celery_app import run_in_this_process

    def exits(workload: TaskWorkload, *, engine: Any) -> str | None:
        sys.exit(7)

    monkeypatch.setattr(task_runner, "run_workload", exits)
    w = TaskWorkload(ti_id=str(uuid.uuid4()), key=TaskInstanceKey("d", "t", "r", 1),
                     dag_version_id=None, fileloc=None, log_path=str(tmp_path / "a.log"))
    assert run_in_this_process(w, engine=None) == (7, None)  # type: ignore[arg-type]


def test_a_task_without_a_queue_gets_the_configured_default_queue() -> None:
    from dagcore.operators.empty import EmptyOperator

    assert EmptyOperator(task_id="a").queue == "default"
    assert EmptyOperator(task_id="b", queue="q2").queue == "q2"
    with conf_vars({("operators", "default_queue"): "main"}):
        assert EmptyOperator(task_id="c").queue == "main"
