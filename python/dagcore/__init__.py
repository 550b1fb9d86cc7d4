"""dagcore: an Airflow-compatible workflow orchestration core whose hot paths are C++.

``import dagcore`` stays cheap (no Jinja, no native module): :func:`dag` is imported eagerly
(the submodule ``dagcore.dag`` would otherwise shadow the decorator once imported, and that
module defers its heavy imports), :func:`task` and :class:`Param` lazily. The engines live in
:mod:`dagcore.cache`, :mod:`dagcore.timetables`,
:mod:`dagcore.run_state` and :mod:`dagcore.backfill`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["DAG", "Param", "__version__", "dag", "task"]

__version__ = "0.1.0"

# After the submodule's import (which sets the package attribute ``dag`` to the module).
from dagcore.dag import DAG, dag  # noqa: E402

_LAZY = {"task": "dagcore.decorators", "Param": "dagcore.params"}

if TYPE_CHECKING:
    from dagcore.decorators import task
    from dagcore.params import Param


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dagcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
