"""``BashSensor``: a Bash command is the poke (exit 0: done), as Airflow's
``providers/standard/sensors/bash.py``."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from typing import Any

from dagcore.exceptions import AirflowFailException
from dagcore.sensors.base import BaseSensorOperator

__all__ = ["BashSensor"]

log = logging.getLogger(__name__)


class BashSensor(BaseSensorOperator):
    """Runs ``bash_command`` (templated) in a temporary directory at each poke.

    Exit 0 is done. With ``retry_exit_code`` set, that code means "not yet" and any other
    non-zero code fails the task (``AirflowFailException``: no retry); without it every
    non-zero code means "not yet".

    Args:
        bash_command: the command (written to a script run by ``bash``).
        env: the command's environment (templated); ``None`` inherits this process's.
        output_encoding: how the output is decoded.
        retry_exit_code: the exit code that means "poke again".
    """

    template_fields = ("bash_command", "env")

    def __init__(self, task_id: str, *, bash_command: str, env: dict[str, str] | None = None,
                 output_encoding: str = "utf-8", retry_exit_code: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(bash_command, str):
            raise TypeError(f"bash_command of task {task_id!r} must be a str, got "
                            f"{type(bash_command).__name__}")
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code

    def poke(self, context: dict[str, Any]) -> bool:
        with tempfile.TemporaryDirectory(prefix="airflowtmp") as tmp_dir:
            script = os.path.join(tmp_dir, f"{self.task_id}.sh")
            with open(script, "w", encoding="utf-8") as f:
                f.write(self.bash_command)
            log.info("Running command: %s", self.bash_command)
            proc = subprocess.run(["bash", script], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, cwd=tmp_dir, env=self.env,
                                  start_new_session=True, check=False)
        output = proc.stdout.decode(self.output_encoding, errors="replace")
        if output:
            log.info("Output:")
            for line in output.splitlines():
                log.info("%s", line.strip())
        log.info("Command exited with return code %s", proc.returncode)
        if proc.returncode == 0:
            return True
        if self.retry_exit_code is not None:
            if proc.returncode == self.retry_exit_code:
                log.info("Return code matches retry code, will retry later")
                return False
            raise AirflowFailException(f"Command exited with return code {proc.returncode}")
        log.info("Non-zero return code and no retry code set, will retry later")
        return False
