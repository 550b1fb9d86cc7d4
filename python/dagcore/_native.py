"""Access to the compiled core, ``dagcore._core``, with a build hint when it is missing."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["core"]

_HINT = (
    "dagcore's compiled core (dagcore._core) could not be imported: {error}.\n"
    "Build it from the repository root with `make test` (sets up .venv and builds in place), or\n"
    "install the package with `python -m pip install --no-build-isolation .` (needs cmake,\n"
    "a C++20 compiler, pybind11-dev and robin-map-dev; see README.md)."
)


def _load() -> ModuleType:
    try:
        from dagcore import _core
    except ImportError as error:
        raise ImportError(_HINT.format(error=error), name="dagcore._core") from error
    return _core


if TYPE_CHECKING:
    # The type checker reads the module's stub (_core.pyi), so `core.X` names its classes.
    from dagcore import _core as core
else:
    core = _load()
