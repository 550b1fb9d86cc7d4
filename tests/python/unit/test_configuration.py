"""dagcore.configuration: defaults, dagcore.cfg, DAGCORE__SECTION__KEY, typed getters, conf_vars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dagcore.configuration import (
    ConfigError,
    ConfigOptionNotFound,
    DagcoreConfigParser,
    conf,
    conf_vars,
    dagcore_home,
    env_var_name,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGCORE_HOME and no DAGCORE__* variables from the environment running the tests."""
    for name in list(os.environ):
        if name.startswith("DAGCORE__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def parser(home: Path) -> DagcoreConfigParser:
    return DagcoreConfigParser()


@pytest.mark.parametrize(
    ("section", "key", "getter", "expected"),
    [
        ("core", "dagbag_import_timeout", "getfloat", 30.0),
        ("core", "dags_are_paused_at_creation", "getboolean", True),
        ("core", "default_timezone", "get", "utc"),
        ("core", "min_serialized_dag_update_interval", "getint", 30),
        ("core", "dag_ignore_file_syntax", "get", "glob"),
        ("core", "load_examples", "getboolean", False),
        ("scheduler", "create_cron_data_intervals", "getboolean", False),
        ("scheduler", "catchup_by_default", "getboolean", False),
        ("scheduler", "dag_version_cache_bytes", "getbytes", 1 << 30),
        ("api", "dag_version_cache_size", "getint", 4096),
        ("api", "dag_version_cache_bytes", "getbytes", 512 << 20),
        ("api", "dag_version_cache_policy", "get", "tinylfu"),
        ("metrics", "statsd_on", "getboolean", False),
        ("metrics", "statsd_host", "get", "localhost"),
        ("metrics", "statsd_port", "getint", 8125),
        ("metrics", "statsd_prefix", "get", "dagcore"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_defaults(parser: DagcoreConfigParser, section: str, key: str, getter: str, expected: object) -> None:
    assert getattr(parser, getter)(section, key) == expected


def test_paths_default_to_dagcore_home(parser: DagcoreConfigParser, home: Path) -> None:
    assert parser.get("core", "dags_folder") == f"{home}/dags"
    assert parser.get("database", "sql_alchemy_conn") == f"sqlite:///{home}/dagcore.db"


def test_dagcore_home_defaults_to_tilde_dagcore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGCORE_HOME", raising=False)
    assert dagcore_home() == Path("~/dagcore").expanduser()
    monkeypatch.setenv("DAGCORE_HOME", "~/elsewhere")
    assert dagcore_home() == Path("~/elsewhere").expanduser()


def test_environment_overrides_file_which_overrides_defaults(
    parser: DagcoreConfigParser, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "dagcore.cfg").write_text("[metrics]\nstatsd_port = 9125\nstatsd_host = stats.local\n[custom]\nKey = v\n")
    assert parser.getint("metrics", "statsd_port") == 9125
    assert parser.get("metrics", "statsd_host") == "stats.local"
    assert parser.get("CUSTOM", "key") == "v"  # names are case-insensitive
    monkeypatch.setenv("DAGCORE__METRICS__STATSD_PORT", "10125")
    assert parser.getint("metrics", "statsd_port") == 10125
    assert parser.get("metrics", "statsd_host") == "stats.local"


def test_environment_sets_options_without_defaults(parser: DagcoreConfigParser, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_var_name("database", "sql_alchemy_conn") == "DAGCORE__DATABASE__SQL_ALCHEMY_CONN"
    monkeypatch.setenv("DAGCORE__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://u@127.0.0.1/db")
    monkeypatch.setenv("DAGCORE__NEW_SECTION__NEW_KEY", "x")
    assert parser.get("database", "sql_alchemy_conn") == "postgresql+psycopg2://u@127.0.0.1/db"
    assert parser.get("new_section", "new_key") == "x"
    assert parser.getsection("new_section") == {"new_key": "x"}


def test_config_file_is_reread_when_it_changes(parser: DagcoreConfigParser, home: Path) -> None:
    cfg = home / "dagcore.cfg"
    cfg.write_text("[core]\nload_examples = true\n")
    assert parser.getboolean("core", "load_examples") is True
    cfg.write_text("[core]\nload_examples = false\n# changed\n")
    os.utime(cfg, ns=(cfg.stat().st_atime_ns, cfg.stat().st_mtime_ns + 10**9))
    assert parser.getboolean("core", "load_examples") is False
    cfg.unlink()
    assert parser.getboolean("core", "load_examples") is False  # the default again


def test_unparsable_config_file_is_a_config_error(parser: DagcoreConfigParser, home: Path) -> None:
    (home / "dagcore.cfg").write_text("no section header\n")
    with pytest.raises(ConfigError, match="dagcore.cfg"):
        parser.get("core", "load_examples")


@pytest.mark.parametrize(
    ("getter", "value", "kind"),
    [
        ("getint", "eighty", "int"),
        ("getint", "8.5", "int"),
        ("getfloat", "fast", "float"),
        ("getfloat", "nan", "float"),
        ("getboolean", "maybe", "bool"),
        ("getbytes", "12 parsecs", "a byte size"),
        ("getbytes", "-1", "a byte size"),
    ],
)
def test_typed_getter_errors_name_section_key_and_value(
    parser: DagcoreConfigParser, monkeypatch: pytest.MonkeyPatch, getter: str, value: str, kind: str
) -> None:
    monkeypatch.setenv("DAGCORE__METRICS__STATSD_PORT", value)
    with pytest.raises(ConfigError) as info:
        getattr(parser, getter)("metrics", "statsd_port")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"to {kind}" in message and '"statsd_port" key' in message and '"metrics" section' in message
    assert f'Current value: "{value}"' in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("True", True), ("false", False), ("1", True), ("0", False), ("YES", True), ("off", False), (" on ", True)],
)
def test_boolean_spellings(parser: DagcoreConfigParser, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("DAGCORE__CORE__LOAD_EXAMPLES", value)
    assert parser.getboolean("core", "load_examples") is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1048576", 1 << 20), ("512 MiB", 512 << 20), ("1GiB", 1 << 30), ("10 MB", 10**7), ("1.5k", 1536)],
)
def test_byte_sizes(parser: DagcoreConfigParser, monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("DAGCORE__API__DAG_VERSION_CACHE_BYTES", value)
    assert parser.getbytes("api", "dag_version_cache_bytes") == expected


def test_missing_option_raises_lookup_error_unless_fallback(parser: DagcoreConfigParser) -> None:
    with pytest.raises(ConfigOptionNotFound, match=r"\[core/no_such_key\].*DAGCORE__CORE__NO_SUCH_KEY") as info:
        parser.get("core", "no_such_key")
    assert isinstance(info.value, LookupError)
    with pytest.raises(ConfigOptionNotFound):
        parser.getint("core", "no_such_key")
    assert parser.get("core", "no_such_key", fallback=None) is None
    assert parser.getint("core", "no_such_key", fallback=7) == 7
    assert not parser.has_option("core", "no_such_key") and parser.has_option("core", "load_examples")


def test_conf_vars_overrides_everything_and_restores(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE__METRICS__STATSD_PORT", "1")
    (home / "dagcore.cfg").write_text("[metrics]\nstatsd_host = from-file\n")
    with conf_vars({("metrics", "statsd_port"): 2, ("core", "load_examples"): True}):
        assert conf.getint("metrics", "statsd_port") == 2
        assert conf.getboolean("core", "load_examples") is True
        with conf_vars({("metrics", "statsd_port"): 3, ("metrics", "statsd_host"): None}):
            assert conf.getint("metrics", "statsd_port") == 3
            assert conf.get("metrics", "statsd_host") == "localhost"  # None: as if unset -> default
        assert conf.getint("metrics", "statsd_port") == 2
        assert conf.get("metrics", "statsd_host") == "from-file"
    assert conf.getint("metrics", "statsd_port") == 1
    assert conf.getboolean("core", "load_examples") is False


def test_conf_vars_restores_after_an_exception(home: Path) -> None:
    with pytest.raises(RuntimeError), conf_vars({("core", "load_examples"): "true"}):
        raise RuntimeError("boom")
    assert conf.getboolean("core", "load_examples") is False


def test_as_dict_lists_defaults_file_and_environment(
    parser: DagcoreConfigParser, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "dagcore.cfg").write_text("[extra]\nalpha = 1\n")
    monkeypatch.setenv("DAGCORE__EXTRA__BETA", "2")
    everything = parser.as_dict()
    assert everything["extra"] == {"alpha": "1", "beta": "2"}
    assert everything["core"]["dags_folder"] == f"{home}/dags"
    assert {"core", "database", "scheduler", "api", "metrics"} <= set(everything)
