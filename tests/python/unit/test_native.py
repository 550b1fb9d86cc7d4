"""A missing or broken compiled core fails with a hint on how to build it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_missing_core_explains_how_to_build() -> None:
    # A fresh interpreter where importing dagcore._core fails, as on a checkout never built.
    code = textwrap.dedent(
        """
        import sys
        sys.modules["dagcore._core"] = None  # makes `from dagcore import _core` raise ImportError
        try:
            import dagcore.cache
        except ImportError as error:
            print(type(error).__name__, error.name)
            print(error)
        else:
            raise SystemExit("imported without the core")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.startswith("ImportError dagcore._core")
    assert "make test" in result.stdout
    assert "pip install --no-build-isolation ." in result.stdout


def test_package_imports_without_touching_the_core() -> None:
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.modules['dagcore._core'] = None; import dagcore; print(dagcore.__version__)"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout.strip() == "0.1.0"
