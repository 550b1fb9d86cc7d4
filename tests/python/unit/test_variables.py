"""``Variable.get`` from the environment, as Airflow's: airflow/models/variable.py ``get``
(KeyError "Variable <key> does not exist", ``default_var``, ``deserialize_json``),
airflow/secrets/environment_variables.py (``AIRFLOW_VAR_`` + the key upper-cased); the cases
follow tests/models/test_variable.py."""

from __future__ import annotations

import pytest

from dagcore.variables import Variable, VariableNotFound


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith(("AIRFLOW_VAR_", "DAGCORE_VAR_"))]:
        monkeypatch.delenv(name)


def test_airflow_env_var_with_the_key_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_MY_KEY", "value")
    assert Variable.get("my_key") == "value"
    assert Variable.get("My_Key") == "value"


def test_dagcore_env_var_wins_over_airflow_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_KEY", "airflow")
    monkeypatch.setenv("DAGCORE_VAR_KEY", "dagcore")
    assert Variable.get("key") == "dagcore"
    monkeypatch.setenv("DAGCORE_VAR_KEY", "")  # set, even empty
    assert Variable.get("key") == ""


def test_missing_variable_raises_key_error_with_airflow_s_message() -> None:
    with pytest.raises(KeyError) as info:
        Variable.get("nope")
    assert isinstance(info.value, VariableNotFound) and str(info.value) == \
        "Variable nope does not exist"


def test_defaults_airflow_2_and_3_spellings() -> None:
    assert Variable.get("nope", default_var=None) is None
    assert Variable.get("nope", "fallback") == "fallback"
    assert Variable.get("nope", default={"a": 1}) == {"a": 1}
    with pytest.raises(TypeError, match="not both"):
        Variable.get("nope", default_var=1, default=2)


def test_deserialize_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_CFG", '{"a": [1, 2], "b": null}')
    assert Variable.get("cfg", deserialize_json=True) == {"a": [1, 2], "b": None}
    assert Variable.get("cfg") == '{"a": [1, 2], "b": null}'
    # The default is returned as given, not parsed (Airflow's get).
    assert Variable.get("missing", default_var="[1]", deserialize_json=True) == "[1]"


def test_bad_json_names_the_key_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_SECRET", "{hunter2")
    with pytest.raises(ValueError, match="Variable secret is not valid JSON") as info:
        Variable.get("secret", deserialize_json=True)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("key", ["", None, 3])
def test_bad_keys_are_refused(key: object) -> None:
    with pytest.raises(ValueError, match="variable key must be a non-empty string"):
        Variable.get(key)  # type: ignore[arg-type]
