"""dagcore.configuration: defaults, dagcore.cfg, DAGCORE__SECTION__KEY, typed getters, conf_vars."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_a_rewritten_file_with_the_same_mtime_is_reread_when_its_size_changes(
    parser: DagcoreConfigParser, home: Path
) -> None:
    """The cache is keyed on the file's stat identity, not only its mtime: a rewrite within the
    filesystem's timestamp granularity is still seen by the next lookup."""
    cfg = home / "dagcore.cfg"
    cfg.write_text("[core]\nparallelism = 7\n")
    stamp = cfg.stat().st_mtime_ns
    assert parser.getint("core", "parallelism") == 7
    cfg.write_text("[core]\nparallelism = 12345\n")
    os.utime(cfg, ns=(stamp, stamp))
    assert parser.getint("core", "parallelism") == 12345


def test_a_file_replaced_by_another_is_reread(parser: DagcoreConfigParser, home: Path) -> None:
    """Same size, same mtime, another inode (an editor's write-and-rename): reread."""
    cfg = home / "dagcore.cfg"
    cfg.write_text("[core]\nparallelism = 7\n")
    stamp = cfg.stat().st_mtime_ns
    assert parser.getint("core", "parallelism") == 7
    other = home / "dagcore.cfg.new"
    other.write_text("[core]\nparallelism = 8\n")
    os.utime(other, ns=(stamp, stamp))
    keep = home / "keep"  # hold the old inode so that the new file cannot reuse its number
    os.link(cfg, keep)
    os.replace(other, cfg)
    assert parser.getint("core", "parallelism") == 8


def test_every_lookup_sees_the_current_home_and_file(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached home and file follow DAGCORE_HOME, HOME and the file, lookup by lookup, in
    any order of changes (the module-wide conf as well as a parser of its own)."""
    other = tmp_path_factory.mktemp("other_home")
    (other / "dagcore.cfg").write_text("[core]\nparallelism = 3\n")
    for parser in (DagcoreConfigParser(), conf):
        assert parser.get("core", "dags_folder") == f"{home}/dags"
        assert parser.getint("core", "parallelism") == 32
        monkeypatch.setenv("DAGCORE_HOME", str(other))
        assert dagcore_home() == other
        assert parser.get("core", "dags_folder") == f"{other}/dags"
        assert parser.getint("core", "parallelism") == 3
        monkeypatch.setenv("DAGCORE_HOME", str(home))
        assert parser.getint("core", "parallelism") == 32
        (home / "dagcore.cfg").write_text("[core]\nparallelism = 4\n")
        assert parser.getint("core", "parallelism") == 4
        (home / "dagcore.cfg").unlink()
        assert parser.getint("core", "parallelism") == 32
        monkeypatch.delenv("DAGCORE_HOME")
        monkeypatch.setenv("HOME", str(other))  # ~ follows HOME
        assert dagcore_home() == other / "dagcore"
        assert parser.get("core", "dags_folder") == f"{other}/dagcore/dags"
        monkeypatch.setenv("HOME", str(home))
        assert dagcore_home() == home / "dagcore"
        monkeypatch.setenv("DAGCORE_HOME", str(home))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["home", "write", "delete", "env"]),
                                st.integers(0, 2), st.integers(0, 99)), max_size=12))
def test_cached_lookups_match_an_uncached_parse(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int, int]]
) -> None:
    """After any sequence of changes (home switched, file written or deleted, variable set),
    every lookup equals what a fresh parser, with no cache, answers."""
    homes = [tmp_path_factory.mktemp("h") for _ in range(3)]
    cached = DagcoreConfigParser()
    saved = {name: os.environ.get(name) for name in ("DAGCORE_HOME", "DAGCORE__CORE__PARALLELISM")}
    try:
        os.environ["DAGCORE_HOME"] = str(homes[0])
        os.environ.pop("DAGCORE__CORE__PARALLELISM", None)
        stamp = time.time_ns()
        for action, which, value in steps:
            if action == "home":
                os.environ["DAGCORE_HOME"] = str(homes[which])
            elif action == "write":
                cfg = homes[which] / "dagcore.cfg"
                cfg.write_text(f"[core]\nparallelism = {value}\nmax_map_length = {value * 7}\n")
                # Distinct mtimes, as a filesystem with fine timestamps gives (a same-size
                # rewrite within one timestamp tick is the one change a stat cannot see).
                stamp += 1000
                os.utime(cfg, ns=(stamp, stamp))
            elif action == "delete":
                (homes[which] / "dagcore.cfg").unlink(missing_ok=True)
            elif value % 2:
                os.environ["DAGCORE__CORE__PARALLELISM"] = str(value)
            else:
                os.environ.pop("DAGCORE__CORE__PARALLELISM", None)
            fresh = DagcoreConfigParser()
            for key in ("parallelism", "max_map_length", "dags_folder"):
                assert cached.get("core", key) == fresh.get("core", key)
            assert cached.get("core", "dags_folder") == f"{os.environ['DAGCORE_HOME']}/dags"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
