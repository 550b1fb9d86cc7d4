"""``Variable``: Airflow's key/value settings, read from the environment.

``Variable.get("foo")`` reads ``DAGCORE_VAR_FOO`` or, when that is not set, ``AIRFLOW_VAR_FOO``
(the key upper-cased, as Airflow's ``EnvironmentVariablesBackend`` does). dagcore's own name wins
so that a deployment can override a value an Airflow-era environment still sets; a variable set
to the empty string is set (to ``""``).

Design note. There is no ``variable`` table in this change: the environment is the only source,
so ``Variable.set``/``delete`` and the REST and CLI variable commands do not exist yet. The
method and argument names are Airflow's: ``Variable.get(key, default_var=...,
deserialize_json=...)`` (Airflow 2, ``airflow/models/variable.py``) and ``default=`` (Airflow 3,
``airflow.sdk.Variable``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from dagcore.exceptions import DagcoreException

__all__ = ["AIRFLOW_VAR_PREFIX", "DAGCORE_VAR_PREFIX", "Variable", "VariableNotFound"]

DAGCORE_VAR_PREFIX: Final = "DAGCORE_VAR_"
AIRFLOW_VAR_PREFIX: Final = "AIRFLOW_VAR_"

_NO_DEFAULT: Final = object()


class VariableNotFound(DagcoreException, KeyError):
    """No variable has the key and no default was given; a ``KeyError``, as Airflow's
    ``Variable.get`` raises (``KeyError(f"Variable {key} does not exist")``)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Variable {key} does not exist")
        self.key = key

    def __str__(self) -> str:  # KeyError's str() would quote the message
        return str(self.args[0])


def env_var_names(key: str) -> tuple[str, str]:
    """The environment variables read for ``key``, the first found wins."""
    return DAGCORE_VAR_PREFIX + key.upper(), AIRFLOW_VAR_PREFIX + key.upper()


def _lookup(key: str) -> str | None:
    for name in env_var_names(key):
        value = os.environ.get(name)
        if value is not None:
            return value
    return None


class Variable:
    """Airflow's ``Variable`` (``airflow.models.Variable``, ``airflow.sdk.Variable``), read-only."""

    @classmethod
    def get(cls, key: str, default_var: Any = _NO_DEFAULT, deserialize_json: bool = False, *,
            default: Any = _NO_DEFAULT) -> Any:
        """The value of variable ``key`` (a string; parsed JSON with ``deserialize_json``).

        Args:
            key: the variable's key (case-insensitive: it is upper-cased for the environment).
            default_var: returned when the variable is not set (Airflow 2's name).
            deserialize_json: parse the value as JSON.
            default: Airflow 3's name for ``default_var``.

        Raises:
            VariableNotFound: (a ``KeyError``) not set, and no default given.
            ValueError: ``key`` is not a non-empty string; the value is not JSON with
                ``deserialize_json`` (the message names the key, not the value: it may be
                secret).
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"a variable key must be a non-empty string, got {key!r}")
        if default is not _NO_DEFAULT:
            if default_var is not _NO_DEFAULT:
                raise TypeError("give either default_var (Airflow 2) or default (Airflow 3), "
                                "not both")
            default_var = default
        value = _lookup(key)
        if value is None:
            if default_var is _NO_DEFAULT:
                raise VariableNotFound(key)
            return default_var
        if not deserialize_json:
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Variable {key} is not valid JSON: {exc.msg} at position "
                             f"{exc.pos}") from None
