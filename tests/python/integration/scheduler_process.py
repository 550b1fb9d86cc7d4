"""Real ``dagcore scheduler`` processes for the integration tests: start, stop, kill, clean up.

Design note. Each scheduler starts in a session of its own (``start_new_session``). The task
processes it forks move to process groups of their own (``setpgid``) but cannot leave the
session, so every process a scheduler started, the orphans of a ``kill -9`` included, is found
through ``/proc/<pid>/stat`` and killed by pid when the test ends. A scheduler writes its
output to files, never to a pipe nobody reads (it logs a line per task and would block on a
full pipe). Nothing here measures time: the deadlines only turn a hang into a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Small intervals so that a restarted scheduler notices dead schedulers and dead task
# processes within seconds (the defaults are tens of seconds to minutes).
FAST_SCHEDULER: Mapping[str, str] = {
    "DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.05",
    "DAGCORE__SCHEDULER__JOB_HEARTBEAT_SEC": "0.5",
    "DAGCORE__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "5",
    "DAGCORE__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "0.5",
    "DAGCORE__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "5",
    "DAGCORE__SCHEDULER__ZOMBIE_DETECTION_INTERVAL": "1",
    "DAGCORE__CORE__KILLED_TASK_CLEANUP_TIME": "2",
}


def dagcore_env(home: Path, *, db_url: str | None = None, dags_folder: Path | None = None,
                **extra: str) -> dict[str, str]:
    """This process's environment without any ``DAGCORE__`` setting, plus ``DAGCORE_HOME``,
    the database, the DAG folder, :data:`FAST_SCHEDULER` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    env.update(FAST_SCHEDULER)
    if db_url is not None:
        env["DAGCORE__DATABASE__SQL_ALCHEMY_CONN"] = db_url
    if dags_folder is not None:
        env["DAGCORE__CORE__DAGS_FOLDER"] = str(dags_folder)
    env.update(extra)
    return env


def run_cli(env: Mapping[str, str], *args: str,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m dagcore ARGS`` to its end, output captured."""
    return subprocess.run([sys.executable, "-m", "dagcore", *args], env=dict(env), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          check=False)


class DagcoreProcess:
    """A long-running ``python -m dagcore ARGS`` in a session of its own.

    Args:
        env: its environment.
        args: the command line after ``python -m dagcore``.
        logs: the folder for its ``<name>.out`` and ``<name>.err`` files.
        name: the files' stem (unique within ``logs``).
    """

    def __init__(self, env: Mapping[str, str], args: Iterable[str], *, logs: Path,
                 name: str) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path = logs / f"{name}.out"
        self.err_path = logs / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "dagcore", *args],
                                         env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True)
        self.pid = self.proc.pid  # also its session id

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process itself (not to its tasks), if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def kill9(self) -> int:
        """SIGKILL the process itself (its tasks keep running) and reap it."""
        self.signal(signal.SIGKILL)
        return self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, and the exit code once it exited (SIGKILL after ``timeout``: a failure
        of the test follows, as the code is then -9)."""
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def describe(self) -> str:
        """The exit code and the tail of its output, for assertion messages."""
        tail = "\n".join(self.stderr.splitlines()[-30:])
        return f"pid {self.pid}, exit code {self.proc.poll()}; stderr tail:\n{tail}"


def session_pids(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        # After the command: state, ppid, pgrp, session (proc(5)).
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def socket_inodes(pid: int) -> set[str]:
    """The sockets process ``pid`` holds open (``socket:[<inode>]``; a shared socket has the
    same inode in every process that holds it)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


def pids_with_env(name: str, value: str) -> list[int]:
    """The live processes whose environment holds ``name=value``.

    ``/proc/<pid>/environ`` is the environment a process was started (``exec``) with, which
    its forks keep and its children inherit unless a parent filtered it: a unique value set
    in a scheduler's environment marks every worker, task and background child it started,
    whatever session or process group they moved to. Zombies show an empty environment.
    """
    needle = f"{name}={value}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                variables = f.read().split(b"\0")
        except OSError:  # it ended meanwhile, or is not ours to read
            continue
        if needle in variables:
            pids.append(int(entry))
    return pids


def command_lines(pids: Iterable[int]) -> dict[int, str]:
    """pid -> command line, for assertion messages (``""`` if it ended meanwhile)."""
    lines = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                lines[pid] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            lines[pid] = ""
    return lines


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL each of ``pids`` (processes the test started, found by pid), if still there."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def open_by(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (one of its ``/proc/<pid>/fd`` links to it)."""
    target = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def posix_locks(path: Path) -> list[tuple[int, str, int, int | None]]:
    """The POSIX (``fcntl``) locks held on ``path``'s inode: ``(pid, "READ" or "WRITE",
    first byte, last byte or None for "to the end of file")``, from ``/proc/locks``.

    A line of ``/proc/locks`` (proc(5)) reads ``1: POSIX  ADVISORY  READ 4285 fd:01:1234 128
    128``: kind, mandatory or advisory, mode, pid, ``major:minor:inode`` of the file (the
    device numbers in hex), first and last byte. Waiters (``1: -> POSIX ...``) hold nothing
    and are skipped, as are ``flock`` and open-file-description locks (which SQLite does not
    use, and which show pid -1).
    """
    st = os.stat(path)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    locks = []
    with open("/proc/locks", encoding="ascii") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 8 or fields[1] != "POSIX":
                continue
            mode, pid, device, start, end = fields[3:8]
            if device != inode:
                continue
            locks.append((int(pid), mode, int(start), None if end == "EOF" else int(end)))
    return locks


def reap_sessions(processes: Iterable[DagcoreProcess], *, grace: float = 30) -> list[int]:
    """End every process of the sessions of ``processes``: wait ``grace`` seconds for them to
    finish by themselves (orphaned tasks), then SIGKILL each by pid.

    Returns:
        The pids that had to be killed.
    """
    processes = list(processes)
    for process in processes:
        if process.alive():
            process.proc.kill()
        process.proc.wait()
    deadline = time.monotonic() + grace
    while True:
        left = [pid for p in processes for pid in session_pids(p.pid)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float,
             watch: Iterable[DagcoreProcess] = (), interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy and return it.

    Raises:
        AssertionError: ``timeout`` seconds passed, or a watched process exited meanwhile
            (both name ``what`` and the processes' output).
    """
    watch = list(watch)
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        dead = [p for p in watch if not p.alive()]
        if dead:
            raise AssertionError(f"waiting for {what}: the process exited: "
                                 + "; ".join(p.describe() for p in dead))
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; "
                                 + "; ".join(p.describe() for p in watch))
        time.sleep(interval)
