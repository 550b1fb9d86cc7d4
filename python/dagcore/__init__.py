"""dagcore: an Airflow-compatible workflow orchestration core whose hot paths are C++.

The authoring API (``DAG``, ``dag``, ``task``, ``Param``) arrives with later issues; today the
package provides the DAG-version cache, :mod:`dagcore.cache`.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
