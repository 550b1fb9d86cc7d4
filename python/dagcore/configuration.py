"""dagcore's configuration: defaults, ``$DAGCORE_HOME/dagcore.cfg`` and ``DAGCORE__SECTION__KEY``.

Design note. Options are looked up in this order, first hit wins (as Airflow's
``AIRFLOW__SECTION__KEY`` scheme):

1. overrides installed by :meth:`DagcoreConfigParser.overridden` / :func:`conf_vars` (tests);
2. the environment variable ``DAGCORE__{SECTION}__{KEY}`` (upper case);
3. ``$DAGCORE_HOME/dagcore.cfg`` (INI syntax, no interpolation);
4. the built-in :data:`DEFAULTS`, where ``{DAGCORE_HOME}`` expands to the home directory.

``DAGCORE_HOME`` (default ``~/dagcore``) and the file are read at lookup time, not at import, so
a process (or a test) that changes ``DAGCORE_HOME`` sees the new home at once; the file is parsed
again only when its path or its ``os.stat`` identity (modification time, size, inode) changes.
Section and key names are case-insensitive. Values are strings; the typed getters convert and
raise :class:`ConfigError` (a ``ValueError``) naming section, key and value when a value does not
convert.

Lookups are cheap (a LocalExecutor worker makes several per try, docs/performance.md 3): the home
``Path`` is cached keyed on the raw values of ``DAGCORE_HOME`` and ``HOME`` (and the uid when
``HOME`` is unset: all that ``expanduser`` reads besides the password database), so it is
rebuilt only when one of them changes, and the file costs one ``os.stat`` of a cached path
string per lookup: a changed variable or file is still seen by the very next lookup.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULTS",
    "ConfigError",
    "ConfigOptionNotFound",
    "DagcoreConfigParser",
    "conf",
    "conf_vars",
    "config_file",
    "dagcore_home",
    "env_var_name",
]

HOME_ENV_VAR: Final = "DAGCORE_HOME"
CONFIG_FILE_NAME: Final = "dagcore.cfg"
ENV_PREFIX: Final = "DAGCORE__"

# Built-in defaults. Strings, as they would be written in dagcore.cfg; "{DAGCORE_HOME}" expands.
DEFAULTS: Final[Mapping[str, Mapping[str, str]]] = {
    "core": {
        "dags_folder": "{DAGCORE_HOME}/dags",
        # Where workers write the DAG versions' stored code to run it (dagcore.dag_code_store).
        "dag_code_cache_folder": "{DAGCORE_HOME}/dag_code_cache",
        "dagbag_import_timeout": "30.0",
        "dags_are_paused_at_creation": "True",
        "default_timezone": "utc",
        "min_serialized_dag_update_interval": "30",
        "dag_ignore_file_syntax": "glob",
        "load_examples": "False",
        "compress_serialized_dags": "False",
        "default_task_retries": "0",
        "default_task_retry_delay": "300",
        "max_task_retry_delay": "86400",
        "parallelism": "32",
        "executor": "LocalExecutor",
        "killed_task_cleanup_time": "60",
        # LocalExecutor: tries a worker process runs before it is replaced (Celery's
        # worker_max_tasks_per_child); 1 forks a fresh process for every try.
        "worker_max_tasks": "100",
        # DAG files (dagcore.dagbag.DagBag, docs/airflow-behaviour.md 1.2).
        "dag_discovery_safe_mode": "True",
        "dagbag_import_error_tracebacks": "True",
        "dagbag_import_error_traceback_depth": "2",
        # Unchanged Airflow DAG files: `import airflow...` resolves to dagcore while parsing.
        "dagbag_compat_airflow": "True",
        # Run ids: ".." forbidden unless allowed (docs/airflow-behaviour.md 2.9.7).
        "allow_double_dot_in_ids": "False",
        # The most items a task mapped over may return (docs/airflow-behaviour.md 3.10).
        "max_map_length": "1024",
    },
    "database": {
        "sql_alchemy_conn": "sqlite:///{DAGCORE_HOME}/dagcore.db",
        # dagcore's own: how long a SQLite connection waits for a lock before SQLITE_BUSY.
        "sqlite_busy_timeout": "30.0",
        "sql_alchemy_pool_pre_ping": "True",
    },
    "scheduler": {
        "create_cron_data_intervals": "False",
        "catchup_by_default": "False",
        "dag_version_cache_bytes": str(1 << 30),
        "allowed_run_id_pattern": r"^[A-Za-z0-9_.~:+-]+$",
        # The scheduler loop (dagcore.jobs.scheduler), Airflow's names where Airflow has one.
        "scheduler_idle_sleep_time": "1.0",
        "max_dagruns_to_create_per_loop": "10",
        # Airflow's default is 20; dagcore decides a batch in one C++ call, so batches are cheap.
        "max_dagruns_per_loop_to_schedule": "256",
        "max_tis_per_query": "512",
        "job_heartbeat_sec": "5.0",
        "scheduler_health_check_threshold": "30.0",
        # A running task instance whose heartbeat is older than this is failed (Airflow 3's
        # task_instance_heartbeat_timeout; a "zombie").
        "task_instance_heartbeat_timeout": "300.0",
        "task_instance_heartbeat_sec": "5.0",
        "zombie_detection_interval": "10.0",
        "task_queued_timeout": "600.0",
    },
    "dag_processor": {
        # Airflow 3's options (docs/airflow-behaviour.md 1.6): the DAG files are parsed by this
        # many child processes, and a child that spends longer than the timeout (seconds) on one
        # file is SIGKILLed; the file gets an import error. [core] dag_file_processor_timeout,
        # Airflow 2's name, wins when set.
        "parsing_processes": "2",
        "dag_file_processor_timeout": "50",
        # dagcore's: a sync writes the parsed DAGs this many per transaction, with one
        # multi-row INSERT per table (docs/performance.md 4); a batch that fails is written again
        # DAG by DAG, so one bad DAG costs only itself. 1: one transaction per DAG.
        "store_batch_size": "50",
    },
    "logging": {
        "base_log_folder": "{DAGCORE_HOME}/logs",
        "logging_level": "INFO",
        # A try's log stops growing at this many bytes, with a notice (0: no cap).
        "task_log_max_bytes": str(100 << 20),
    },
    "api": {
        "dag_version_cache_size": "4096",
        "dag_version_cache_bytes": str(512 << 20),
        "dag_version_cache_policy": "tinylfu",
        # Seconds from load after which a cached DAG version is reloaded; 0: no TTL.
        "dag_version_cache_ttl": "0",
        # The REST API server (dagcore.server). A request body longer than this is refused with
        # 413 before it is read whole (a byte size: 1048576, 1 MiB).
        "max_request_body_bytes": str(1 << 20),
        # Paging, Airflow's options: the largest `limit` honoured, and the `limit` of a v2
        # listing that gives none (v1's default is its spec's, 100).
        "maximum_page_limit": "100",
        "fallback_page_limit": "50",
        # The built web UI (a Vite dist directory) the server serves at /; empty: the package's
        # dagcore/server/static (docs/airflow-rest-api.md, "UI endpoints" 9).
        "ui_dir": "",
    },
    "api_auth": {
        # Airflow's options. Seconds a token from POST /auth/token stays valid. The signing
        # secret is [api_auth] jwt_secret (no default): unset, one is generated once into
        # $DAGCORE_HOME/jwt_secret (dagcore.api.tokens).
        "jwt_expiration_time": "86400",
    },
    "smtp": {
        # Airflow's SMTP options, used by EmailOperator (dagcore.operators.email,
        # docs/airflow-behaviour.md 8.12). smtp_user / smtp_password (no default) authenticate
        # when both are set; a connection named by the operator's conn_id overrides them.
        "smtp_host": "localhost",
        "smtp_starttls": "True",
        "smtp_ssl": "False",
        "smtp_port": "25",
        "smtp_mail_from": "airflow@example.com",
        "smtp_timeout": "30",
        "smtp_retry_limit": "5",
    },
    "operators": {
        # The queue of a task that names none (Airflow's option): the CeleryExecutor sends its
        # tries there, and `dagcore celery worker` listens there without --queues.
        "default_queue": "default",
    },
    "celery": {
        # The CeleryExecutor (dagcore.executors.celery, docs/deployment.md). Redis for both,
        # as redis://[:password@]host:port/db or rediss://.
        "broker_url": "redis://127.0.0.1:6379/0",
        "result_backend": "redis://127.0.0.1:6379/0",
        # Pool processes of a `dagcore celery worker` (Airflow's default), so tries at once.
        "worker_concurrency": "16",
        # Seconds a Redis connect or command may take before it counts as failed (the
        # executor's background thread then retries with backoff; the scheduler never waits).
        "operation_timeout": "1.0",
        # A message is acknowledged when its try ends (Airflow's). A worker holds up to
        # worker_prefetch_multiplier x concurrency unacknowledged messages, its running tries
        # included: with 1 (Airflow's) a worker whose every pool process just finished stops
        # taking messages until its acks go through, which stalled tries for 1-4 s in
        # benchmarks/celery_bench.py (queue latency p99 2.5 s); 2 lets it reserve the next try.
        "task_acks_late": "True",
        "worker_prefetch_multiplier": "2",
        # Seconds before Redis hands an unacknowledged message to another worker (Airflow's
        # 6 h: longer than a try may run; a second delivery of a running try claims nothing).
        "visibility_timeout": "21600",
        # The executor's background thread: seconds between two result fetches (one MGET)...
        "result_poll_interval": "0.05",
        # ... between two reads of the database states of the tries in flight (one query),
        # for the tries sent at least state_check_min_age seconds ago.
        "state_check_interval": "5.0",
        "state_check_min_age": "5.0",
        # A try still queued in the database this many seconds after its message was sent
        # is sent again (its message was lost with a Redis restart, or reserved by a worker
        # that died); after task_max_resends resends its workload ends failed, and the
        # scheduler fails or retries the try (Airflow's task_queued_timeout).
        "task_resend_timeout": "300.0",
        "task_max_resends": "2",
        # `dagcore celery worker` and `dagcore celery stop`: the worker's pid file.
        "worker_pid_file": "{DAGCORE_HOME}/dagcore-celery-worker.pid",
    },
    "metrics": {
        "statsd_on": "False",
        "statsd_host": "localhost",
        "statsd_port": "8125",
        "statsd_prefix": "dagcore",
    },
}

_BOOLEANS: Final = {
    "true": True, "t": True, "1": True, "yes": True, "y": True, "on": True,
    "false": False, "f": False, "0": False, "no": False, "n": False, "off": False,
}

# Binary (KiB = 1024) and decimal (KB = 1000) units for :meth:`DagcoreConfigParser.getbytes`.
_BYTE_UNITS: Final = {
    "": 1, "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_BYTES_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


class ConfigError(ValueError):
    """A configuration value is missing or does not have the type its option needs."""


class ConfigOptionNotFound(ConfigError, LookupError):
    """An option is set nowhere: not overridden, not in the environment, file or defaults."""


_NOT_SET: Final[Any] = object()


class _Home:
    """:func:`dagcore_home` and the paths derived from it, for one value of the variables they
    depend on (``Path`` objects are immutable, so they are shared)."""

    __slots__ = ("key", "home", "home_str", "cfg", "cfg_str")

    def __init__(self, key: tuple[str | None, str | None, int | None]) -> None:
        self.key = key
        self.home = Path(key[0] or "~/dagcore").expanduser()
        self.home_str = str(self.home)
        self.cfg = self.home / CONFIG_FILE_NAME
        self.cfg_str = str(self.cfg)


_home_cache: _Home | None = None


def _home() -> _Home:
    """The cached :class:`_Home` for the current ``DAGCORE_HOME`` and ``HOME`` (and uid, which
    ``expanduser`` reads without ``HOME``), rebuilt when one changed (a reassignment of the
    module global is atomic, so threads may race here harmlessly)."""
    global _home_cache
    environ = os.environ
    user_home = environ.get("HOME")
    key = (environ.get(HOME_ENV_VAR), user_home, os.getuid() if user_home is None else None)
    cached = _home_cache
    if cached is None or cached.key != key:
        cached = _home_cache = _Home(key)
    return cached


def dagcore_home() -> Path:
    """The directory that holds ``dagcore.cfg``, the SQLite database and ``dags/``.

    Returns:
        ``$DAGCORE_HOME`` with ``~`` expanded, or ``~/dagcore`` when the variable is unset or empty.
    """
    return _home().home


def config_file() -> Path:
    """The path of ``dagcore.cfg`` in :func:`dagcore_home` (which need not exist)."""
    return _home().cfg


def env_var_name(section: str, key: str) -> str:
    """The environment variable that overrides ``[section] key``: ``DAGCORE__SECTION__KEY``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def _norm(section: str, key: str) -> tuple[str, str]:
    return section.strip().lower(), key.strip().lower()


class DagcoreConfigParser:
    """Layered, typed access to dagcore's options (see the module docstring for the layers).

    Thread-safe: lookups may run from several threads; overrides are process-wide.

    Args:
        defaults: the built-in layer (default :data:`DEFAULTS`).
    """

    def __init__(self, defaults: Mapping[str, Mapping[str, str]] = DEFAULTS) -> None:
        self._defaults = {s.lower(): {k.lower(): v for k, v in opts.items()}
                          for s, opts in defaults.items()}
        self._overrides: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()
        self._file_key: tuple[str, int, int, int, int] | None = None
        self._file_values: dict[str, dict[str, str]] = {}

    # -- layers ------------------------------------------------------------------------------

    def _file(self) -> dict[str, dict[str, str]]:
        """The parsed ``dagcore.cfg`` (empty if absent), re-read when its path or its stat
        identity (mtime, size, device, inode) changes."""
        home = _home()
        try:
            stat = os.stat(home.cfg_str)
        except FileNotFoundError:
            return {}
        file_key = (home.cfg_str, stat.st_mtime_ns, stat.st_size, stat.st_dev, stat.st_ino)
        if self._file_key == file_key:  # one tuple read: atomic under the GIL
            return self._file_values
        path = home.cfg
        with self._lock:
            if self._file_key == file_key:
                return self._file_values
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(path, encoding="utf-8")
            except configparser.Error as exc:
                raise ConfigError(f"cannot parse configuration file {path}: {exc}") from exc
            values = {s.lower(): dict(parser.items(s, raw=True)) for s in parser.sections()}
            # The values first: a thread that sees the new key outside the lock must find them.
            self._file_values = values
            self._file_key = file_key
            return values

    def _lookup(self, section: str, key: str) -> str | None:
        section, key = _norm(section, key)
        with self._lock:
            if (section, key) in self._overrides:
                value = self._overrides[(section, key)]
                if value is not None:
                    return value
                masked = True  # conf_vars(None): as if neither env nor file set it
            else:
                masked = False
        if not masked:
            env = os.environ.get(env_var_name(section, key))
            if env is not None:
                return env
            file_value = self._file().get(section, {}).get(key)
            if file_value is not None:
                return file_value
        default = self._defaults.get(section, {}).get(key)
        if default is None:
            return None
        if "{" not in default:
            return default
        return default.replace("{DAGCORE_HOME}", _home().home_str)

    # -- getters -----------------------------------------------------------------------------

    def has_option(self, section: str, key: str) -> bool:
        """Whether ``[section] key`` is set in any layer."""
        return self._lookup(section, key) is not None

    def get(self, section: str, key: str, fallback: Any = _NOT_SET) -> Any:
        """The value of ``[section] key`` as a string.

        Args:
            section: the section name (case-insensitive).
            key: the option name (case-insensitive).
            fallback: returned when the option is set nowhere; without it that raises.

        Raises:
            ConfigOptionNotFound: the option is set nowhere and no ``fallback`` was given.
        """
        value = self._lookup(section, key)
        if value is None:
            if fallback is _NOT_SET:
                raise ConfigOptionNotFound(
                    f"section/key [{section}/{key}] not found in config "
                    f"(set it in {config_file()} or ${env_var_name(section, key)})"
                )
            return fallback
        return value

    def _convert(self, section: str, key: str, fallback: Any, kind: str, convert: Any) -> Any:
        value = self._lookup(section, key)
        if value is None:
            if fallback is _NOT_SET:
                return self.get(section, key)  # raises ConfigOptionNotFound
            return fallback
        try:
            return convert(value.strip())
        except (ValueError, KeyError, OverflowError):
            raise ConfigError(
                f'Failed to convert value to {kind}. Please check "{key}" key in "{section}" '
                f'section. Current value: "{value}".'
            ) from None

    def getint(self, section: str, key: str, fallback: Any = _NOT_SET) -> int:
        """``[section] key`` as an ``int`` (base 10, surrounding spaces ignored).

        Raises:
            ConfigError: the value is not an integer; the message names section, key and value.
            ConfigOptionNotFound: the option is set nowhere and no ``fallback`` was given.
        """
        return self._convert(section, key, fallback, "int", int)

    def getfloat(self, section: str, key: str, fallback: Any = _NOT_SET) -> float:
        """``[section] key`` as a finite ``float``.

        Raises:
            ConfigError: the value is not a finite number (``nan`` and ``inf`` are rejected).
            ConfigOptionNotFound: the option is set nowhere and no ``fallback`` was given.
        """

        def to_float(text: str) -> float:
            number = float(text)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(text)
            return number

        return self._convert(section, key, fallback, "float", to_float)

    def getboolean(self, section: str, key: str, fallback: Any = _NOT_SET) -> bool:
        """``[section] key`` as a ``bool``: true/false, t/f, yes/no, y/n, on/off, 1/0, any case.

        Raises:
            ConfigError: the value is none of those spellings.
            ConfigOptionNotFound: the option is set nowhere and no ``fallback`` was given.
        """
        return self._convert(section, key, fallback, "bool", lambda text: _BOOLEANS[text.lower()])

    def getbytes(self, section: str, key: str, fallback: Any = _NOT_SET) -> int:
        """``[section] key`` as a byte count: ``1073741824``, ``512 MiB``, ``1GiB``, ``10 MB``.

        ``K``/``M``/``G``/``T`` and ``KiB``... are powers of 1024; ``KB``/``MB``... powers of 1000.

        Raises:
            ConfigError: the value is not a non-negative size with a known unit.
        """

        def to_bytes(text: str) -> int:
            match = _BYTES_RE.match(text)
            if match is None:
                raise ValueError(text)
            number, unit = match.groups()
            return int(float(number) * _BYTE_UNITS[unit.lower()])

        return self._convert(section, key, fallback, "a byte size", to_bytes)

    def getsection(self, section: str) -> dict[str, str]:
        """Every option of ``section`` known to any layer, with its effective value."""
        name = section.strip().lower()
        keys = set(self._defaults.get(name, {})) | set(self._file().get(name, {}))
        prefix = f"{ENV_PREFIX}{name.upper()}__"
        keys |= {var[len(prefix):].lower() for var in os.environ if var.startswith(prefix)}
        with self._lock:
            keys |= {k for (s, k), v in self._overrides.items() if s == name and v is not None}
        return {key: value for key in sorted(keys)
                if (value := self._lookup(name, key)) is not None}

    def as_dict(self) -> dict[str, dict[str, str]]:
        """Every section known to the defaults or the file, as :meth:`getsection` returns it."""
        sections = set(self._defaults) | set(self._file())
        return {section: self.getsection(section) for section in sorted(sections)}

    # -- test support ------------------------------------------------------------------------

    @contextlib.contextmanager
    def overridden(self, values: Mapping[tuple[str, str], Any]) -> Iterator[None]:
        """Sets options for the duration of a ``with`` block, above every other layer.

        Args:
            values: ``{(section, key): value}``; a value is stored as ``str(value)`` (``True``
                becomes ``"True"``), and ``None`` makes the option fall back to its default as if
                neither the environment nor the file set it.
        """
        normalized = {_norm(s, k): (None if v is None else str(v)) for (s, k), v in values.items()}
        with self._lock:
            saved = {key: self._overrides.get(key, _NOT_SET) for key in normalized}
            self._overrides.update(normalized)
        try:
            yield
        finally:
            with self._lock:
                for key, previous in saved.items():
                    if previous is _NOT_SET:
                        self._overrides.pop(key, None)
                    else:
                        self._overrides[key] = previous

    def overrides(self) -> dict[tuple[str, str], str | None]:
        """The options :meth:`overridden` has set now (a copy), for a process that must see the
        same configuration as this one without inheriting its memory (the LocalExecutor's fork
        server hands them to each worker)."""
        with self._lock:
            return dict(self._overrides)

    def replace_overrides(self, values: Mapping[tuple[str, str], str | None]) -> None:
        """Make ``values`` (from :meth:`overrides`) the only overrides of this process."""
        with self._lock:
            self._overrides = {_norm(s, k): v for (s, k), v in values.items()}


conf = DagcoreConfigParser()
"""The process-wide configuration."""


def conf_vars(values: Mapping[tuple[str, str], Any]) -> contextlib.AbstractContextManager[None]:
    """Airflow's ``conf_vars`` for tests: ``with conf_vars({("core", "load_examples"): True}):``.

    See :meth:`DagcoreConfigParser.overridden`.
    """
    return conf.overridden(values)
