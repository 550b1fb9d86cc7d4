"""The examples run as a user would run them: a real interpreter in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

pytestmark = pytest.mark.integration


def test_cache_example_loads_once_and_invalidates_by_dag(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "cache_example.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "8 concurrent requests for v7 -> 1 load" in out
    assert "cached 10 versions" in out
    assert "dag_1 changed: dropped 3 of its versions" in out
    assert out.count("(invalidated)") == 3
    assert "invalidations=3" in out and "size=7" in out
