"""dagcore.utils.process.pid_alive: exited-but-unreaped processes count as dead."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from dagcore.utils.process import pid_alive


def test_this_process_is_alive_and_no_pid_is_not() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(None)
    assert not pid_alive(0)


def test_a_zombie_is_dead_and_a_reaped_pid_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30  # only turns a hang into a failure
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(child.pid)  # exited, not reaped yet: a zombie
    assert child.wait() == 0
    assert not pid_alive(child.pid)
