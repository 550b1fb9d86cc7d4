"""BashOperator: run a command with ``bash -c`` in a subprocess.

Exit 0 succeeds and returns the last line of output (stdout and stderr, merged, as Airflow);
an exit code in ``skip_on_exit_code`` (99 by default) skips the task; any other exit code fails
it. Airflow's ``AIRFLOW_CTX_*`` variables describe the run to the command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
from collections.abc import Callable, Container, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from dagcore.exceptions import DagcoreException, TaskSkipped
from dagcore.operators.base import BaseOperator

__all__ = ["BashOperator", "context_env"]

log = logging.getLogger(__name__)


def context_env(context: Mapping[str, Any]) -> dict[str, str]:
    """Airflow's ``AIRFLOW_CTX_*`` variables for a context."""
    env: dict[str, str] = {}
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    if ti is not None:
        env["AIRFLOW_CTX_DAG_ID"] = str(ti.dag_id)
        env["AIRFLOW_CTX_TASK_ID"] = str(ti.task_id)
        env["AIRFLOW_CTX_TRY_NUMBER"] = str(ti.try_number)
    if dag_run is not None:
        env["AIRFLOW_CTX_DAG_RUN_ID"] = str(dag_run.run_id)
        if dag_run.logical_date is not None:
            env["AIRFLOW_CTX_LOGICAL_DATE"] = dag_run.logical_date.isoformat()
    return env


class BashOperator(BaseOperator):
    """Run ``bash_command`` (templated; a path ending in ``.sh``/``.bash`` is a template file).

    Args:
        task_id: the task id.
        bash_command: the command, run with ``bash -c``.
        env: the environment of the command (templated); ``None`` inherits this process's.
        append_env: add ``env`` to the inherited environment instead of replacing it.
        output_encoding: how the output is decoded.
        skip_on_exit_code: exit code(s) that skip the task (default 99; ``None``: none).
        cwd: the working directory (templated; default a fresh temporary directory).
        output_processor: applied to the last output line to make the return value.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises (from execute):
        DagcoreException: a non-zero exit code ("Bash command failed. The command returned a
            non-zero exit code 1."), or a missing ``cwd``.
        TaskSkipped: an exit code in ``skip_on_exit_code``.
    """

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(self, task_id: str, *, bash_command: str, env: dict[str, str] | None = None,
                 append_env: bool = False, output_encoding: str = "utf-8",
                 skip_on_exit_code: int | Container[int] | None = 99, cwd: str | None = None,
                 output_processor: Callable[[str], Any] = lambda result: result,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        # A str, or an XCom reference resolved when the fields are rendered (Airflow resolves
        # `bash_command=other_task.output["command"]` at run time too).
        is_reference = getattr(bash_command, "_is_xcom_reference", False)
        if not isinstance(bash_command, str) and not is_reference:
            raise TypeError(f"bash_command of task {task_id!r} must be a str or an XCom "
                            f"reference, got {type(bash_command).__name__}")
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = skip_on_exit_code
        self.cwd = cwd
        self.output_processor = output_processor
        self._process: subprocess.Popen[bytes] | None = None
        self._guard: _GroupGuard | None = None

    def get_env(self, context: Mapping[str, Any]) -> dict[str, str]:
        """The command's environment: ``env`` (over this process's with ``append_env``, or this
        process's when ``env`` is None) plus the ``AIRFLOW_CTX_*`` variables."""
        system = dict(os.environ)
        if self.env is None:
            env = system
        elif self.append_env:
            env = {**system, **self.env}
        else:
            env = dict(self.env)
        env.update(context_env(context))
        return {str(k): str(v) for k, v in env.items()}

    def execute(self, context: dict[str, Any]) -> Any:
        if self.cwd is not None:
            cwd = Path(self.cwd)
            if not cwd.exists():
                raise DagcoreException(f"Can not find the cwd: {self.cwd}")
            if not cwd.is_dir():
                raise DagcoreException(f"The cwd {self.cwd} must be a directory")
        exit_code, last_line = self._run(self.get_env(context))
        if exit_code in self.skip_on_exit_code:
            raise TaskSkipped(f"Bash command returned exit code {exit_code}. Skipping.")
        if exit_code != 0:
            raise DagcoreException(f"Bash command failed. The command returned a non-zero exit "
                                   f"code {exit_code}.")
        return self.output_processor(last_line)

    def _run(self, env: dict[str, str]) -> tuple[int, str]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dagcoretmp") as tmp:
            # The guard leads a new process group and bash joins it (in this session: a
            # process can only join a group of its own session); without a guard, bash leads
            # a session of its own, as in Airflow.
            self._guard = _GroupGuard.start()
            group: dict[str, Any] = ({"start_new_session": True} if self._guard is None
                                     else {"process_group": self._guard.pgid})
            try:
                self._process = subprocess.Popen(
                    ["bash", "-c", self.bash_command], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.cwd or tmp,
                    env=env, **group)
            except BaseException:
                self._end_group()
                raise
            try:
                assert self._process.stdout is not None
                last_line = self._relay(self._process, self._process.stdout.fileno())
            finally:
                self._end_group()
                self._process.wait()
            self._process.stdout.close()
        return self._process.returncode, last_line

    def _relay(self, process: subprocess.Popen[bytes], fd: int) -> str:
        """Log the command's output line by line until bash exits; return its last line.

        The end of bash, not the end of its output, ends the wait: a background child
        (``sleep 1000 &``) keeps the pipe open, and would otherwise hold the task until it ends.
        """
        last_line = ""
        pending = b""
        exited = _exit_watcher(process.pid)
        try:
            while True:
                watch = [fd] if exited is None else [fd, exited]
                ready, _, _ = select.select(watch, [], [], None if exited is not None else 0.2)
                if fd in ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        last_line = self._log_line(raw)
                    continue
                if process.poll() is not None:
                    break
        finally:
            if exited is not None:
                os.close(exited)
        process.wait()
        self._end_group()  # kills what bash left behind; their end closes the pipe
        for chunk in iter(lambda: _read_ready(fd), b""):
            pending += chunk
        *lines, rest = pending.split(b"\n")
        for raw in lines + ([rest] if rest else []):
            last_line = self._log_line(raw)
        return last_line

    def _log_line(self, raw: bytes) -> str:
        line = raw.decode(self.output_encoding, errors="backslashreplace").rstrip()
        log.info("%s", line)
        return line

    def _end_group(self) -> None:
        """SIGKILL what is left of the command's process group (once)."""
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.kill()
        elif self._process is not None and self._process.poll() is None:  # no guard
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def on_kill(self) -> None:
        """SIGTERM the command's process group, then SIGKILL it after the grace period
        (``[core] killed_task_cleanup_time``). Airflow's SubprocessHook sends only the SIGTERM
        (``os.killpg(os.getpgid(pid), SIGTERM)``) and leaves the SIGKILL to whoever kills the
        task's process; here the group is SIGKILLed too: a command that ignores SIGTERM must
        not outlive its task, nor run beside the next try."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            log.info("Sending SIGTERM signal to process group")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(process.pid), signal.SIGTERM)
            try:
                process.wait(timeout=_grace_seconds())
            except subprocess.TimeoutExpired:
                log.warning("The bash command did not end within %ss of SIGTERM; sending "
                            "SIGKILL to its process group", _grace_seconds())
        self._end_group()


def _grace_seconds() -> float:
    """``[core] killed_task_cleanup_time``: how long SIGTERM may take before SIGKILL."""
    from dagcore.configuration import conf

    try:
        return max(0.0, conf.getfloat("core", "killed_task_cleanup_time"))
    except (ValueError, LookupError):
        return 60.0


def _exit_watcher(pid: int) -> int | None:
    """A pidfd that becomes readable when ``pid`` exits, or None (not Linux >= 5.3)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _read_ready(fd: int) -> bytes:
    """What ``fd`` has now or within a short wait; b"" at its end or when nothing comes (a
    process that escaped the group with ``setsid`` may hold the pipe forever)."""
    ready, _, _ = select.select([fd], [], [], 5.0)
    return os.read(fd, 65536) if ready else b""


_GUARD_SCRIPT = "trap '' TERM INT HUP; read -r _; kill -s KILL 0"
"""The guard's shell: wait for the end of its stdin (the operator closed the pipe, or its
process died, kill -9 included), then SIGKILL its own process group: the command's."""


class _GroupGuard:
    """A tiny ``sh`` leading the command's process group that SIGKILLs the group when this
    process closes its pipe, or dies: a worker killed with ``kill -9`` takes its task's
    processes with it (``PR_SET_PDEATHSIG`` would reach bash only, not bash's children)."""

    def __init__(self, process: subprocess.Popen[bytes], write_end: int) -> None:
        self._process = process
        self._write_end = write_end
        self.pgid = process.pid

    @classmethod
    def start(cls) -> _GroupGuard | None:
        """A guard leading a new process group, or None (logged) when it cannot start."""
        read_end, write_end = os.pipe()  # not inheritable: only the guard gets read_end
        try:
            process = subprocess.Popen(
                ["/bin/sh", "-c", _GUARD_SCRIPT], stdin=read_end, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd="/", process_group=0)
        except OSError:
            log.warning("cannot start the process-group guard of the bash command; its "
                        "processes may outlive this worker if it dies", exc_info=True)
            os.close(write_end)
            return None
        finally:
            os.close(read_end)
        return cls(process, write_end)

    def kill(self) -> None:
        """SIGKILL the group (the guard with it) and reap the guard."""
        os.close(self._write_end)
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # a process forked meanwhile holds the pipe open
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)
            self._process.wait()
