"""Shared fixtures for dagcore's pytest suite.

The cache tests need three seams that the package itself does not provide: a clock that only moves
when a test says so, a recorder for ``on_evict`` calls, and a way to call code that might deadlock
without hanging the whole run. Hypothesis is made deterministic here (``derandomize``, no example
database) so that a run is repeatable and leaves no files behind; set
``DAGCORE_HYPOTHESIS_PROFILE=explore`` to search with fresh random seeds instead.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import settings

settings.register_profile("dagcore", deadline=None, derandomize=True, database=None)
settings.register_profile("explore", deadline=None, database=None, max_examples=2000)
settings.load_profile(os.environ.get("DAGCORE_HYPOTHESIS_PROFILE", "dagcore"))

T = TypeVar("T")

POLICIES = ("lru", "tinylfu")

# Generous: these timeouts only turn a deadlock into a failure; they never measure speed.
HANG_TIMEOUT_S = 20.0


class FakeClock:
    """A manual clock to pass as ``VersionCache(clock=...)``.

    Time starts at ``start`` and moves only through :meth:`advance` or :meth:`set`.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self) -> float:
        with self._lock:
            self.calls += 1
            return self._now

    @property
    def now(self) -> float:
        """The current time, without counting as a call."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Moves time forward by ``seconds`` (never backwards: the default clock is monotonic)."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back {seconds} s")
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        """Moves time forward to the absolute instant ``now``."""
        self.advance(now - self._now)


class EvictionLog:
    """An ``on_evict`` callback that records every ``(key, value, reason)`` call, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[Any, Any, str]] = []

    def __call__(self, key: Any, value: Any, reason: str) -> None:
        with self._lock:
            self.events.append((key, value, reason))

    def take(self) -> list[tuple[Any, Any, str]]:
        """Returns the events recorded so far and forgets them."""
        with self._lock:
            events, self.events = self.events, []
        return events

    def reasons(self) -> list[str]:
        """The reasons of the recorded events, in call order."""
        return [reason for _, _, reason in self.events]

    def keys(self, reason: str | None = None) -> list[Any]:
        """The keys of the recorded events (optionally only those with ``reason``), in call order."""
        return [key for key, _, r in self.events if reason is None or r == reason]


@pytest.fixture(params=POLICIES)
def policy(request: pytest.FixtureRequest) -> str:
    """Every eviction policy: the contract tests must pass against each of them."""
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t = 0."""
    return FakeClock()


@pytest.fixture
def evict_log() -> EvictionLog:
    """A fresh ``on_evict`` recorder."""
    return EvictionLog()


@pytest.fixture
def call_without_hanging() -> Callable[..., Any]:
    """Runs ``fn(*args)`` in a helper thread and fails the test if it does not finish.

    Returns what ``fn`` returned and re-raises what it raised. Used wherever a bug would show as a
    deadlock (user code calling back into the cache while a C++ lock is held).
    """

    def run(fn: Callable[..., T], *args: Any, timeout: float = HANG_TIMEOUT_S) -> T:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name=f"hang-guard-{getattr(fn, '__name__', fn)}", daemon=True)
        # A deadlock with the GIL held would stop join() from ever timing out: the watchdog (a C
        # thread) then dumps every thread's stack and ends the run instead of hanging it.
        faulthandler.dump_traceback_later(timeout + 30, exit=True)
        try:
            thread.start()
            thread.join(timeout)
        finally:
            faulthandler.cancel_dump_traceback_later()
        if thread.is_alive():
            pytest.fail(f"{getattr(fn, '__name__', fn)} did not finish within {timeout} s: deadlock?")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return run


@pytest.fixture
def capture_unraisable() -> Callable[[], contextlib.AbstractContextManager[list[Any]]]:
    """A context manager that collects what reaches ``sys.unraisablehook`` while it is open.

    Installed and removed inside the test body (not as a fixture teardown) so that it nests
    cleanly inside pytest's own unraisable-exception hook.
    """

    @contextlib.contextmanager
    def capture() -> Iterator[list[Any]]:
        seen: list[Any] = []
        previous = sys.unraisablehook

        def hook(args: Any) -> None:
            seen.append(args)

        sys.unraisablehook = hook
        try:
            yield seen
        finally:
            sys.unraisablehook = previous

    return capture
