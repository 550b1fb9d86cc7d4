"""BashOperator: run a command with ``bash -c`` in a subprocess.

Exit 0 succeeds and returns the last line of output (stdout and stderr, merged, as Airflow);
an exit code in ``skip_on_exit_code`` (99 by default) skips the task; any other exit code fails
it. Airflow's ``AIRFLOW_CTX_*`` variables describe the run to the command.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Container, Mapping
from pathlib import Path
from typing import Any

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

    template_fields = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(self, task_id: str, *, bash_command: str, env: dict[str, str] | None = None,
                 append_env: bool = False, output_encoding: str = "utf-8",
                 skip_on_exit_code: int | Container[int] | None = 99, cwd: str | None = None,
                 output_processor: Callable[[str], Any] = lambda result: result,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(bash_command, str):
            raise TypeError(f"bash_command of task {task_id!r} must be a str, got "
                            f"{type(bash_command).__name__}")
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
            self._process = subprocess.Popen(
                ["bash", "-c", self.bash_command], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.cwd or tmp, env=env,
                start_new_session=True)
            last_line = ""
            assert self._process.stdout is not None
            for raw in iter(self._process.stdout.readline, b""):
                last_line = raw.decode(self.output_encoding, errors="backslashreplace").rstrip()
                log.info("%s", last_line)
            exit_code = self._process.wait()
            self._process.stdout.close()
        return exit_code, last_line

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            log.info("Sending SIGTERM signal to process group")
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
